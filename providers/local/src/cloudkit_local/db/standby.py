"""Multi-AZ on the local provider: the family's side of an instance's standby server.

An engine with ``multi_az`` (:mod:`~cloudkit_local.db.postgres`, :mod:`~cloudkit_local.db.mysql`) keeps a second server for a
Multi-AZ instance: a synchronous standby in a data folder of its own, on its own 127.0.0.1 port,
run as the same unprivileged user. ``reboot_instance(force_failover=True)`` promotes it; the
instance's endpoint (``127.0.0.1:port``) keeps its address and reaches the promoted server
(as RDS keeps the DNS name and moves it), and the old primary becomes the new standby. Both servers
run on this machine, in the local provider's one zone: the standby survives the loss of a server
process or its data folder, not of the machine.

This module holds the checks and the steps that the service (:mod:`cloudkit_local.database`)
calls; the engine does the server work (``add_standby``, ``drop_standby``, ``failover``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudkit.errors import CloudkitError, Conflict, InvalidInput
from cloudkit_local.db.base import Engine

#: the zone both servers run in (the local provider has one)
ZONE = "local-1a"


def check(engine: Engine, operation: str) -> None:
    """``NotSupported`` naming the engine when it keeps no standby."""
    if not engine.multi_az:
        raise engine.lacks(operation, engine.multi_az_reason)


def wanted_change(engine: Engine, rec: Mapping[str, Any], multi_az: object, live_status: str) -> bool | None:
    """What ``modify_instance(multi_az=...)`` changes: ``True`` add, ``False`` remove, ``None`` nothing."""
    if multi_az is None or bool(multi_az) == bool(rec.get("multi_az")):
        return None
    check(engine, "modify_instance")
    if rec.get("replica_of"):
        raise Conflict(f"database instance {rec['id']!r} is a read replica; Multi-AZ is set on its source",
                       provider="local", code="InvalidDBInstanceState")
    if live_status != "available":
        raise Conflict(f"database instance {rec['id']!r} is {live_status}; changing Multi-AZ needs it available",
                       provider="local", code="InvalidDBInstanceState")
    return bool(multi_az)


def apply_change(engine: Engine, rec: dict[str, Any], want: bool, timeout: float) -> None:
    """Add or remove the standby.

    ``rec["multi_az"]`` turns on only once the standby is in sync, and off before it is removed: a
    record with a standby and ``multi_az`` off is an add or a removal cut short, which
    :func:`tidy` finishes by removing the standby. A failed add removes what it made.
    """
    if want:
        try:
            engine.add_standby(rec, timeout)
        except BaseException:
            tidy(engine, rec)
            raise
    else:
        rec["multi_az"] = False
        engine.host._save(rec)
        engine.drop_standby(rec, timeout)
    rec["multi_az"] = want


def tidy(engine: Engine, rec: dict[str, Any], timeout: float = 120) -> None:
    """Remove a standby that an add or a removal cut short left (``rec`` has one, ``multi_az`` is off)."""
    if rec.get("standby") and not rec.get("multi_az"):
        engine.drop_standby(rec, timeout)


def check_failover(rec: Mapping[str, Any]) -> None:
    """``InvalidInput`` when the instance has no standby to fail over to (RDS refuses it the same way)."""
    if not rec.get("multi_az"):
        raise InvalidInput("force_failover", f"needs a Multi-AZ instance; {rec['id']!r} has no standby "
                           "(modify_instance(multi_az=True) adds one)")


def resumable(rec: Mapping[str, Any]) -> bool:
    """Whether ``rec`` holds a failover begun and not finished (``reboot_instance(force_failover=True)`` resumes it)."""
    return bool(rec.get("failover"))


def recover(engine: Engine, rec: dict[str, Any], timeout: float = 600) -> str:
    """Finish the failover a process that died left half done; the status to record (``failed`` if it cannot)."""
    try:
        engine.failover(rec, timeout)
    except CloudkitError:
        return "failed"
    return "available"


def model_fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The model's Multi-AZ fields: ``secondary_zone`` for an instance with a standby."""
    return {"secondary_zone": ZONE if rec.get("standby") else None}
