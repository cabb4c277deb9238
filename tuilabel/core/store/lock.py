"""One process per job and worker: an flock that dies with its process (even on kill -9)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from tuilabel.core.store.durable import ensure_dir, explain_os_error
from tuilabel.core.errors import UserError


class JobLock:
    def __init__(self, path: Path, what: str):
        self.path = path
        self.what = what  # "job 'x' for worker 'alice'", for the message
        self._fd = -1

    def acquire(self) -> "JobLock":
        ensure_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise explain_os_error(exc, self.path, "open lock file") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            raise UserError(
                f"{self.what} is already open (process {holder}); close it there first "
                "(the lock is released when that process exits)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd >= 0:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> "JobLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
