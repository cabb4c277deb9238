"""Command line: parses arguments and hands each subcommand to tuilabel/commands/<name>.py.

Each command module exposes `add_parser(subparsers)` and `run(args) -> int`. Modules are
imported when the parser is built, so they must keep their heavy imports (textual, boto3,
Pillow) inside `run`: `tuilabel label` must reach its first record fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tuilabel import __version__
from tuilabel.core.errors import UserError

# Order is the order `--help` lists them in.
COMMANDS = ("label", "demo", "init", "scan", "export", "check", "stats", "consolidate", "review", "status",
            "work", "team", "serve")


class Parser(argparse.ArgumentParser):
    """argparse with the one line that matters on a usage error, not the whole usage block
    (subcommand parsers are made of the same class)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\nsee {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tuilabel",
        description="Amazon SageMaker Ground Truth labeling jobs in a terminal.",
    )
    parser.add_argument("--version", action="version", version=f"tuilabel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tuilabel.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tuilabel.commands.{name}":
                continue  # not built yet
            raise
        module.add_parser(sub)
    parser.commands = sub.choices  # name -> its parser, for errors found after parsing
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse reports these from the top parser; the command's own help is the useful pointer.
        command = getattr(args, "command", None)
        parser.commands.get(command, parser).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "command", None):
        if not _jobs_here():
            parser.print_help()
            return 2
        args = parser.parse_args(["work"])  # bare `tuilabel` in a folder of jobs: the portal
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"tuilabel {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        # A file-system error nobody turned into a message yet: still one line, no traceback.
        from tuilabel.core.store.durable import explain_os_error

        where = exc.filename or "a file"
        print(f"tuilabel {args.command}: {explain_os_error(exc, where, 'use')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tuilabel {args.command}: interrupted", file=sys.stderr)
        return 130


def _jobs_here() -> bool:
    """A terminal, and job folders in the current folder (up to two levels down)?"""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    from pathlib import Path

    from tuilabel.core.team.portal import find_jobs

    return bool(find_jobs(Path.cwd()))
