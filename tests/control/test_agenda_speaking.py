"""Agenda, requests to speak, attendance and moderation services against both databases."""
from __future__ import annotations

import pytest

from meetings import agenda, attendance, moderation, speaking
from meetings.meetings_service import MeetingError
from tests.control.helpers import make_world

pytestmark = pytest.mark.control


async def test_agenda_lifecycle(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    chair, secretary = world.caller(world.chair), world.caller(world.secretary)
    async with db_sessions() as s:
        a = await agenda.add_item(s, secretary, world.meeting_id, "  Khai mạc ", "Chủ tọa", 10)
        b = await agenda.add_item(s, secretary, world.meeting_id, "Báo cáo")
        c = await agenda.add_item(s, chair, world.meeting_id, "Bế mạc")
        await agenda.reorder(s, secretary, world.meeting_id, [a, c, b])
        await agenda.update_item(s, secretary, world.meeting_id, b, presenter="Giám đốc Sở Tài chính")
        with pytest.raises(MeetingError):  # not open yet
            await agenda.set_current(s, chair, world.meeting_id, a)
        await moderation.open_meeting(s, chair, world.meeting_id)
        await agenda.set_current(s, chair, world.meeting_id, a)
        await agenda.set_current(s, chair, world.meeting_id, b)
        with pytest.raises(MeetingError) as refused:
            await agenda.remove_item(s, secretary, world.meeting_id, a)  # done
        assert refused.value.code == "conflict"
        await agenda.remove_item(s, secretary, world.meeting_id, c)
        await s.commit()
        snap = await agenda.snapshot(s, world.meeting_id)
    assert [i["title"] for i in snap["items"]] == ["Khai mạc", "Báo cáo"]
    assert [i["state"] for i in snap["items"]] == ["done", "current"]
    assert snap["current_item_id"] == b and snap["items"][1]["presenter"] == "Giám đốc Sở Tài chính"
    async with db_sessions() as s:
        for who, call in [
            (world.delegates[0], lambda s, c: agenda.add_item(s, c, world.meeting_id, "X")),
            (world.secretary, lambda s, c: agenda.set_current(s, c, world.meeting_id, a)),
            (world.chair, lambda s, c: agenda.reorder(s, c, world.meeting_id, [a, a])),
            (world.chair, lambda s, c: agenda.add_item(s, c, world.meeting_id, "\x00bad")),
            (world.chair, lambda s, c: agenda.add_item(s, c, world.meeting_id, "X", planned_minutes=0)),
        ]:
            with pytest.raises(MeetingError):
                await call(s, world.caller(who))


async def test_speaking_queue_floor_and_time_limit(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    chair = world.caller(world.chair)
    d1, d2 = world.caller(world.delegates[0]), world.caller(world.delegates[1])
    point = world.caller("xa-ba-che")
    async with db_sessions() as s:
        await moderation.open_meeting(s, chair, world.meeting_id)
        r1 = await speaking.request(s, d1, world.meeting_id, "Về ngân sách")
        with pytest.raises(MeetingError):
            await speaking.request(s, d1, world.meeting_id, "lần hai")  # one queued request per delegate
        r2 = await speaking.request(s, point, world.meeting_id, on_behalf_of="Ông Hoàng Văn Dân")
        r3 = await speaking.request(s, point, world.meeting_id, on_behalf_of="Bà Phạm Thị Hà")
        r4 = await speaking.request(s, d2, world.meeting_id)
        with pytest.raises(MeetingError):
            await speaking.request(s, d2, world.meeting_id, on_behalf_of="Ai đó")  # only points
        with pytest.raises(MeetingError):
            await speaking.grant(s, d1, world.meeting_id, r1)
        turn, ended = await speaking.grant(s, chair, world.meeting_id, r1, 60)
        assert ended is None and turn.requester == d1.key and turn.deadline_ms
        turn2, ended = await speaking.grant(s, chair, world.meeting_id, r2, 0)
        assert ended.request_id == r1 and turn2.deadline_ms is None and turn2.speaker_name == "Ông Hoàng Văn Dân"
        await speaking.deny(s, chair, world.meeting_id, r3)
        await speaking.withdraw(s, d2, world.meeting_id, r4)
        with pytest.raises(MeetingError):
            await speaking.end_turn(s, d1, world.meeting_id)  # not d1's turn any more
        assert await speaking.expire_turn(s, world.meeting_id, r1) is None
        expired = await speaking.expire_turn(s, world.meeting_id, r2)
        assert expired.requester == "point:xa-ba-che"
        await s.commit()
        snap = await speaking.snapshot(s, world.meeting_id)
    assert snap == {"meeting_id": world.meeting_id, "queue": [], "floor": None}


async def test_attendance_headcount_and_quorum(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions, n_delegates=8)
    seated = [f"account:{d}" for d, p in world.points.items() if p == "xa-ba-che"]
    assert seated
    async with db_sessions() as s:
        snap = await attendance.snapshot(s, world.meeting_id)
        assert snap["members_total"] == 9 and snap["quorum_required"] == 6 and not snap["quorum_met"]
        # a delegate seated at a point that has not counted its room yet is present from her browser
        snap = await attendance.snapshot(s, world.meeting_id, connected_keys=seated)
        assert snap["browser_present"] == len(seated) and snap["present_members"] == len(seated)
        await attendance.report_headcount(s, world.caller("xa-ba-che"), world.meeting_id, 4)
        with pytest.raises(MeetingError):
            await attendance.report_headcount(s, world.caller("tinh-uy"), world.meeting_id, 4)  # not invited
        with pytest.raises(MeetingError):
            await attendance.report_headcount(s, world.caller(world.delegates[0]), world.meeting_id, 4)
        await s.commit()
        browser = [f"account:{d}" for d, p in world.points.items() if p is None]
        snap = await attendance.snapshot(s, world.meeting_id, connected_keys=browser[:2] + ["point:xa-ba-che"])
        assert snap["present_members"] == 6 and snap["quorum_met"] and snap["browser_present"] == 2
        # once the point has counted its room, she is in its head-count, not counted twice
        again = await attendance.snapshot(s, world.meeting_id, connected_keys=browser[:2] + seated)
        assert again["present_members"] == 6 and again["browser_present"] == 2
        assert next(p for p in snap["points"] if p["id"] == "xa-ba-che")["headcount"] == 4
        await attendance.set_members_total(s, world.caller(world.secretary), world.meeting_id, 30)
        await s.commit()
        snap = await attendance.snapshot(s, world.meeting_id, connected_keys=browser[:2])
        assert snap["members_total"] == 30 and snap["quorum_required"] == 20 and not snap["quorum_met"]


async def test_moderation(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db_sessions)
    chair = world.caller(world.chair)
    async with db_sessions() as s:
        await moderation.set_lock(s, chair, world.meeting_id, True)
        with pytest.raises(MeetingError):
            await moderation.set_lock(s, world.caller(world.secretary), world.meeting_id, False)
        key = f"account:{world.delegates[0]}"
        await moderation.remove(s, chair, world.meeting_id, key, "delegate")
        with pytest.raises(MeetingError):
            await moderation.remove(s, chair, world.meeting_id, chair.key, "chair")
        await moderation.admit_guest(s, world.caller(world.secretary), world.meeting_id, world.observer)
        await moderation.open_meeting(s, chair, world.meeting_id)
        await moderation.close_meeting(s, chair, world.meeting_id)
        await s.commit()
        assert await moderation.is_locked(s, world.meeting_id)
        assert await moderation.is_excluded(s, world.meeting_id, key)
        assert await moderation.is_admitted_guest(s, world.meeting_id, world.observer)
        with pytest.raises(MeetingError) as refused:
            await moderation.open_meeting(s, chair, world.meeting_id)
        assert refused.value.code == "conflict"
