"""Minutes drafted from a real meeting record (SQLite and PostgreSQL), rendered and measured."""
from __future__ import annotations

import json
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from meetings import agenda, ballots, moderation, speaking, transcript, voting
from meetings.ballots import Ballot
from meetings.meetings_service import MeetingError
from meetings.minutes import service
from meetings.minutes.render import MARGINS_MM, render
from meetings.minutes_models import MinutesSigning, MinutesVersion
from meetings.models import Account, utcnow
from tests.control.helpers import make_world

MM = 72 / 25.4


async def held_meeting(sessions):  # type: ignore[no-untyped-def]
    """Open, one agenda item with a speaking turn (transcribed), a vote with hands, a conclusion."""
    world = await make_world(sessions, n_delegates=6)
    chair, secretary = world.caller(world.chair), world.caller(world.secretary)
    speaker = world.delegates[1]  # from their own browser
    async with sessions() as s:
        (await s.get(Account, world.chair)).position = "Chủ tịch"
        (await s.get(Account, world.chair)).unit = "UBND tỉnh"
        (await s.get(Account, speaker)).position = "Giám đốc"
        (await s.get(Account, speaker)).unit = "Sở Tài chính"
        await moderation.open_meeting(s, chair, world.meeting_id)
        item = await agenda.add_item(s, secretary, world.meeting_id, "Kế hoạch đầu tư công năm 2027",
                                     presenter="Đồng chí Giám đốc Sở Kế hoạch")
        await agenda.set_current(s, chair, world.meeting_id, item)
        request = await speaking.request(s, world.caller(speaker), world.meeting_id, topic="vốn đầu tư")
        await speaking.grant(s, chair, world.meeting_id, request)
        await s.commit()
    async with sessions() as s:
        now = utcnow()
        words = "tôi đề nghị ưu tiên vốn cho các công trình giao thông kết nối các xã miền núi"
        await transcript.commit_segment(s, world.meeting_id, f"account:{speaker}",
                                        transcript.Speaker(world.names[speaker], speaker), now, now + timedelta(seconds=4), words)
        await speaking.end_turn(s, chair, world.meeting_id, request)
        vote = await voting.open_vote(s, chair, world.meeting_id, title="Thông qua kế hoạch",
                                      hand_seats={"xa-ba-che": 5})
        await s.commit()
    async with sessions() as s:
        choices = ["yes", "yes", "no", "abstain", "yes", "yes"]
        await ballots.cast_ballots(s, vote, [Ballot(d, world.names[d], c) for d, c in zip(world.delegates, choices)])
        await voting.record_hands(s, world.caller("xa-ba-che"), vote, {"yes": 3, "no": 1, "abstain": 1})
        result = await voting.close_vote(s, chair, world.meeting_id, vote.id)
        await service.set_conclusion(s, chair, world.meeting_id, item, "Giao Sở Tài chính tổng hợp, trình HĐND tỉnh.")
        await moderation.close_meeting(s, chair, world.meeting_id)
        await s.commit()
    return world, item, result


def pdftotext(pdf: bytes, tmp_path: Path, *extra: str) -> str:
    path = tmp_path / "minutes.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *extra, str(path), "-"], capture_output=True, text=True, check=True).stdout


async def test_the_draft_prints_the_record(db_sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, item, result = await held_meeting(db_sessions)
    async with db_sessions() as s:
        version = await service.draft_from_record(s, world.caller(world.secretary), world.meeting_id)
        await s.commit()
    doc = service.document(version)
    pdf = render(doc).pdf
    text = " ".join(pdftotext(pdf, tmp_path).split())
    for expected in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "BIÊN BẢN",
                     "ỦY BAN NHÂN DÂN TỈNH QUẢNG NINH", "Kỳ họp thường lệ tháng 11", "Quảng Ninh, ngày",
                     "Nguyễn Văn Chủ Tọa, Chủ tịch UBND tỉnh", "Trần Thị Thư Ký",
                     "Đại biểu số 1, Giám đốc Sở Tài chính", "ưu tiên vốn cho các công trình giao thông",
                     "Kế hoạch đầu tư công năm 2027", "Giao Sở Tài chính tổng hợp", "THƯ KÝ", "CHỦ TỌA",
                     "Nơi nhận:", "Lưu: VT", "Cuộc họp kết thúc vào", "Điểm cầu UBND xã Ba Chẽ"):
        assert expected in text, expected
    # The counts printed are the database's.
    async with db_sessions() as s:
        from meetings.control_models import Vote
        stored = json.loads((await s.scalar(select(Vote.result).where(Vote.id == result["vote_id"]))))
    line = f"tán thành {stored['yes']}/{stored['total_members']} thành viên"
    assert line in text and f"không tán thành {stored['no']}, không biểu quyết {stored['abstain']}" in text
    assert stored["yes"] == 4 + 3 and stored["no"] == 1 + 1
    assert ("Kết quả: THÔNG QUA" if stored["passed"] else "Kết quả: KHÔNG THÔNG QUA") in text


def test_page_size_margins_and_page_numbers(tmp_path: Path) -> None:
    from tests.minutes.conftest import sample_record
    from meetings.minutes.drafting import draft

    record, segments = sample_record(points=60)
    rendered = render(draft(record, segments))
    assert rendered.pages >= 2
    info = subprocess.run(["pdfinfo", "-", ], input=rendered.pdf, capture_output=True, check=True).stdout.decode()
    assert re.search(r"Page size: +595.276 x 841.89 pts \(A4\)", info), info
    bbox = pdftotext(rendered.pdf, tmp_path, "-bbox")
    pages = re.findall(r"<page width=\"[\d.]+\" height=\"[\d.]+\">(.*?)</page>", bbox, re.S)
    assert len(pages) == rendered.pages
    for n, page in enumerate(pages, start=1):
        words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in
                 re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page)]
        body = [w for w in words if w[1] > MARGINS_MM["top"] * MM - 1]
        header = [w for w in words if w not in body]
        assert min(w[0] for w in body) >= MARGINS_MM["left"] * MM - 0.5
        assert max(w[2] for w in body) <= 595.276 - MARGINS_MM["right"] * MM + 0.5
        assert max(w[3] for w in body) <= 841.89 - MARGINS_MM["bottom"] * MM + 0.5
        # Page numbers: centred at the top, from page 2 only.
        assert [w[4] for w in header] == ([] if n == 1 else [str(n)])


async def test_versions_comments_and_freezing(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, item, _ = await held_meeting(db_sessions)
    secretary, chair = world.caller(world.secretary), world.caller(world.chair)
    async with db_sessions() as s:
        first = await service.draft_from_record(s, secretary, world.meeting_id)
        second = await service.edit(s, secretary, world.meeting_id, 1,
                                    {"number": "Số: 12/BB-UBND", "sections": {f"item:{item}": "Đã sửa nội dung."}})
        await service.comment(s, chair, world.meeting_id, 2, "Bổ sung ý kiến của Sở Xây dựng.", f"item:{item}")
        await s.commit()
    assert (first.number, second.number) == (1, 2)
    assert service.document(second).number == "Số: 12/BB-UBND"
    assert service.document(second).section(f"item:{item}").text == "Đã sửa nội dung."
    assert service.document(first).number != "Số: 12/BB-UBND"  # a version never changes
    for who, base, edits, code in (
        (secretary, 1, {"number": "x"}, "stale_version"),  # stale base: someone's newer version is kept
        (chair, 2, {"number": "x"}, "forbidden"),  # the chair comments, the secretary edits
        (secretary, 2, {"sections": {"item:999": "x"}}, "bad_request"),
        (secretary, 2, {"heading": "x"}, "bad_request"),
        (secretary, 2, {"title": "a\x00b"}, "bad_request"),
    ):
        async with db_sessions() as s:
            with pytest.raises(MeetingError) as refused:
                await service.edit(s, who, world.meeting_id, base, edits)
            assert refused.value.code == code
            await s.rollback()
    async with db_sessions() as s:
        assert await s.scalar(select(func.count()).select_from(MinutesVersion)) == 2
        comments = await service.comments(s, world.meeting_id, 2)
        assert comments[0]["author"] == world.names[world.chair] and comments[0]["section"] == f"item:{item}"
        signing = await service.send_for_signing(s, secretary, world.meeting_id, 2, "a" * 64, with_seal=False)
        await s.commit()
    async with db_sessions() as s:
        with pytest.raises(MeetingError):  # frozen: not sent twice
            await service.send_for_signing(s, secretary, world.meeting_id, 2, "b" * 64, with_seal=False)
    async with db_sessions() as s:  # an edit after freezing starts over: new version, signing cancelled
        third = await service.edit(s, secretary, world.meeting_id, 2, {"archive": "Lưu: VT, VP."})
        await s.commit()
        assert third.number == 3 and not third.frozen
        assert (await s.get(MinutesSigning, signing.id)).state == "cancelled"


async def test_members_who_came_are_present_in_the_minutes_after_they_left(db_sessions) -> None:  # type: ignore[no-untyped-def]
    from meetings.accounts import Principal
    from meetings.meetings_service import set_presence
    from meetings.minutes.drafting import participants_text
    from meetings.minutes.record import load_record

    world = await make_world(db_sessions, n_delegates=4)
    seated = [d for d, p in world.points.items() if p is not None]
    own_browser = [d for d, p in world.points.items() if p is None]
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        await moderation.open_meeting(s, chair, world.meeting_id)
        await s.commit()
        # one from her own browser, one seated at a point that never counts its room; both leave early
        for delegate in (own_browser[0], seated[0]):
            principal = Principal("account", str(delegate), world.names[delegate], "delegate")
            await set_presence(s, world.meeting_id, principal, True)
            await set_presence(s, world.meeting_id, principal, False)
        await moderation.close_meeting(s, chair, world.meeting_id)
        await s.commit()
    async with db_sessions() as s:
        text = participants_text(await load_record(s, world.meeting_id))
    # members: the chair and 4 delegates; present: the chair and the two who came
    assert ("Tổng số thành viên: 5; có mặt: 3 (tại các điểm cầu: 0, trực tuyến từ máy tính cá nhân: 3); "
            "vắng mặt: 2.") in text, text
    assert world.names[seated[0]] in text.split("Thành viên dự họp từ máy tính cá nhân:")[1].split("\n")[0]
    assert world.names[own_browser[1]] in text.split("Thành viên vắng mặt:")[1].split("\n")[0]
