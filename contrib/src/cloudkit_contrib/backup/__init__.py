"""Backups into a bucket, built only on cloudkit's neutral storage and DNS API.

Folder backups
--------------
:func:`backup_folder` stores a local folder as a *full*, *incremental* (changes since the last
backup of any kind) or *differential* (changes since the last full) backup. Each backup is two
objects under ``<prefix><name>/``:

* ``archives/<id>.tar.gz``: a gzip-compressed tar stream of the files stored by this backup,
  streamed to the bucket while it is written (memory stays at a few chunks whatever the size);
* ``manifests/<id>.json``: the JSON manifest, written only after the archive is stored whole. It
  lists every file of the folder at backup time (size, SHA-256, mode, modification time and the
  backup whose archive holds its bytes), the paths deleted since the base, and the chain of
  backups a restore applies. A backup without a manifest does not exist: an interrupted run can
  leave at most an orphan archive, which :func:`purge_backups` removes later.

:func:`restore_backup` rebuilds a folder as it was at one backup (or a point in time) by applying
its chain in order, verifying every file's SHA-256 and every archive's SHA-256; the result is staged
beside the destination and moved into place only once complete. :func:`purge_backups` applies a
retention policy without ever breaking a chain a kept backup needs, and
:func:`set_backup_lifecycle` installs the bucket lifecycle rules (archive after N days, expire
after M) for one backup set.

DNS backups
-----------
:func:`backup_zones` exports every zone (or the ones named) of a DNS service as zone files into a
bucket, possibly of another cloud, with a manifest; :func:`restore_zone` imports one back.

Every function takes either a :class:`cloudkit.Cloud` or the family service itself, checks the
provider's capabilities first (``NotSupported`` names what is missing) and rejects bad arguments
with ``InvalidInput`` before it touches a disk or a network.
"""


# The package is split by product: ``folder`` (folder backups), ``zones`` (DNS zone backups) and
# ``_common`` (argument checks, time stamps and manifest reading both use). Every public name stays
# importable from ``cloudkit_contrib.backup``.
from __future__ import annotations

from cloudkit_contrib import IntegrityError, LocalFileError
from cloudkit_contrib.backup.folder import (
    KINDS,
    BackupInfo,
    PurgeResult,
    RestoreResult,
    backup_folder,
    get_backup,
    list_backups,
    purge_backups,
    restore_backup,
    set_backup_lifecycle,
)
from cloudkit_contrib.backup.zones import (
    ZoneBackupInfo,
    ZoneCopy,
    ZoneRestoreResult,
    backup_zones,
    list_zone_backups,
    restore_zone,
)

__all__ = [
    "KINDS",
    "BackupInfo",
    "IntegrityError",
    "LocalFileError",
    "PurgeResult",
    "RestoreResult",
    "ZoneBackupInfo",
    "ZoneCopy",
    "ZoneRestoreResult",
    "backup_folder",
    "backup_zones",
    "get_backup",
    "list_backups",
    "list_zone_backups",
    "purge_backups",
    "restore_backup",
    "restore_zone",
    "set_backup_lifecycle",
]

