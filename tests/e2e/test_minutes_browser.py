"""The minutes in real Chromium against a real `hoinghi serve`: the secretary drafts them from
the meeting record, edits a field beside the transcript and saves a version, sends them for
signing and signs; the chair signs; the secretary publishes; the delegate finds the signed PDF
on the meeting page; an anonymous visitor verifies it on /verify. Screenshots go to
test-artifacts/e2e/minutes-*.png."""
from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from meetings import agenda, ballots, moderation, speaking, transcript, voting
from meetings.ballots import Ballot
from meetings.control_common import Caller
from meetings.db import create_engine, session_factory
from meetings.minutes import service, testca
from meetings.models import utcnow
from tests.e2e.harness import PASSWORD, Deployment, Person
from tests.e2e.test_meeting_browser import ARTIFACTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]
WAIT_MS = 30_000
SAID = "đề nghị bổ sung vốn cho tuyến đường liên xã"


async def hold_meeting(deployment: Deployment) -> None:
    chair_p, secretary_p, delegate_p = deployment.people
    chair = Caller(f"account:{chair_p.id}", chair_p.name, "chair", chair_p.id)
    secretary = Caller(f"account:{secretary_p.id}", secretary_p.name, "secretary", secretary_p.id)
    delegate = Caller(f"account:{delegate_p.id}", delegate_p.name, "delegate", delegate_p.id)
    engine = create_engine(deployment.database_url)
    try:
        async with session_factory(engine)() as s:
            meeting = deployment.meeting_id
            await moderation.open_meeting(s, chair, meeting)
            item = await agenda.add_item(s, secretary, meeting, "Kế hoạch đầu tư công năm 2027", presenter="Sở Tài chính")
            await agenda.set_current(s, chair, meeting, item)
            request = await speaking.request(s, delegate, meeting, topic="giao thông")
            await speaking.grant(s, chair, meeting, request)
            now = utcnow()
            await transcript.commit_segment(s, meeting, delegate.key, transcript.Speaker(delegate_p.name, delegate_p.id),
                                            now, now + timedelta(seconds=3), SAID)
            await speaking.end_turn(s, chair, meeting, request)
            vote = await voting.open_vote(s, chair, meeting, title="Thông qua kế hoạch", hand_seats={"xa-a": 4})
            await s.commit()
            await ballots.cast_ballots(s, vote, [Ballot(chair_p.id, chair_p.name, "yes"), Ballot(delegate_p.id, delegate_p.name, "yes")])
            await voting.record_hands(s, Caller("point:xa-a", "Điểm cầu xã A", "point", None, "xa-a"), vote,
                                      {"yes": 3, "no": 1, "abstain": 0})
            await voting.close_vote(s, chair, meeting, vote.id)
            await service.set_conclusion(s, chair, meeting, item, "Thống nhất bổ sung vốn.")
            await moderation.close_meeting(s, chair, meeting)
            await s.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(root=tmp_path / "hoinghi", people=[
        Person("chutoa", "Nguyễn Văn An", "chair"),
        Person("thuky", "Trần Thị Bình", "secretary"),
        Person("daibieu", "Lê Văn Cường", "delegate"),
    ])
    deployment.prepare()
    asyncio.run(hold_meeting(deployment))
    signing = deployment.root / "data" / "signing"
    testca.init_ca(signing, "Ủy ban nhân dân tỉnh Thử Nghiệm", [
        testca.AccountKey("thuky", "Trần Thị Bình", "Chánh Văn phòng"),
        testca.AccountKey("chutoa", "Nguyễn Văn An", "Chủ tịch")], "http://127.0.0.1:9")
    toml = signing / "signing.toml"  # no TSA here (tests/minutes cover B-LT)
    toml.write_text("\n".join(l for l in toml.read_text().splitlines() if not l.startswith("tsa_url")))
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()


def logged_in(browser: Any, deployment: Deployment, username: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(deployment.url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/home"))
    return page


def shot(page: Any, label: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"minutes-{label}.png"), full_page=True)


def test_minutes_drafted_edited_signed_published_and_verified(deployment: Deployment, browser: Any, tmp_path: Path) -> None:
    minutes_url = f"{deployment.url}/meetings/{deployment.meeting_id}/minutes"
    secretary = logged_in(browser, deployment, "thuky")
    secretary.goto(minutes_url)
    secretary.get_by_role("button", name="Lập dự thảo từ diễn biến cuộc họp").click()
    secretary.wait_for_selector("#edit-form")
    said = secretary.locator(".said").first
    assert SAID in said.inner_text()  # the item's transcript beside its text
    item_text = secretary.locator("textarea[name^='section_item']").first.input_value()
    assert "Lê Văn Cường" in item_text and "tán thành 5/" in item_text and "Thống nhất bổ sung vốn." in item_text
    stale = secretary.context.new_page()  # the same secretary in a second tab, still on version 1
    stale.goto(minutes_url)
    secretary.fill("input[name=number]", "Số: 15/BB-UBND")
    shot(secretary, "editor")
    secretary.get_by_role("button", name="Lưu thành phiên bản mới").click()
    secretary.wait_for_selector("text=Đã lưu.")
    assert secretary.input_value("input[name=number]") == "Số: 15/BB-UBND"
    assert "Phiên bản 2" in secretary.inner_text("#version-line")
    stale.fill("input[name=number]", "Số: 16/BB-UBND")
    stale.get_by_role("button", name="Lưu thành phiên bản mới").click()  # based on version 1: refused, in Vietnamese
    stale.wait_for_selector("[role=alert] >> text=Bản 1 không còn là bản mới nhất: đã có bản 2.")
    assert "Phiên bản 2" in stale.inner_text("#version-line") and stale.input_value("input[name=number]") == "Số: 15/BB-UBND"
    shot(stale, "refused")
    stale.close()
    secretary.get_by_role("button", name="Gửi ký").click()
    secretary.wait_for_selector("text=Chờ thư ký ký")
    secretary.get_by_role("button", name="Ký bằng khóa đã cấu hình trên máy chủ").click()
    secretary.wait_for_selector("text=Chờ chủ tọa ký")
    shot(secretary, "signing")

    chair = logged_in(browser, deployment, "chutoa")
    chair.goto(minutes_url)
    assert chair.locator("#save").count() == 0  # the chair comments, the secretary edits
    chair.fill("textarea[name=text] >> nth=-1", "Đồng ý với dự thảo.")
    chair.get_by_role("button", name="Gửi ý kiến").click()
    chair.wait_for_selector("text=Đồng ý với dự thảo.")
    chair.get_by_role("button", name="Ký bằng khóa đã cấu hình trên máy chủ").click()
    chair.wait_for_selector("text=Đã ký đủ")

    secretary.goto(minutes_url)
    secretary.get_by_role("button", name="Phát hành biên bản").click()
    secretary.wait_for_selector("text=Đã phát hành")
    shot(secretary, "published")

    delegate = logged_in(browser, deployment, "daibieu")
    delegate.goto(f"{deployment.url}/meetings/{deployment.meeting_id}")
    link = delegate.locator("a.published-minutes")
    link.wait_for()
    response = delegate.request.get(deployment.url + link.get_attribute("href"))
    assert response.status == 200 and response.body()[:5] == b"%PDF-"
    signed = tmp_path / "bien-ban.pdf"
    signed.write_bytes(response.body())

    visitor = browser.new_context(viewport={"width": 1000, "height": 800}).new_page()
    visitor.goto(f"{deployment.url}/verify")
    visitor.set_input_files("#file", str(signed))
    visitor.get_by_role("button", name="Kiểm tra").click()
    visitor.wait_for_selector("#result")
    result = visitor.inner_text("#result")
    assert "Kết luận: tài liệu HỢP LỆ." in result, result
    assert "Trần Thị Bình" in result and "Nguyễn Văn An" in result
    shot(visitor, "verify")
    tampered = bytearray(signed.read_bytes())
    tampered[len(tampered) // 3] ^= 0xFF
    (tmp_path / "sua.pdf").write_bytes(bytes(tampered))
    visitor.set_input_files("#file", str(tmp_path / "sua.pdf"))
    visitor.get_by_role("button", name="Kiểm tra").click()
    visitor.wait_for_selector("text=KHÔNG HỢP LỆ")
