"""`hoinghi serve` as a real process: starts, answers, serves HTTPS off loopback, stops cleanly."""
from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_ROOMS
from tests.ports import free_port


def _start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, HOINGHI_LANG="vi")
    return subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--config", str(SAMPLE_ROOMS),
         "--data-dir", str(tmp_path / "data"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def _get(url: str, context: ssl.SSLContext | None = None, deadline: float = 60.0) -> tuple[int, str]:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as response:
                return response.status, response.read().decode("utf-8")
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > end:
                raise
            time.sleep(0.2)


def _stop(process: subprocess.Popen, signum: int) -> tuple[int, str]:
    process.send_signal(signum)
    try:
        stdout, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_http_on_loopback_and_clean_stop(tmp_path: Path, signum: int) -> None:
    port = free_port()
    process = _start(tmp_path, "--port", str(port))
    try:
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and '"ok"' in body
        status, body = _get(f"http://127.0.0.1:{port}/")
        assert "Đăng nhập" in body
    finally:
        code, stdout = _stop(process, signum)
    assert code == 0, stdout
    assert "hoinghi đang chạy tại http://127.0.0.1" in stdout and "hoinghi đã dừng." in stdout
    assert "tên đăng nhập admin, mật khẩu " in stdout
    assert (tmp_path / "data" / "hoinghi.sqlite3").is_file()


def test_serve_https_with_self_signed_certificate_off_loopback(tmp_path: Path) -> None:
    password = tmp_path / "pw"
    password.write_text("mat-khau-123")
    subprocess.run(
        [sys.executable, "-m", "web.cli", "user", "add", "thuky", "--role", "secretary",
         "--password-file", str(password), "--data-dir", str(tmp_path / "data")],
        check=True, capture_output=True, timeout=60,
    )
    port = free_port()
    process = _start(tmp_path, "--host", "127.0.0.2", "--port", str(port))
    try:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        status, _ = _get(f"https://127.0.0.2:{port}/healthz", context)
        assert status == 200
        cert = tmp_path / "data" / "tls" / "cert.pem"
        assert cert.is_file() and oct((tmp_path / "data" / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
        trusting = ssl.create_default_context(cafile=str(cert))
        trusting.check_hostname = False
        assert _get(f"https://127.0.0.2:{port}/healthz", trusting)[0] == 200
        login = urllib.request.Request(
            f"https://127.0.0.2:{port}/login", data=b'{"username": "thuky", "password": "mat-khau-123"}',
            headers={"Content-Type": "application/json"}, method="POST",
        )
        with urllib.request.urlopen(login, context=trusting, timeout=10) as response:
            cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    finally:
        code, _ = _stop(process, signal.SIGTERM)
    assert code == 0


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = _start(tmp_path, "--port", str(port))
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith(f"Lỗi dữ liệu nhập: 127.0.0.1:{port}: ")


def test_serve_raises_the_descriptor_limit_and_reports_descriptors(tmp_path: Path) -> None:
    """Started with the usual soft limit of 1,024, the server raises it to the hard limit and
    /metrics reports the descriptors in use against it."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard <= 1024:
        pytest.skip(f"the hard descriptor limit here is {hard}: nothing to raise")
    port = free_port()
    env = dict(os.environ, HOINGHI_LANG="vi")
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--config", str(SAMPLE_ROOMS),
         "--data-dir", str(tmp_path / "data"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
    )
    try:
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
    finally:
        _stop(process, signal.SIGTERM)
    assert status == 200
    values = {line.split()[0]: float(line.split()[1]) for line in body.splitlines()
              if line.startswith(("process_open_fds", "process_max_fds"))}
    assert values["process_max_fds"] == hard
    assert 5 < values["process_open_fds"] < 1024
