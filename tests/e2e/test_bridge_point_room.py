"""A bridge point as a working room, in real Chromium: the TV screen (1920×1080), the room's console
(a tablet, logged in with the point's token), the chair's page with its dashboard of points, a delegate.

A request to speak on behalf of someone in the room reaches the chair's queue with the name and the
point; the head-count changes quorum on every page; the show of hands is refused above the head-count
and counted in the result; the TV shows the countdown, the live count and the result.
Screenshots (looked at) go to test-artifacts/e2e/point-*.png.
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import REPO
from tests.e2e.harness import PASSWORD, Deployment
from tests.e2e.test_meeting_browser import deployment, wait_for  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]
ARTIFACTS = REPO / "test-artifacts" / "e2e"
SPEAKER = "Bà Hoàng Thị Lan"


def _person(browser: Any, deployment: Deployment, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, base_url=deployment.url)
    assert context.request.post("/login", data={"username": username, "password": PASSWORD}).ok
    page = context.new_page()
    page.goto(f"/meetings/{deployment.meeting_id}")
    page.wait_for_selector("#control-panel .hn-section", timeout=30000)
    return page


def _point_page(browser: Any, deployment: Deployment, path: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, base_url=deployment.url)
    page = context.new_page()
    page.goto("/point")
    page.fill("input[name=token]", deployment.point_tokens["xa-a"])
    page.click("button[type=submit]")
    page.wait_for_selector("body.point-screen")
    if path != "/point":
        page.goto(path)
    return page


def _text(page: Any, selector: str) -> str:
    return page.locator(selector).inner_text() if page.locator(selector).count() else ""


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"point-{name}.png"))


def test_the_room_works_the_meeting_from_its_tv_and_console(deployment: Deployment, browser: Any) -> None:  # noqa: F811
    chair = _person(browser, deployment, "chutoa")
    delegate = _person(browser, deployment, "daibieu")
    tv = _point_page(browser, deployment, "/point", {"width": 1920, "height": 1080})
    console = _point_page(browser, deployment, "/point/console", {"width": 1024, "height": 768})
    pages = {"chair": chair, "delegate": delegate, "tv": tv, "console": console}
    try:
        console.wait_for_selector("#control-panel .hn-section", timeout=30000)
        emit = "([e, p]) => window.hoinghi.socket.emitWithAck(e, p)"
        assert chair.evaluate(emit, ["meeting_configure", {"members_total": 10}])["ok"]
        chair.get_by_role("button", name="Khai mạc").click()
        item = chair.evaluate(emit, ["agenda_add", {"title": "Tờ trình về kế hoạch thủy lợi năm 2027", "presenter": "Sở Nông nghiệp"}])
        assert chair.evaluate(emit, ["agenda_set_current", {"item_id": item["item_id"]}])["ok"]
        wait_for("the TV to show the current item", lambda: "kế hoạch thủy lợi" in _text(tv, ".tv-item"), 30)

        # 1. the console asks to speak on behalf of someone in the room: the chair sees the name and the point
        console.fill('[data-k="speak.name"]', SPEAKER)
        console.fill('[data-k="speak.topic"]', "Thủy lợi nội đồng")
        console.locator(".hn-speak-form button[type=submit]").click()
        wait_for("the chair's queue to name the speaker and the point", lambda: (
            (q := _text(chair, ".hn-queue")) and SPEAKER in q and "Điểm cầu xã A" in q and "Thủy lợi nội đồng" in q) or q, 20)
        wait_for("the TV queue", lambda: SPEAKER in _text(tv, ".tv-queue-box"), 20)

        # 2. the head-count changes quorum on every page (2 members on their own browsers + the room)
        def reported(n: int) -> None:
            console.fill('[data-k="headcount"]', str(n))
            console.get_by_role("button", name="Báo cáo").click()

        reported(4)
        for name in ("chair", "delegate", "console"):
            wait_for(f"{name}: 6 of 10 present, no quorum", lambda p=pages[name]: (
                "Có mặt: 6/10" in (a := _text(p, ".hn-quorum")) and "Không đủ số lượng" in a) or a, 20)
        wait_for("TV: 6 of 10, no quorum", lambda: re.search(r"6\s*/ 10", _text(tv, ".tv-attendance")) is not None
                 and "Chưa đủ" in _text(tv, ".tv-attendance"), 20)
        reported(5)
        for name in ("chair", "delegate", "console"):
            wait_for(f"{name}: 7 of 10, quorum", lambda p=pages[name]: "Có mặt: 7/10" in (a := _text(p, ".hn-quorum")) and "Đủ số lượng" in a or a, 20)
        wait_for("TV: quorum", lambda: "Đủ số lượng" in _text(tv, ".tv-attendance"), 20)

        # 3. the chair gives the floor for two minutes: the TV shows the speaker and the countdown
        row = chair.locator(".hn-queue li", has_text=SPEAKER)
        row.locator("input.hn-seconds").fill("120")
        row.get_by_role("button", name="Mời phát biểu").click()
        wait_for("the TV countdown", lambda: re.search(r"Còn lại [01]:[0-5]\d", _text(tv, ".tv-countdown")) is not None, 20)
        assert SPEAKER in _text(tv, ".tv-floor")
        first = _text(tv, ".tv-countdown")
        wait_for("the countdown to run", lambda: _text(tv, ".tv-countdown") != first, 5, 0.2)
        _shot(tv, "tv-floor")
        chair.get_by_role("button", name="Kết thúc lượt").click()

        # 4. a vote with a show of hands at the point (the chair sets 8 seats; 5 are present)
        chair.fill('[data-k="vote.title"]', "Thông qua kế hoạch thủy lợi năm 2027")
        chair.locator("details.hn-hands-setup summary").click()
        seats = chair.locator('[data-k="vote.seats.xa-a"]')
        assert seats.input_value() == "5"  # the reported head-count, by default
        seats.fill("8")
        chair.get_by_role("button", name="Mở biểu quyết").click()
        wait_for("the TV to show the open vote", lambda: "Thông qua kế hoạch" in _text(tv, ".tv-vote"), 20)
        console.wait_for_selector(".hn-control [data-k$='.yes']", timeout=20000)

        def hands(yes: int, no: int, abstain: int) -> None:
            for option, n in (("yes", yes), ("no", no), ("abstain", abstain)):
                console.fill(f"[data-k$='.{option}'][data-k^='hands.']", str(n))
            console.get_by_role("button", name="Ghi nhận kết quả giơ tay").click()

        hands(4, 1, 1)  # six hands, five present: refused
        wait_for("the console to refuse the hands", lambda: "6 người giơ tay, nhiều hơn số người có mặt mà điểm cầu đã báo (5)" in _text(console, ".hn-error"), 20)
        assert "Giơ tay" not in _text(tv, ".tv-vote")  # nothing of the refused entry was counted
        hands(4, 1, 0)
        chair.locator("button.choice-yes").click()
        delegate.locator("button.choice-yes").click()
        wait_for("the TV's live count: 2 ballots + 5 hands", lambda: re.search(r"^7\s*/ 10", _text(tv, ".tv-vote .tv-turnout")) is not None
                 or _text(tv, ".tv-vote"), 20)
        _shot(tv, "tv-vote")
        _shot(console, "console-vote")
        chair.get_by_role("button", name="Kết thúc biểu quyết").click()
        wait_for("the TV result", lambda: "THÔNG QUA" in _text(tv, ".tv-result"), 20)
        result = _text(tv, ".tv-result")
        assert "Tán thành 6" in result and "Không tán thành 1" in result, result
        breakdown = tv.locator(".tv-breakdown tr", has_text="Điểm cầu xã A").inner_text()
        assert re.findall(r"\d+", breakdown) == ["4", "1", "0"], breakdown
        _shot(tv, "tv-result")

        # 5. the chair's dashboard of points: the TV screen online with figures, the other point never connected
        chair.locator("#points-toggle").click()
        wait_for("the dashboard", lambda: "Trực tuyến" in _text(chair, '#points-dashboard tr[data-point="xa-a"]'), 20)
        row = _text(chair, '#points-dashboard tr[data-point="xa-a"]')
        assert "Trình duyệt" in row and "5" in row, row
        assert "Chưa kết nối" in _text(chair, '#points-dashboard tr[data-point="hoi-truong"]')
        _shot(chair, "chair-dashboard")
        # the console is in the meeting without media: the delegate sees one tile of the point (its TV screen)
        assert delegate.locator(".tile", has_text="Điểm cầu xã A").count() == 1
    except BaseException:
        for name, page in pages.items():
            try:
                _shot(page, f"failure-{name}")
            except Exception:
                pass
        raise
