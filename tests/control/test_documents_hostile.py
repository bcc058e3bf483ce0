"""Hostile uploads and ids on the documents and audit REST endpoints: files that only look
like PDFs, filenames with directories, NUL and markup, ids no database can hold, and the
headers that keep a downloaded file from being rendered by the browser."""
from __future__ import annotations

import aiohttp
import pytest

from tests.control.conftest import Room, cookie_for
from tests.control.test_flows import one_page_pdf
from web.auth import SESSION_COOKIE
from web.control.documents import AUDIT_VERIFIED, safe_filename
from web.csrf import token_for_session

pytestmark = [pytest.mark.control, pytest.mark.security]


async def _http(room: Room, who: str) -> aiohttp.ClientSession:
    cookie = await cookie_for(room.server, room.account(who), who, "secretary")
    return aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie},
                                 headers={"X-CSRF-Token": token_for_session(room.server.app, cookie)})


def test_stored_filenames_have_no_directories_control_characters_or_markup():
    assert safe_filename("../../etc/passwd") == "passwd.pdf"
    assert safe_filename("C:\\\\Users\\\\x\\\\Tờ trình.pdf") == "Tờ trình.pdf"
    assert safe_filename("a\x00b<script>.PDF") == "ab_script_.pdf"
    assert safe_filename("...") == "tai-lieu.pdf"
    assert len(safe_filename("x" * 500)) == 120
    assert safe_filename("To\u031b\u0300 tri\u0300nh.pdf") == "T\u1edd tr\u00ecnh.pdf"  # stored NFC


async def test_uploads_must_be_real_pdfs_and_downloads_are_attachments(room: Room):
    item = (await room.call("secretary", "agenda_add", {"title": "Tờ trình"}))["item_id"]
    url = f"{room.server.url}/api/meetings/{room.meeting_id}/agenda/{item}/documents"
    before = await room.fingerprint()
    async with await _http(room, "secretary") as http:
        for body in (b"%PDF-1.7\n<html><script>alert(1)</script></html>", b"%PDF-", b"\x00" * 100):
            form = aiohttp.FormData()
            form.add_field("file", body, filename="x.pdf", content_type="application/pdf")
            async with http.post(url, data=form) as response:
                answer = await response.json()
                assert response.status == 400 and answer["error"] == "bad_request", answer
                assert "PDF" in answer["message"]
        assert await room.fingerprint() == before  # refused uploads change nothing
        # by hand: aiohttp's client refuses to put a NUL in a header, a hostile client does not
        body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                + "../<b>Báo\x00 cáo</b>.pdf".encode() + b"\"\r\nContent-Type: application/pdf\r\n\r\n"
                + one_page_pdf("Báo cáo") + b"\r\n--b--\r\n")
        async with http.post(url, data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}) as response:
            answer = await response.json()
            assert response.status == 400 and answer["error"] == "bad_request", answer
        form = aiohttp.FormData()
        form.add_field("file", one_page_pdf("Báo cáo"), filename="../<b>Báo cáo</b>.pdf", content_type="application/pdf")
        async with http.post(url, data=form) as response:
            document = (await response.json())["document"]
        assert document["filename"] == "b_.pdf"  # "../<b>Báo cáo</" was a directory path
        async with http.get(f"{room.server.url}{document['url']}") as response:
            assert response.status == 200
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        for path in ("/api/documents/" + "9" * 26, "/api/documents/0",
                     f"/api/meetings/{'1' * 26}/audit", f"/api/meetings/{room.meeting_id}/audit?after={'9' * 30}"):
            async with http.get(f"{room.server.url}{path}") as response:
                assert response.status in (400, 404), (path, response.status)
                assert (await response.json())["ok"] is False
        async with http.post(f"{room.server.url}/api/meetings/{'1' * 26}/agenda/1/documents", data=form) as response:
            assert response.status == 404


async def test_the_audit_log_is_verified_incrementally(room: Room):
    assert (await room.call("chair", "meeting_open"))["ok"]
    async with await _http(room, "secretary") as http:
        url = f"{room.server.url}/api/meetings/{room.meeting_id}/audit"
        async with http.get(url) as response:
            first = await response.json()
        assert first["verified"] and first["entries_total"] >= 1
        assert (await room.call("chair", "meeting_lock", {"locked": True}))["ok"]
        async with http.get(url) as response:
            second = await response.json()
        assert second["verified"] and second["entries_total"] == first["entries_total"] + 1
        assert room.server.app[AUDIT_VERIFIED][room.meeting_id] == (second["entries_total"], second["head"])
        async with http.get(url + "?full=1") as response:
            assert (await response.json())["head"] == second["head"]


async def test_a_body_that_does_not_parse_is_a_400_wherever_it_is_read(room: Room):
    """A form part whose header holds a NUL, sent without the CSRF header: the CSRF check reads
    the body first (found by schemathesis: an HTTP 500 there). Pages answer with a page."""
    cookie = await cookie_for(room.server, room.account("secretary"), "secretary", "secretary")
    body = b"--b\r\nContent-Disposition: form-data; name=\"a\x00b\"\r\n\r\nx\r\n--b--\r\n"
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    before = await room.fingerprint()
    async with aiohttp.ClientSession(cookies={SESSION_COOKIE: cookie}) as http:
        url = f"{room.server.url}/api/meetings/{room.meeting_id}/agenda/1/documents"
        async with http.post(url, data=body, headers=headers) as response:
            answer = await response.json()
            assert response.status == 400 and answer["error"] == "bad_request", answer
        async with http.post(f"{room.server.url}/meetings/{room.meeting_id}/cancel", data=body, headers=headers) as response:
            assert response.status == 400 and "Biểu mẫu gửi lên bị hỏng" in await response.text()
    assert await room.fingerprint() == before
