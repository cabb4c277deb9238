"""`tuilabel serve --web` in a real browser: Debian's Chromium driven by Playwright. A worker
logs in with the token `tuilabel team token` printed, opens the job, labels three records,
reloads the page and resumes at the fourth; the answers carry the token's worker. The
terminal is drawn on a canvas, so what the keys did is read from the worker's journal."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from drivers.ssh_host import TUILABEL, Host, journal_lines, make_job, make_key, team_add

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def web_site(tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (openssh-client)")
    team = tmp_path / "host" / "team.toml"
    team.parent.mkdir()
    tokens = {}
    for worker in ("alice", "bob"):
        team_add(team, worker, make_key(tmp_path, worker))
        tokens[worker] = subprocess.run([*TUILABEL, "team", "token", worker, "--team", str(team)],
                                        capture_output=True, text=True, check=True).stdout.strip()
    job = make_job(tmp_path / "jobs", "reviews", 12)
    host = Host(team, tmp_path / "jobs", tmp_path / "home", web=True)
    host.home.mkdir()
    host.start()
    yield host, tokens, job
    host.stop()


def wait_answers(job, worker: str, count: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = journal_lines(job, worker)
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{worker} has {len(journal_lines(job, worker))} answers, not {count}, after {timeout}s")


def open_terminal(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body.-first-byte", timeout=30000)  # the app's first screen arrived
    page.click(".textual-terminal")
    time.sleep(1.0)  # the app takes keys once its first record is up (nothing on the page says when)


def test_log_in_label_reload_resume(web_site):
    from playwright.sync_api import sync_playwright

    host, tokens, job = web_site
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(host.web_url)
            assert page.url.endswith("/login")  # nothing without a login
            page.fill("#token", "not-a-token")
            page.click("#login")
            assert "not valid" in page.content()
            host.wait_log("refused web login from 127.0.0.1: not a worker's token")

            page.fill("#token", tokens["alice"])
            page.click("#login")
            assert "Jobs for alice" in page.content()
            host.wait_log("web login alice from 127.0.0.1")
            page.click("text=reviews")
            page.wait_for_selector("body.-first-byte", timeout=30000)
            job_url = page.url
            page.click(".textual-terminal")
            time.sleep(1.0)
            for n, key in enumerate("123", 1):
                page.keyboard.press(key)
                wait_answers(job, "alice", n)

            page.reload()  # the old session ends (its app quits), a new one resumes
            host.wait_log("left alice (web) from 127.0.0.1: 3 answers")
            page.wait_for_selector("body.-first-byte", timeout=30000)
            page.click(".textual-terminal")
            time.sleep(1.0)
            page.keyboard.press("2")
            answers = wait_answers(job, "alice", 4)
            assert [(e["i"], e["w"]) for e in answers] == [(0, "alice"), (1, "alice"), (2, "alice"), (3, "alice")]
            assert page.url == job_url
        finally:
            browser.close()
    assert journal_lines(job, "bob") == []


def test_the_websocket_needs_a_login_and_this_site(web_site):
    host, tokens, _ = web_site
    socket_url = host.web_url + "ws/reviews?width=80&height=24"
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Origin": host.web_url.rstrip("/")}
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(socket_url, headers=headers), timeout=10)
    assert refused.value.code == 403
    host.wait_log("refused web session from 127.0.0.1: not logged in")

    # Logged in, but the page asking is another site's: refused too.
    login = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    login.open(urllib.request.Request(host.web_url + "login", data=f"token={tokens['bob']}".encode()), timeout=10)
    with pytest.raises(urllib.error.HTTPError) as cross_site:
        login.open(urllib.request.Request(socket_url, headers={**headers, "Origin": "http://evil.example"}), timeout=10)
    assert cross_site.value.code == 403
    host.wait_log("refused web session from 127.0.0.1: origin 'http://evil.example'")


def alices_host(tmp_path, *web_args: str) -> tuple[Host, str]:
    """serve with a web side (and `web_args`) for one worker, alice, on a 3-record job; her
    login token. Started: the caller stops it."""
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed (openssh-client)")
    team = tmp_path / "host" / "team.toml"
    team.parent.mkdir()
    team_add(team, "alice", make_key(tmp_path, "alice"))
    token = subprocess.run([*TUILABEL, "team", "token", "alice", "--team", str(team)],
                           capture_output=True, text=True, check=True).stdout.strip()
    make_job(tmp_path / "jobs", "reviews", 3)
    host = Host(team, tmp_path / "jobs", tmp_path / "home", web=True, web_args=web_args)
    host.home.mkdir()
    return host.start(), token


def self_signed(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and its key (PEM files), made with `cryptography`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "web.crt", folder / "web.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_over_https_the_login_cookie_is_secure_and_plain_http_gets_nothing(tmp_path):
    import http.cookiejar
    import ssl

    cert, key = self_signed(tmp_path)
    host, token = alices_host(tmp_path, "--tls-cert", cert, "--tls-key", key)
    try:
        assert host.web_url.startswith("https://127.0.0.1:")
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cert)),
                                              urllib.request.HTTPCookieProcessor(jar))
        page = browser.open(urllib.request.Request(host.web_url + "login", data=f"token={token}".encode()), timeout=10)
        assert "Jobs for alice" in page.read().decode()
        assert [(c.name, c.secure) for c in jar] == [("tuilabel_session", True)]  # never sent over plain HTTP
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(host.web_url.replace("https://", "http://") + "login", timeout=10).read()
        if CHROMIUM is None:
            return
        # In a browser, the labeling app's websocket goes over TLS too (wss://).
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = chromium.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 800}).new_page()
                page.goto(host.web_url)
                page.fill("#token", token)
                page.click("#login")
                page.click("text=reviews")
                page.wait_for_selector("body.-first-byte", timeout=30000)
                page.click(".textual-terminal")
                time.sleep(1.0)
                page.keyboard.press("1")
                assert [e["w"] for e in wait_answers(tmp_path / "jobs" / "reviews", "alice", 1)] == ["alice"]
            finally:
                chromium.close()
    finally:
        host.stop()


def test_a_job_that_cannot_be_counted_is_left_out_of_the_page_and_logged(tmp_path):
    broken = tmp_path / "jobs" / "broken" / "tuilabel"
    broken.mkdir(parents=True)
    (broken / "job.json").write_text("{not json")
    host, token = alices_host(tmp_path)
    try:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        page = browser.open(urllib.request.Request(host.web_url + "login", data=f"token={token}".encode()), timeout=10).read().decode()
        assert "/job/reviews" in page and "/job/broken" not in page
        host.wait_log("cannot count")
        with pytest.raises(urllib.error.HTTPError) as refused:
            browser.open(host.web_url + "job/broken", timeout=10)
        assert refused.value.code == 404
    finally:
        host.stop()
