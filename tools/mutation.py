"""Run mutmut area by area and print the mutation score of each.

Every area names the modules it mutates and the tests that pin them. mutmut 3 copies the
code it mutates into ``mutants/`` and puts ``mutants/src`` first on ``sys.path``; the
providers and contrib live in their own ``src`` directories, so each area runs in a
scratch directory (``build/mutation/<area>``) whose ``src/`` links every package of the
workspace. The shared options come from ``[tool.mutmut]`` in the root ``pyproject.toml``.

Usage::

    python tools/mutation.py                 # the quick areas (CI-sized)
    python tools/mutation.py --all           # every area (slow: the full run)
    python tools/mutation.py validation aws-errors
    python tools/mutation.py --list

    python tools/mutation.py --show local-dns-serial   # each survivor's changed line

Scores: ``killed`` counts mutants the tests killed (or timed out); ``equivalent`` counts survivors
listed in :data:`EQUIVALENT` (argued one by one: the mutation changes nothing a caller can
observe); the score is ``killed / (total - equivalent)``, the raw ``killed / total`` is printed
next to it. A survivor matches an entry when its function and its mutated line (as ``mutmut
show`` prints it) are the entry's, so an entry stops matching when the code it argues about
changes. Exit status: 0 when every measured area reaches ``--min-score`` (default 0, report only).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
PACKAGES = {
    "cloudkit": ROOT / "src" / "cloudkit",
    "cloudkit_local": ROOT / "providers" / "local" / "src" / "cloudkit_local",
    "cloudkit_aws": ROOT / "providers" / "aws" / "src" / "cloudkit_aws",
    "cloudkit_libcloud": ROOT / "providers" / "libcloud" / "src" / "cloudkit_libcloud",
    "cloudkit_contrib": ROOT / "contrib" / "src" / "cloudkit_contrib",
}


@dataclass(frozen=True)
class Area:
    """One unit of the mutation report: the modules mutated and the tests run against them."""

    name: str
    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    quick: bool = True
    names: tuple[str, ...] = ()  # mutant-name globs (``mutmut run`` filter); empty means every mutant of the modules


AREAS = (
    Area(
        "validation",
        ("cloudkit/validation.py",),
        ("tests/core/test_validation.py", "tests/core/test_pin_validation.py", "tests/core/test_pin_validation_families.py"),
    ),
    Area("local-errors", ("cloudkit_local/errors.py",), ("tests/local/test_pin_local_errors.py",)),
    Area(
        "aws-errors",
        ("cloudkit_aws/errors.py",),
        (
            "tests/aws/test_errors_and_session.py",
            "tests/aws/test_pin_aws_errors.py",
            "tests/aws/test_pin_aws_maybe_applied.py",
            "tests/aws/test_pin_aws_translate.py",
        ),
    ),
    Area(
        "libcloud-errors",
        ("cloudkit_libcloud/errors.py",),
        (
            "tests/libcloud/test_libcloud_plugin.py",
            "tests/libcloud/test_pin_libcloud_errors.py",
            "tests/libcloud/test_pin_libcloud_errors_fields.py",
            "tests/libcloud/test_pin_libcloud_maybe_applied.py",
        ),
    ),
    Area(
        "local-delivery-backoff",
        ("cloudkit_local/_delivery.py",),
        ("tests/local/notification/test_pin_delivery.py",),
        names=("cloudkit_local._delivery.x__flag__mutmut_*", "cloudkit_local._delivery.xǁDeliverySettingsǁ*"),
    ),
    Area(
        "local-delivery-record",
        ("cloudkit_local/_delivery.py",),
        ("tests/local/notification/test_pin_delivery.py", "tests/local/notification/test_pin_delivery_record.py"),
        names=(
            "cloudkit_local._delivery.xǁDeliverySettingsǁdelay__mutmut_*",
            "cloudkit_local._delivery.xǁDispatcherǁ_record__mutmut_*",
            "cloudkit_local._delivery.xǁDispatcherǁ_attempt__mutmut_*",
            "cloudkit_local._delivery.xǁDispatcherǁ_deliver__mutmut_*",
        ),
    ),
    Area("local-delivery", ("cloudkit_local/_delivery.py",), ("tests/local/notification",), quick=False),
    Area("plugins", ("cloudkit/plugins.py",), ("tests/core/test_plugins_config.py", "tests/core/test_pin_plugins.py")),
    Area("config", ("cloudkit/config.py",), ("tests/core/test_plugins_config.py", "tests/core/test_pin_config.py")),
    Area("local-dns", ("cloudkit_local/dns.py",), ("tests/local/dns",), quick=False),
    Area(
        "local-dns-serial",
        ("cloudkit_local/dns.py",),
        ("tests/local/dns/test_local_dns.py", "tests/local/dns/test_pin_dns_serial.py"),
        names=("cloudkit_local.dns.xǁLocalDNSǁ_bump_serial__mutmut_*", "cloudkit_local.dns.x_soa_serial__mutmut_*"),
    ),
    Area(
        "aws-storage-transfer",
        ("cloudkit_aws/storage.py", "cloudkit_aws/_session.py"),
        ("tests/aws/test_pin_aws_storage_transfer.py",),
        names=(
            "cloudkit_aws.storage.xǁAwsStorageǁ_copy_object__mutmut_*",
            "cloudkit_aws.storage.xǁAwsStorageǁ_list_objects__mutmut_*",
            "cloudkit_aws._session.xǁAwsSessionǁtransfer_config__mutmut_*",
            "cloudkit_aws._session.xǁAwsSessionǁtransfer_manager__mutmut_*",
        ),
    ),
    Area(
        "local-storage-listing",
        ("cloudkit_local/storage.py",),
        ("tests/local/storage/test_pin_storage_listing.py",),
        names=("cloudkit_local.storage.xǁLocalStorageǁ_iter_objects__mutmut_*", "cloudkit_local.storage.xǁLocalStorageǁ_list_objects__mutmut_*"),
    ),
    Area(
        "libcloud-dns-ttl",
        ("cloudkit_libcloud/dns.py",),
        ("tests/libcloud/test_libcloud_generic_dns.py", "tests/libcloud/test_pin_libcloud_dns_ttl.py"),
        names=(
            "cloudkit_libcloud.dns.xǁLibcloudDNSǁ_change_records__mutmut_*",
            "cloudkit_libcloud.dns.xǁLibcloudDNSǁ_rollback__mutmut_*",
            "cloudkit_libcloud.dns.xǁLibcloudDNSǁ_group__mutmut_*",
        ),
    ),
    Area(
        "contrib-backup-restore",
        ("cloudkit_contrib/backup/folder.py",),
        ("tests/contrib/test_contrib_backup.py", "tests/contrib/test_pin_backup_restore_order.py"),
        names=(
            "cloudkit_contrib.backup.folder.x_restore_backup__mutmut_*",
            "cloudkit_contrib.backup.folder.x__pick__mutmut_*",
            "cloudkit_contrib.backup.folder.x__base_for__mutmut_*",
        ),
    ),
    Area("local-storage", ("cloudkit_local/storage.py",), ("tests/local/storage",), quick=False),
    Area("services-storage", ("cloudkit/services/storage.py",), ("tests/core/test_pin_services_storage.py",)),
    Area("services", ("cloudkit/services/*",), ("tests/core", "tests/local"), quick=False),
    Area("local-database", ("cloudkit_local/database.py", "cloudkit_local/db/*"), ("tests/local/database",), quick=False),
    Area(
        "local-database-restore",
        ("cloudkit_local/database.py",),
        ("tests/local/database/test_pin_database_restore.py", "tests/local/database/test_pin_database_restore_pg.py"),
        names=(
            "cloudkit_local.database.xǁLocalDatabaseǁ_new_record__mutmut_*",
            "cloudkit_local.database.xǁLocalDatabaseǁ_restored_record__mutmut_*",
            "cloudkit_local.database.xǁLocalDatabaseǁ_restore_snapshot__mutmut_*",
            "cloudkit_local.database.xǁLocalDatabaseǁ_delete_snapshot__mutmut_*",
        ),
        quick=False,
    ),
    Area("aws-families", ("cloudkit_aws/*",), ("tests/aws",), quick=False),
    Area("libcloud-families", ("cloudkit_libcloud/*",), ("tests/libcloud",), quick=False),
    Area("contrib", ("cloudkit_contrib/*",), ("tests/contrib",), quick=False),
)


class Equivalent(NamedTuple):
    """A surviving mutant argued equivalent: the mutation changes nothing a caller can observe."""

    function: str  # the mutant name without ``__mutmut_<n>``
    line: str  # the mutated line as ``mutmut show`` prints it (after ``+``, stripped)
    reason: str


_SQL_CASE = "SQLite keywords and identifiers, and the keys of sqlite3.Row, are case-insensitive"
_DNS_SERIAL = "cloudkit_local.dns.xǁLocalDNSǁ_bump_serial"
_RECORD = "cloudkit_local._delivery.xǁDispatcherǁ_record"
_DELIVER = "cloudkit_local._delivery.xǁDispatcherǁ_deliver"
_NO_ORIGIN = "with no origin, to_text relativizes nothing, whatever relativize says"
_ITER = "cloudkit_local.storage.xǁLocalStorageǁ_iter_objects"
_LC_CHANGE = "cloudkit_libcloud.dns.xǁLibcloudDNSǁ_change_records"
_IN_SYNC = "the record-by-record path is in sync when it returns: wait and timeout are not read (the service passes both)"
_UNDO_TAG = "_rollback only tests for \"created\"; any other tag is a deleted record"
_PART_EXISTS = "the part file exists whenever the clean-up runs (renaming it is the last step of the try block)"
_NEW_RECORD = "cloudkit_local.database.xǁLocalDatabaseǁ_new_record"
_REPLACED = "the key is set again before the record is seen, or read with .get (a missing key reads as None)"
_CLASS_DEFAULT = "the service layer fills the instance class default before the driver runs"
_LC_REACHED = "cloudkit_libcloud.errors.x_attempt_reached"
_LC_TRANSLATE = "cloudkit_libcloud.errors.x__translate"
_CLASS_ONLY = "only the class of the translated error is used; provider and operation do not choose it"
_FALSY = "None is as false as False"
_NEVER_EMPTY = "never used: _describe always returns text"

#: Survivors argued equivalent (see docs/testing.md, "Surviving mutants argued equivalent").
EQUIVALENT: tuple[Equivalent, ...] = (
    Equivalent(_DNS_SERIAL, """row = conn.execute("SELECT VALS FROM RECORDS WHERE ZONE_ID = ? AND NAME = '@' AND TYPE = 'SOA'", """
               """(zone_id,)).fetchone()""", _SQL_CASE),
    Equivalent(_DNS_SERIAL, """soa: Any = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, json.loads(row["VALS"])[0], """
               """origin=origin, relativize=False)""", _SQL_CASE),
    Equivalent(_DNS_SERIAL, """"UPDATE RECORDS SET VALS = ? WHERE ZONE_ID = ? AND NAME = '@' AND TYPE = 'SOA'",""", _SQL_CASE),
    Equivalent(_DNS_SERIAL, """soa: Any = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, json.loads(row["vals"])[0], """
               """origin=origin, relativize=None)""", "relativize=None is as false as False"),
    Equivalent(_DNS_SERIAL, """(json.dumps([str(bumped.to_text(origin=None, relativize=None))]), zone_id),""", _NO_ORIGIN),
    Equivalent(_DNS_SERIAL, """(json.dumps([str(bumped.to_text(relativize=False))]), zone_id),""", "origin=None is the default"),
    Equivalent(_DNS_SERIAL, """(json.dumps([str(bumped.to_text(origin=None, ))]), zone_id),""", _NO_ORIGIN),
    Equivalent(_DNS_SERIAL, """(json.dumps([str(bumped.to_text(origin=None, relativize=True))]), zone_id),""", _NO_ORIGIN),
    Equivalent(_RECORD, """attempts = row["ATTEMPTS"] + 1""", _SQL_CASE),
    Equivalent(_RECORD, """current = conn.execute("select status, lease_owner from deliveries where seq = ?", (row["seq"],)).fetchone()""",
               _SQL_CASE),
    Equivalent(_RECORD, """current = conn.execute("SELECT STATUS, LEASE_OWNER FROM DELIVERIES WHERE SEQ = ?", (row["seq"],)).fetchone()""",
               _SQL_CASE),
    Equivalent(_RECORD, """current = conn.execute("SELECT status, lease_owner FROM deliveries WHERE seq = ?", (row["SEQ"],)).fetchone()""",
               _SQL_CASE),
    Equivalent(_RECORD, """if current is None or current["STATUS"] not in ("pending", "retrying") or current["lease_owner"] != self.owner:""",
               _SQL_CASE),
    Equivalent(_RECORD, """if current is None or current["status"] not in ("pending", "retrying") or current["LEASE_OWNER"] != self.owner:""",
               _SQL_CASE),
    Equivalent(_RECORD, """conn.execute("update deliveries set status = 'sent', attempts = ?, last_error = null, lease_owner = null,""" '"',
               _SQL_CASE),
    Equivalent(_RECORD, """" lease_until = null where seq = ?", (attempts, row["seq"]))""", _SQL_CASE),
    Equivalent(_RECORD, """" LEASE_UNTIL = NULL WHERE SEQ = ?", (attempts, row["seq"]))""", _SQL_CASE),
    Equivalent(_RECORD, """" lease_until = NULL WHERE seq = ?", (attempts, row["SEQ"]))""", _SQL_CASE),
    Equivalent(_RECORD, """conn.execute("update deliveries set status = 'dead', attempts = ?, last_error = ?, lease_owner = null,""" '"',
               _SQL_CASE),
    Equivalent(_RECORD, """" lease_until = null where seq = ?", (attempts, error[:1000], row["seq"]))""", _SQL_CASE),
    Equivalent(_RECORD, """" LEASE_UNTIL = NULL WHERE SEQ = ?", (attempts, error[:1000], row["seq"]))""", _SQL_CASE),
    Equivalent(_RECORD, """" lease_until = NULL WHERE seq = ?", (attempts, error[:1000], row["SEQ"]))""", _SQL_CASE),
    Equivalent(_RECORD, """conn.execute("update deliveries set status = 'retrying', attempts = ?, last_error = ?, next_attempt_at = ?,""" '"',
               _SQL_CASE),
    Equivalent(_RECORD, """" lease_owner = null, lease_until = null where seq = ?",""", _SQL_CASE),
    Equivalent(_RECORD, """" LEASE_OWNER = NULL, LEASE_UNTIL = NULL WHERE SEQ = ?",""", _SQL_CASE),
    Equivalent(_RECORD, """(attempts, error[:1000], now + self.settings.delay(attempts), row["SEQ"]))""", _SQL_CASE),
    Equivalent(_DELIVER, """if row["KIND"] == "notification":""", _SQL_CASE),
    Equivalent(_DELIVER, """sub = self.service.db.query("select status from subscriptions where id = ?", (row["subscription_id"],))""",
               _SQL_CASE),
    Equivalent(_DELIVER, """sub = self.service.db.query("SELECT STATUS FROM SUBSCRIPTIONS WHERE ID = ?", (row["subscription_id"],))""",
               _SQL_CASE),
    Equivalent(_DELIVER, """sub = self.service.db.query("SELECT status FROM subscriptions WHERE id = ?", (row["SUBSCRIPTION_ID"],))""",
               _SQL_CASE),
    Equivalent(_DELIVER, """if row["PROTOCOL"] in ("http", "https"):""", _SQL_CASE),
    Equivalent(_DELIVER, """elif row["PROTOCOL"] == "email":""", _SQL_CASE),
    Equivalent(_LC_REACHED, """return status is not None and status >= 500 and type(_translate(exc, None, "")) is ProviderError""",
               _CLASS_ONLY),
    Equivalent(_LC_REACHED, """return status is not None and status >= 500 and type(_translate(exc, "", None)) is ProviderError""",
               _CLASS_ONLY),
    Equivalent(_LC_REACHED, """return status is not None and status >= 500 and type(_translate(exc, "XXXX", "")) is ProviderError""",
               _CLASS_ONLY),
    Equivalent(_LC_REACHED, """return status is not None and status >= 500 and type(_translate(exc, "", "XXXX")) is ProviderError""",
               _CLASS_ONLY),
    Equivalent("cloudkit_libcloud.errors.x__maybe_applied",
               """if getattr(current, MAYBE_APPLIED, None) or (_native(current) and attempt_reached(current)):""", _FALSY),
    Equivalent("cloudkit_libcloud.errors.x_noting_attempts", """reached = None""", _FALSY),
    Equivalent("cloudkit_libcloud.errors.x__native", """module = (type(exc).__module__ or "XXXX").split(".")[0]""",
               "neither an empty module name nor XXXX is a native module"),
    Equivalent(_LC_TRANSLATE, """return NotSupported(provider, operation, text or "XXthe libcloud driver does not implement itXX")""",
               _NEVER_EMPTY),
    Equivalent(_LC_TRANSLATE, """return NotSupported(provider, operation, text or "THE LIBCLOUD DRIVER DOES NOT IMPLEMENT IT")""",
               _NEVER_EMPTY),
    Equivalent(_LC_TRANSLATE, """return Throttled(msg, provider=provider, code=name, )""", "retry_after defaults to None"),
    Equivalent(_LC_TRANSLATE, r"""if re.search(r"STATUS[ _]CODE[=:]\s*(429|503)\b", text, re.IGNORECASE):""",
               "the pattern is matched ignoring case"),
    Equivalent("cloudkit_aws.storage.xǁAwsStorageǁ_list_objects", """items.sort(key=None)""",
               "a page never holds a key and a common prefix with the same text (a key with the delimiter past the "
               "prefix is rolled up), so the (key, item) pairs compare on the key alone"),
    Equivalent(_ITER, 'last_common: str | None = ""', "a common prefix ends with the delimiter, so it is never the empty string"),
    Equivalent(_ITER, """key = row["KEY"]""", _SQL_CASE),
    Equivalent(_ITER, """lower, inclusive = rows[-1]["KEY"], False""", _SQL_CASE),
    Equivalent(_LC_CHANGE, """def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = True, timeout: float = 300) """
               """-> ChangeInfo:""", _IN_SYNC),
    Equivalent(_LC_CHANGE, """def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 301) """
               """-> ChangeInfo:""", _IN_SYNC),
    Equivalent(_LC_CHANGE, """undo.append(("XXdeletedXX", native))""", _UNDO_TAG),
    Equivalent(_LC_CHANGE, """undo.append(("DELETED", native))""", _UNDO_TAG),
    Equivalent(_LC_CHANGE, """created = self._driver.create_record(self._native_name(rec.name, None), lzone, rec.type, data, extra=extra)""",
               "LibcloudDNS._native_name does not read the zone"),
    Equivalent("cloudkit.services.storage.xǁStorageServiceǁ_download_file", """Path(tmp).unlink(missing_ok=None)""", _PART_EXISTS),
    Equivalent("cloudkit.services.storage.xǁStorageServiceǁ_download_file", """Path(tmp).unlink(missing_ok=False)""", _PART_EXISTS),
    Equivalent(_NEW_RECORD, '"id": identifier, "engine": engine, "status": "XXcreatingXX", "created_at": time.time(), "uid": uuid.uuid4().hex,',
               _REPLACED),
    Equivalent(_NEW_RECORD, '"id": identifier, "engine": engine, "status": "CREATING", "created_at": time.time(), "uid": uuid.uuid4().hex,',
               _REPLACED),
    Equivalent(_NEW_RECORD, '"id": identifier, "engine": engine, "status": "creating", "created_at": time.time(), "XXuidXX": uuid.uuid4().hex,',
               _REPLACED),
    Equivalent(_NEW_RECORD, '"id": identifier, "engine": engine, "status": "creating", "created_at": time.time(), "UID": uuid.uuid4().hex,',
               _REPLACED),
    Equivalent(_NEW_RECORD, '"instance_class": kw.get("instance_class") or "XXdb.t3.microXX", "engine_version": version,', _CLASS_DEFAULT),
    Equivalent(_NEW_RECORD, '"instance_class": kw.get("instance_class") or "DB.T3.MICRO", "engine_version": version,', _CLASS_DEFAULT),
    Equivalent(_NEW_RECORD, '"XXreplica_ofXX": None, "dir": str(idir), "port": None, "archive": str(idir / "archive"),', _REPLACED),
    Equivalent(_NEW_RECORD, '"REPLICA_OF": None, "dir": str(idir), "port": None, "archive": str(idir / "archive"),', _REPLACED),
    Equivalent(_NEW_RECORD, '"replica_of": None, "dir": str(idir), "XXportXX": None, "archive": str(idir / "archive"),', _REPLACED),
    Equivalent(_NEW_RECORD, '"replica_of": None, "dir": str(idir), "PORT": None, "archive": str(idir / "archive"),', _REPLACED),
    Equivalent("cloudkit_local.database.xǁLocalDatabaseǁ_restored_record", 'if self.db.query("select 1 from instances where id = ?", (identifier,)):',
               _SQL_CASE),
    Equivalent("cloudkit_local.database.xǁLocalDatabaseǁ_restored_record", 'if self.db.query("SELECT 1 FROM INSTANCES WHERE ID = ?", (identifier,)):',
               _SQL_CASE),
    Equivalent(_DELIVER, """raise DeliveryFailed(f"protocol {row['PROTOCOL']!r} is not delivered by the dispatcher")""", _SQL_CASE),
)


def _toml_value(value: object) -> str:
    return json.dumps(value)


def _prepare(area: Area, shared: dict[str, object], pytest_ini: dict[str, object]) -> Path:
    """Lay out the scratch directory of one area and write its configuration."""
    work = WORK / area.name
    if work.exists():
        shutil.rmtree(work)
    (work / "src").mkdir(parents=True)
    for name, path in PACKAGES.items():
        (work / "src" / name).symlink_to(path, target_is_directory=True)
    (work / "tests").symlink_to(ROOT / "tests", target_is_directory=True)
    config: dict[str, object] = dict(shared)
    config["source_paths"] = [f"src/{name}" for name in PACKAGES]
    config["only_mutate"] = [f"src/{pattern}" for pattern in area.mutate]
    config["pytest_add_cli_args_test_selection"] = list(area.tests)
    lines = ["[tool.mutmut]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in config.items()]
    lines.append("")
    lines.append("[tool.pytest.ini_options]")
    lines += [f"{key} = {_toml_value(value)}" for key, value in pytest_ini.items() if key != "testpaths"]
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return work


def _score(work: Path) -> dict[str, int]:
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=work, check=True, capture_output=True)
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    return {key: int(value) for key, value in stats.items() if isinstance(value, int | float)}


def _survivors(work: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "mutmut", "results"], cwd=work, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip() and not line.endswith(": not checked")]


def _changed_lines(work: Path, name: str) -> list[str]:
    """The lines mutant ``name`` adds, as ``mutmut show`` prints them (stripped)."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, capture_output=True, text=True).stdout
    return [line[1:].strip() for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]


def equivalent_entry(name: str, changed: list[str]) -> Equivalent | None:
    """The :data:`EQUIVALENT` entry surviving mutant ``name`` (adding the lines ``changed``) matches, if any."""
    function = name.rsplit("__mutmut_", 1)[0]
    return next((e for e in EQUIVALENT if e.function == function and e.line in changed), None)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen areas and print one score line per area (and the surviving mutants)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("areas", nargs="*", help="area names (default: the quick areas)")
    parser.add_argument("--all", action="store_true", help="every area, including the slow ones")
    parser.add_argument("--list", action="store_true", help="list the areas and exit")
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant runs (default 2)")
    parser.add_argument("--min-score", type=float, default=0.0, help="fail when an area scores below this percentage")
    parser.add_argument("--show", action="store_true", help="print the changed line of every survivor (not only the unexplained)")
    args = parser.parse_args(argv)
    if args.list:
        for area in AREAS:
            print(f"{area.name:24} {'quick' if area.quick else 'full '}  mutates {', '.join(area.mutate)}  tests {', '.join(area.tests)}")
        return 0
    known = {area.name: area for area in AREAS}
    unknown = [name for name in args.areas if name not in known]
    if unknown:
        parser.error(f"unknown area(s): {', '.join(unknown)} (see --list)")
    chosen = [known[name] for name in args.areas] if args.areas else [a for a in AREAS if args.all or a.quick]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = dict(pyproject.get("tool", {}).get("mutmut", {}))
    pytest_ini = dict(pyproject.get("tool", {}).get("pytest", {}).get("ini_options", {}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUTANT_")}
    failed = False
    rows = []
    for area in chosen:
        work = _prepare(area, shared, pytest_ini)
        print(f"== {area.name}", flush=True)
        log = work / "mutmut-run.log"
        with log.open("w") as out:
            command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children), *area.names]
            run = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
        if run.returncode != 0:
            print(f"   mutmut failed in {area.name} (exit {run.returncode}); see {log}")
            failed = True
            continue
        stats = _score(work)
        killed = stats.get("killed", 0) + stats.get("timeout", 0) + stats.get("segfault", 0)
        total = killed + stats.get("survived", 0) + stats.get("no_tests", 0) + stats.get("suspicious", 0)
        equivalent = 0
        for line in _survivors(work):
            name, _, status = line.partition(": ")
            changed = _changed_lines(work, name)
            entry = equivalent_entry(name, changed) if status == "survived" else None
            if entry is not None:
                equivalent += 1
                print("   ", line, f"(equivalent: {entry.reason})")
            else:
                print("   ", line)
            if args.show or (entry is None and status not in ("timeout", "segfault")):
                for added in changed:
                    print("        +", added)
        score = 100.0 * killed / (total - equivalent) if total > equivalent else 100.0
        raw = 100.0 * killed / total if total else 100.0
        rows.append((area.name, killed, equivalent, total, score, raw))
        if score < args.min_score:
            failed = True
    print()
    print(f"{'area':24} {'killed':>7} {'equiv':>6} {'total':>6} {'score':>7} {'raw':>7}")
    for name, killed, equivalent, total, score, raw in rows:
        print(f"{name:24} {killed:7} {equivalent:6} {total:6} {score:6.1f}% {raw:6.1f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
