"""``cloudkit demo``: a tour of what a new user of an AWS-like cloud does, on the local provider.

It uses only cloudkit's public API on ``connect("local")`` (plus a database client to write and read
a row, as any application would), in a temporary root folder unless ``--root`` is given, and cleans
up after itself unless ``--keep`` is given. A family this installation does not serve is reported as
unavailable and the tour goes on.
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click

from cloudkit.cloud import Cloud, connect
from cloudkit.errors import CloudkitError, NotFound, NotSupported

APP_NAME = "My First App"
ENV_NAME = "Default-Environment"
SAMPLE_APP = '''"""A sample web application, as Elastic Beanstalk's Python platform expects it."""

PAGE = """<!doctype html>
<html><head><title>{title}</title></head>
<body><h1>{title}</h1><p>Your first application is running on cloudkit's local platform.</p></body></html>
"""


def application(environ, start_response):
    body = PAGE.format(title="{title}").encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]
'''


def sample_bundle(title: str) -> bytes:
    """The sample application as a zip whose page is titled ``title``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("application.py", SAMPLE_APP.replace("{title}", title))
    return buf.getvalue()


def _title(html: str) -> str:
    start = html.find("<h1>")
    end = html.find("</h1>")
    return html[start + 4 : end] if start >= 0 and end > start else html.strip()[:60]


class _Recorder(BaseHTTPRequestHandler):
    """A local HTTP endpoint that records what a topic posts to it."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        """Record a posted JSON document and answer 200."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        except ValueError:
            self.server.received.append({"raw": body.decode("utf-8", "replace")})  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the demo prints what matters."""


@contextmanager
def http_endpoint() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP endpoint on 127.0.0.1 and the list of JSON documents posted to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sns", server.received  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class Tour:
    """The demo's steps; each prints what it does. ``cleanups`` run in reverse unless kept."""

    def __init__(self, cloud: Cloud, out: Any, root: Path | None = None) -> None:
        self.cloud = cloud
        self.out = out
        self.root = root
        self.cleanups: list[tuple[str, Callable[[], None]]] = []

    def say(self, text: str) -> None:
        """Print one line (rich markup allowed)."""
        self.out.print(text)

    # ------------------------------------------------------------------ platform
    def platform(self) -> None:
        """Application, two versions, an environment and a zero-downtime deploy."""
        p = self.cloud.platform
        app = p.create_application(APP_NAME, description="The demo's sample application")
        self.cleanups.append((f"application {APP_NAME!r}", lambda: p.delete_application(app, terminate_environments=True)))
        self.say(f"Created application [bold]{app.name}[/]")
        v1 = p.create_version(app, "Initial Version", source=sample_bundle("Hello from the Initial Version"))
        self.say(f"Uploaded version [bold]{v1.label}[/] to {v1.source}")
        env = p.create_environment(app, ENV_NAME, version=v1, stack="python")
        self.say(f"Launched [bold]{env.name}[/] ({env.status}, health {env.health}) at [link]{env.url}[/]")
        page = _title(urllib.request.urlopen(str(env.url), timeout=10).read().decode())
        self.say(f"  GET {env.url} -> [green]{page}[/]")
        v2 = p.create_version(app, "Second Version", source=sample_bundle("Hello from the Second Version"))
        self.say(f"Uploaded version [bold]{v2.label}[/]; deploying it (zero-downtime):")
        seen = len(list(p.events(environment=env)))
        p.deploy(env, v2)
        for event in list(p.events(environment=env))[seen:]:
            self.say(f"  {event.timestamp:%H:%M:%S} {event.severity:<5} {event.message}")
        page2 = _title(urllib.request.urlopen(str(env.url), timeout=10).read().decode())
        self.say(f"  GET {env.url} -> [green]{page2}[/] (the page changed: {page != page2})")
        if page == page2:
            raise CloudkitError("the page did not change after the deploy")

    # ------------------------------------------------------------------ notification
    def notification(self) -> None:
        """A topic delivering to a local HTTP endpoint and to a queue."""
        n = self.cloud.notification
        topic = n.create_topic("demo-deployments", display_name="Deployments")
        self.cleanups.append(("topic demo-deployments", lambda: n.delete_topic(topic)))
        queue = n.create_queue("demo-audit")
        self.cleanups.append(("queue demo-audit", lambda: n.delete_queue(queue)))
        self.say(f"Created topic [bold]{topic.name}[/] and queue [bold]{queue.name}[/]")
        with http_endpoint() as (url, received):
            http_sub = n.subscribe(topic, protocol="http", endpoint=url)
            n.subscribe(topic, protocol="queue", endpoint=queue.id)
            self.say(f"Subscribed the HTTP endpoint {url} ({http_sub.status}) and the queue")
            if not _wait(lambda: any(d.get("Type") == "SubscriptionConfirmation" for d in received), 15):
                raise CloudkitError("the HTTP endpoint never received its subscription confirmation")
            token = next(d["Token"] for d in received if d.get("Type") == "SubscriptionConfirmation")
            confirmed = n.confirm_subscription(topic, token)
            self.say(f"  the endpoint received a SubscriptionConfirmation; confirmed -> {confirmed.status}")
            result = n.publish(topic, "Second Version is live on Default-Environment", subject="Deployed")
            self.say(f"Published message {result.message_id}")
            if not _wait(lambda: any(d.get("Type") == "Notification" for d in received), 15):
                raise CloudkitError("the HTTP endpoint never received the notification")
            note = next(d for d in received if d.get("Type") == "Notification")
            self.say(f"  HTTP endpoint got: [green]{note.get('Subject')}: {note.get('Message')}[/]")
            messages = n.receive_messages(queue, wait_seconds=10)
            if not messages:
                raise CloudkitError("the queue never received the notification")
            body = messages[0].body
            try:
                body = json.loads(body).get("Message", body)
            except (ValueError, AttributeError):
                pass
            self.say(f"  queue got: [green]{body}[/]")
            n.ack_message(queue, messages[0].receipt)

    # ------------------------------------------------------------------ storage
    def storage(self) -> None:
        """A bucket with a lifecycle rule and a backup upload."""
        from cloudkit.models.storage import LifecycleRule

        s = self.cloud.storage
        bucket = s.create_bucket("demo-backups")
        self.cleanups.append(("bucket demo-backups", lambda: s.delete_bucket(bucket, force=True)))
        s.set_lifecycle(bucket, [LifecycleRule(prefix="db/", archive_after_days=30, expire_after_days=365)])
        rule = s.get_lifecycle(bucket)[0]
        self.say(f"Created bucket [bold]{bucket.name}[/] with a lifecycle rule: {rule.prefix}* archive after "
                 f"{rule.archive_after_days} days, expire after {rule.expire_after_days} days")
        backup = b"-- demo backup\n" + b"INSERT INTO greetings VALUES ('hello');\n" * 2000
        info = s.put_object(bucket, "db/2026-11-26.sql", backup, content_type="application/sql")
        self.say(f"  uploaded backup db/2026-11-26.sql ({info.size} bytes, etag {info.etag})")
        listed = [getattr(o, "key", None) for o in s.list_objects(bucket, prefix="db/")]
        self.say(f"  objects under db/: {listed}")

    # ------------------------------------------------------------------ dns
    def dns(self) -> None:
        """A zone with records, and its zone file."""
        from cloudkit.models.dns import RecordSet

        d = self.cloud.dns
        zone = d.create_zone("demo.example.com", comment="demo zone")
        self.cleanups.append(("zone demo.example.com", lambda: d.delete_zone(zone, force=True)))
        d.upsert_records(zone, [
            RecordSet("www", "A", 300, ("192.0.2.10",)),
            RecordSet("@", "MX", 3600, ("10 mail.demo.example.com.",)),
            RecordSet("mail", "A", 300, ("192.0.2.25",)),
            RecordSet("@", "TXT", 300, ("v=spf1 mx -all",)),
        ])
        self.say("Created zone [bold]demo.example.com[/] with www, mail, MX and TXT records; its zone file:")
        for line in d.export_zone(zone).strip().splitlines():
            self.say(f"  [dim]{line}[/]", )

    # ------------------------------------------------------------------ compute
    def compute(self) -> None:
        """An instance booted with a Puppet bootstrap recipe (a stand-in agent), its console, then terminated."""
        try:
            from cloudkit_contrib.bootstrap import puppet_user_data
        except ImportError:
            raise NotSupported("local", "demo.compute", "cloudkit-contrib (the bootstrap recipes) is not installed") from None
        c = self.cloud.compute
        # the recipe installs nothing here (install="none") and runs /bin/echo in the agent's place,
        # so the console shows how the real agent would be called
        user_data = puppet_user_data(server="puppet.example.com", certname="demo-web-1.example.com",
                                     environment="production", install="none", agent="/bin/echo")
        inst = c.create_instance("demo-web-1", image="local:debian-host", instance_type="local.small", user_data=user_data)
        def terminate() -> None:
            c.terminate_instance(inst)

        self.cleanups.append(("instance demo-web-1", terminate))
        self.say(f"Launched instance [bold]{inst.name}[/] ({inst.id}, {inst.state}) with Puppet bootstrap user data")
        seen = [""]

        def booted() -> bool:
            seen[0] = c.get_console_output(inst)
            return "boot-finished" in seen[0]

        if not _wait(booted, 60):
            raise CloudkitError(f"instance {inst.id} did not finish its first boot in 60s")
        console = seen[0]
        self.say("  console output:")
        from rich.markup import escape

        for line in console.strip().splitlines():
            self.say(f"    [dim]{escape(line)}[/]" if line.startswith("[cloudkit-init]") else f"    [green]{escape(line)}[/]")
        if "--onetime" not in console:
            raise CloudkitError("the bootstrap runner did not call the agent")
        done = c.terminate_instance(inst)
        self.cleanups.pop()
        self.say(f"  terminated {inst.id} ({done.state})")

    # ------------------------------------------------------------------ database
    def database(self) -> None:
        """Create a database, write a row, snapshot, restore, read the row back (MySQL where MariaDB is installed)."""
        db = self.cloud.database
        engines = list(db.list_engines())
        import importlib.util

        has_client = importlib.util.find_spec("psycopg") is not None
        if "mysql" in engines and (importlib.util.find_spec("pymysql") is not None or shutil.which("mariadb")):
            engine = "mysql"
        else:
            engine = "postgres" if "postgres" in engines and has_client else ("sqlite" if "sqlite" in engines else engines[0])
        password = "Demo-" + __import__("secrets").token_hex(8)
        inst = db.create_instance("demo-db", engine=engine, master_username="demo", master_password=password,
                                  storage_gb=1, database_name="demo", backup_retention_days=0)
        self.cleanups.append(("database demo-db", lambda: db.delete_instance(inst)))
        where = f"{inst.endpoint.host}:{inst.endpoint.port}" if inst.endpoint else "a local file"
        server = f" on {inst.extra['server']} {inst.engine_version}" if inst.extra.get("server") else ""
        self.say(f"Created {engine} database [bold]{inst.id}[/]{server} ({inst.status}) at {where}")
        _sql(inst, password, ["CREATE TABLE greetings (id INTEGER PRIMARY KEY, text TEXT NOT NULL)",
                              "INSERT INTO greetings (id, text) VALUES (1, 'hello from the demo')"])
        self.say("  wrote a row: (1, 'hello from the demo')")
        snap = db.create_snapshot(inst, "demo-db-snap")
        self.cleanups.append(("snapshot demo-db-snap", lambda: db.delete_snapshot(snap)))
        self.say(f"  took snapshot [bold]{snap.id}[/]")
        _sql(inst, password, ["DELETE FROM greetings"])
        self.say("  deleted the row from demo-db")
        restored = db.restore_snapshot(snap, "demo-db-restored")
        self.cleanups.append(("database demo-db-restored", lambda: db.delete_instance(restored)))
        rows = _sql(restored, password, ["SELECT id, text FROM greetings"])
        self.say(f"  restored the snapshot as [bold]{restored.id}[/] and read back: [green]{rows}[/]")
        if rows != [(1, "hello from the demo")]:
            raise CloudkitError(f"the restored database holds {rows!r}")


    # ------------------------------------------------------------------ stack
    def stack(self) -> None:
        """The seed's basic template (instance type parameter, image per region, one instance, outputs):
        validate, create with its events, outputs, delete (cloudkit-contrib's stacks, when installed)."""
        import importlib
        import importlib.util

        if importlib.util.find_spec("cloudkit_contrib.stacks") is None:  # optional add-on, never required by the core
            raise NotSupported("this installation", "stacks", "they come with cloudkit-contrib, which is not installed")
        stacks_mod = importlib.import_module("cloudkit_contrib.stacks")
        state = Path(tempfile.mkdtemp(prefix="stack-state-", dir=self.root))
        stacks = stacks_mod.Stacks(self.cloud, state_dir=str(state))
        checked = stacks.validate(BASIC_TEMPLATE)
        for p in checked.parameters:
            self.say(f"Template parameter [bold]{p.name}[/] (default {p.default}): {p.description}")

        def show(ev: Any) -> None:
            self.say(f"  {ev.timestamp:%H:%M:%S}  {ev.status:<20} {ev.logical_id}  {ev.resource_type}  "
                     f"{ev.physical_id or ''}  {ev.reason or ''}".rstrip())

        self.cleanups.append(("stack demo-stack", lambda: _delete_stack(stacks, "demo-stack")))
        summary = stacks.create("demo-stack", BASIC_TEMPLATE, parameters={"InstanceTypeInput": "local.nano"}, on_event=show)
        if summary.status != "CREATE_COMPLETE":
            raise CloudkitError(f"the stack ended {summary.status}: {summary.status_reason}")
        for key, out in stacks.outputs("demo-stack").items():
            self.say(f"  output [bold]{key}[/] = {out['value']}  ({out['description']})")
        self.say("Deleting the stack:")
        stacks.delete("demo-stack", on_event=show)


def _delete_stack(stacks: Any, name: str) -> None:
    if stacks.describe(name).status != "DELETE_COMPLETE":
        stacks.delete(name)


#: The seed's basic template: an instance type parameter, an image per region, one instance, outputs.
BASIC_TEMPLATE = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "One instance: its type is a parameter, its image comes from a per-region mapping",
    "Parameters": {"InstanceTypeInput": {"Type": "String", "Default": "local.micro", "Description": "EC2 instance type",
                                         "AllowedValues": ["local.nano", "local.micro", "t3.micro"]}},
    "Mappings": {"AWSRegionToImage": {"local-1": {"ImageId": "local:debian-host"}, "us-east-1": {"ImageId": "ami-03cf127a"}}},
    "Resources": {"Ec2Instance": {"Type": "AWS::EC2::Instance", "Properties": {
        "InstanceType": {"Ref": "InstanceTypeInput"},
        "ImageId": {"Fn::FindInMap": ["AWSRegionToImage", {"Ref": "AWS::Region"}, "ImageId"]}}}},
    "Outputs": {"InstanceId": {"Description": "The instance's id", "Value": {"Ref": "Ec2Instance"}},
                "AvailabilityZone": {"Description": "Where it runs",
                                     "Value": {"Fn::GetAtt": ["Ec2Instance", "AvailabilityZone"]}}},
})


def _sql(inst: Any, password: str, statements: list[str]) -> list[tuple[Any, ...]]:
    """Run statements on a database instance; return the last one's rows."""
    rows: list[tuple[Any, ...]] = []
    if inst.engine == "sqlite":
        import sqlite3

        conn = sqlite3.connect(str(inst.extra["path"]))
        try:
            for sql in statements:
                cur = conn.execute(sql)
                rows = [tuple(r) for r in cur.fetchall()]
            conn.commit()
        finally:
            conn.close()
        return rows
    if inst.engine == "mysql":
        return _mysql(inst, password, statements)
    import psycopg

    assert inst.endpoint is not None
    with psycopg.connect(host=inst.endpoint.host, port=inst.endpoint.port, user=inst.master_username,
                         password=password, dbname=inst.database_name or "postgres", connect_timeout=10) as pg:
        for sql in statements:
            result = pg.execute(sql)
            rows = [tuple(r) for r in result.fetchall()] if result.description else []
    return rows


def _mysql(inst: Any, password: str, statements: list[str]) -> list[tuple[Any, ...]]:
    """Run statements on a MySQL instance with PyMySQL, else the ``mariadb`` client (password on its stdin side: MYSQL_PWD)."""
    import importlib.util

    assert inst.endpoint is not None
    rows: list[tuple[Any, ...]] = []
    if importlib.util.find_spec("pymysql") is not None:
        import pymysql  # type: ignore[import-untyped]

        conn = pymysql.connect(host=inst.endpoint.host, port=inst.endpoint.port, user=inst.master_username, password=password,
                               database=inst.database_name, autocommit=True, connect_timeout=10)
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
                    rows = [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()
        return rows
    import os
    import subprocess

    for sql in statements:
        done = subprocess.run(["mariadb", "--no-defaults", "-h", inst.endpoint.host, "-P", str(inst.endpoint.port), "-u",
                               str(inst.master_username), "--batch", "--skip-column-names", str(inst.database_name)],
                              input=sql + ";\n", capture_output=True, text=True, timeout=30, check=False,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MYSQL_PWD": password})
        if done.returncode:
            raise CloudkitError(f"mariadb client: {done.stderr.replace(password, '***').strip()}")
        rows = [tuple(int(c) if c.isdigit() else c for c in line.split("\t")) for line in done.stdout.splitlines()]
    return rows


STEPS = (
    ("platform", "Platform: an application, two versions and a zero-downtime deploy"),
    ("notification", "Notifications: a topic delivering to an HTTP endpoint and a queue"),
    ("storage", "Storage: a bucket with a lifecycle rule and a backup"),
    ("dns", "DNS: a zone, its records and its zone file"),
    ("compute", "Compute: an instance bootstrapped with a Puppet recipe, its console, terminated"),
    ("database", "Database: create, write, snapshot, restore, read back"),
    ("stack", "Stack: a CloudFormation-style template created, its events and outputs, deleted"),
)


def run(root: Path | None, keep: bool, out: Any) -> int:
    """Run the tour; returns the number of steps that failed (unavailable ones do not count)."""
    temporary = root is None
    base = Path(tempfile.mkdtemp(prefix="cloudkit-demo-")) if root is None else root
    started = time.monotonic()
    failed = 0
    out.rule("[bold]cloudkit demo[/] on the local provider")
    out.print(f"root folder: {base}")
    cloud = connect("local", root=str(base))
    tour = Tour(cloud, out, base)
    try:
        for name, title in STEPS:
            out.rule(title)
            t0 = time.monotonic()
            try:
                getattr(tour, name)()
            except NotSupported as exc:
                out.print(f"[yellow]step unavailable here: {exc}[/]")
                continue
            except CloudkitError as exc:
                failed += 1
                out.print(f"[red]step failed: {type(exc).__name__}: {exc}[/]")
                continue
            out.print(f"[dim]({time.monotonic() - t0:.1f}s)[/]")
        out.rule("Clean-up")
        if keep:
            out.print(f"--keep: resources left in {base}; stop them with `cloudkit --set root={base} platform terminate "
                      f"{ENV_NAME}` and the other groups' delete commands")
        else:
            for what, undo in reversed(tour.cleanups):
                try:
                    undo()
                    out.print(f"removed {what}")
                except NotFound:
                    pass
                except CloudkitError as exc:
                    failed += 1
                    out.print(f"[red]could not remove {what}: {exc}[/]")
    finally:
        cloud.close()
        if temporary and not keep:
            shutil.rmtree(base, ignore_errors=True)
    verdict = "[green]done[/]" if not failed else f"[red]{failed} step(s) failed[/]"
    out.rule(f"{verdict} in {time.monotonic() - started:.1f}s")
    return failed


@click.command("demo")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path),
              help="Root folder for the local provider (default: a temporary folder, removed afterwards).")
@click.option("--keep", is_flag=True, help="Leave the resources (and the root folder) in place.")
def command(root: Path | None, keep: bool) -> None:
    """A guided tour: app platform, notifications, storage, DNS, compute and databases on the local provider."""
    from rich.console import Console

    failed = run(root, keep, Console(highlight=False, soft_wrap=True))
    if failed:
        raise SystemExit(1)
