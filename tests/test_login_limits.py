"""Growing delays after failed logins (web/login_limits.py): per account, per address, for
bridge-point tokens too; checked before any password hashing, and answered in Vietnamese."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from meetings.accounts import add_account
from tests.conftest import RunningServer
from web.login_limits import MAX_DELAY, LoginLimiter

pytestmark = pytest.mark.security


def test_delays_double_after_the_free_attempts_and_a_success_clears_them():
    now = [1000.0]
    limiter = LoginLimiter(free_attempts=3, clock=lambda: now[0])
    assert [limiter.failed("k") for _ in range(3)] == [0, 0, 0]
    assert [limiter.failed("k") for _ in range(4)] == [1, 2, 4, 8]
    assert limiter.retry_after("k") == 8 and limiter.retry_after("other") == 0
    now[0] += 8
    assert limiter.retry_after("k") == 0
    for _ in range(40):
        limiter.failed("k")
    assert limiter.retry_after("k") == MAX_DELAY
    limiter.succeeded("k")
    assert limiter.retry_after("k") == 0 and limiter.failed("k") == 0


async def _login(http: aiohttp.ClientSession, url: str, username: str, password: str) -> tuple[int, dict, dict]:
    async with http.post(f"{url}/login", json={"username": username, "password": password}) as response:
        return response.status, await response.json(), dict(response.headers)


async def test_an_account_is_slowed_after_five_wrong_passwords(server: RunningServer, caplog) -> None:
    caplog.set_level(logging.INFO, logger="hoinghi.auth")
    async with server.state.sessions() as session:
        await add_account(session, "daibieu", "delegate", "mat-khau-123", "Lê Văn Cường")
        await add_account(session, "thuky", "secretary", "mat-khau-456", "Trần Thị Bình")
    async with aiohttp.ClientSession() as http:
        for _ in range(5):
            status, body, _ = await _login(http, server.url, "daibieu", "sai-mat-khau")
            assert status == 401 and body["error"] == "invalid_credentials"
        status, body, _ = await _login(http, server.url, "daibieu", "sai-mat-khau")
        assert status == 401  # the sixth failure sets the first delay...
        status, body, headers = await _login(http, server.url, "daibieu", "mat-khau-123")
        assert status == 429  # ...during which even the right password is not looked at
        assert body["error"] == "rate_limited" and int(headers["Retry-After"]) == body["retry_after"] >= 1
        assert "Đăng nhập sai quá nhiều lần" in body["message"] and f"{body['retry_after']} giây" in body["message"]
        # another account from the same address is not slowed (the address allows 20)
        status, body, _ = await _login(http, server.url, "thuky", "mat-khau-456")
        assert status == 200 and body["ok"]
    assert any(r.getMessage() == "login rate limited" for r in caplog.records)
    metric = server.state.metrics.logins.labels("password", "rate_limited")._value.get()
    assert metric == 1


async def test_the_address_limit_covers_unknown_names_and_point_tokens(server: RunningServer) -> None:
    async with aiohttp.ClientSession(cookies={"hoinghi_lang": "en"}) as http:
        for index in range(20):
            status, _, _ = await _login(http, server.url, f"nguoi{index}", "sai-mat-khau")
            assert status == 401
        await _login(http, server.url, "nguoi-cuoi", "sai-mat-khau")
        status, body, _ = await _login(http, server.url, "nguoi-moi", "sai-mat-khau")
        assert status == 429 and body["message"].startswith("Too many failed sign-ins")
        for _ in range(21):
            async with http.post(f"{server.url}/point/login", json={"token": "hnp_sai"}) as response:
                last = response.status
        async with http.post(f"{server.url}/point/login", json={"token": "hnp_sai"}) as response:
            assert response.status == 429 and last == 401
            assert "Retry-After" in response.headers


async def test_every_response_carries_the_security_headers_and_metrics_are_guarded(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/", "/static/style.css", "/api/documents/1", "/healthz"):
            async with http.get(f"{server.url}{path}", allow_redirects=False) as response:
                csp = response.headers["Content-Security-Policy"]
                assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["Referrer-Policy"] == "same-origin"
                assert "Strict-Transport-Security" not in response.headers  # plain HTTP on loopback
        async with http.get(f"{server.url}/metrics") as response:  # from 127.0.0.1: allowed
            body = await response.text()
            assert response.status == 200 and "hoinghi_event_loop_lag_seconds_bucket" in body
            assert "hoinghi_sfu_dropped_packets" in body
    from dataclasses import replace

    state = server.state
    state.settings = replace(state.settings, metrics_addresses=(), metrics_token="bi-mat")
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/metrics") as response:
                assert response.status == 403
            async with http.get(f"{server.url}/metrics", headers={"Authorization": "Bearer sai"}) as response:
                assert response.status == 403
            async with http.get(f"{server.url}/metrics", headers={"Authorization": "Bearer bi-mat"}) as response:
                assert response.status == 200
    finally:
        state.settings = replace(state.settings, metrics_addresses=("127.0.0.1", "::1"), metrics_token=None)
