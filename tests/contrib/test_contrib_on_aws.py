"""The same add-ons, unchanged, on the aws provider against a moto server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudkit
from cloudkit.models import RecordSet

moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")
pytest.importorskip("cloudkit_aws", reason="the aws provider is not installed")

from cloudkit_contrib.backup import (  # noqa: E402
    backup_folder,
    backup_zones,
    list_backups,
    purge_backups,
    restore_backup,
    restore_zone,
    set_backup_lifecycle,
)
from cloudkit_contrib.bootstrap import prepare_bootstrap  # noqa: E402

pytestmark = pytest.mark.live


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        with cloudkit.connect("aws", region="us-east-1", endpoint_url=f"http://{host}:{port}") as cloud:
            yield cloud
    finally:
        server.stop()


def test_backups_dns_copies_and_bootstrap_on_aws(aws: cloudkit.Cloud, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"one\n")
    (src / "sub" / "big.bin").write_bytes(os.urandom(6_000_000))  # bigger than one multipart part
    aws.storage.create_bucket("contrib-vault")

    full = backup_folder(aws, "contrib-vault", "home", src)
    (src / "a.txt").write_bytes(b"two, longer\n")
    (src / "sub" / "big.bin").unlink()
    diff = backup_folder(aws, "contrib-vault", "home", src, kind="differential")
    (src / "c.txt").write_bytes(b"three\n")
    inc = backup_folder(aws, "contrib-vault", "home", src, kind="incremental")
    assert [b.id for b in list_backups(aws, "contrib-vault", "home")] == [full.id, diff.id, inc.id]
    assert inc.chain == (full.id, diff.id, inc.id)

    restore_backup(aws, "contrib-vault", "home", tmp_path / "latest")
    assert sorted(p.name for p in (tmp_path / "latest").rglob("*")) == ["a.txt", "c.txt", "sub"]
    assert (tmp_path / "latest" / "a.txt").read_bytes() == b"two, longer\n"
    restore_backup(aws, "contrib-vault", "home", tmp_path / "first", backup_id=full.id)
    assert (tmp_path / "first" / "sub" / "big.bin").stat().st_size == 6_000_000

    assert purge_backups(aws, "contrib-vault", "home", keep_fulls=1).deleted == ()
    rules = set_backup_lifecycle(aws, "contrib-vault", "home", archive_after_days=30, expire_after_days=365)
    assert {r.prefix for r in rules} == {"backups/home/archives/", "backups/home/manifests/"}

    # Route 53 zones into the S3 bucket, and back out into a local DNS.
    zone = aws.dns.create_zone("contrib.example")
    aws.dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=300, values=("192.0.2.1",))])
    info = backup_zones(aws, aws, "contrib-vault", zones=["contrib.example"])
    with cloudkit.connect("local", root=str(tmp_path / "dr")) as dr:
        restore_zone(dr, aws, "contrib-vault", "contrib.example", backup_id=info.id)
        assert dr.dns.get_record("contrib.example", "www", "A").values == ("192.0.2.1",)

    boot = prepare_bootstrap(aws, "contrib-vault", b"#!/bin/sh\necho hi\n", files={"/etc/app.conf": b"x=1\n"}, expires_in=120)
    for f in (boot.script, *boot.files):
        with urllib.request.urlopen(f.url, timeout=10) as resp:
            assert hashlib.sha256(resp.read()).hexdigest() == f.sha256
