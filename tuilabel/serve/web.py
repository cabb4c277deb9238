"""The browser side of `tuilabel serve --web`: textual-serve's page and terminal, behind a
per-worker token login (the owner makes tokens with `tuilabel team token ID`).

The worker id comes from the token only: the login sets a random session cookie (HttpOnly,
SameSite=Strict) that maps to the worker on this server, and every page and websocket checks
it (the websocket also checks its Origin, so another site cannot open one with the cookie).
The page lists the jobs this worker may work on, like the terminal portal; a job opens
`tuilabel label JOB --worker W` in its own process under Textual's web driver, with the
host's environment for it (serve/host.py: PATH, HOME, where job folders are, the owner's
AWS settings), Textual's and LANG, and nothing else of the server's environment. Failed logins count
against the address like failed SSH logins.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import ssl
import shlex
import sys
import time
from urllib.parse import quote

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tuilabel.core.errors import UserError
from tuilabel.core.team.portal import find_jobs, job_cards
from tuilabel.serve.activity import answers_since, journal_sizes
from tuilabel.serve.host import Host, host_environment

COOKIE = "tuilabel_session"
QUIT_GRACE_SECONDS = 5.0
KEEP_ENV = ("LANG", "COLUMNS", "ROWS", "TERM_PROGRAM", "TERM_PROGRAM_VERSION")


class WorkerAppService(AppService):
    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        full = super()._build_environment(width, height)
        return {**{k: v for k, v in full.items() if k in KEEP_ENV or k.startswith("TEXTUAL")}, **host_environment()}


def _page(title: str, body: str) -> web.Response:
    return web.Response(content_type="text/html", text=(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:monospace;background:#0c181f;color:#eee;margin:2em}"
        "a{color:#8cf}table{border-collapse:collapse}td,th{padding:.2em 1em;text-align:left}</style>"
        f"</head><body>{body}</body></html>"))


class WebHost(Server):
    def __init__(self, host: Host, listen: str, port: int):
        super().__init__("tuilabel", host=listen, port=port, title="tuilabel")
        self.labeling = host
        self.sessions: dict[str, str] = {}  # session cookie -> worker id

    # --- login -------------------------------------------------------------------------------

    def _worker(self, request: web.Request) -> str | None:
        worker = self.sessions.get(request.cookies.get(COOKIE, ""))
        team = self.labeling.team.current()
        return worker if worker in team.workers else None  # a removed worker is out at once

    def _login_form(self, message: str = "", status: int = 200) -> web.Response:
        note = f"<p>{html.escape(message)}</p>" if message else ""
        response = _page("tuilabel: log in", f"<h1>tuilabel</h1>{note}<form method='post' action='/login'>"
                         "<label>Token <input type='password' name='token' id='token' autofocus></label> "
                         "<button type='submit' id='login'>Log in</button></form>")
        response.set_status(status)
        return response

    async def handle_login(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return self._login_form()
        address = request.remote or "?"
        if self.labeling.failures.blocked(address):
            self.labeling.log(f"refused web login from {address}: too many failed logins")
            return self._login_form("Too many failed logins: wait a minute.", 429)
        token = str((await request.post()).get("token", "")).strip()
        worker = self.labeling.team.current().worker_for_token(token) if token else None
        if worker is None:
            self.labeling.failures.add(address)
            self.labeling.log(f"refused web login from {address}: not a worker's token")
            return self._login_form("That token is not valid.", 403)
        session = secrets.token_urlsafe(32)
        self.sessions[session] = worker
        self.labeling.log(f"web login {worker} from {address}")
        response = web.HTTPFound("/")
        response.set_cookie(COOKIE, session, httponly=True, samesite="Strict", path="/", secure=request.secure)
        raise response

    # --- the portal: jobs this worker may work on ------------------------------------------

    async def _jobs(self, worker: str) -> dict[str, object]:
        """The jobs `worker` may work on, by their path under the jobs folder. Counted in a
        thread: a count reads journals, lease stores or S3, and the event loop it would
        otherwise hold up carries every SSH worker's keys and screen."""
        return await asyncio.to_thread(self._count_jobs, worker)

    async def _may_open(self, worker: str, name: str) -> bool:
        try:
            return name in await self._jobs(worker)
        except UserError as exc:
            raise web.HTTPServiceUnavailable(text=f"the jobs cannot be listed now: {exc}") from None

    def _count_jobs(self, worker: str) -> dict[str, object]:
        root = self.labeling.folder
        cards = {}
        for folder, card, error in job_cards(find_jobs(self.labeling.jobs), worker):
            if error:  # that job is left out, the others listed
                self.labeling.log(f"cannot count {folder} for {worker}: {error}")
            elif card is not None:
                cards[folder.relative_to(root).as_posix() or "."] = card
        return cards

    async def handle_portal(self, request: web.Request) -> web.Response:
        worker = self._worker(request)
        if worker is None:
            raise web.HTTPFound("/login")
        try:
            jobs = await self._jobs(worker)
        except UserError as exc:  # e.g. the jobs' S3 is unreachable
            return _page("tuilabel: jobs unavailable", f"<p>The jobs cannot be listed now: {html.escape(str(exc))}. "
                                                       "Reload the page to try again.</p>")
        rows = "".join(
            f"<tr><td><a href='/job/{quote(name)}'>{html.escape(card.name)}</a></td><td>{html.escape(card.task)}</td>"
            f"<td>{html.escape(card.state)}</td><td>{'' if card.left is None else card.left}</td></tr>"
            for name, card in sorted(jobs.items())
        )
        return _page(f"tuilabel: jobs for {worker}",
                     f"<h1>Jobs for {html.escape(worker)}</h1><table><tr><th>Job</th><th>Task</th><th>Status</th>"
                     f"<th>Left</th></tr>{rows}</table><p>Open a job to start working; reload its page to resume.</p>")

    async def handle_job(self, request: web.Request) -> web.Response:
        worker = self._worker(request)
        if worker is None:
            raise web.HTTPFound("/login")
        name = request.match_info["name"]
        if not await self._may_open(worker, name):
            raise web.HTTPNotFound(text=f"no job {name!r} for {worker}")
        scheme = "wss" if request.secure else "ws"
        context = {
            "font_size": 16,
            # the page adds "?width=…&height=…" itself: the job goes in the path
            "app_websocket_url": f"{scheme}://{request.host}/ws/{quote(name)}",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": f"tuilabel: {name}"},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    # --- one labeling process per websocket ---------------------------------------------------

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        worker = self._worker(request)
        origin = request.headers.get("Origin", "")
        if worker is None or origin.split("://", 1)[-1] != request.host:
            self.labeling.log(f"refused web session from {request.remote}: "
                              + ("not logged in" if worker is None else f"origin {origin!r}"))
            raise web.HTTPForbidden()
        name = request.match_info["name"]
        if not await self._may_open(worker, name):
            raise web.HTTPNotFound()
        job = str((self.labeling.folder / name).resolve())
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        command = shlex.join([sys.executable, "-m", "tuilabel", "label", job, "--worker", worker])
        service = WorkerAppService(command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                   close=websocket.close, download_manager=self.download_manager)
        before = journal_sizes(self.labeling.folder, worker)
        started = time.monotonic()
        await service.start(width, height)
        self.labeling.log(f"web session {worker} from {request.remote}: {name} (pid {service._process.pid})")
        try:
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            pass
        finally:
            await _stop(service)
            answers = answers_since(self.labeling.folder, worker, before)
            minutes = (time.monotonic() - started) / 60
            self.labeling.log(f"left {worker} (web) from {request.remote}: {answers} answers in {minutes:.1f} min")
        return websocket

    def make_app(self) -> web.Application:
        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_portal),
            web.route("*", "/login", self.handle_login),
            web.get("/job/{name:.+}", self.handle_job),
            web.get("/ws/{name:.+}", self.handle_websocket),
            web.static("/static", self.statics_path),
        ])
        return app


async def _stop(service: AppService) -> None:
    """Ask the app to quit; a process that does not end within the grace is killed (its
    answers are on disk already)."""
    process = service._process
    try:
        await asyncio.wait_for(service.stop(), QUIT_GRACE_SECONDS)
    except (asyncio.TimeoutError, ConnectionError):
        pass
    if process is not None and process.returncode is None:
        process.kill()
        await process.wait()


def _int(value: str | None, default: int) -> int:
    try:
        return max(10, min(500, int(value or "")))
    except ValueError:
        return default


async def start_web_server(host: Host, listen: str, port: int,
                           tls: "ssl.SSLContext | None" = None) -> tuple[web.AppRunner, int]:
    """Serve the pages on listen:port (HTTPS with `tls`); -> (the runner, the bound port)."""
    runner = web.AppRunner(WebHost(host, listen, port).make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, listen, port, ssl_context=tls)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, bound

