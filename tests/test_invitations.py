"""Invitations by e-mail through a real SMTP server on loopback, read back from what it received."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp import web

from meetings import invitations
from meetings.accounts import add_account
from meetings.config import load_rooms_config
from tests.api_client import ApiClient
from tests.conftest import RunningServer
from tests.mail_fixtures import Inbox, body_of, calendar_of, rooms_with_mail, start_smtp
from tests.test_rest_api import PASSWORD, _meeting_body
from web.app import create_app
from web.settings import Settings


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    controller, inbox = start_smtp()
    yield controller, inbox
    controller.stop()


@pytest.fixture
async def mail_server(settings: Settings, tmp_path: Path, smtp) -> AsyncIterator[RunningServer]:  # type: ignore[no-untyped-def]
    controller, _ = smtp
    config = load_rooms_config(rooms_with_mail(tmp_path, controller.port))
    app = create_app(settings, config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    try:
        yield RunningServer(url=settings.base_url, app=app)
    finally:
        await runner.cleanup()


async def _people(server: RunningServer) -> dict[str, int]:
    ids = {}
    async with server.state.sessions() as session:
        for role, email in (("secretary", None), ("chair", "chutoa@quangninh.gov.vn"), ("delegate", "daibieu@quangninh.gov.vn"),
                            ("admin", None), ("operator", None), ("observer", None)):
            ids[role] = (await add_account(session, f"u-{role}", role, PASSWORD, f"Người {role}", email=email)).id
    return ids


async def _scheduled(server: RunningServer) -> tuple[dict[str, int], ApiClient, dict]:  # type: ignore[type-arg]
    """The people, the secretary's client and the meeting she scheduled through the API."""
    ids = await _people(server)
    secretary = await ApiClient.open(server.url, "u-secretary", PASSWORD)
    status, created = await secretary.call("POST", "/api/meetings", json_body=_meeting_body(ids))
    assert status == 201
    return ids, secretary, created["meeting"]


async def _wait(inbox: Inbox, count: int) -> list:  # type: ignore[type-arg]
    return await asyncio.get_running_loop().run_in_executor(None, inbox.wait_for, count)


async def test_scheduled_changed_and_cancelled_meetings_reach_the_calendars(mail_server: RunningServer, smtp) -> None:  # type: ignore[no-untyped-def]
    _, inbox = smtp
    ids, secretary, meeting = await _scheduled(mail_server)
    first = await _wait(inbox, 2)  # chair and delegate have addresses; the secretary has none
    assert sorted(m["To"].split("<")[1].rstrip(">") for m in first) == ["chutoa@quangninh.gov.vn", "daibieu@quangninh.gov.vn"]
    invitation = next(m for m in first if "daibieu" in m["To"])
    assert str(email_header(invitation["Subject"])).startswith("Giấy mời họp: Giao ban UBND tỉnh tháng 12")
    ics = calendar_of(invitation)
    uid = next(line for line in ics.splitlines() if line.startswith("UID:"))
    assert "METHOD:REQUEST" in ics and "SEQUENCE:0" in ics and "DTSTART;TZID=Asia/Ho_Chi_Minh:" in ics
    assert "BEGIN:VTIMEZONE" in ics and "TZID:Asia/Ho_Chi_Minh" in ics
    assert "Kính gửi Người delegate" in body_of(invitation) and "thứ" in body_of(invitation)

    edited = _meeting_body(ids, title="Giao ban UBND tỉnh tháng 12 (đổi giờ)")
    status, _ = await secretary.call("PUT", f"/api/meetings/{meeting['id']}", json_body=edited)
    assert status == 200
    second = (await _wait(inbox, 4))[2:]
    ics = calendar_of(next(m for m in second if "daibieu" in m["To"]))
    assert "METHOD:REQUEST" in ics and "SEQUENCE:1" in ics and uid in ics and "(đổi giờ)" in ics

    status, _ = await secretary.call("POST", f"/api/meetings/{meeting['id']}/cancel", json_body={"reason": "Trùng lịch họp Tỉnh ủy"})
    assert status == 200
    third = (await _wait(inbox, 6))[4:]
    cancel = next(m for m in third if "daibieu" in m["To"])
    ics = calendar_of(cancel)
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:2" in ics and uid in ics
    assert "Trùng lịch họp Tỉnh ủy" in body_of(cancel)
    status, shown = await secretary.call("GET", f"/api/meetings/{meeting['id']}")
    assert shown["meeting"]["invitations"] == {"mail_configured": True, "pending": 0, "sent": 6, "failed": 0, "last_error": ""}


async def test_a_delegate_taken_off_the_list_gets_the_meeting_removed_from_her_calendar(  # type: ignore[no-untyped-def]
        mail_server: RunningServer, smtp) -> None:
    _, inbox = smtp
    ids, secretary, meeting = await _scheduled(mail_server)
    uid = next(line for line in calendar_of(next(m for m in await _wait(inbox, 2) if "daibieu" in m["To"])).splitlines()
               if line.startswith("UID:"))

    status, _ = await secretary.call("PUT", f"/api/meetings/{meeting['id']}", json_body=_meeting_body(ids, delegates=[]))
    assert status == 200
    second = (await _wait(inbox, 4))[2:]
    withdrawn = next(m for m in second if "daibieu" in m["To"])
    ics = calendar_of(withdrawn)
    assert "METHOD:CANCEL" in ics and "STATUS:CANCELLED" in ics and "SEQUENCE:1" in ics and uid in ics
    assert str(email_header(withdrawn["Subject"])).startswith("Điều chỉnh thành phần mời họp: Giao ban UBND tỉnh")
    assert "không còn trong danh sách được mời" in body_of(withdrawn)
    assert "METHOD:REQUEST" in calendar_of(next(m for m in second if "chutoa" in m["To"]))  # still invited

    # told once: a later change sends her nothing more, and the meeting's cancellation neither
    status, _ = await secretary.call("PUT", f"/api/meetings/{meeting['id']}",
                                     json_body=_meeting_body(ids, delegates=[], title="Giao ban (đổi phòng)"))
    status, _ = await secretary.call("POST", f"/api/meetings/{meeting['id']}/cancel", json_body={"reason": "Hoãn"})
    await _wait(inbox, 6)
    deadline = asyncio.get_running_loop().time() + 15
    while True:  # until everything queued has gone out (the mailer records a message after sending it)
        async with mail_server.state.sessions() as session:
            if (await invitations.status(session, meeting["id"])).pending == 0:
                break
        assert asyncio.get_running_loop().time() < deadline, "the outbox still has pending messages"
        await asyncio.sleep(0.05)
    later = inbox.messages[4:]
    assert len(later) == 2 and all("chutoa" in m["To"] for m in later), [m["To"] for m in later]


async def test_a_failing_mail_server_is_retried_then_reported(mail_server: RunningServer, smtp) -> None:  # type: ignore[no-untyped-def]
    _, inbox = smtp
    inbox.refuse = True
    ids = await _people(mail_server)
    secretary = await ApiClient.open(mail_server.url, "u-secretary", PASSWORD)
    status, created = await secretary.call("POST", "/api/meetings", json_body=_meeting_body(ids))
    meeting_id = created["meeting"]["id"]
    for _ in range(100):  # retry_seconds = [1, 1]: three attempts over about two seconds
        _, shown = await secretary.call("GET", f"/api/meetings/{meeting_id}")
        if shown["meeting"]["invitations"]["failed"] == 2:
            break
        await asyncio.sleep(0.1)
    invitations = shown["meeting"]["invitations"]
    assert invitations["failed"] == 2 and invitations["pending"] == 0 and "451" in invitations["last_error"]
    assert inbox.messages == []


def email_header(value: str) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(value)))
