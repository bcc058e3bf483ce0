"""The meeting control panel (web/static/control.js) in real Chromium, against a real server.

A chair and two delegates in browsers, plus a bridge-point TV screen: the chair opens the meeting,
adds an agenda item through the panel's form and makes it current; a delegate asks to speak, the
chair gives the floor, the delegate sees the countdown and yields; the chair holds an open vote on
the item (every page sees the ballot, the delegates click) and a secret one; every page shows the
results. The Vietnamese texts are checked with their diacritics, the English switch too, and
screenshots go to test-artifacts/e2e/.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.harness import PASSWORD, Deployment, Person, serving
from tests.e2e.test_meeting_browser import ARTIFACTS, POINT_NAME, Client, dump_console, open_point, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]

WAIT = 30  # seconds: generous, the machine may be busy
ITEM = "Báo cáo tình hình kinh tế – xã hội quý I năm 2026"
PRESENTER = "Sở Kế hoạch và Đầu tư"
TOPIC = "Về tiến độ giải ngân vốn đầu tư công"
SECRET_TITLE = "Phê chuẩn kết quả bầu Phó Chủ tịch (bỏ phiếu kín)"
# what must never be visible: JavaScript nulls and untranslated keys of control.js's TEXT table
RAW = re.compile(r"\bnull\b|\bundefined\b|\bNaN\b|\[object |\b[a-z]+_[a-z_]+\b")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    yield from serving(Deployment(root=tmp_path / "hoinghi", people=[
        Person("chutoa", "Nguyễn Văn An", "chair"),
        Person("thuky", "Trần Thị Bình", "secretary"),
        Person("daibieu", "Lê Văn Cường", "delegate"),
        Person("daibieu2", "Phạm Thị Dung", "delegate"),
    ]))


class Panel(Client):
    """A person's meeting page, seen through its control panel."""

    @property
    def panel(self) -> Any:
        return self.page.locator("#control-panel")

    def text(self) -> str:
        return self.panel.inner_text()

    def section(self, heading: str) -> Any:
        return self.panel.locator("section.hn-section", has=self.page.locator("h3", has_text=heading))

    def shows(self, *texts: str, timeout: float = WAIT) -> None:
        wait_for(f"{self.name}'s panel to show {texts}",
                 lambda: [t for t in texts if t not in self.text()] or True, timeout)

    def hides(self, *texts: str, timeout: float = WAIT) -> None:
        wait_for(f"{self.name}'s panel to stop showing {texts}",
                 lambda: [t for t in texts if t in self.text()] or True, timeout)

    def click(self, name: str, within: Any = None) -> None:
        (within or self.panel).get_by_role("button", name=name, exact=True).click()

    def check_clean(self) -> None:
        text = self.text()
        assert not RAW.findall(text), f"{self.name}: raw text in the panel: {RAW.findall(text)}\n{text}"
        # the sections are stacked, not drawn over one another, and stay inside the panel's width
        boxes = self.page.evaluate("""() => {
            const panel = document.getElementById('control-panel').getBoundingClientRect();
            return {panel: [panel.left, panel.right],
                    parts: [...document.querySelectorAll('#control-panel > *')].map((el) => {
                        const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })};
        }""")
        left, right = boxes["panel"]
        parts = boxes["parts"]
        for (l1, t1, r1, b1), (l2, t2, r2, b2) in zip(parts, parts[1:]):
            assert b1 <= t2 + 0.5, f"{self.name}: panel parts overlap: {parts}"
        for l, t, r, b in parts:
            assert left - 0.5 <= l and r <= right + 0.5, f"{self.name}: a panel part sticks out: {parts}, panel {left}–{right}"
        overflowing = self.page.evaluate("""() => [...document.querySelectorAll('#control-panel *')]
            .filter((el) => el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible'
                    && el.clientWidth > 0 && !['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName))
            .map((el) => el.tagName + '.' + el.className + ': ' + el.textContent.slice(0, 40))""")
        assert not overflowing, f"{self.name}: content wider than its box: {overflowing}"

    def screenshot(self, label: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{label}-{self.name}.png"))
        # the whole panel: a viewport tall enough for it not to scroll
        size = self.page.viewport_size
        height = self.page.evaluate("document.getElementById('control-panel').scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 200)})
        try:
            self.panel.screenshot(path=str(ARTIFACTS / f"{label}-{self.name}-panel.png"))
        finally:
            self.page.set_viewport_size(size)


def open_person(browser: Any, deployment: Deployment, username: str, query: str = "") -> Panel:
    person = next(p for p in deployment.people if p.username == username)
    context = browser.new_context(viewport={"width": 1366, "height": 1000}, base_url=deployment.url)
    response = context.request.post("/login", data={"username": person.username, "password": PASSWORD})
    assert response.ok, response.text()
    page = context.new_page()
    client = Panel(person.username, page)
    page.on("response", lambda r: r.status >= 400 and client.console.append(f"http {r.status}: {r.url}"))
    page.goto(f"/meetings/{deployment.meeting_id}{query}")
    return client


def test_agenda_speaking_and_votes_through_the_panel(deployment: Deployment, browser: Any) -> None:
    chair = open_person(browser, deployment, "chutoa")
    cuong = open_person(browser, deployment, "daibieu")
    dung = open_person(browser, deployment, "daibieu2")
    pages = [chair, cuong, dung]
    point = open_point(browser, deployment)
    clients: list[Client] = [*pages, point]
    try:
        # every panel is drawn, the meeting not yet open; only the chair has the controls
        for p in pages:
            p.shows("Sắp diễn ra", "Chương trình nghị sự", "Chưa có nội dung.", "Đăng ký phát biểu", "Chưa có đăng ký.",
                    "Biểu quyết", "Chưa có biểu quyết.", "Điểm danh")
        chair.shows("Khai mạc", "Khóa phòng họp", "Người tham dự", "Lê Văn Cường", "Phạm Thị Dung")
        for p in (cuong, dung):
            assert p.panel.get_by_role("button", name="Khai mạc").count() == 0
            assert p.panel.locator("form").count() == 0  # no forms before the meeting opens
        # the bridge point's TV screen is counted as connected on the chair's panel
        wait_for("the point to show as connected",
                 lambda: chair.panel.locator(".hn-points li.online", has_text=POINT_NAME).count() == 1, WAIT)
        for p in pages:
            p.check_clean()  # the stray "null" at the top of the panel is gone
        chair.screenshot("control-0-scheduled")

        # 1. the chair opens the meeting
        chair.click("Khai mạc")
        for p in pages:
            p.shows("Đang họp")
        chair.shows("Bế mạc", "Mở biểu quyết")

        # 2. an agenda item through the form; typing survives the redraws that broadcasts cause
        form = chair.panel.locator("form.hn-agenda-form")
        form.get_by_placeholder("Tiêu đề").fill(ITEM)
        form.get_by_placeholder("Người trình bày").fill(PRESENTER)
        form.get_by_placeholder("Số phút dự kiến").fill("15")
        form.get_by_role("button", name="Thêm mục").click()
        for p in pages:
            p.shows(ITEM, f"{PRESENTER} · 15′")
        assert form.get_by_placeholder("Tiêu đề").input_value() == ""  # the form was emptied
        chair.click("Chuyển sang mục này")
        for p in pages:
            wait_for(f"{p.name}: the item to be current",
                     lambda p=p: p.panel.locator(".hn-agenda li.state-current", has_text=ITEM).count() == 1, WAIT)
            p.shows("— Đang thảo luận")
        chair.shows("Kết thúc mục")

        # 3. a delegate asks to speak; the chair gives the floor for two minutes
        speak = cuong.panel.locator("form.hn-speak-form")
        speak.get_by_placeholder("Nội dung (không bắt buộc)").fill(TOPIC)
        speak.get_by_role("button", name="Đăng ký phát biểu").click()
        queue = chair.panel.locator(".hn-queue li", has_text="Lê Văn Cường")
        wait_for("the request in the chair's queue", lambda: queue.count() == 1, WAIT)
        assert TOPIC in queue.inner_text()
        cuong.shows("Lê Văn Cường (bạn)", "Rút đăng ký")
        assert cuong.panel.locator("form.hn-speak-form").count() == 0  # one request at a time
        dung.shows("Lê Văn Cường")
        assert dung.panel.get_by_role("button", name="Rút đăng ký").count() == 0
        queue.locator("input.hn-seconds").fill("120")
        chair.click("Mời phát biểu", within=queue)
        countdown = re.compile(r"Còn lại [12]:\d\d")
        for p in pages:
            p.shows("Đang phát biểu: Lê Văn Cường", TOPIC)
            wait_for(f"{p.name}: the countdown", lambda p=p: bool(countdown.search(p.text())), WAIT)
        assert cuong.panel.locator(".hn-floor.mine").count() == 1
        cuong.shows("Kết thúc phát biểu")
        chair.shows("Kết thúc lượt")
        assert dung.panel.locator(".hn-floor button").count() == 0
        first = cuong.panel.locator(".hn-countdown").inner_text()
        wait_for("the countdown to run", lambda: cuong.panel.locator(".hn-countdown").inner_text() != first, WAIT)
        for p in pages:
            p.check_clean()
            p.screenshot("control-1-speaking")
        cuong.click("Kết thúc phát biểu")
        for p in pages:
            p.hides("Đang phát biểu")
            p.shows("Chưa có đăng ký.")

        # 4. an open vote on the current item: its title is the motion; everyone who is a member votes
        vote_form = chair.panel.locator("form.hn-vote-form")
        assert vote_form.get_by_placeholder("Nội dung biểu quyết").input_value() == ITEM
        chair.shows(f"Mục: {ITEM}", "Quá nửa tổng số thành viên")
        vote_form.get_by_role("button", name="Mở biểu quyết").click()
        for p in pages:
            wait_for(f"{p.name}: the ballot", lambda p=p: p.panel.locator(".hn-ballot button").count() == 3, WAIT)
            p.shows("Tán thành", "Không tán thành", "Không biểu quyết", "Đã biểu quyết: 0/3", "Tổng số thành viên: 3 · Cần tán thành: 2")
        chair.shows("Kết thúc biểu quyết", "Hủy biểu quyết")
        assert cuong.panel.get_by_role("button", name="Kết thúc biểu quyết").count() == 0
        for p in pages:
            p.check_clean()
        cuong.screenshot("control-2-ballot")
        cuong.click("Tán thành", within=cuong.panel.locator(".hn-ballot"))
        dung.click("Không tán thành", within=dung.panel.locator(".hn-ballot"))
        chair.click("Tán thành", within=chair.panel.locator(".hn-ballot"))
        for p in pages:
            p.shows("Bạn đã biểu quyết.")
            assert p.panel.locator(".hn-ballot").count() == 0
        chair.shows("Đã biểu quyết: 3/3 · Tán thành: 2 · Không tán thành: 1 · Không biểu quyết: 0")
        chair.click("Kết thúc biểu quyết")
        for p in pages:
            p.shows("Kết quả biểu quyết", f"{ITEM}: THÔNG QUA",
                    "Tán thành 2 · Không tán thành 1 · Không biểu quyết 0 · Tổng số thành viên 3 · Cần tán thành 2",
                    "Số thành viên tham gia: 3 · Số thành viên tham gia tối thiểu: 2 · Đủ số lượng")
            assert p.panel.locator(".hn-ballot").count() == 0
            names = p.panel.locator(".hn-result .hn-names").first.inner_text()
            assert "Tán thành: Lê Văn Cường, Nguyễn Văn An" in names, names
            assert "Không tán thành: Phạm Thị Dung" in names, names

        # 5. a secret ballot: turnout only while it runs, no names after; the chair does not vote
        vote_form = chair.panel.locator("form.hn-vote-form")
        vote_form.get_by_placeholder("Nội dung biểu quyết").fill(SECRET_TITLE)
        vote_form.get_by_label("Bỏ phiếu kín").check()
        vote_form.get_by_role("button", name="Mở biểu quyết").click()
        for p in pages:
            wait_for(f"{p.name}: the secret ballot", lambda p=p: p.panel.locator(".hn-ballot button").count() == 3, WAIT)
            p.shows(SECRET_TITLE, "Phiếu kín: không ai biết bạn chọn gì.")
        cuong.click("Tán thành", within=cuong.panel.locator(".hn-ballot"))
        dung.click("Không tán thành", within=dung.panel.locator(".hn-ballot"))
        chair.shows("Đã biểu quyết: 2/3")
        tally = chair.panel.locator(".hn-tally").inner_text()
        assert "Tán thành" not in tally, tally  # a secret vote shows turnout only
        chair.click("Kết thúc biểu quyết")
        for p in pages:
            p.shows(f"{SECRET_TITLE}: KHÔNG THÔNG QUA", "Tán thành 1 · Không tán thành 1 · Không biểu quyết 0",
                    f"{ITEM}: THÔNG QUA")
            secret_result = p.panel.locator(".hn-result", has_text=SECRET_TITLE)
            assert secret_result.locator(".hn-names").count() == 0  # nobody's choice is shown
            p.check_clean()
            p.screenshot("control-3-results")

        # 6. the English switch: the panel speaks English, the data stay as typed
        dung.page.goto(f"/meetings/{deployment.meeting_id}?lang=en")
        dung.shows("In session", "Agenda", "Requests to speak", "Voting", "Attendance", "Results", ITEM,
                   f"{ITEM}: ADOPTED", f"{SECRET_TITLE}: NOT ADOPTED", "In favour 2 · Against 1 · Not voting 0",
                   "Under discussion", "No requests.", "Ask to speak")
        dung.hides("Chương trình nghị sự", "Biểu quyết")
        dung.check_clean()
        dung.screenshot("control-4-english")

        # 7. the chair closes the meeting with an item never reached: nobody is offered a change of the agenda any more
        form = chair.panel.locator("form.hn-agenda-form")
        form.get_by_placeholder("Tiêu đề").fill("Các vấn đề phát sinh")
        form.get_by_role("button", name="Thêm mục").click()
        chair.shows("Các vấn đề phát sinh", "Tải lên PDF")
        wait_for("the remove button of the pending item",
                 lambda: chair.panel.get_by_role("button", name="Xóa", exact=True).count() == 1, WAIT)
        chair.click("Bế mạc")
        for p in (chair, cuong):
            p.shows("Đã kết thúc")
            p.hides("Tải lên PDF", "Chuyển sang mục này", "Kết thúc mục")
            assert p.panel.get_by_role("button", name="Xóa", exact=True).count() == 0
        errors = [line for c in clients for line in c.console if line.startswith(("pageerror", "error"))
                  and "control" in line]
        assert not errors, errors
    except BaseException:
        for client in clients:
            try:
                client.screenshot("control-failure")
            except Exception:
                pass
        print(dump_console(clients))
        raise
