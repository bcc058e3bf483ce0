"""The running server: health, metrics, login pages and cookies, bridge-point login."""
from __future__ import annotations

import aiohttp
import pytest

from meetings.accounts import add_account
from meetings.db import create_engine
from meetings.models import BridgePoint
from meetings.point_tokens import hash_point_token, new_point_token
from tests.conftest import RunningServer, form_token


async def test_healthz_and_metrics(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["database"] == "ok"
        async with http.get(f"{server.url}/metrics") as response:
            body = await response.text()
    assert response.status == 200
    assert 'hoinghi_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body


async def test_healthz_reports_a_dead_database(server: RunningServer) -> None:
    working = server.state.engine
    server.state.engine = create_engine("sqlite+aiosqlite:////nonexistent-dir/x.sqlite3")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 503
            assert (await response.json())["status"] == "error"
    await server.state.engine.dispose()
    server.state.engine = working


async def test_login_page_is_vietnamese_with_english_switch(server: RunningServer) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{server.url}/") as response:
            page = await response.text()
        assert response.status == 200
        assert "Đăng nhập" in page and "Mật khẩu" in page and 'lang="vi"' in page
        async with http.get(f"{server.url}/?lang=en") as response:
            assert "Sign in" in await response.text()
        async with http.get(f"{server.url}/") as response:  # remembered in a cookie
            assert "Password" in await response.text()


async def test_form_login_sets_a_strict_session_cookie(server: RunningServer) -> None:
    async with server.state.sessions() as session:
        await add_account(session, "daibieu", "delegate", "mat-khau-123", "Lê Văn Cường")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        token = await form_token(http, f"{server.url}/")
        async with http.post(f"{server.url}/login", data={"username": "daibieu", "password": "sai"}) as response:
            assert response.status == 403  # no CSRF token: refused before the password is looked at
            assert "hết hạn" in await response.text()
        async with http.post(
            f"{server.url}/login", data={"username": "daibieu", "password": "sai", "csrf_token": token}
        ) as response:
            assert response.status == 401
            assert "không đúng" in await response.text()
            assert "hoinghi_session" not in response.cookies
        async with http.post(
            f"{server.url}/login", data={"username": "daibieu", "password": "mat-khau-123", "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303 and response.headers["Location"] == "/home"
            cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
        async with http.get(f"{server.url}/home") as response:
            assert "Lê Văn Cường" in await response.text()
        token = await form_token(http, f"{server.url}/home")  # now bound to the session
        async with http.post(f"{server.url}/logout", data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(f"{server.url}/home", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/"


async def test_point_token_login_over_http(server: RunningServer) -> None:
    token = new_point_token()
    async with server.state.sessions() as session:
        (await session.get(BridgePoint, "phuong-cam-pha")).token_hash = hash_point_token(token)
        await session.commit()
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        csrf = await form_token(http, f"{server.url}/point")
        async with http.post(f"{server.url}/point/login", data={"token": "hnp_wrong", "csrf_token": csrf}) as response:
            assert response.status == 401
            assert "không hợp lệ" in await response.text()
        async with http.post(f"{server.url}/point/login", data={"token": token, "csrf_token": csrf}) as response:
            assert response.status == 200
            assert "Điểm cầu UBND phường Cẩm Phả" in await response.text()


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"])
async def test_malformed_json_login_is_a_clear_400(server: RunningServer, body: bytes) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/login", data=body, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
            assert "JSON" in await response.text()
