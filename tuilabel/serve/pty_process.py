"""One worker's portal as its own process on a pseudo-terminal, fed by an SSH channel.

The child is a session leader with the pty as its controlling terminal, so a size change
(TIOCSWINSZ on the master) reaches it as SIGWINCH from the kernel, and hanging up reaches its
whole process group. Output is read without blocking the server's event loop and paused while
the network cannot take more, so one slow worker never stalls the others.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import signal
import struct
import termios
from typing import Callable

HANGUP_GRACE_SECONDS = 5.0  # SIGHUP, then SIGKILL: a fsynced journal loses nothing either way


def _set_size(fd: int, cols: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, xpixels, ypixels))


def _controlling_terminal() -> None:  # runs in the child, after setsid
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    def __init__(self, on_output: Callable[[bytes], None], on_exit: Callable[[int], None]):
        self._on_output = on_output
        self._on_exit = on_exit
        self._master = -1
        self._process: asyncio.subprocess.Process | None = None
        self._pending = bytearray()  # input the pty could not take yet
        self._reading = False
        self._size: tuple[int, int, int, int] | None = None  # a resize that came before the start
        self._hung_up = False  # the connection went before the process was there
        self._loop = asyncio.get_running_loop()
        self.exited: asyncio.Future = self._loop.create_future()  # done once `on_exit` ran

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    async def start(self, argv: list[str], env: dict[str, str], cwd: str, cols: int, rows: int) -> None:
        master, slave = os.openpty()
        _set_size(slave, *(self._size or (cols, rows, 0, 0)))
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                start_new_session=True, preexec_fn=_controlling_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._master = master
        self.resume_output()
        asyncio.ensure_future(self._wait())
        self._flush()  # keys typed while the process started
        if self._hung_up:
            asyncio.ensure_future(self.hang_up())

    async def _wait(self) -> None:
        assert self._process is not None
        code = await self._process.wait()
        # The pty may still hold the last screen: read it out before telling the channel.
        while self._master >= 0 and self._read_once():
            pass
        self._close_master()
        try:
            self._on_exit(code if code >= 0 else 128 - code)
        finally:
            self.exited.set_result(code)

    def _read_once(self) -> bool:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno == errno.EIO:  # every slave end is closed: the child has gone
                self.pause_output()
                return False
            raise
        if not data:
            self.pause_output()
            return False
        self._on_output(data)
        return True

    def pause_output(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._master)
            self._reading = False

    def resume_output(self) -> None:
        if not self._reading and self._master >= 0:
            self._loop.add_reader(self._master, self._read_once)
            self._reading = True

    def write(self, data: bytes) -> None:
        self._pending += data
        if self._master >= 0:
            self._flush()

    def _flush(self) -> None:
        if self._master < 0:
            return
        try:
            while self._pending:
                written = os.write(self._master, self._pending)
                del self._pending[:written]
        except BlockingIOError:
            self._loop.add_writer(self._master, self._flush)
            return
        except OSError:
            self._pending.clear()
        self._loop.remove_writer(self._master)

    def resize(self, cols: int, rows: int, xpixels: int = 0, ypixels: int = 0) -> None:
        if cols <= 0 or rows <= 0:
            return
        if self._master >= 0:
            _set_size(self._master, cols, rows, xpixels, ypixels)
        else:
            self._size = (cols, rows, xpixels, ypixels)

    async def hang_up(self, grace: float = HANGUP_GRACE_SECONDS) -> None:
        """The connection is gone: SIGHUP to the worker's process group, SIGKILL after `grace`."""
        process = self._process
        if process is None:
            self._hung_up = True  # `start` hangs it up as soon as it is there
            return
        if process.returncode is not None:
            return
        self._signal(signal.SIGHUP)
        try:
            await asyncio.wait_for(process.wait(), grace)
        except asyncio.TimeoutError:
            self._signal(signal.SIGKILL)
            await process.wait()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self._process.pid, sig)  # type: ignore[union-attr]
        except ProcessLookupError:
            pass

    def _close_master(self) -> None:
        if self._master >= 0:
            self.pause_output()
            self._loop.remove_writer(self._master)
            os.close(self._master)
            self._master = -1
