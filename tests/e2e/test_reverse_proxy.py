"""hoinghi behind a TLS-terminating nginx, configured by deploy/nginx-hoinghi.conf as shipped.

Most provinces publish their servers through a reverse proxy. The server then sees the
proxy's plain-HTTP request, so without the forwarded headers its Origin check refused every
login and every POST from the real browser; and headers a browser could forge must count only
when the configured proxy sent them.
"""
from __future__ import annotations

import http.client
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO
from tests.e2e.harness import CHROMIUM, PASSWORD, Deployment, chromium_args, serving, write_tone_wav
from tests.ports import free_port
from web.auth import SESSION_COOKIE
from web.tls import ensure_self_signed

pytestmark = pytest.mark.e2e

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PUBLIC_NAME = "hoinghi.example.gov.vn"  # the example's server_name; Chromium resolves it to loopback


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not listen on {port} within 20 s")


def _site_config(upstream_port: int, http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """The shipped example with only what an operator edits changed; each edit must apply once."""
    text = (REPO / "deploy" / "nginx-hoinghi.conf").read_text(encoding="utf-8")
    for old, new in [
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/ssl/hoinghi/fullchain.pem", str(cert)),
        ("/etc/ssl/hoinghi/privkey.pem", str(key)),
        ("http://127.0.0.1:8080", f"http://127.0.0.1:{upstream_port}"),
    ]:
        assert text.count(old) == 1, f"deploy/nginx-hoinghi.conf no longer has exactly one {old!r}"
        text = text.replace(old, new)
    return text


class Proxy:
    def __init__(self, deployment: Deployment, root: Path) -> None:
        self.https_port, self.http_port = free_port(), free_port()
        self.root = root
        cert, key = ensure_self_signed(root / "tls", PUBLIC_NAME)
        for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (root / temp).mkdir(mode=0o777, parents=True, exist_ok=True)
            (root / temp).chmod(0o777)  # nginx's workers drop root
        (root / "hoinghi.conf").write_text(
            _site_config(deployment.port, self.http_port, self.https_port, cert, key), encoding="utf-8")
        (root / "nginx.conf").write_text(f"""
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/hoinghi.conf;
}}
""", encoding="utf-8")
        self.process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            _wait_for_port(self.https_port, self.process, root / "error.log")
        except Exception:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"https://{PUBLIC_NAME}:{self.https_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Deployment, Proxy]]:
    if not Path(NGINX).exists():
        pytest.fail(f"{NGINX} is not installed (scripts/test installs Debian's nginx)")
    deployment = Deployment(tmp_path / "site", serve_args=["--trusted-proxy", "127.0.0.1"])
    for running in serving(deployment):
        proxy = Proxy(running, tmp_path / "nginx")
        try:
            yield running, proxy
        finally:
            proxy.stop()


def _request(port: int, method: str, path: str, headers: dict[str, str], source: str = "127.0.0.1",
             body: str = "") -> tuple[int, str]:
    """One plain-HTTP request to the server itself, from a chosen loopback address."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def test_a_browser_logs_in_and_joins_through_the_proxy(proxied: tuple[Deployment, Proxy], tmp_path: Path) -> None:
    deployment, proxy = proxied
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    args = [*chromium_args(write_tone_wav(tmp_path / "tone.wav")), f"--host-resolver-rules=MAP {PUBLIC_NAME} 127.0.0.1"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            context = browser.new_context(ignore_https_errors=True, base_url=proxy.url,
                                          viewport={"width": 1280, "height": 720})
            page = context.new_page()
            first = page.goto("/")
            assert first is not None and first.headers.get("strict-transport-security"), first and first.headers
            page.fill("input[name=username]", "thuky")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{proxy.url}/home")
            session = [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
            assert session and session[0]["secure"], context.cookies()
            page.goto(f"/meetings/{deployment.meeting_id}")
            page.wait_for_selector("#conn-status[data-state=connected]", timeout=20_000)
            page.screenshot(path=str(tmp_path / "meeting-through-proxy.png"))
        finally:
            browser.close()
    assert "/socket.io/" in (proxy.root / "access.log").read_text(), "the Socket.IO traffic did not pass the proxy"


def test_forwarded_headers_count_only_from_the_proxy(proxied: tuple[Deployment, Proxy]) -> None:
    deployment, proxy = proxied
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC_NAME, "X-Forwarded-For": "203.0.113.9"}
    # straight to the server from an address that is not the proxy: refused, whatever it claims
    status, _ = _request(deployment.port, "GET", "/", forged, source="127.0.0.2")
    assert status == 400
    # monitoring still reads the health check straight from the server
    status, _ = _request(deployment.port, "GET", "/healthz", {}, source="127.0.0.2")
    assert status == 200

    # through the proxy, a post from another site's page is still refused
    connection = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, timeout=10,
                                             context=ssl._create_unverified_context(),  # the test certificate
                                             source_address=("127.0.0.3", 0))
    try:
        login = '{"username": "thuky", "password": "sai"}'
        connection.request("POST", "/login", body=login,
                           headers={"Host": f"{PUBLIC_NAME}:{proxy.https_port}", "Origin": "https://evil.example",
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        assert response.status == 403 and '"forbidden"' in body, body
        # from the server's own origin it is judged on the password, and logged with the browser's address
        connection.request("POST", "/login", body=login,
                           headers={"Host": f"{PUBLIC_NAME}:{proxy.https_port}",
                                    "Origin": f"https://{PUBLIC_NAME}:{proxy.https_port}",
                                    "X-Forwarded-For": "198.51.100.7",  # the browser's own try, replaced by nginx
                                    "Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        assert response.status == 401 and '"invalid_credentials"' in body, body
    finally:
        connection.close()
    log = deployment.root / "server-1.log"
    deadline = time.monotonic() + 10
    while '"login rejected"' not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline, "no 'login rejected' line in the server's log"
        time.sleep(0.1)
    rejected = [line for line in log.read_text(encoding="utf-8").splitlines() if '"login rejected"' in line]
    assert '"remote": "127.0.0.3"' in rejected[-1], rejected[-1]
