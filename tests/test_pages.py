"""Pages rendered by Jinja2: escaping, language link, product 403/404 pages, CSRF on forms."""
from __future__ import annotations

from datetime import datetime, timezone

import aiohttp

from meetings.accounts import add_account
from meetings.meetings_service import create_meeting
from tests.conftest import RunningServer, form_token, login


async def _secretary(server: RunningServer) -> int:
    async with server.state.sessions() as session:
        return (await add_account(session, "thuky", "secretary", "mat-khau-123", "Trần Thị Bình")).id


async def test_values_are_escaped_and_times_are_local(server: RunningServer) -> None:
    secretary = await _secretary(server)
    async with server.state.sessions() as session:
        await create_meeting(
            session, room_id="phong-hop-ubnd", title="<script>alert(1)</script> Giao ban",
            scheduled_start=datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc), chair_id=secretary, secretary_id=secretary,
        )
    jar = await login(server.url, "thuky", "mat-khau-123")
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.get(f"{server.url}/home") as response:
            page = await response.text()
        async with http.get(f"{server.url}/home?lang=en") as response:
            english = await response.text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; Giao ban" in page
    assert "14:00, thứ Ba 01/12/2026" in page  # 07:00 UTC is 14:00 in Hà Nội
    assert "14:00, Tuesday 01/12/2026" in english and 'href="/home?lang=vi"' in english


async def test_not_found_is_a_page_of_the_product_in_the_users_language(server: RunningServer) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{server.url}/khong-co") as response:
            page = await response.text()
            assert response.status == 404
        async with http.get(f"{server.url}/khong-co?lang=en") as response:
            english = await response.text()
        async with http.get(f"{server.url}/api/khong-co") as response:
            assert response.status == 404 and "<html" not in await response.text()  # API clients: no HTML
    assert "Không tìm thấy trang này." in page and 'href="/home"' in page
    assert "This page does not exist." in english


async def test_a_form_post_without_its_token_changes_nothing(server: RunningServer) -> None:
    await _secretary(server)
    jar = await login(server.url, "thuky", "mat-khau-123")
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{server.url}/logout", data={"csrf_token": "0" * 64}, allow_redirects=False) as response:
            assert response.status == 403
            assert "Biểu mẫu đã hết hạn" in await response.text()
        async with http.get(f"{server.url}/home", allow_redirects=False) as response:
            assert response.status == 200  # still logged in
        # a token from another session is worth nothing here either
        other = await login(server.url, "thuky", "mat-khau-123")
        async with aiohttp.ClientSession(cookie_jar=other) as second:
            foreign = await form_token(second, f"{server.url}/home")
        async with http.post(f"{server.url}/logout", data={"csrf_token": foreign}, allow_redirects=False) as response:
            assert response.status == 403
        token = await form_token(http, f"{server.url}/home")
        async with http.post(f"{server.url}/logout", data={"csrf_token": token}, allow_redirects=False) as response:
            assert response.status == 303


async def test_a_secretary_who_opens_a_new_meeting_is_its_secretary(server: RunningServer) -> None:
    secretary = await _secretary(server)
    async with server.state.sessions() as session:
        await add_account(session, "quantri", "admin", "mat-khau-123", "Quản trị")
    for username, selected in (("thuky", f'<option value="{secretary}" selected>'), ("quantri", None)):
        jar = await login(server.url, username, "mat-khau-123")
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(f"{server.url}/meetings/new") as response:
                page = await response.text()
        chooser = page[page.index('name="secretary_id"'):].split("</select>")[0]
        if selected:
            assert selected in chooser, chooser
        else:  # the administrator schedules for someone else: nobody is chosen for her
            assert " selected" not in chooser, chooser
