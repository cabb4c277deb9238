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


class OutputGate:
    """One job-wide flock that orders the openers and rewriters of output.manifest.

    A session opening (it may repair the output's tail) and a canonical rewrite (it replaces
    the file) each hold it exclusively for their short step, so neither runs while the other
    does. Labeling itself never takes it: a live session is told apart by its worker lock.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd = -1
        self._depth = 0

    def __enter__(self) -> "OutputGate":
        if self._depth == 0:
            ensure_dir(self.path.parent)
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise explain_os_error(exc, self.path, "open lock file") from None
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # waits: the holder's step is short
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            os.close(self._fd)  # closing the last descriptor drops the flock
            self._fd = -1


class IdleWorkers:
    """Hold the worker locks of every session that is not running, to learn which ones are.

    `busy` names the workers whose lock another process holds (a live session appending to
    output.manifest). The locks of the idle ones are held until `release()`, so none of them
    can start while output.manifest is being replaced. The lock files are only read, never
    written: their content names the last holder.
    """

    def __init__(self, lock_paths: list[Path], skip: Path | None = None):
        self.busy: list[str] = []
        self._fds: list[int] = []
        for path in lock_paths:
            if skip is not None and path == skip:
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            except OSError as exc:
                self.release()
                raise explain_os_error(exc, path, "open lock file") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                os.close(fd)
                self.busy.append(f"{path.parent.name} (process {holder})" if holder else path.parent.name)
                continue
            self._fds.append(fd)

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []

    def __enter__(self) -> "IdleWorkers":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_held(path: Path) -> bool:
    """Is a live process holding this worker lock (`tuilabel status`'s "active now")?

    The pid in the file is asked first, so the flock is only tried when a process of that id
    lives: a probe that caught the lock free for a moment would refuse a worker starting then.
    """
    try:
        pid = int(path.read_bytes().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, someone else's
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a shared lock we got
    return False
