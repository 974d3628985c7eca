"""File operations on trees a sandboxed guest can change, done without ever following the guest's links.

An instance's private folders (``rootfs/etc``, ``rootfs/var`` ...) and its volumes are written by
code running inside the sandbox, as root there. Any path below them may have been replaced by a
symbolic link to a host file, a FIFO, a directory or a huge file. The host therefore touches such
a tree only through this module:

* every path is walked one component at a time with ``O_NOFOLLOW`` relative to the previous
  directory's descriptor, so a link anywhere on the path is refused, not followed, and a
  concurrent rename by the guest cannot redirect the walk;
* files are opened with ``O_NONBLOCK`` and checked with ``fstat`` before anything is read, so a
  FIFO or a device never blocks the host, and reads are capped;
* writes go to a new file created with ``O_EXCL | O_NOFOLLOW`` and renamed over the old name
  (a rename replaces a link, it never writes through one);
* copies keep links as links and skip FIFOs, sockets and device nodes;
* ownership changes (:func:`chown_tree`) use ``fchownat(AT_SYMLINK_NOFOLLOW)``: a link's own owner
  changes, never its target's.

A path that fails these checks raises :class:`GuestPathError`; callers turn it into a clear
cloudkit error ("the instance's /etc/hostname is a symbolic link") or treat the value as absent.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_COPY_CHUNK = 1 << 20


class GuestPathError(OSError):
    """A path in a guest-controlled tree is not what the host expects (a link, a FIFO, too big ...)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(errno.EPERM, f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _parts(relative: str) -> list[str]:
    parts = [p for p in relative.split("/") if p and p != "."]
    if any(p == ".." for p in parts):
        raise GuestPathError(relative, "must not contain '..'")
    return parts


def _open_child_dir(parent_fd: int, name: str, shown: str, *, create: bool, mode: int) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise
        try:
            os.mkdir(name, mode, dir_fd=parent_fd)  # mkdir never follows a link in its last component
        except FileExistsError:
            pass  # created concurrently, or a dangling link: the open below decides
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            raise GuestPathError(shown, "is not a plain folder (a symbolic link or another kind of file)") from exc
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            raise GuestPathError(shown, "is not a plain folder (a symbolic link or another kind of file)") from exc
        raise


def open_dir(top: Path, relative: str = "", *, create: bool = False, mode: int = 0o755) -> int:
    """A descriptor of ``top/relative`` reached without following any link below ``top``.

    ``top`` itself is host-owned (the instance's folder, a volume's folder) and is opened normally.
    With ``create``, missing folders are made with ``mode``. The caller closes the descriptor.
    """
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = ""
    try:
        for part in _parts(relative):
            walked = f"{walked}/{part}"
            child = _open_child_dir(fd, part, walked, create=create, mode=mode)
            os.close(fd)
            fd = child
        return fd
    except BaseException:
        os.close(fd)
        raise


def _split(relative: str) -> tuple[str, str]:
    parts = _parts(relative)
    if not parts:
        raise GuestPathError(relative, "names no file")
    return "/".join(parts[:-1]), parts[-1]


def read_small(top: Path, relative: str, *, limit: int = 4096) -> bytes | None:
    """The bytes of a small regular file, or ``None`` when it is missing or is not one.

    Never blocks (FIFOs and devices are refused before any read) and never reads more than
    ``limit`` bytes; a link anywhere on the path counts as missing.
    """
    folder, name = _split(relative)
    try:
        dfd = open_dir(top, folder)
    except (GuestPathError, FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY, dir_fd=dfd)
        except OSError:
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
                return None
            return os.read(fd, limit)
        finally:
            os.close(fd)
    finally:
        os.close(dfd)


def write_file(top: Path, relative: str, data: bytes, *, mode: int = 0o644, create_parents: bool = True) -> None:
    """Write ``top/relative`` atomically without following links (a link at the name is replaced)."""
    folder, name = _split(relative)
    dfd = open_dir(top, folder, create=create_parents)
    try:
        tmp = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb", closefd=False) as fh:
                fh.write(data)
            os.fchmod(fd, mode)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=dfd)
            raise
        os.close(fd)
        try:
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as exc:
            os.unlink(tmp, dir_fd=dfd)
            if exc.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST):
                raise GuestPathError(f"{folder}/{name}", "is a folder, not a file") from exc
            raise
    finally:
        os.close(dfd)


def make_dirs(top: Path, relative: str, *, mode: int = 0o755) -> None:
    """Create ``top/relative`` (and its parents) without following links; a link on the way is refused."""
    os.close(open_dir(top, relative, create=True, mode=mode))


def chmod_dir(top: Path, relative: str, mode: int) -> None:
    """Set the mode of a folder in the tree (through its descriptor, so a link is never followed)."""
    fd = open_dir(top, relative)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


#: How deep :func:`chown_tree` goes (one descriptor is open per level): a deeper tree is refused.
MAX_DEPTH = 512


def chown_tree(top: Path, relative: str, uid: int, gid: int) -> None:
    """Give ``top/relative`` and everything below it to ``uid:gid`` without following any link.

    Entries are changed with ``fchownat(..., AT_SYMLINK_NOFOLLOW)`` relative to their folder's
    descriptor, so a link is re-owned itself and never leads outside the tree, even if the guest
    swaps a folder for a link meanwhile (the descent opens folders with ``O_NOFOLLOW``). The top
    folder is changed last: a tree whose top belongs to ``uid`` has been handed over completely.
    A tree deeper than :data:`MAX_DEPTH` raises :class:`GuestPathError`.
    """
    top_fd = open_dir(top, relative)
    stack: list[tuple[int, list[str]]] = []
    try:
        stack.append((top_fd, _names(top_fd)))
        shown = [relative or "."]
        while stack:
            fd, todo = stack[-1]
            if not todo:
                stack.pop()
                shown.pop()
                if fd != top_fd:
                    os.close(fd)
                continue
            name = todo.pop()
            try:
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                continue  # gone, or not a folder (a link is never opened): nothing below it
            stack.append((child, []))
            if len(stack) > MAX_DEPTH:
                raise GuestPathError("/".join([*shown, name]), f"is nested more than {MAX_DEPTH} folders deep")
            stack[-1] = (child, _names(child))
            shown.append(name)
        os.fchown(top_fd, uid, gid)
    finally:
        for fd, _ in stack:
            if fd != top_fd:
                os.close(fd)
        os.close(top_fd)


def _names(fd: int) -> list[str]:
    with os.scandir(fd) as entries:
        return [entry.name for entry in entries]


def owner(top: Path, relative: str = "") -> int:
    """The uid owning the folder ``top/relative`` (reached without following links)."""
    fd = open_dir(top, relative)
    try:
        return os.fstat(fd).st_uid
    finally:
        os.close(fd)


def remove_tree(top: Path, relative: str) -> None:
    """Remove ``top/relative`` (a folder or a file) if it exists, without following links on the way."""
    folder, name = _split(relative)
    try:
        dfd = open_dir(top, folder)
    except (GuestPathError, FileNotFoundError):
        return
    try:
        try:
            info = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(name, dir_fd=dfd)  # fd-based: never leaves the tree
        else:
            os.unlink(name, dir_fd=dfd)
    finally:
        os.close(dfd)


def _copy_regular(src_dir: int, dst_dir: int, name: str) -> None:
    try:
        src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY, dir_fd=src_dir)
    except OSError:
        return  # vanished or changed kind while we looked: the copy is of what was there
    try:
        info = os.fstat(src)
        if not stat.S_ISREG(info.st_mode):
            return
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      stat.S_IMODE(info.st_mode), dir_fd=dst_dir)
        try:
            remaining = info.st_size
            while remaining > 0:
                sent = os.copy_file_range(src, dst, min(remaining, 1 << 30)) if hasattr(os, "copy_file_range") else 0
                if sent <= 0:
                    break
                remaining -= sent
            while True:  # whatever copy_file_range did not do (other file systems, a growing file)
                chunk = os.read(src, _COPY_CHUNK)
                if not chunk:
                    break
                os.write(dst, chunk)
            os.fchmod(dst, stat.S_IMODE(info.st_mode))
            os.utime(dst, ns=(info.st_atime_ns, info.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_dir(src_dir: int, dst_dir: int) -> None:
    with os.scandir(src_dir) as entries:
        names = [(e.name, e.stat(follow_symlinks=False)) for e in entries]
    for name, info in names:
        kind = info.st_mode
        if stat.S_ISLNK(kind):
            try:
                os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
            except OSError:
                continue
        elif stat.S_ISREG(kind):
            _copy_regular(src_dir, dst_dir, name)
        elif stat.S_ISDIR(kind):
            try:
                child_src = os.open(name, _DIR_FLAGS, dir_fd=src_dir)
            except OSError:
                continue
            try:
                os.mkdir(name, 0o700, dir_fd=dst_dir)
                child_dst = os.open(name, _DIR_FLAGS, dir_fd=dst_dir)
                try:
                    _copy_dir(child_src, child_dst)
                    os.fchmod(child_dst, stat.S_IMODE(info.st_mode))
                finally:
                    os.close(child_dst)
            finally:
                os.close(child_src)
        # FIFOs, sockets and device nodes are not copied: they hold no data and could block a reader.


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a guest-controlled folder ``src`` to a new host folder ``dst`` (which must not exist).

    Links are copied as links (never followed), FIFOs, sockets and devices are skipped, and every
    file is opened without following links and without blocking.
    """
    src_fd = open_dir(src.parent, src.name)
    try:
        dst.mkdir(mode=0o700)
        dst_fd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _copy_dir(src_fd, dst_fd)
            os.fchmod(dst_fd, stat.S_IMODE(os.fstat(src_fd).st_mode))
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
