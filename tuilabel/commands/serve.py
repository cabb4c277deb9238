"""`tuilabel serve --team FILE --jobs DIR|s3://… [--ssh HOST:PORT]`: the labeling host. Workers
connect with `ssh WORKER@host -p PORT` and land in their portal; nothing else is reachable."""

from __future__ import annotations

import argparse
from pathlib import Path

from tuilabel.core.errors import UserError

HELP = "the labeling host: workers in the team file connect over SSH to their portal"
DEFAULT_SSH = "0.0.0.0:2222"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help=HELP, description=HELP + " (no shell, no accounts on the host).")
    parser.add_argument("--team", required=True, metavar="FILE", help="the team file (`tuilabel team add` makes it)")
    parser.add_argument("--jobs", required=True, metavar="DIR|s3://…",
                        help="the folder (or s3:// prefix) of the jobs workers label (job folders up to two levels down)")
    parser.add_argument("--ssh", default=DEFAULT_SSH, metavar="HOST:PORT", help=f"where to listen for SSH (default {DEFAULT_SSH})")
    parser.add_argument("--web", metavar="HOST:PORT", help="also serve the jobs to browsers here (login with `tuilabel team token ID`)")
    parser.add_argument("--tls-cert", metavar="FILE", help="--web over HTTPS: the certificate (PEM, with its chain)")
    parser.add_argument("--tls-key", metavar="FILE", help="--web over HTTPS: the certificate's private key (PEM)")
    parser.set_defaults(run=run)


def host_port(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise UserError(f"{flag} must be HOST:PORT (like 0.0.0.0:2222; port 0 picks a free one), not {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def run(args: argparse.Namespace) -> int:
    import asyncio

    team_file = Path(args.team)
    if not team_file.is_file():
        raise UserError(f"no team file {team_file}; make one with `tuilabel team add ID --key FILE`")
    jobs, folder = _jobs(args.jobs)
    listen, port = host_port(args.ssh, "--ssh")
    web = host_port(args.web, "--web") if args.web else None
    tls = _tls(args.tls_cert, args.tls_key, web is not None)
    try:
        return asyncio.run(_serve(team_file, jobs, folder, (listen, port), web, tls))
    except KeyboardInterrupt:
        return 0


def _jobs(jobs: str) -> tuple[str, Path]:
    """What the portals list (a folder, or an s3:// prefix) and the local folder of those jobs
    (for S3, the one `tuilabel label` keeps them in: the log and the workers' journals go there)."""
    from tuilabel.core.data.s3 import check_bucket, is_s3_uri, parse_s3_uri
    from tuilabel.core.locations import s3_stage

    if is_s3_uri(jobs):
        check_bucket(parse_s3_uri(jobs)[0])
        return jobs, s3_stage(jobs)
    if not Path(jobs).is_dir():
        raise UserError(f"no jobs folder {jobs}")
    folder = Path(jobs).resolve()
    return str(folder), folder


def _tls(cert: str | None, key: str | None, web: bool):
    """The HTTPS context for --web from --tls-cert and --tls-key (both or neither), or None."""
    if not cert and not key:
        return None
    if not web:
        raise UserError("--tls-cert and --tls-key are for --web: give --web HOST:PORT too")
    if not cert or not key:
        raise UserError("HTTPS needs both --tls-cert FILE and --tls-key FILE")
    import ssl

    for path in (cert, key):
        if not Path(path).is_file():
            raise UserError(f"no such file: {path}")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise UserError(f"cannot use {cert} with {key} for HTTPS: {getattr(exc, 'reason', None) or exc}") from None
    return context


async def _serve(team_file: Path, jobs: str, folder: Path, ssh: tuple[str, int], web: tuple[str, int] | None,
                 tls=None) -> int:
    import asyncio
    import signal

    from tuilabel.serve.activity import ActivityLog
    from tuilabel.serve.host import Host, Team
    from tuilabel.serve.ssh import host_key, start_ssh_server

    log = ActivityLog(folder / "serve.log")
    team = Team(team_file, log)
    key = host_key(team_file)
    host = Host(team, jobs, folder, log)
    listen, port = ssh
    try:
        server = await start_ssh_server(host, listen, port, key)
    except OSError as exc:
        raise UserError(f"cannot listen on {listen}:{port}: {_why(exc)}") from None
    bound = server.sockets[0].getsockname()[1] if port == 0 else port
    print(f"tuilabel serve: SSH on {listen}:{bound}, {len(team.file.workers)} workers in {team_file}", flush=True)
    print(f"host key fingerprint: {key.get_fingerprint()} (workers can check it on first connect)", flush=True)
    log(f"serving {jobs} over SSH on {listen}:{bound}, host key {key.get_fingerprint()}")
    runner = None
    if web is not None:
        from tuilabel.serve.web import start_web_server

        try:
            runner, web_port = await start_web_server(host, *web, tls=tls)
        except OSError as exc:
            raise UserError(f"cannot listen on {web[0]}:{web[1]}: {_why(exc)}") from None
        scheme = "https" if tls is not None else "http"
        print(f"web: {scheme}://{web[0]}:{web_port}/ (workers log in with their `tuilabel team token`)", flush=True)
        log(f"serving {jobs} on the web at {scheme}://{web[0]}:{web_port}/")
    print(f"log: {log.path}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    if runner is not None:
        await runner.cleanup()
    await asyncio.gather(*(session.close() for session in list(host.sessions)), return_exceptions=True)
    log("stopped")
    log.close()
    return 0


def _why(exc: OSError) -> str:
    import os

    return os.strerror(exc.errno).lower() if exc.errno else str(exc)
