"""`tuilabel team add|remove|list|token` on a real team file, keys made with `ssh-keygen`; bad
input is one line and leaves the file as it was. `serve`'s own start-up errors too."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def tl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuilabel", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and all(n in lines[0] for n in needles), proc.stderr


@pytest.fixture
def keys(tmp_path):
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (openssh-client)")
    made = {}
    for name, kind in (("alice", "ed25519"), ("bob", "ecdsa"), ("carol", "rsa")):
        path = tmp_path / f"id_{name}"
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", f"{name}@laptop", "-f", str(path)], check=True)
        made[name] = path
    return made


def test_add_list_token_remove(tmp_path, keys):
    assert tl("team", "add", "alice", "--key", f"{keys['alice']}.pub", cwd=tmp_path).returncode == 0
    bob_key = Path(f"{keys['bob']}.pub").read_text().strip()
    assert tl("team", "add", "bob", "--key-text", bob_key, cwd=tmp_path).returncode == 0
    assert tl("team", "add", "bob", "--key", f"{keys['carol']}.pub", cwd=tmp_path).stdout.startswith("another key for bob")
    data = tomllib.loads((tmp_path / "team.toml").read_text())
    assert data["workers"]["bob"]["keys"][0] == bob_key
    assert len(data["workers"]["bob"]["keys"]) == 2

    listing = tl("team", "list", cwd=tmp_path).stdout
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{keys['carol']}.pub"], capture_output=True, text=True).stdout.split()[1]
    assert "alice  (1 key, no web token)" in listing and "bob  (2 keys, no web token)" in listing and fingerprint in listing

    token = tl("team", "token", "alice", cwd=tmp_path)
    assert token.returncode == 0 and len(token.stdout.strip()) >= 32
    stored = tomllib.loads((tmp_path / "team.toml").read_text())["workers"]["alice"]["token_sha256"]
    assert stored == hashlib.sha256(token.stdout.strip().encode()).hexdigest()
    assert token.stdout.strip() not in (tmp_path / "team.toml").read_text()
    assert "alice  (1 key, web token set)" in tl("team", "list", cwd=tmp_path).stdout

    assert tl("team", "remove", "bob", cwd=tmp_path).returncode == 0
    assert list(tomllib.loads((tmp_path / "team.toml").read_text())["workers"]) == ["alice"]


def test_bad_input_is_one_line_and_changes_nothing(tmp_path, keys):
    tl("team", "add", "alice", "--key", f"{keys['alice']}.pub", cwd=tmp_path)
    before = (tmp_path / "team.toml").read_bytes()
    one_line_error(tl("team", "add", "bob", "--key", f"{keys['alice']}.pub", cwd=tmp_path), "already belongs to 'alice'")
    one_line_error(tl("team", "add", "alice", "--key", f"{keys['alice']}.pub", cwd=tmp_path), "'alice' already has this key")
    one_line_error(tl("team", "add", "bob", "--key", str(keys["bob"]), cwd=tmp_path), "private key", ".pub")
    one_line_error(tl("team", "add", "bob", "--key-text", "ssh-ed25519 AAAAnotakey", cwd=tmp_path), "not an SSH public key")
    one_line_error(tl("team", "add", "bob", "--key", str(tmp_path / "nope.pub"), cwd=tmp_path), "cannot read key file")
    one_line_error(tl("team", "add", "bob smith", "--key", f"{keys['bob']}.pub", cwd=tmp_path), "worker id 'bob smith'")
    one_line_error(tl("team", "remove", "zed", cwd=tmp_path), "no worker 'zed'", "alice")
    one_line_error(tl("team", "token", "zed", cwd=tmp_path), "no worker 'zed'")
    one_line_error(tl("team", "list", "--team", "other.toml", cwd=tmp_path), "no team file other.toml")
    assert (tmp_path / "team.toml").read_bytes() == before


def test_a_damaged_team_file_is_named_in_one_line(tmp_path, keys):
    (tmp_path / "team.toml").write_text('[workers.alice]\nkeys = ["ssh-ed25519 AAAAbroken"]\n')
    one_line_error(tl("team", "list", cwd=tmp_path), "team.toml: worker 'alice', key 1: not an SSH public key")
    alice = Path(f"{keys['alice']}.pub").read_text().strip()
    (tmp_path / "team.toml").write_text(f'[workers.alice]\nkeys = ["{alice}"]\n[workers.bob]\nkeys = ["{alice}"]\n')
    one_line_error(tl("team", "list", cwd=tmp_path), "worker 'bob', key 1: the same key already belongs to 'alice'")
    (tmp_path / "team.toml").write_text("[workers\n")
    one_line_error(tl("team", "list", cwd=tmp_path), "not a valid team file")


def test_serve_start_up_errors(tmp_path, keys, aws_env):
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", cwd=tmp_path), "no team file team.toml")
    tl("team", "add", "alice", "--key", f"{keys['alice']}.pub", cwd=tmp_path)
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", "missing", cwd=tmp_path), "no jobs folder missing")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", "s3://no-such-bucket/jobs", cwd=tmp_path),
                   "bucket 'no-such-bucket' does not exist")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--web", "8080", cwd=tmp_path), "--web must be HOST:PORT")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--tls-cert", "c.pem", "--tls-key", "k.pem", cwd=tmp_path),
                   "--tls-cert and --tls-key are for --web")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--web", "127.0.0.1:0", "--tls-cert", "c.pem", cwd=tmp_path),
                   "HTTPS needs both --tls-cert FILE and --tls-key FILE")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--web", "127.0.0.1:0", "--tls-cert", "c.pem",
                      "--tls-key", "k.pem", cwd=tmp_path), "no such file: c.pem")
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--web", "127.0.0.1:0", "--tls-cert", "c.pem",
                      "--tls-key", "k.pem", cwd=tmp_path), "cannot use c.pem with k.pem for HTTPS")
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--ssh", "localhost", cwd=tmp_path), "--ssh must be HOST:PORT")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--ssh", f"127.0.0.1:{port}", cwd=tmp_path),
                       f"cannot listen on 127.0.0.1:{port}: address already in use")
    key = tmp_path / "ssh_host_ed25519_key"
    key.write_text("x")
    key.chmod(0o644)
    one_line_error(tl("serve", "--team", "team.toml", "--jobs", ".", "--ssh", "127.0.0.1:0", cwd=tmp_path), "readable by others", "chmod 600")
