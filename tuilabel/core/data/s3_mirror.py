"""Mirror a local job folder to an S3 prefix, in the background, local first.

When a job's output is `s3://…`, every answer is first committed to the local job folder
(fsynced: that is the durable copy). The labeling side then calls `touch(path)` — a dict
write under a lock, never I/O — and one background thread uploads the changed files:

- at most once every `interval` seconds (debounce: 20 answers in 2 s → one upload per file);
- a snapshot of the bytes read at upload time, so a half-written file is never sent; for
  append-only line files (`.manifest`, `.jsonl`) only up to the last complete line;
- on failure (S3 down, network gone), files stay pending and the thread retries with
  exponential backoff; labeling never waits and never sees an exception. When S3 comes
  back, the next attempt catches everything up;
- `close(timeout)` makes a last attempt and returns what could not be uploaded.

`status()` is cheap and safe from any thread, for the app's footer ("S3 offline: 12 files
waiting").
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tuilabel.core.data import s3

LINE_FILE_SUFFIXES = (".manifest", ".jsonl")


@dataclass(frozen=True)
class MirrorStatus:
    pending: int  # files changed locally and not yet in S3
    uploaded: int  # successful uploads since start
    last_success: float | None  # time.time() of the last successful upload
    last_error: str | None  # one line, from the last failed attempt; None once one succeeds
    online: bool  # False while the last attempt failed

    def summary(self) -> str:
        """One short line for a status bar."""
        files = f"{self.pending} file{'s' if self.pending != 1 else ''}"
        if not self.online:
            return f"S3 offline: {files} waiting"
        if self.pending:
            return f"S3: {files} to upload"
        return "S3: up to date"


class S3Mirror:
    def __init__(
        self,
        local_root: str | os.PathLike,
        s3_prefix: str,
        *,
        interval: float = 2.0,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        start: bool = True,
        skip: tuple[str, ...] = (),
    ) -> None:
        bucket, key = s3.parse_s3_uri(s3_prefix)  # raises S3Error(bad-uri) on a bad prefix
        key = key.strip("/")
        self.local_root = Path(local_root).resolve()
        self.s3_prefix = s3.join_uri(bucket, key + "/" if key else "")
        self.interval = interval
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        # Relative paths never uploaded from here (a team job's output has its own publisher).
        self.skip = frozenset(skip)

        self._cond = threading.Condition()
        self._pending: dict[str, int] = {}  # relative posix path → version (touch counter)
        self._version = 0
        self._uploaded = 0
        self._last_success: float | None = None
        self._last_error: str | None = None
        self._online = True
        self._closing = False
        self._hurry = False  # flush(): skip the debounce wait
        self._sync_requested = False
        self._next_try = 0.0  # monotonic: not before this (debounce or backoff)
        self._backoff = 0.0
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # --- labeling side (cheap, never raises on S3 trouble) --------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="s3-mirror", daemon=True)
            self._thread.start()

    def touch(self, path: str | os.PathLike) -> None:
        """Mark a file (relative to local_root, or absolute inside it) as changed."""
        rel = self._relative(path)
        with self._cond:
            self._version += 1
            self._pending[rel] = self._version
            self._cond.notify_all()

    def sync_existing(self) -> None:
        """Queue every local file that S3 lacks or holds at another size (on resume after an
        offline exit). The listing runs on the mirror thread; if it fails, every local file
        is queued."""
        with self._cond:
            self._sync_requested = True
            self._cond.notify_all()

    def status(self) -> MirrorStatus:
        with self._cond:
            return MirrorStatus(
                pending=len(self._pending),
                uploaded=self._uploaded,
                last_success=self._last_success,
                last_error=self._last_error,
                online=self._online,
            )

    def lagging(self) -> str | None:
        """A line for the app while S3 is unreachable (the last upload failed), else None."""
        status = self.status()
        if status.online:
            return None
        return status.summary() + (f" ({status.last_error})" if status.last_error else "")

    def pending(self) -> list[str]:
        with self._cond:
            return sorted(self._pending)

    def flush(self, timeout: float = 10.0) -> bool:
        """Upload now (no debounce; backoff still applies) and wait until nothing is pending.
        True when everything is in S3."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            while self._pending or self._sync_requested:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    break
                self._cond.wait(min(left, 0.5))
            self._hurry = False
            return not self._pending and not self._sync_requested

    def close(self, timeout: float = 10.0) -> list[str]:
        """Last attempt (ignoring debounce and backoff), then stop. Returns the relative
        paths still not uploaded (empty when all is in S3). Never raises."""
        try:
            with self._cond:
                self._closing = True
                self._next_try = 0.0
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout)
        except BaseException:  # noqa: BLE001 - close() must not stop the app's exit
            pass
        return self.pending()

    # --- mirror thread --------------------------------------------------------------------

    def _relative(self, path: str | os.PathLike) -> str:
        p = Path(path)
        if p.is_absolute():
            try:
                p = p.resolve().relative_to(self.local_root)
            except ValueError:
                raise ValueError(f"{path} is not inside {self.local_root}") from None
        rel = PurePosixPath(*p.parts)
        if not rel.parts or ".." in rel.parts:
            raise ValueError(f"not a file inside the mirrored folder: {path}")
        return str(rel)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._sync_requested or self._closing):
                    self._cond.wait()
                if self._closing and not (self._pending or self._sync_requested):
                    return
                # Debounce / backoff: wait until _next_try unless closing (or flushing,
                # when not backing off after a failure).
                while not self._closing:
                    wait = self._next_try - time.monotonic()
                    if wait <= 0 or (self._hurry and self._online):
                        break
                    self._cond.wait(wait)
                closing = self._closing
                sync = self._sync_requested
                batch = dict(self._pending)

            ok = True
            if sync:
                ok = self._sync()
            if ok:
                for rel in sorted(batch):
                    ok = self._upload(rel, batch[rel])
                    if not ok:
                        break

            with self._cond:
                now = time.monotonic()
                if ok:
                    self._backoff = 0.0
                    self._next_try = now + self.interval
                else:
                    self._backoff = min(
                        self.max_backoff, max(self.min_backoff, self._backoff * 2)
                    )
                    self._next_try = now + self._backoff
                self._cond.notify_all()  # flush() waiters
                if closing and (not ok or not self._pending):
                    return  # one last attempt on close; never spin on a dead S3

    def _snapshot(self, rel: str) -> bytes | None:
        """The file's bytes now, or None if it vanished. Line files are cut after their
        last newline: a line being appended is sent with the next touch."""
        try:
            data = (self.local_root / rel).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        if rel.endswith(LINE_FILE_SUFFIXES) and data and not data.endswith(b"\n"):
            data = data[: data.rfind(b"\n") + 1]
        return data

    def _upload(self, rel: str, version: int) -> bool:
        """False when S3 failed (stop this round and back off). A file we cannot read
        locally stays pending with its error shown, without holding up the others."""
        try:
            data = self._snapshot(rel)
        except OSError as exc:
            with self._cond:
                self._last_error = f"cannot read {self.local_root / rel}: {exc.strerror or exc}"
            return True
        if data is not None:
            try:
                s3.put_bytes(self.s3_prefix + rel, data)
            except Exception as exc:  # noqa: BLE001 - S3Error, or anything botocore throws
                self._failed(exc)
                return False
        with self._cond:
            if self._pending.get(rel) == version:  # not touched again meanwhile
                del self._pending[rel]
            if data is not None:
                self._uploaded += 1
                self._last_success = time.time()
                self._last_error = None
                self._online = True
        return True

    def _failed(self, exc: BaseException) -> None:
        message = " ".join(str(exc).split()) or type(exc).__name__
        with self._cond:
            self._last_error = message
            self._online = False

    def _sync(self) -> bool:
        local: dict[str, int] = {}
        for dirpath, _dirs, files in os.walk(self.local_root):
            for name in files:
                path = Path(dirpath) / name
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                local[str(PurePosixPath(*path.relative_to(self.local_root).parts))] = size
        try:
            start = len(s3.parse_s3_uri(self.s3_prefix)[1])
            remote = {key[start:]: size for key, size in s3.list_objects(self.s3_prefix)}
        except Exception as exc:  # noqa: BLE001
            self._failed(exc)
            remote = {}
            ok = False
        else:
            ok = True
        with self._cond:
            for rel, size in local.items():
                if remote.get(rel) != size and rel not in self._pending and rel not in self.skip:
                    self._version += 1
                    self._pending[rel] = self._version
            self._sync_requested = False
        return ok
