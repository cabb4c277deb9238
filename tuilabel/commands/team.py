"""`tuilabel team add|remove|list|token`: the team file `tuilabel serve` lets workers in by."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tuilabel.core.errors import UserError

HELP = "manage the team file: workers, their SSH keys and web tokens (for `tuilabel serve`)"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("team", help=HELP, description=HELP + ".")
    parser.set_defaults(run=lambda args: parser.error("say what to do: add, remove, list or token"))
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    def action(name: str, help: str) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help, description=help + ".")
        p.add_argument("--team", default="team.toml", metavar="FILE", help="the team file (default: ./team.toml)")
        return p

    add = action("add", "add a worker, or another key of a worker")
    add.add_argument("worker", metavar="ID", help="worker id: the SSH user name the worker connects as")
    key = add.add_mutually_exclusive_group(required=True)
    key.add_argument("--key", metavar="FILE", help="the worker's public key file (id_ed25519.pub)")
    key.add_argument("--key-text", metavar="KEY", help='the public key itself: "ssh-ed25519 AAAA… name"')
    add.set_defaults(run=run_add)

    remove = action("remove", "remove a worker and all its keys")
    remove.add_argument("worker", metavar="ID")
    remove.set_defaults(run=run_remove)

    action("list", "list workers, their keys' fingerprints and whether they have a web token").set_defaults(run=run_list)

    token = action("token", "make a new web-login token for a worker (shown once; replaces the old one)")
    token.add_argument("worker", metavar="ID")
    token.set_defaults(run=run_token)


def _team(args: argparse.Namespace, missing_ok: bool = False):
    from tuilabel.core.team.team_file import TeamFile

    path = Path(args.team)
    if not missing_ok and not path.exists():
        raise UserError(f"no team file {path}; make one with `tuilabel team add ID --key FILE`")
    return TeamFile.load(path, missing_ok=missing_ok)


def run_add(args: argparse.Namespace) -> int:
    from tuilabel.core.team.team_file import read_key_file

    team = _team(args, missing_ok=True)
    text, where = (read_key_file(Path(args.key)), args.key) if args.key else (args.key_text, "--key-text")
    new = args.worker not in team.workers
    team.add_key(args.worker, text, where)
    team.save()
    print(f"{'added' if new else 'another key for'} {args.worker} in {team.path}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    team = _team(args)
    team.remove(args.worker)
    team.save()
    print(f"removed {args.worker} from {team.path} (connected sessions stay until they end)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from tuilabel.core.team.team_file import parse_public_key

    team = _team(args)
    if not team.workers:
        print(f"{team.path}: no workers")
    for worker, entry in sorted(team.workers.items()):
        token = "web token set" if entry.token_sha256 else "no web token"
        print(f"{worker}  ({len(entry.keys)} key{'s' * (len(entry.keys) != 1)}, {token})")
        for line in entry.keys:
            key = parse_public_key(line)
            comment = key.get_comment() or ""
            print(f"    {key.get_algorithm()} {key.get_fingerprint()} {comment}".rstrip())
    return 0


def run_token(args: argparse.Namespace) -> int:
    team = _team(args)
    token = team.new_token(args.worker)
    team.save()
    print(token)
    print(f"(the web login token for {args.worker}; only its hash is kept in {team.path}: copy it now)", file=sys.stderr)
    return 0
