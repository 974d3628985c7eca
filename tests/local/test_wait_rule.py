"""The one wait rule on the local provider: a Timeout names the resource and its state and deletes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from cloudkit_local import _postgres as pg
from cloudkit_local import compute as local_compute
from cloudkit_local.db.sqlite import SqliteEngine
from cloudkit_local.errors import translate

import cloudkit
from cloudkit import Timeout
from cloudkit.models.compute import Instance

PASSWORD = "Sup3r-secret-pw"


def test_a_database_create_that_times_out_leaves_the_instance_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(self: Any, rec: Any, password: str, timeout: float) -> None:
        raise Timeout("initialising took too long", provider="local")

    monkeypatch.setattr(SqliteEngine, "create", slow)
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        with pytest.raises(Timeout) as caught:
            cloud.database.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD)
        assert "'lite'" in str(caught.value) and "left in place" in str(caught.value)
        kept = cloud.database.get_instance("lite")  # the old code deleted it here
        assert kept.id == "lite"
        assert kept.status in str(caught.value)
        monkeypatch.undo()
        cloud.database.delete_instance("lite", wait=True)  # the user can still remove it
        with pytest.raises(cloudkit.NotFound):
            cloud.database.get_instance("lite")


def test_other_create_failures_are_still_undone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any, rec: Any, password: str, timeout: float) -> None:
        raise cloudkit.ProviderError("disk on fire", provider="local")

    monkeypatch.setattr(SqliteEngine, "create", broken)
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        with pytest.raises(cloudkit.ProviderError):
            cloud.database.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD)
        with pytest.raises(cloudkit.NotFound):
            cloud.database.get_instance("lite")


def test_pg_ctl_giving_up_waiting_is_a_timeout_not_a_failure() -> None:
    exc = subprocess.CalledProcessError(1, ["/usr/lib/postgresql/16/bin/pg_ctl", "-w", "start"],
                                        stderr="waiting for server to start.... stopped waiting\npg_ctl: server did not start in time\n")
    err = translate(exc, "start database server db1")
    assert isinstance(err, Timeout) and "did not start in time" in str(err)
    other = subprocess.CalledProcessError(1, ["pg_ctl", "start"], stderr="pg_ctl: could not start server\n")
    assert type(translate(other, "start")) is cloudkit.ProviderError


def test_postgres_waits_name_what_and_the_awaited_state() -> None:
    with pytest.raises(Timeout, match=r"WAL segment 0001 of db1 did not become archived within 0.01s"):
        pg.wait_until(lambda: False, 0.01, "WAL segment 0001 of db1", "archived", interval=0.005)


def test_a_compute_wait_that_times_out_names_the_instance_and_its_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_compute.LocalCompute, "_row", lambda self, instance_id: instance_id)
    monkeypatch.setattr(local_compute.LocalCompute, "_instance", lambda self, row: Instance(id=row, name="web", state="pending"))
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud, pytest.raises(Timeout) as caught:
        cloud.compute._wait_for_instance("i-1", "running", 0.05)  # type: ignore[attr-defined]
    text = str(caught.value)
    assert "instance i-1 did not become running" in text and "last seen pending" in text and "deletes nothing" in text
