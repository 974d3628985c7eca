"""Each guarantee the kit took from gocloud.dev's drivertest fails a driver that breaks it.

One small plugin wraps the local storage and notification drivers with one deliberate fault per
mode, and the documented kit run (``pytest --pyargs cloudkit.testing.test_suite``) goes in a fresh
pytest process against it, as a plugin author would run it. The honest run of the same tests passes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
import io
import itertools
import threading

import attrs

import cloudkit
from cloudkit.errors import NotFound
from cloudkit_local.notification import LocalNotification
from cloudkit_local.storage import LocalStorage

MODE = {mode!r}


class FaultyStorage(LocalStorage):
    """Local storage with one deliberate fault."""

    def __init__(self, settings):
        super().__init__(settings)
        self.read_seen = threading.Event()

    def _list_objects(self, bucket, prefix, delimiter, start_after):
        if MODE != "offset-pages":
            return super()._list_objects(bucket, prefix, delimiter, start_after)
        parent = super()._list_objects

        def pages():  # page tokens as offsets: a change inside a read page shifts the rest
            offset = 0
            while True:
                page = list(itertools.islice(parent(bucket, prefix, delimiter, start_after), offset, offset + 2))
                if not page:
                    return
                yield from page
                offset += len(page)

        return pages()

    def _put_object(self, bucket, key, reader, size, content_type, metadata):
        if MODE == "partial-write":  # keeps what arrived before the source failed
            got = bytearray()
            try:
                while chunk := reader.read(65536):
                    got += chunk
            except Exception:
                super()._put_object(bucket, key, io.BytesIO(bytes(got)), len(got), content_type, metadata)
                raise
            return super()._put_object(bucket, key, io.BytesIO(bytes(got)), len(got), content_type, metadata)
        if MODE == "torn-write":  # overwrites in place: the front half lands before the back half
            data = reader.read()
            try:
                with super()._get_object(bucket, key, None) as old:
                    before = old.read()
            except NotFound:
                before = b""
            half = len(data) // 2
            torn = data[:half] + before[half:]
            self.read_seen.clear()
            super()._put_object(bucket, key, io.BytesIO(torn), len(torn), content_type, metadata)
            self.read_seen.wait(1.0)
            return super()._put_object(bucket, key, io.BytesIO(data), len(data), content_type, metadata)
        return super()._put_object(bucket, key, reader, size, content_type, metadata)

    def _get_object(self, bucket, key, range):
        reader = super()._get_object(bucket, key, range)
        self.read_seen.set()
        if MODE == "ranged-size" and range is not None:  # reports the part's size as the object's
            part = (reader.info.size - range[0]) if range[1] is None else min(range[1] + 1, reader.info.size) - range[0]
            reader.info = attrs.evolve(reader.info, size=part)
        return reader


class FaultyNotification(LocalNotification):
    """Local notification with one deliberate fault."""

    def __init__(self, settings):
        super().__init__(settings)
        self.alias = {{}}

    def _receive_messages(self, queue_id, max_messages, wait_seconds, visibility_timeout):
        if MODE == "nack-ignored" and visibility_timeout == 0:
            visibility_timeout = 30
        got = super()._receive_messages(queue_id, max_messages, wait_seconds, visibility_timeout)
        if MODE == "same-receipt":  # one receipt per message, whatever the delivery
            out = []
            for m in got:
                fixed = m.message_id + ".receipt"
                self.alias[fixed] = m.receipt
                out.append(attrs.evolve(m, receipt=fixed))
            return out
        return got

    def _ack_message(self, queue_id, receipt):
        receipt = self.alias.get(receipt, receipt)
        if MODE == "strict-ack":  # an acknowledged or superseded receipt is an error
            with self.db.transaction() as conn:
                qid = self._queue_row(conn, queue_id)["id"]
                if conn.execute("DELETE FROM queue_messages WHERE queue_id = ? AND receipt = ?", (qid, receipt)).rowcount == 0:
                    raise NotFound("receipt is not current")
            return
        super()._ack_message(queue_id, receipt)


class FaultyPlugin:
    @cloudkit.hookimpl(tryfirst=True)
    def cloudkit_make_service(self, provider, family, settings):
        if provider == "local" and family == "storage":
            return FaultyStorage(settings)
        if provider == "local" and family == "notification":
            return FaultyNotification(settings)
        return None


cloudkit.register_plugin(FaultyPlugin(), name="faulty-depth")
'''


def run_kit(tmp_path: Path, mode: str, selection: str) -> subprocess.CompletedProcess[str]:
    """The documented kit run on local, with the faulty plugin loaded, limited to ``selection`` (a ``-k`` expression)."""
    (tmp_path / "faulty_depth_plugin.py").write_text(textwrap.dedent(PLUGIN.format(mode=mode)))
    root = Path(tempfile.mkdtemp(prefix="root-", dir=tmp_path))
    config = tmp_path / "cloudkit.toml"
    config.write_text("")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "CLOUDKIT_LOCAL_ROOT": str(root), "CLOUDKIT_CONFIG": str(config)}
    env.pop("CLOUDKIT_PROFILE", None)
    env.pop("CLOUDKIT_PROVIDER", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "faulty_depth_plugin", "--rootdir",
         str(tmp_path), "--pyargs", "cloudkit.testing.test_suite", "-k", selection, "-rf"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )


STORAGE = "TestStorageConformance and ("
NOTIFY = "TestNotificationConformance and ("

CASES = [
    ("offset-pages", STORAGE + "listing_continues)", ["test_listing_continues_after_changes_inside_a_read_page"]),
    ("partial-write", STORAGE + "failed_write)", ["test_failed_write_leaves_no_object_and_no_part"]),
    ("torn-write", STORAGE + "concurrent_writes)", ["test_concurrent_writes_and_reads_of_one_key_never_mix"]),
    ("ranged-size", STORAGE + "ranged_read_reports)", ["test_ranged_read_reports_the_whole_object"]),
    ("strict-ack", NOTIFY + "acknowledging_twice or stale_ack)",
     ["test_acknowledging_twice_is_not_an_error", "test_redelivery_carries_a_new_receipt_and_a_stale_ack_is_harmless"]),
    ("nack-ignored", NOTIFY + "visibility_timeout_zero)", ["test_visibility_timeout_zero_redelivers_at_once"]),
    ("same-receipt", NOTIFY + "stale_ack)", ["test_redelivery_carries_a_new_receipt_and_a_stale_ack_is_harmless"]),
]


@pytest.mark.parametrize(("mode", "selection", "failing"), CASES, ids=[c[0] for c in CASES])
def test_a_driver_breaking_the_guarantee_fails_the_kit(tmp_path: Path, mode: str, selection: str,
                                                       failing: list[str]) -> None:
    proc = run_kit(tmp_path, mode, selection)
    failed = sorted({line.split("::")[-1].split(" ")[0] for line in proc.stdout.splitlines() if line.startswith("FAILED")})
    assert failed == sorted(failing), proc.stdout[-4000:]


def test_the_honest_driver_passes_the_same_tests(tmp_path: Path) -> None:
    selection = " or ".join(f"({c[1]})" for c in CASES)
    proc = run_kit(tmp_path, "none", selection)
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-2000:]
    assert "failed" not in last and "error" not in last and "7 passed" in last, proc.stdout[-4000:]
