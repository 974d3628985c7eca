"""Pins which backups a restore picks and applies, in which order (issue 11: backup restore ordering).

Through the public calls of ``cloudkit_contrib.backup`` only, on the local provider: the chain is
applied full first, then each later link that still holds a needed file; ``at`` picks the last
backup taken at or before it (the boundary included); the bases of new backups; a missing link
fails before anything is written.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloudkit_contrib.backup import BackupInfo, backup_folder, restore_backup

import cloudkit
from cloudkit.errors import InvalidInput, NotFound

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def write(path: Path, data: bytes, when: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (when.timestamp(), when.timestamp()))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def src(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    write(folder / "keep.txt", b"kept from the full\n", at(-1))
    write(folder / "f.txt", b"v0\n", at(-1))
    write(folder / "gone.txt", b"deleted later\n", at(-1))
    return folder


def _chain(cloud: cloudkit.Cloud, src: Path) -> list[BackupInfo]:
    """full (t0), inc1 (t1: f v1, gone.txt deleted), inc2 (t2: f v2, gone.txt back as v2), inc3 (t3: f v3)."""
    out = [backup_folder(cloud, "vault", "home", src, now=at(0))]
    write(src / "f.txt", b"v1 longer\n", at(0.5))
    (src / "gone.txt").unlink()
    out.append(backup_folder(cloud, "vault", "home", src, kind="incremental", now=at(1)))
    write(src / "f.txt", b"v2 longer still\n", at(1.5))
    write(src / "gone.txt", b"back again\n", at(1.5))
    out.append(backup_folder(cloud, "vault", "home", src, kind="incremental", now=at(2)))
    write(src / "f.txt", b"v3 the longest of all\n", at(2.5))
    out.append(backup_folder(cloud, "vault", "home", src, kind="incremental", now=at(3)))
    return out


def test_each_point_of_the_chain_and_the_archives_it_reads(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full, inc1, inc2, inc3 = _chain(cloud, src)
    assert [b.base for b in (full, inc1, inc2, inc3)] == [None, full.id, inc1.id, inc2.id]
    assert inc3.chain == (full.id, inc1.id, inc2.id, inc3.id)
    expected = {
        full.id: ({"f.txt": b"v0\n", "gone.txt": b"deleted later\n"}, (full.id,)),
        inc1.id: ({"f.txt": b"v1 longer\n"}, (full.id, inc1.id)),
        # inc1's only file was superseded by inc2: its archive is not read
        inc2.id: ({"f.txt": b"v2 longer still\n", "gone.txt": b"back again\n"}, (full.id, inc2.id)),
        inc3.id: ({"f.txt": b"v3 the longest of all\n", "gone.txt": b"back again\n"}, (full.id, inc2.id, inc3.id)),
    }
    for i, (bid, (files, applied)) in enumerate(expected.items()):
        dest = tmp_path / f"r{i}"
        result = restore_backup(cloud, "vault", "home", dest, backup_id=bid)
        assert tree(dest) == {"keep.txt": b"kept from the full\n", **files}, bid
        assert (result.backup.id, result.applied) == (bid, applied)
        assert result.files == len(files) + 1
        assert result.bytes == sum(len(v) for v in tree(dest).values())
    latest = restore_backup(cloud, "vault", "home", tmp_path / "latest")
    assert (latest.backup.id, latest.applied) == (inc3.id, (full.id, inc2.id, inc3.id))


@pytest.mark.parametrize(
    ("when", "index"),
    [(at(0), 0), (at(1) - timedelta(microseconds=1), 0), (at(1), 1), (at(2.5), 2), (at(3), 3), (at(100), 3)],
)
def test_at_picks_the_last_backup_taken_at_or_before_it(cloud: cloudkit.Cloud, src: Path, tmp_path: Path,
                                                         when: datetime, index: int) -> None:
    chain = _chain(cloud, src)
    assert restore_backup(cloud, "vault", "home", tmp_path / "dest", at=when).backup.id == chain[index].id


def test_at_before_the_first_backup_is_not_found(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    _chain(cloud, src)
    with pytest.raises(NotFound) as caught:
        restore_backup(cloud, "vault", "home", tmp_path / "dest", at=at(0) - timedelta(microseconds=1))
    assert caught.value.message == "no complete backup of set 'home' at or before 2026-03-01T11:59:59.999999Z in bucket 'vault'"
    assert caught.value.provider == "local"
    assert not (tmp_path / "dest").exists()
    with pytest.raises(NotFound) as empty:
        restore_backup(cloud, "vault", "other", tmp_path / "dest")
    assert empty.value.message == "no complete backup of set 'other' in bucket 'vault'"


def test_backup_id_and_at_together_are_refused(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=at(0))
    with pytest.raises(InvalidInput) as caught:
        restore_backup(cloud, "vault", "home", tmp_path / "dest", backup_id=full.id, at=at(1))
    assert (caught.value.field, caught.value.rule) == ("at", "give backup_id or at, not both")


def test_a_missing_link_fails_before_anything_is_written(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full, inc1, inc2, inc3 = _chain(cloud, src)
    cloud.storage.delete_object("vault", inc2.archive_key)
    with pytest.raises(NotFound) as caught:
        restore_backup(cloud, "vault", "home", tmp_path / "dest")
    assert caught.value.message == f"backup {inc3.id} needs the archive of {inc2.id}, which is missing from bucket 'vault'"
    assert caught.value.provider == "local"
    assert not (tmp_path / "dest").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest")] == []  # no staging folder left
    # a point whose chain does not need it still restores
    assert restore_backup(cloud, "vault", "home", tmp_path / "early", backup_id=inc1.id).applied == (full.id, inc1.id)


def test_differentials_build_on_the_last_full_and_incrementals_on_the_last_backup(cloud: cloudkit.Cloud, src: Path,
                                                                                  tmp_path: Path) -> None:
    full1 = backup_folder(cloud, "vault", "home", src, now=at(0))
    write(src / "f.txt", b"v1 longer\n", at(0.5))
    full2 = backup_folder(cloud, "vault", "home", src, now=at(1))
    write(src / "f.txt", b"v2 longer still\n", at(1.5))
    diff1 = backup_folder(cloud, "vault", "home", src, kind="differential", now=at(2))
    write(src / "g.txt", b"golf\n", at(2.5))
    diff2 = backup_folder(cloud, "vault", "home", src, kind="differential", now=at(3))
    inc = backup_folder(cloud, "vault", "home", src, kind="incremental", now=at(4))
    assert (diff1.base, diff2.base, inc.base) == (full2.id, full2.id, diff2.id)
    assert diff2.chain == (full2.id, diff2.id) and inc.chain == (full2.id, diff2.id, inc.id)
    assert diff2.stored_count == 2  # f.txt and g.txt: everything since the full
    result = restore_backup(cloud, "vault", "home", tmp_path / "dest", backup_id=diff2.id)
    assert result.applied == (full2.id, diff2.id)
    assert full1.id not in result.applied
    assert tree(tmp_path / "dest")["f.txt"] == b"v2 longer still\n"
    assert tree(tmp_path / "dest")["g.txt"] == b"golf\n"


def test_restore_refuses_bad_arguments_naming_field_and_rule(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    backup_folder(cloud, "vault", "home", src, now=at(0))
    (tmp_path / "file").write_text("x")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    os.symlink(tmp_path / "full", tmp_path / "link")
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"dest": tmp_path / "d", "overwrite": 1}, "overwrite", "must be True or False"),
        ({"dest": 5}, "dest", "must be a path, not int"),
        ({"dest": tmp_path / "file"}, "dest", f"{str(tmp_path / 'file')!r} exists and is not a folder"),
        ({"dest": tmp_path / "link"}, "dest", f"{str(tmp_path / 'link')!r} exists and is not a folder"),
        ({"dest": tmp_path / "full"}, "dest", f"{str(tmp_path / 'full')!r} is not empty (pass overwrite=True to restore over it)"),
        ({"dest": tmp_path / "no" / "where"}, "dest", f"folder {str(tmp_path / 'no')!r} does not exist"),
    ]
    for kwargs, field, rule in cases:
        dest = kwargs.pop("dest")
        with pytest.raises(InvalidInput) as caught:
            restore_backup(cloud, "vault", "home", dest, **kwargs)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.rule) == (field, rule), kwargs
    with pytest.raises(InvalidInput) as bad_at:
        restore_backup(cloud, "vault", "home", tmp_path / "d", at="yesterday")  # type: ignore[arg-type]
    assert bad_at.value.field == "at"


def test_restore_over_an_empty_folder_and_into_a_new_one(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=at(0))
    (tmp_path / "empty").mkdir()
    assert restore_backup(cloud, "vault", "home", tmp_path / "empty").backup.id == full.id
    assert restore_backup(cloud, "vault", "home", str(tmp_path / "new")).dest == tmp_path / "new"
    assert tree(tmp_path / "empty") == tree(tmp_path / "new") == tree(src)
    assert [p.name for p in tmp_path.iterdir() if ".restore-" in p.name] == []


def test_an_incremental_without_a_full_names_the_provider(cloud: cloudkit.Cloud, src: Path) -> None:
    with pytest.raises(NotFound) as caught:
        backup_folder(cloud, "vault", "home", src, kind="differential", now=at(0))
    assert caught.value.message == "a differential backup needs a full backup of set 'home' first; none is in bucket 'vault'"
    assert caught.value.provider == "local"
