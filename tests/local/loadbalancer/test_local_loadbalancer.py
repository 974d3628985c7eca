"""The local load balancer with a real HAProxy: spreading, failover, graceful reloads, draining, persistence."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local import _haproxy
from lb_helpers import Backend, EchoBackend, get, states, tcp_roundtrip, try_get, wait_for

import cloudkit
from cloudkit import HealthCheck, Listener, LoadBalancer, NotSupported, Target

pytestmark = pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)

FAST = HealthCheck(path="/health", interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as c:
        yield c


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made = [Backend(), Backend()]
    yield made
    for b in made:
        try:
            b.stop()
        except OSError:
            pass


@pytest.fixture
def web(cloud: cloudkit.Cloud, backends: list[Backend]) -> Iterator[LoadBalancer]:
    lbs = cloud.loadbalancer
    lb = lbs.create_load_balancer("web", listeners=[Listener(protocol="http", port=0, target_port=8000)],
                                  health_check=FAST, deregistration_delay=3)
    lbs.register_targets(lb, [Target("127.0.0.1", b.port) for b in backends])
    wait_for(lambda: set(states(lbs, lb).values()) == {"healthy"}, 30, "both targets healthy")
    yield lb
    lbs.delete_load_balancer(lb)


def test_requests_spread_over_two_targets_and_a_dead_one_is_taken_out(
        cloud: cloudkit.Cloud, backends: list[Backend], web: LoadBalancer) -> None:
    assert web.url is not None
    seen = {get(web.url + "/") for _ in range(10)}
    assert seen == {str(b.port) for b in backends}
    dead, alive = backends
    dead.stop()
    failures = 0
    served: list[str] = []

    def removed() -> bool:
        nonlocal failures
        for _ in range(5):  # traffic keeps flowing while the checks notice
            body = try_get(str(web.url) + "/")
            failures += body is None
            served.append(str(body))
        return states(cloud.loadbalancer, web)[dead.port] == "unhealthy"

    wait_for(removed, 45, "the dead target marked unhealthy")
    after = [try_get(web.url + "/") for _ in range(20)]
    assert after == [str(alive.port)] * 20  # nothing sent to the dead one, no failed request
    assert failures == 0  # not even before the checks caught up: HAProxy retried on the live target
    health = {h.target.port: h for h in cloud.loadbalancer.target_health(web)}
    assert health[dead.port].reason and "L4CON" in health[dead.port].reason


def test_reloads_drop_no_request(cloud: cloudkit.Cloud, backends: list[Backend], web: LoadBalancer) -> None:
    lbs = cloud.loadbalancer
    stop = threading.Event()
    results: list[str | None] = []

    def client() -> None:
        while not stop.is_set():
            results.append(try_get(str(web.url) + "/"))

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    pid = lbs.get_load_balancer(web).extra["pid"]
    try:
        for i in range(6):  # each change is a graceful reload of the same master
            lbs.set_health_check(web, HealthCheck(path=f"/health{i}", interval=5, timeout=2, healthy_threshold=2,
                                                  unhealthy_threshold=2))
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(results) > 20
    assert results.count(None) == 0, f"{results.count(None)} of {len(results)} requests failed during reloads"
    assert lbs.get_load_balancer(web).extra["pid"] == pid


def test_deregistration_drains(cloud: cloudkit.Cloud, backends: list[Backend]) -> None:
    lbs = cloud.loadbalancer
    first, second = backends
    lb = lbs.create_load_balancer("drain", listeners=[Listener(port=0, target_port=1)], health_check=FAST,
                                  deregistration_delay=3)
    try:
        lbs.register_targets(lb, [Target("127.0.0.1", first.port)])
        slow: list[str | None] = []
        t = threading.Thread(target=lambda: slow.append(try_get(str(lb.url) + "/slow")))
        t.start()
        time.sleep(0.5)  # the slow request is open on the first target
        lbs.register_targets(lb, [Target("127.0.0.1", second.port)])
        lbs.deregister_targets(lb, [Target("127.0.0.1", first.port)])
        assert states(lbs, lb)[first.port] == "draining"
        assert {get(str(lb.url) + "/") for _ in range(6)} == {str(second.port)}  # no new connection to it
        t.join(timeout=30)
        assert slow == [str(first.port)]  # the open request finished on the deregistered target
        wait_for(lambda: first.port not in states(lbs, lb), 20, "the drained target gone after the delay")
        lbs.register_targets(lb, [Target("127.0.0.1", first.port)])  # and it can come back
        assert first.port in states(lbs, lb)
    finally:
        lbs.delete_load_balancer(lb)


def test_state_survives_a_new_cloud_and_delete_cleans_up(tmp_path: Path, backends: list[Backend]) -> None:
    root = str(tmp_path / "root")
    with cloudkit.connect("local", root=root) as first:
        lb = first.loadbalancer.create_load_balancer("keep", listeners=[Listener(port=0, target_port=1)],
                                                     health_check=FAST)
        first.loadbalancer.register_targets(lb, [Target("127.0.0.1", backends[0].port)])
    port = lb.listeners[0].port
    with cloudkit.connect("local", root=root) as second:
        again = second.loadbalancer.get_load_balancer("keep")
        assert (again.id, again.state, again.listeners[0].port) == (lb.id, "active", port)
        assert get(str(again.url) + "/") == str(backends[0].port)
        second.loadbalancer.register_targets(again, [Target("127.0.0.1", backends[1].port)])
        assert second.loadbalancer.get_load_balancer(lb).listeners[0].port == port  # the bound port is kept
        pid = again.extra["pid"]
        folder = Path(str(again.extra["folder"]))
        assert isinstance(pid, int) and folder.is_dir()
        second.loadbalancer.delete_load_balancer(again)
        assert not Path(f"/proc/{pid}").exists() or "haproxy" not in Path(f"/proc/{pid}/cmdline").read_text()
        assert not folder.exists()
        assert list(second.loadbalancer.list_load_balancers()) == []
    assert try_get(f"http://127.0.0.1:{port}/", timeout=2) is None


def test_a_dead_process_shows_failed_and_the_next_change_restarts_it(
        cloud: cloudkit.Cloud, backends: list[Backend], web: LoadBalancer) -> None:
    lbs = cloud.loadbalancer
    proc = lbs._proc(lbs._load(web.id))  # type: ignore[attr-defined]
    master, worker = proc.master_pid(), proc.worker_pid()
    assert master and worker
    os.kill(master, signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: lbs.get_load_balancer(web).state == "failed", 10, "the load balancer shown failed")
    assert "not running" in str(lbs.get_load_balancer(web).extra["reason"])
    assert {h.state for h in lbs.target_health(web)} == {"unhealthy"}
    lbs.set_health_check(web, FAST)
    assert lbs.get_load_balancer(web).state == "active"
    assert get(str(web.url) + "/") in {str(b.port) for b in backends}


def test_a_network_load_balancer_forwards_tcp(cloud: cloudkit.Cloud) -> None:
    echo = EchoBackend()
    lbs = cloud.loadbalancer
    try:
        lb = lbs.create_load_balancer("db", listeners=[Listener(protocol="tcp", port=0, target_port=echo.port)])
        try:
            lbs.register_targets(lb, [Target("127.0.0.1")])  # no port of its own: the listener's target port
            assert [h.target.port for h in lbs.target_health(lb)] == [echo.port]
            assert tcp_roundtrip(lb.listeners[0].port, b"ping") == b"echo:ping"
        finally:
            lbs.delete_load_balancer(lb)
    finally:
        echo.stop()


def test_targets_without_listeners_are_unused(cloud: cloudkit.Cloud) -> None:
    lbs = cloud.loadbalancer
    lb = lbs.create_load_balancer("bare")
    try:
        assert lb.url is None
        lbs.register_targets(lb, [Target("127.0.0.1", 9)])
        assert [(h.target.port, h.state) for h in lbs.target_health(lb)] == [(9, "unused")]
    finally:
        lbs.delete_load_balancer(lb)


def test_internet_facing_is_not_supported_locally(cloud: cloudkit.Cloud) -> None:
    with pytest.raises(NotSupported, match=r"127\.0\.0\.1"):
        cloud.loadbalancer.create_load_balancer("public", scheme="internet-facing")
    assert list(cloud.loadbalancer.list_load_balancers()) == []


def test_missing_haproxy_is_not_supported_naming_the_package(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "r"), haproxy_bin=str(tmp_path / "no-haproxy")) as c:
        assert c.loadbalancer.capabilities() == frozenset()
        with pytest.raises(NotSupported, match="Debian package haproxy"):
            c.loadbalancer.create_load_balancer("web")
        with pytest.raises(cloudkit.InvalidInput):  # input is still checked first
            c.loadbalancer.create_load_balancer("bad name")


def test_a_port_in_use_is_refused_not_shared(cloud: cloudkit.Cloud) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(cloudkit.Conflict, match="in use"):
            cloud.loadbalancer.create_load_balancer("clash", listeners=[Listener(port=port, target_port=80)])
    assert list(cloud.loadbalancer.list_load_balancers()) == []


def _self_signed(path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def test_https_listeners_terminate_tls(cloud: cloudkit.Cloud, backends: list[Backend], tmp_path: Path) -> None:
    import ssl
    import urllib.request

    pem = tmp_path / "site.pem"
    _self_signed(pem)
    lbs = cloud.loadbalancer
    lb = lbs.create_load_balancer("tls", listeners=[Listener(protocol="https", port=0, target_port=backends[0].port,
                                                             certificate=str(pem))])
    try:
        lbs.register_targets(lb, [Target("127.0.0.1")])
        assert lb.url is not None and lb.url.startswith("https://127.0.0.1:")
        context = ssl.create_default_context(cafile=str(pem))
        with urllib.request.urlopen(lb.url + "/", timeout=10, context=context) as resp:
            assert resp.read().decode() == str(backends[0].port)
        pem.unlink()  # the load balancer holds its own copy: later reloads still work
        lbs.set_health_check(lb, FAST)
        with urllib.request.urlopen(lb.url + "/", timeout=10, context=context) as resp:
            assert resp.status == 200
    finally:
        lbs.delete_load_balancer(lb)


def test_a_bad_certificate_leaves_nothing_behind(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(cloudkit.ProviderError, match="HAProxy refused"):
        cloud.loadbalancer.create_load_balancer("tls", listeners=[Listener(protocol="https", port=0, target_port=1,
                                                                           certificate=str(junk))])
    assert list(cloud.loadbalancer.list_load_balancers()) == []
    with pytest.raises(cloudkit.InvalidInput, match="PEM file"):
        cloud.loadbalancer.create_load_balancer("tls", listeners=[Listener(protocol="https", port=0, target_port=1,
                                                                           certificate=str(tmp_path / "missing.pem"))])


def test_an_instance_without_an_open_port_cannot_be_a_target(cloud: cloudkit.Cloud) -> None:
    import shutil

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap (Debian package 'bubblewrap') is missing")
    inst = cloud.compute.create_instance("lonely", image="local:debian-host", instance_type="local.nano")
    lb = cloud.loadbalancer.create_load_balancer("web", listeners=[Listener(port=0, target_port=8000)])
    try:
        with pytest.raises(cloudkit.Conflict, match="shares no network"):
            cloud.loadbalancer.register_targets(lb, [inst])
        with pytest.raises(cloudkit.NotFound):
            cloud.loadbalancer.register_targets(lb, ["i-missing"])
        assert cloud.loadbalancer.target_health(lb) == []
    finally:
        cloud.loadbalancer.delete_load_balancer(lb)
        cloud.compute.terminate_instance(inst)
