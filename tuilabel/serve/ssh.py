"""The SSH side of `tuilabel serve` (asyncssh): public keys from the team file, one portal per
session, and nothing else on the host.

A key authenticates only as the worker it belongs to (the SSH user name must be that worker
id), and the worker id given to the portal is the authenticated one. Every other request an SSH
client can make (exec, subsystems such as sftp, port, agent and X11 forwarding, a shell without
a terminal) is refused with a line in the activity log. Failed logins are counted per address.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import asyncssh

from tuilabel.core.errors import UserError
from tuilabel.serve.activity import answers_since, journal_sizes
from tuilabel.serve.host import FAILURE_WINDOW, Host, host_environment
from tuilabel.serve.pty_process import PtyProcess

CLIENT_ENV = ("COLORTERM", "LANG")  # the only variables a client may set (TERM comes with the pty)


def host_key(team_file: Path) -> asyncssh.SSHKey:
    """The host's key, beside the team file: made once (0600), then always the same, so a
    worker's `known_hosts` entry stays valid across restarts."""
    path = team_file.parent / "ssh_host_ed25519_key"
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="tuilabel serve")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key.export_private_key())
                fh.flush()
                os.fsync(fh.fileno())
        except FileExistsError:
            pass  # another serve made it first: use theirs
        except OSError as exc:
            raise UserError(f"cannot write host key {path}: {exc.strerror}") from None
    if path.stat().st_mode & 0o077:
        raise UserError(f"host key {path} is readable by others: chmod 600 {path}")
    try:
        return asyncssh.read_private_key(str(path))
    except (asyncssh.KeyImportError, OSError) as exc:
        raise UserError(f"cannot read host key {path}: {exc}") from None


def shown(text: object, limit: int = 80) -> str:
    """What a client sent, safe to put in the log and on the owner's console: quoted, control
    characters escaped, cut short."""
    text = str(text)
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def portal_argv(jobs: str, worker: str) -> list[str]:
    return [sys.executable, "-m", "tuilabel", "work", "--jobs", jobs, "--worker", worker]


class Connection(asyncssh.SSHServer):
    def __init__(self, host: Host):
        self.host = host
        self.address = "?"
        self.user = ""
        self.worker: str | None = None
        self.keys_tried = 0
        self.refused_key = ""
        self.session: PortalSession | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self.address = str(peer[0])

    def connection_lost(self, exc: Exception | None) -> None:
        if self.worker is None and self.user:
            if self.keys_tried == 0:
                why = "no public key offered (only keys are accepted: no passwords, no keyboard-interactive)"
            else:
                why = self.refused_key
            self.host.failures.add(self.address)
            self.host.log(f"refused {shown(self.user)} from {self.address}: {why}")

    def begin_auth(self, username: str) -> bool:
        self.user = username
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        self.keys_tried += 1
        if self.host.failures.blocked(self.address):
            self.refused_key = f"too many failed logins from {self.address} (wait {FAILURE_WINDOW:.0f} s)"
            return False
        team = self.host.team.current()
        owner = team.owner_of(key)
        if owner == username:
            return True
        fingerprint = key.get_fingerprint()
        if owner is None:
            self.refused_key = f"key {fingerprint} is not in the team file"
        elif username not in team.workers:
            self.refused_key = f"no worker {shown(username)} (key {fingerprint} is {owner}'s)"
        else:
            self.refused_key = f"key {fingerprint} is {owner}'s, not {username}'s"
        self.host.failures.add(self.address)
        return False

    def auth_completed(self) -> None:
        self.worker = self.user
        self.host.log(f"connected {self.worker} from {self.address}")

    def session_requested(self):
        if self.session is not None and not self.session.ended:
            # One portal per connection: a multiplexed connection does not make more processes.
            self.refuse("a second session on one connection")
            return False
        channel = self.conn.create_server_channel(encoding=None)
        _refuse_on_channel(channel, self)
        self.session = PortalSession(self)
        return channel, self.session

    def refuse(self, what: str) -> None:
        self.host.log(f"refused {what} for {self.worker} from {self.address}")

    def connection_requested(self, dest_host, dest_port, orig_host, orig_port):
        self.refuse(f"local port forwarding to {shown(dest_host)}:{dest_port}")
        return False

    def server_requested(self, listen_host, listen_port):
        self.refuse(f"remote port forwarding from {shown(listen_host)}:{listen_port}")
        return False

    def unix_connection_requested(self, dest_path):
        self.refuse(f"local socket forwarding to {shown(dest_path)}")
        return False

    def unix_server_requested(self, listen_path):
        self.refuse(f"remote socket forwarding from {shown(listen_path)}")
        return False

    def tun_requested(self, unit):
        self.refuse("tunnel forwarding")
        return False

    def tap_requested(self, unit):
        self.refuse("tunnel forwarding")
        return False


def _refuse_on_channel(channel: asyncssh.SSHServerChannel, connection: Connection) -> None:
    """Agent and X11 forwarding are off in the server's options; asyncssh has no hook for
    them, so these two requests are answered here to log them (same answer: no)."""

    def refused(what: str):
        def handler(packet) -> bool:
            connection.refuse(what)
            return False

        return handler

    channel._process_auth_agent_req_at_openssh_dot_com_request = refused("agent forwarding")
    channel._process_x11_req_request = refused("X11 forwarding")


class PortalSession(asyncssh.SSHServerSession):
    def __init__(self, connection: Connection):
        self.connection = connection
        self.host = connection.host
        self.worker = connection.worker or ""
        self.size: tuple[int, int] | None = None
        self.term = ""
        self.process: PtyProcess | None = None
        self.before: dict[Path, int] = {}
        self.started = 0.0
        self.ended = False
        self.reason: str | None = None  # why the portal is being ended by us

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self.chan = chan

    def pty_requested(self, term_type: str, term_size, term_modes) -> bool:
        self.term = term_type
        self.size = (term_size[0] or 80, term_size[1] or 24)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.connection.refuse(f"command {shown(command)}")
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        self.connection.refuse(f"subsystem {shown(subsystem)}")
        return False

    def session_started(self) -> None:
        if self.size is None:
            self.connection.refuse("a session without a terminal")
            self.chan.write_stderr(b"tuilabel: this host needs a terminal: connect with `ssh -t`\r\n")
            self.chan.exit(2)
            return
        asyncio.ensure_future(self._start())

    async def _start(self) -> None:
        if self.reason is not None:
            return  # the client left before its portal was started
        client = self.chan.get_environment()
        env = host_environment()
        env.update({k: client[k] for k in CLIENT_ENV if k in client})
        env["TERM"] = self.term or "xterm-256color"
        self.before = journal_sizes(self.host.folder, self.worker)
        self.started = time.monotonic()
        self.process = PtyProcess(self._output, self._exited)
        cols, rows = self.size  # type: ignore[misc]
        try:
            await self.process.start(portal_argv(self.host.jobs, self.worker), env, str(self.host.folder), cols, rows)
        except OSError as exc:
            self.host.log(f"cannot start the portal for {self.worker}: {exc}")
            self.chan.exit(1)
            return
        self.host.sessions.add(self)
        self.host.log(f"portal started for {self.worker} (pid {self.process.pid}, {cols}x{rows}, TERM={shown(env['TERM'])})")

    def _output(self, data: bytes) -> None:
        if self.reason is None:
            self.chan.write(data)

    def _exited(self, code: int) -> None:
        self._finish(self.reason or f"portal exited ({code})")
        if self.reason is None:
            self.chan.exit(code)

    def data_received(self, data: bytes, datatype) -> None:
        if self.process is not None:
            self.process.write(data)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self.process is not None:
            self.process.resize(width, height, pixwidth, pixheight)

    def pause_writing(self) -> None:
        if self.process is not None:
            self.process.pause_output()

    def resume_writing(self) -> None:
        if self.process is not None:
            self.process.resume_output()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._end("disconnected")

    def _end(self, reason: str) -> asyncio.Future | None:
        """Stop and resume later: the portal is hung up; its answers are already on disk."""
        if self.reason is None:
            self.reason = reason
        if self.process is not None and not self.ended:
            return asyncio.ensure_future(self.process.hang_up())
        return None

    def _finish(self, how: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.host.sessions.discard(self)
        answers = answers_since(self.host.folder, self.worker, self.before)
        minutes = (time.monotonic() - self.started) / 60
        self.host.log(f"left {self.worker} from {self.connection.address}: {how}, {answers} answers in {minutes:.1f} min")

    async def close(self) -> None:
        """The server is stopping: end this worker's portal like a dropped connection."""
        hang_up = self._end("server stopped")
        if hang_up is not None:
            await hang_up
            await self.process.exited  # type: ignore[union-attr]  # its "left" line is logged
        self.chan.close()


async def start_ssh_server(host: Host, listen: str, port: int, key: asyncssh.SSHKey):
    return await asyncssh.create_server(
        lambda: Connection(host),
        listen,
        port,
        server_host_keys=[key],
        encoding=None,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        allow_pty=True,
        line_editor=False,
        keepalive_interval=30,
        keepalive_count_max=4,
    )
