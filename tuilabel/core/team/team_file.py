"""The team file: who may label on a host, by SSH key or web token. TOML, shared by jobs:

    [workers.alice]
    keys = ["ssh-ed25519 AAAA... alice@laptop"]
    token_sha256 = "<hex>"   # optional: web login (`tuilabel team token alice`)

Keys are checked with asyncssh's parser when added and when loaded, so `serve` never meets a
key it cannot use; one key belongs to one worker (the worker id comes from the key). Only a
token's SHA-256 is stored: the token itself is shown once, to the owner.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from tuilabel.core.errors import UserError
from tuilabel.core.store.durable import atomic_write
from tuilabel.core.toml_file import read_toml

# A worker id is an SSH user name and a worker folder name: keep it to characters both take.
WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
HEADER = b"# tuilabel team file: workers, their SSH public keys and web-token hashes.\n# Change it with `tuilabel team add|remove|token`; `tuilabel serve` rereads it when it changes.\n\n"


def check_worker_id(worker: str) -> str:
    if not WORKER_ID.fullmatch(worker):
        raise UserError(
            f"worker id {worker!r} is not usable: letters, digits and . _ @ - only, "
            "starting with a letter or digit, at most 64 characters"
        )
    return worker


def parse_public_key(text: str, where: str = "key"):
    """One OpenSSH public key line -> asyncssh SSHKey; a one-line UserError otherwise."""
    import asyncssh

    line = text.strip()
    if not line:
        raise UserError(f"{where}: empty, expected a public key like \"ssh-ed25519 AAAA… name\"")
    if "PRIVATE KEY" in line:
        raise UserError(f"{where}: this is a private key; give the public one (the .pub file)")
    try:
        return asyncssh.import_public_key(line)
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise UserError(f"{where}: not an SSH public key ({exc})") from None


def key_text(key) -> str:
    """The key as one authorized_keys-style line, with its comment if it has one."""
    return key.export_public_key("openssh").decode("ascii").strip()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass
class Worker:
    keys: list[str] = field(default_factory=list)
    token_sha256: str = ""


@dataclass
class TeamFile:
    path: Path
    workers: dict[str, Worker] = field(default_factory=dict)
    _owners: dict[bytes, str] = field(default_factory=dict, repr=False)  # key blob -> worker id

    @classmethod
    def load(cls, path: Path, missing_ok: bool = False) -> "TeamFile":
        if missing_ok and not path.exists():
            return cls(path)
        data = read_toml(path, "team file")
        workers_table = data.get("workers", {})
        if not isinstance(workers_table, dict):
            raise UserError(f"{path}: [workers] must be a table of worker ids")
        team = cls(path)
        owner_of = team._owners
        for worker, entry in workers_table.items():
            where = f"{path}: worker {worker!r}"
            check_worker_id(worker)
            if not isinstance(entry, dict):
                raise UserError(f"{where}: must be a table with keys = [...]")
            keys = entry.get("keys", [])
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise UserError(f"{where}: keys must be a list of public key lines")
            token = entry.get("token_sha256", "")
            if not isinstance(token, str) or (token and not re.fullmatch(r"[0-9a-f]{64}", token)):
                raise UserError(f"{where}: token_sha256 must be 64 hex digits")
            for n, line in enumerate(keys, 1):
                key = parse_public_key(line, f"{where}, key {n}")
                other = owner_of.setdefault(key.public_data, worker)
                if other != worker:
                    raise UserError(f"{where}, key {n}: the same key already belongs to {other!r}")
            team.workers[worker] = Worker(list(keys), token)
        return team

    def save(self) -> None:
        import tomli_w

        table = {
            worker: {"keys": w.keys, **({"token_sha256": w.token_sha256} if w.token_sha256 else {})}
            for worker, w in sorted(self.workers.items())
        }
        atomic_write(self.path, HEADER + tomli_w.dumps({"workers": table}).encode("utf-8"))

    def owner_of(self, key) -> str | None:
        """The worker id a public key (asyncssh SSHKey) belongs to."""
        return self._owners.get(key.public_data)

    def add_key(self, worker: str, text: str, where: str) -> str:
        """Add a key to `worker` (created if new); the key's line as stored."""
        check_worker_id(worker)
        key = parse_public_key(text, where)
        owner = self.owner_of(key)
        if owner == worker:
            raise UserError(f"{where}: {worker!r} already has this key")
        if owner is not None:
            raise UserError(f"{where}: this key already belongs to {owner!r}; one key, one worker")
        line = key_text(key)
        self.workers.setdefault(worker, Worker()).keys.append(line)
        self._owners[key.public_data] = worker
        return line

    def remove(self, worker: str) -> None:
        if worker not in self.workers:
            raise UserError(f"no worker {worker!r} in {self.path}{self._known()}")
        del self.workers[worker]
        self._owners = {blob: owner for blob, owner in self._owners.items() if owner != worker}

    def new_token(self, worker: str) -> str:
        """A fresh web-login token for `worker`: returned once, only its hash is kept."""
        if worker not in self.workers:
            raise UserError(f"no worker {worker!r} in {self.path}{self._known()}")
        token = secrets.token_urlsafe(24)
        self.workers[worker].token_sha256 = hash_token(token)
        return token

    def worker_for_token(self, token: str) -> str | None:
        digest = hash_token(token)
        for worker, entry in self.workers.items():
            if entry.token_sha256 and hmac.compare_digest(entry.token_sha256, digest):
                return worker
        return None

    def _known(self) -> str:
        return f" (workers: {', '.join(sorted(self.workers))})" if self.workers else " (it has no workers)"


def read_key_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"cannot read key file {path}: {exc.strerror}") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if "PRIVATE KEY" in text:
        raise UserError(f"{path}: this is a private key; give the public one ({path}.pub)")
    if len(lines) != 1:
        raise UserError(f"{path}: expected one public key line, found {len(lines)}")
    return lines[0]

