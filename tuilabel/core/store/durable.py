"""Writing files so that a crash (kill -9, power loss) never leaves a half-written one.

Replaced files go to a temp file in the same folder, are fsynced, `os.replace`d, and the folder
is fsynced. Disk-full and read-only errors become one clear UserError line.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from tuilabel.core.errors import UserError


def explain_os_error(exc: OSError, path: Path | str, doing: str = "write") -> UserError:
    if exc.errno == errno.ENOSPC:
        what = "the disk is full"
    elif exc.errno == errno.EDQUOT:
        what = "the disk quota is used up"
    elif exc.errno in (errno.EROFS,):
        what = "the file system is read-only"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        what = "permission denied"
    else:
        what = exc.strerror or str(exc)
    return UserError(f"cannot {doing} {path}: {what}")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise explain_os_error(exc, path, "create folder") from None


def atomic_write(path: Path, data: bytes | Iterable[bytes] | Callable[[object], None]) -> None:
    """Replace `path` with `data` atomically. `data` may be bytes, chunks, or a writer(fh)."""
    ensure_dir(path.parent)
    try:
        mode = path.stat().st_mode & 0o777  # a replaced file keeps its permissions
    except OSError:
        mode = 0o644  # mkstemp's 0600 would hide output files from other users
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, mode)
    except OSError as exc:
        raise explain_os_error(exc, path) from None
    try:
        with os.fdopen(fd, "wb", buffering=1024 * 1024) as fh:
            if isinstance(data, bytes):
                fh.write(data)
            elif callable(data):
                data(fh)
            else:
                for chunk in data:
                    fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise explain_os_error(exc, path) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def append_durably(fd: int, data: bytes) -> None:
    """Write all of `data` at the end of `fd` and fsync: committed when this returns."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)
