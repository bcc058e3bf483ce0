"""Meeting administration as its users do it, in Chromium, on SQLite and PostgreSQL: a secretary
schedules a meeting with three agenda items and a PDF, the invited delegate sees it and joins
when it opens, an uninvited one does not see it; the edit and the cancellation reach the SMTP
server as calendar updates; an administrator creates an account, resets its password (a change
is forced), and deactivating it drops its open meeting page within 5 s.

Set HOINGHI_SCREENSHOTS=DIR to keep a screenshot of every page (phone size, both languages)."""
from __future__ import annotations

import asyncio
import os
import re
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from aiohttp import web

from meetings.accounts import add_account
from meetings.config import load_rooms_config
from meetings.models import Meeting
from tests.control.test_flows import one_page_pdf
from tests.e2e.harness import PASSWORD
from tests.mail_fixtures import Inbox, calendar_of, rooms_with_mail, start_smtp
from tests.ports import free_port
from web.app import create_app
from web.settings import Settings
from web.state import STATE

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


class ThreadServer:
    """The whole app on its own event loop in a thread, so Playwright's sync API can drive it."""

    def __init__(self, settings: Settings, rooms: Path) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.app = create_app(settings, load_rooms_config(rooms))
        self.runner = web.AppRunner(self.app, access_log=None)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.port).start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    @property
    def url(self) -> str:
        return self.settings.base_url


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Iterator[tuple[ThreadServer, Inbox, dict[str, int]]]:
    controller, inbox = start_smtp()
    settings = Settings.build(config_path=None, data_dir=tmp_path / "data", database_url=database_url, port=free_port())
    server = ThreadServer(settings, rooms_with_mail(tmp_path, controller.port))
    server.start()

    async def people() -> dict[str, int]:
        ids = {}
        async with server.app[STATE].sessions() as session:
            for username, role, name, email in (
                ("quantri", "admin", "Quản trị hệ thống", None),
                ("thuky", "secretary", "Trần Thị Bình", "thuky@quangninh.gov.vn"),
                ("chutoa", "chair", "Nguyễn Văn An", None),
                ("daibieu", "delegate", "Lê Văn Cường", "cuong@quangninh.gov.vn"),
                ("khongmoi", "delegate", "Phạm Thị Dung", "dung@quangninh.gov.vn"),
            ):
                ids[username] = (await add_account(session, username, role, PASSWORD, name, email=email,
                                                   position="Giám đốc Sở Tài chính" if username == "daibieu" else "")).id
        return ids

    try:
        yield server, inbox, server.run(people())
    finally:
        server.stop()
        controller.stop()


def _shot(page: Any, name: str) -> None:
    directory = os.environ.get("HOINGHI_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        # the viewport only: a full-page shot resizes it, and a following click then missed its button
        page.screenshot(path=str(Path(directory) / f"{name}.png"))


def _log_in(browser: Any, server: ThreadServer, username: str, password: str = PASSWORD) -> Any:
    context = browser.new_context(viewport=PHONE, base_url=server.url)
    context.set_default_timeout(60000)  # a shared machine under load answers slowly at times
    page = context.new_page()
    page.goto("/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    return page


def _mail_to(inbox: Inbox, count: int, address: str) -> str:
    """The calendar of the last of `count` messages addressed to `address`."""
    found = [m for m in inbox.wait_for(count) if address in m["To"]]
    return calendar_of(found[-1])


def test_schedule_invite_join_edit_cancel_in_chromium(browser: Any, deployment: Any, tmp_path: Path) -> None:
    server, inbox, ids = deployment
    pdf = tmp_path / "To-trinh-so-12.pdf"
    pdf.write_bytes(one_page_pdf("Tờ trình số 12"))
    fake = tmp_path / "khong-phai-pdf.pdf"
    fake.write_bytes(b"%PDF-1.4 <html>not a PDF</html>")
    secretary = _log_in(browser, server, "thuky")
    secretary.wait_for_url("**/home")
    secretary.click("text=Tạo cuộc họp")
    form = secretary.locator("#meeting-form")
    secretary.fill('input[name="title"]', "Giao ban UBND tỉnh tháng 12")
    secretary.select_option('select[name="room_id"]', "phong-hop-ubnd")
    assert secretary.locator('input[name="point_ids"][value="xa-ba-che"]').is_checked()  # the room's points
    secretary.fill('input[name="start"]', "2000-01-01T08:00")  # in the past: refused beside the field
    secretary.fill('input[name="end"]', "2000-01-01T07:00")
    secretary.select_option('select[name="chair_id"]', str(ids["chutoa"]))
    secretary.select_option('select[name="secretary_id"]', str(ids["thuky"]))
    secretary.locator('select[name="delegate_account"]').first.select_option(str(ids["daibieu"]))
    secretary.locator('select[name="delegate_point"]').first.select_option("xa-ba-che")
    titles = secretary.locator('input[name="agenda_title"]')
    titles.nth(0).fill("Báo cáo tình hình kinh tế - xã hội tháng 11")
    titles.nth(1).fill("Tờ trình phân bổ ngân sách")
    secretary.click("text=Thêm nội dung")
    titles.nth(2).fill("Kết luận của Chủ tịch")
    secretary.locator('input[name="agenda_minutes"]').nth(0).fill("30")
    secretary.locator('input[name="agenda_file"]').nth(1).set_input_files(str(fake))
    _shot(secretary, "meeting-form-vi")
    form.locator('button[type="submit"]').click()
    secretary.wait_for_selector(".error-summary")
    assert secretary.locator('.field-error[data-field="start"]').inner_text() == "Thời gian bắt đầu đã qua."
    assert secretary.locator('.field-error[data-field="end"]').inner_text() == "Thời gian kết thúc phải sau thời gian bắt đầu."
    assert "không phải PDF" in secretary.locator('.field-error[data-field="agenda.1.file"]').inner_text()
    _shot(secretary, "meeting-form-errors-vi")
    server.run(_assert_no_meeting(server))
    start, end = _local_in(hours=2), _local_in(hours=4)
    secretary.fill('input[name="start"]', start)
    secretary.fill('input[name="end"]', end)
    secretary.locator('input[name="agenda_file"]').nth(1).set_input_files(str(pdf))  # files are not kept by a refusal
    secretary.locator("#meeting-form button[type=submit]").click()
    secretary.wait_for_url(re.compile(r"/meetings/\d+/info"))
    meeting_id = int(re.search(r"/meetings/(\d+)/info", secretary.url).group(1))
    assert "Đã lên lịch cuộc họp." in secretary.inner_text(".notice")
    assert secretary.locator(".agenda-list > li").count() == 3
    assert secretary.locator(".agenda-list a", has_text="To-trinh-so-12.pdf").count() == 1
    _shot(secretary, "meeting-info-vi")
    ics = _mail_to(inbox, 2, "cuong@")  # the delegate and the secretary have addresses
    assert "METHOD:REQUEST" in ics and "SEQUENCE:0" in ics

    delegate = _log_in(browser, server, "daibieu")
    delegate.wait_for_url("**/home")
    assert delegate.locator(f'#upcoming [data-meeting-id="{meeting_id}"]').count() == 1
    assert delegate.locator(f'[data-meeting-id="{meeting_id}"] .join').count() == 0  # two hours before: not yet
    _shot(delegate, "home-delegate-vi")
    delegate.goto("/home?lang=en")
    _shot(delegate, "home-delegate-en")
    outsider = _log_in(browser, server, "khongmoi")
    outsider.wait_for_url("**/home")
    assert outsider.locator(f'[data-meeting-id="{meeting_id}"]').count() == 0

    secretary.click("text=Sửa")
    secretary.fill('input[name="title"]', "Giao ban UBND tỉnh tháng 12 (đổi phòng)")
    secretary.locator("#meeting-form button[type=submit]").click()
    secretary.wait_for_url(f"**/meetings/{meeting_id}/info?done=saved")
    ics = _mail_to(inbox, 4, "cuong@")
    assert "SEQUENCE:1" in ics and "(đổi phòng)" in ics and "METHOD:REQUEST" in ics

    server.run(_open(server, meeting_id))  # the chair opens it (the control plane's own path is tested elsewhere)
    delegate.goto("/home")
    delegate.click(f'[data-meeting-id="{meeting_id}"] .join')
    delegate.wait_for_url(f"**/meetings/{meeting_id}")
    delegate.wait_for_selector('#conn-status[data-state="connected"]', timeout=20000)
    _shot(delegate, "meeting-page-delegate")

    secretary.goto(f"/meetings/new?copy={meeting_id}")
    assert secretary.input_value('input[name="title"]') == "Giao ban UBND tỉnh tháng 12 (đổi phòng)"
    secretary.locator("#meeting-form button[type=submit]").click()
    secretary.wait_for_url(re.compile(r"/meetings/\d+/info\?done=scheduled_ok"))
    copy_id = int(re.search(r"/meetings/(\d+)/info", secretary.url).group(1))
    assert copy_id != meeting_id and secretary.locator(".agenda-list > li").count() == 3
    assert "SEQUENCE:0" in _mail_to(inbox, 6, "cuong@")
    secretary.fill('input[name="reason"]', "Trùng lịch họp Ban Thường vụ Tỉnh ủy")
    secretary.click("text=Hủy cuộc họp và báo cho người được mời")
    secretary.wait_for_url(f"**/meetings/{copy_id}/info?done=cancelled_ok")
    assert "Trùng lịch họp Ban Thường vụ Tỉnh ủy" in secretary.inner_text(".cancelled")
    _shot(secretary, "meeting-cancelled-vi")
    ics = _mail_to(inbox, 8, "cuong@")
    assert "METHOD:CANCEL" in ics and "SEQUENCE:1" in ics
    delegate.goto("/home?lang=vi")
    assert "Đã hủy" in delegate.inner_text(f'[data-meeting-id="{copy_id}"]')


def test_admin_creates_resets_and_deactivates_an_account(browser: Any, deployment: Any) -> None:
    server, _, ids = deployment
    admin = _log_in(browser, server, "quantri")
    admin.wait_for_url("**/home")
    admin.click("text=Tài khoản")
    admin.fill('#create-account input[name="username"]', "nguyenvana")
    admin.fill('#create-account input[name="display_name"]', "Nguyễn Văn A")
    admin.fill('#create-account input[name="position"]', "Giám đốc Sở Tài chính")
    admin.fill('#create-account input[name="unit"]', "Sở Tài chính")
    admin.fill('#create-account input[name="email"]', "nva@stc.quangninh.gov.vn")
    admin.click('#create-account button[type="submit"]')
    first_password = re.search(r": (\S+)$", admin.inner_text("#notice")).group(1)
    _shot(admin, "accounts-vi")

    newcomer = _log_in(browser, server, "nguyenvana", first_password)
    newcomer.wait_for_url("**/password")  # a one-time password must be replaced first
    newcomer.goto("/home")
    assert newcomer.url.endswith("/password")
    _change_password(newcomer, first_password, "mat-khau-moi-2026")
    newcomer.wait_for_url("**/home?done=password_changed")
    assert "Đã đổi mật khẩu." in newcomer.inner_text("main")

    admin.goto("/accounts?q=nguyen van a")
    admin.locator('[data-username="nguyenvana"]').locator("text=Cấp lại mật khẩu").click()
    reset = re.search(r": (\S+)$", admin.inner_text("#notice")).group(1)
    again = _log_in(browser, server, "nguyenvana", reset)
    again.wait_for_url("**/password")
    _shot(again, "password-forced-vi")
    _change_password(again, reset, "mat-khau-moi-2027")
    again.wait_for_url("**/home?done=password_changed")

    meeting_id = server.run(_open_meeting_of(server, ids))
    again.goto(f"/meetings/{meeting_id}")  # not invited: the lobby, not an HTTP 403
    again.wait_for_selector('#conn-status[data-state="lobby"]', timeout=20000)
    _shot(again, "meeting-lobby-vi")
    admin.goto("/accounts?q=nguyenvana")
    admin.locator('[data-username="nguyenvana"]').locator("text=Khóa tài khoản").click()
    assert "Đã khóa tài khoản nguyenvana" in admin.inner_text("#notice")
    again.wait_for_url(lambda url: not url.rstrip("/").endswith(f"/meetings/{meeting_id}"), timeout=5000)
    assert again.locator('input[name="username"]').count() == 1  # back at the login form
    admin.goto("/accounts?q=quantri")
    admin.locator('[data-username="quantri"]').locator("text=Khóa tài khoản").click()
    assert "quản trị duy nhất" in admin.inner_text(".error-summary")


def _change_password(page: Any, current: str, new: str) -> None:
    page.fill('input[name="current_password"]', current)
    page.fill('input[name="new_password"]', new)
    page.fill('input[name="repeat_password"]', new)
    page.click('#password-form button[type="submit"]')


def _local_in(hours: float) -> str:
    from datetime import datetime, timedelta

    from meetings.localtime import local

    return local(datetime.now().astimezone() + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


async def _assert_no_meeting(server: ThreadServer) -> None:
    from sqlalchemy import func, select

    async with server.app[STATE].sessions() as session:
        assert (await session.execute(select(func.count(Meeting.id)))).scalar_one() == 0


async def _open(server: ThreadServer, meeting_id: int) -> None:
    from meetings.models import utcnow

    async with server.app[STATE].sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        meeting.status, meeting.opened_at = "open", utcnow()
        await session.commit()


async def _open_meeting_of(server: ThreadServer, ids: dict[str, int]) -> int:
    from datetime import timedelta

    from meetings.audit import Actor
    from meetings.models import utcnow
    from meetings.scheduling import MeetingDraft, schedule

    async with server.app[STATE].sessions() as session:
        meeting_id = await schedule(session, Actor("account:1", "test"), MeetingDraft(
            title="Họp trực tuyến", room_id="phong-hop-ubnd", start=utcnow() + timedelta(minutes=5),
            end=utcnow() + timedelta(hours=1), chair_id=ids["chutoa"], secretary_id=ids["thuky"],
        ), utcnow())
    await _open(server, meeting_id)
    return meeting_id
