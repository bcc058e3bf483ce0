"""The transcript service on SQLite and PostgreSQL: attribution, agenda items, search, corrections."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from meetings import agenda, moderation, speaking, transcript
from meetings.control_models import AuditEntry
from meetings.meetings_service import MeetingError
from meetings.models import utcnow
from meetings.transcript import Speaker, Word
from meetings.transcript_models import TranscriptCorrection, TranscriptSegment
from tests.control.helpers import make_world

POINT = "ubnd-tinh"  # make_world seats delegates[0] at this point


async def _open_world(db_sessions):  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    async with db_sessions() as session:
        await moderation.open_meeting(session, world.caller(world.chair), world.meeting_id)
        first = await agenda.add_item(session, world.caller(world.secretary), world.meeting_id, "Kế hoạch đầu tư công")
        second = await agenda.add_item(session, world.caller(world.secretary), world.meeting_id, "Ngân sách 2027")
        await session.commit()
    return world, first, second


async def _commit(db_sessions, world, source: str, text: str, *, words=(), at=None, length_s: float = 2.0):  # type: ignore[no-untyped-def]
    start = at or utcnow()
    async with db_sessions() as session:
        speaker = await transcript.attribute(session, world.meeting_id, source)
        seg = await transcript.commit_segment(
            session, world.meeting_id, source, speaker, start, start + timedelta(seconds=length_s), text, words
        )
        await session.commit()
    return seg


def test_fold_ignores_diacritics_case_and_d_stroke() -> None:
    assert transcript.fold("Kế hoạch  ĐẦU TƯ công") == "ke hoach dau tu cong"
    assert transcript.fold("Đà Nẵng") == transcript.fold("da nang")
    assert transcript.fold("ơ ư ỹ") == "o u y"


async def test_segments_carry_speaker_item_times_and_words(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, first, second = await _open_world(db_sessions)
    delegate = world.delegates[1]  # joins from their own browser
    before = await _commit(db_sessions, world, f"account:{delegate}", "trước chương trình")
    async with db_sessions() as session:
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, first)
        await session.commit()
    words = [Word("kế", 0.1, 0.3, 0.9), Word("hoạch", 0.35, 0.7, 0.8)]
    during = await _commit(db_sessions, world, f"account:{delegate}", "kế hoạch", words=words)
    async with db_sessions() as session:
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, second)
        await session.commit()
    later = await _commit(db_sessions, world, f"account:{delegate}", "ngân sách")

    assert (before["item_id"], during["item_id"], later["item_id"]) == (None, first, second)
    assert during["speaker"] == world.names[delegate] and during["speaker_account_id"] == delegate
    assert during["words"] == [{"word": "kế", "start_s": 0.1, "end_s": 0.3, "conf": 0.9},
                               {"word": "hoạch", "start_s": 0.35, "end_s": 0.7, "conf": 0.8}]
    assert 0 <= during["start_s"] < during["end_s"] and during["end_s"] - during["start_s"] == pytest.approx(2.0)
    assert during["started_at"].endswith("+00:00")
    async with db_sessions() as session:
        all_rows = await transcript.segments(session, world.meeting_id)
        only_first = await transcript.segments(session, world.meeting_id, item_id=first)
        outside = await transcript.segments(session, world.meeting_id, item_id=None)
    assert [s["text"] for s in all_rows] == ["trước chương trình", "kế hoạch", "ngân sách"]
    assert [s["id"] for s in only_first] == [during["id"]]
    assert [s["id"] for s in outside] == [before["id"]]


async def test_item_is_the_one_current_when_the_segment_began(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, first, second = await _open_world(db_sessions)
    async with db_sessions() as session:
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, first)
        await session.commit()
    began = utcnow()
    async with db_sessions() as session:
        await agenda.set_current(session, world.caller(world.chair), world.meeting_id, second)
        await session.commit()
    seg = await _commit(db_sessions, world, f"account:{world.delegates[1]}", "nói qua hai mục", at=began)
    assert seg["item_id"] == first


async def test_bridge_point_speech_carries_the_delegate_given_the_floor(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, _, _ = await _open_world(db_sessions)
    seated = world.delegates[0]
    assert world.points[seated] == POINT
    no_turn = await _commit(db_sessions, world, f"point:{POINT}", "xin chào")
    async with db_sessions() as session:
        request_id = await speaking.request(session, world.caller(seated), world.meeting_id, "đầu tư")
        await speaking.grant(session, world.caller(world.chair), world.meeting_id, request_id)
        await session.commit()
    turn = await _commit(db_sessions, world, f"point:{POINT}", "tôi xin phát biểu")
    other_point = await _commit(db_sessions, world, "point:xa-ba-che", "điểm cầu khác")
    async with db_sessions() as session:
        await speaking.end_turn(session, world.caller(world.chair), world.meeting_id)
        on_behalf = await speaking.request(session, world.caller(POINT), world.meeting_id, on_behalf_of="Ông Hoàng Văn Khách")
        await speaking.grant(session, world.caller(world.chair), world.meeting_id, on_behalf)
        await session.commit()
    guest = await _commit(db_sessions, world, f"point:{POINT}", "ý kiến của khách")

    assert no_turn["speaker"] == "Hội trường Ủy ban nhân dân tỉnh"
    assert no_turn["speaker_point_id"] == POINT and no_turn["speaker_account_id"] is None
    assert (turn["speaker"], turn["speaker_account_id"], turn["speaker_point_id"]) == (world.names[seated], seated, POINT)
    assert other_point["speaker_account_id"] is None and other_point["speaker"] != world.names[seated]
    assert (guest["speaker"], guest["speaker_account_id"]) == ("Ông Hoàng Văn Khách", None)


async def test_search_ignores_diacritics_and_case(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, _, _ = await _open_world(db_sessions)
    who = f"account:{world.delegates[1]}"
    hit = await _commit(db_sessions, world, who, "Về kế hoạch đầu tư công năm 2027")
    await _commit(db_sessions, world, who, "Về kế hoạch chi thường xuyên")
    odd = await _commit(db_sessions, world, who, "tỉ lệ 100% đạt_chuẩn")
    async with db_sessions() as session:
        found = await transcript.search(session, world.meeting_id, "ke hoach dau tu")
        upper = await transcript.search(session, world.meeting_id, "KẾ HOẠCH  ĐẦU")
        d_plain = await transcript.search(session, world.meeting_id, "dau tu cong")
        percent = await transcript.search(session, world.meeting_id, "100%")
        underscore = await transcript.search(session, world.meeting_id, "e_h")
        with pytest.raises(MeetingError, match="q: must not be empty"):
            await transcript.search(session, world.meeting_id, "   ")
    assert [s["id"] for s in found] == [hit["id"]] == [s["id"] for s in upper] == [s["id"] for s in d_plain]
    assert [s["id"] for s in percent] == [odd["id"]]
    assert underscore == []  # "_" is a literal, not LIKE's any-character ("ke hoach" has "e h")


async def test_secretary_corrects_text_and_speaker_keeping_the_original(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, _, _ = await _open_world(db_sessions)
    delegate, other = world.delegates[1], world.delegates[3]
    seg = await _commit(db_sessions, world, f"account:{delegate}", "kế hoạc đầu tư")
    async with db_sessions() as session:
        with pytest.raises(MeetingError, match="not allowed for delegate"):
            await transcript.correct(session, world.caller(delegate), world.meeting_id, seg["id"], text="sửa")
        speaker = await transcript.attribute(session, world.meeting_id, f"account:{other}")
        fixed = await transcript.correct(session, world.caller(world.secretary), world.meeting_id, seg["id"],
                                         text="kế hoạch đầu tư", speaker=speaker)
        await session.commit()
    assert fixed["text"] == "kế hoạch đầu tư" and fixed["original_text"] == "kế hoạc đầu tư"
    assert (fixed["speaker"], fixed["speaker_account_id"]) == (world.names[other], other)
    assert [(c["field"], c["before"], c["after"], c["by"]) for c in fixed["corrections"]] == [
        ("text", "kế hoạc đầu tư", "kế hoạch đầu tư", f"account:{world.secretary}"),
        ("speaker", world.names[delegate], world.names[other], f"account:{world.secretary}"),
    ]
    async with db_sessions() as session:
        assert [s["id"] for s in await transcript.search(session, world.meeting_id, "ke hoach dau")] == [seg["id"]]
        actions = (await session.execute(
            select(AuditEntry.action).where(AuditEntry.meeting_id == world.meeting_id,
                                            AuditEntry.action == "transcript_correct"))).scalars().all()
    assert len(actions) == 2


async def test_bad_input_is_refused_and_changes_nothing(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, _, _ = await _open_world(db_sessions)
    who = f"account:{world.delegates[1]}"
    seg = await _commit(db_sessions, world, who, "một câu")
    now = utcnow()
    cases = [
        (dict(text="   "), "text: must not be empty"),
        (dict(text="a\x00b"), "control characters"),
        (dict(ended_at=now - timedelta(seconds=1)), "end not before the start"),
        (dict(words=[Word("x", 1.0, 0.5, 0.5)]), r"words\[0\]"),
        (dict(words=[Word("x", 0.0, 0.5, float("nan"))]), r"words\[0\]: times and confidence"),
        (dict(words=[Word("x", 0.0, 9.0, 0.5)]), r"words\[0\]"),
    ]
    for change, message in cases:
        args = dict(text="hợp lệ", ended_at=now + timedelta(seconds=2), words=())
        args.update(change)
        async with db_sessions() as session:
            speaker = await transcript.attribute(session, world.meeting_id, who)
            with pytest.raises(MeetingError, match=message):
                await transcript.commit_segment(session, world.meeting_id, who, speaker, now, args["ended_at"],
                                                args["text"], args["words"])
    async with db_sessions() as session:
        with pytest.raises(MeetingError, match="expected account:<id> or point:<id>"):
            await transcript.attribute(session, world.meeting_id, "room:1")
        with pytest.raises(MeetingError, match="no such bridge point"):
            await transcript.attribute(session, world.meeting_id, "point:khong-co")
        with pytest.raises(MeetingError, match="nothing to change"):
            await transcript.correct(session, world.caller(world.secretary), world.meeting_id, seg["id"], text="một câu")
        with pytest.raises(MeetingError, match="no transcript segment"):
            await transcript.correct(session, world.caller(world.secretary), world.meeting_id, seg["id"] + 99, text="x")
        assert await session.scalar(select(func.count()).select_from(TranscriptSegment)) == 1
        assert await session.scalar(select(func.count()).select_from(TranscriptCorrection)) == 0


async def test_a_gap_marker_is_stored_and_listed(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world, _, _ = await _open_world(db_sessions)
    now = utcnow()
    async with db_sessions() as session:
        speaker = await transcript.attribute(session, world.meeting_id, f"point:{POINT}")
        await transcript.commit_segment(session, world.meeting_id, f"point:{POINT}", speaker, now,
                                        now + timedelta(seconds=1.5), "[mất 1,5 giây âm thanh]", kind="gap")
        await session.commit()
        rows = await transcript.segments(session, world.meeting_id)
        with pytest.raises(MeetingError, match="only recognised speech"):
            await transcript.correct(session, world.caller(world.secretary), world.meeting_id, rows[0]["id"], text="x")
    assert [r["kind"] for r in rows] == ["gap"]
