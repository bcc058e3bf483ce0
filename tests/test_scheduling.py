"""Scheduling, listing, account and bridge-point administration in meetings/, on both engines."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from meetings import account_admin, listing, point_admin, scheduling
from meetings.accounts import (
    AccountError, add_account, authenticate_password, authenticate_point_token, open_session, resolve_session,
)
from meetings.audit import Actor, entries
from meetings.control_models import AgendaItem, MeetingControl
from meetings.meetings_service import MeetingError
from meetings.models import Meeting, MeetingPoint, Participant
from meetings.scheduling import AgendaDraft, DelegateDraft, InvalidMeeting, MeetingDraft

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)  # 08:00 in Hà Nội
SECRETARY = Actor("account:2", "Trần Thị Bình")


async def _people(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = {}
    async with sessions() as session:
        for username, role, name in (
            ("admin", "admin", "Quản trị"), ("thuky", "secretary", "Trần Thị Bình"), ("chutoa", "chair", "Nguyễn Văn An"),
            ("daibieu1", "delegate", "Lê Văn Cường"), ("daibieu2", "delegate", "Phạm Thị Dung"),
        ):
            ids[username] = (await add_account(session, username, role, "mat-khau-123", name)).id
    return ids


def _draft(ids: dict[str, int], **changes) -> MeetingDraft:  # type: ignore[no-untyped-def]
    draft = MeetingDraft(
        title="Giao ban tháng 12", room_id="phong-hop-ubnd", start=NOW + timedelta(hours=6), end=NOW + timedelta(hours=8),
        chair_id=ids["chutoa"], secretary_id=ids["thuky"], location="Hội trường tầng 3",
        delegates=(DelegateDraft(ids["daibieu1"], "xa-ba-che"), DelegateDraft(ids["daibieu2"])),
        members_total=35,
        agenda=(AgendaDraft("Báo cáo kinh tế - xã hội", "Sở Kế hoạch", 30), AgendaDraft("Thảo luận", "", 45)),
    )
    return replace(draft, **changes)


async def test_a_valid_draft_is_scheduled_with_points_delegates_agenda_and_audit(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        meeting_id = await scheduling.schedule(session, SECRETARY, _draft(ids), NOW)
    async with db_sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert (meeting.status, meeting.ical_sequence, meeting.scheduled_end) == ("scheduled", 0, NOW + timedelta(hours=8))
        assert meeting.ical_uid.endswith("@hoinghi")
        points = set((await session.execute(select(MeetingPoint.point_id).where(MeetingPoint.meeting_id == meeting_id))).scalars())
        assert "xa-ba-che" in points and len(points) == 6  # the room's points by default
        delegates = {(p.account_id, p.point_id) for p in (await session.execute(select(Participant))).scalars()}
        assert delegates == {(ids["daibieu1"], "xa-ba-che"), (ids["daibieu2"], None)}
        items = (await session.execute(select(AgendaItem).order_by(AgendaItem.position))).scalars().all()
        assert [(i.title, i.planned_minutes) for i in items] == [("Báo cáo kinh tế - xã hội", 30), ("Thảo luận", 45)]
        assert (await session.get(MeetingControl, meeting_id)).members_total == 35
        log = await entries(session, meeting_id)
        assert [e["action"] for e in log] == ["meeting_schedule"] and log[0]["actor"] == "account:2"


async def test_every_invalid_field_is_reported_and_nothing_saved(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    bad = _draft(
        ids, title="x" * 301, start=NOW - timedelta(minutes=1), end=NOW - timedelta(hours=1),
        point_ids=("ubnd-tinh", "khong-co"), delegates=(DelegateDraft(ids["daibieu1"]), DelegateDraft(ids["daibieu1"])),
        agenda=(AgendaDraft("", planned_minutes=0),),
    )
    async with db_sessions() as session:
        with pytest.raises(InvalidMeeting) as raised:
            await scheduling.schedule(session, SECRETARY, bad, NOW)
        problems = {(p.field, p.code) for p in raised.value.problems}
        assert problems == {
            ("title", "too_long"), ("start", "start_in_past"), ("end", "end_before_start"),
            ("points.1", "unknown_point"), ("delegates.1", "duplicate_delegate"),
            ("agenda.0.title", "required"), ("agenda.0.planned_minutes", "out_of_range"),
        }
        assert next(p for p in raised.value.problems if p.code == "duplicate_delegate").params == {"name": "Lê Văn Cường"}
        assert (await session.execute(select(func.count(Meeting.id)))).scalar_one() == 0


async def test_a_delegate_may_sit_only_at_an_invited_point(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    draft = _draft(ids, point_ids=("ubnd-tinh",), delegates=(DelegateDraft(ids["daibieu1"], "xa-ba-che"),))
    async with db_sessions() as session:
        problems = await scheduling.validate(session, scheduling.normalised(draft), NOW)
    assert [(p.field, p.code) for p in problems] == [("delegates.0.point_id", "point_not_invited")]


async def test_edit_grows_the_sequence_keeps_item_ids_and_is_refused_once_open(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        meeting_id = await scheduling.schedule(session, SECRETARY, _draft(ids), NOW)
    async with db_sessions() as session:
        draft = await scheduling.draft_of(session, meeting_id)
        first = draft.agenda[0]
        edited = replace(draft, title="Giao ban tháng 12 (dời giờ)", start=NOW + timedelta(hours=7), agenda=(
            replace(first, title="Báo cáo KT-XH"), AgendaDraft("Kết luận", "Chủ tọa", 10),
        ))
        await scheduling.update(session, SECRETARY, meeting_id, edited, NOW)
    async with db_sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert (meeting.title, meeting.ical_sequence) == ("Giao ban tháng 12 (dời giờ)", 1)
        items = (await session.execute(select(AgendaItem).order_by(AgendaItem.position))).scalars().all()
        assert [(i.id == first.id, i.title) for i in items] == [(True, "Báo cáo KT-XH"), (False, "Kết luận")]
        assert [e["action"] for e in await entries(session, meeting_id)] == ["meeting_schedule", "meeting_update"]
        meeting.status = "open"
        await session.commit()
    async with db_sessions() as session:
        with pytest.raises(MeetingError) as raised:
            await scheduling.update(session, SECRETARY, meeting_id, edited, NOW)
        assert raised.value.code == "not_scheduled" and raised.value.params["status"] == "open"
        with pytest.raises(MeetingError):
            await scheduling.cancel(session, SECRETARY, meeting_id, "Trùng lịch", NOW)


async def test_cancel_needs_a_reason_and_copy_lands_next_week(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        meeting_id = await scheduling.schedule(session, SECRETARY, _draft(ids), NOW)
        with pytest.raises(InvalidMeeting):
            await scheduling.cancel(session, SECRETARY, meeting_id, "  ", NOW)
        await scheduling.cancel(session, SECRETARY, meeting_id, "Trùng lịch họp Tỉnh ủy", NOW)
    async with db_sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        assert (meeting.status, meeting.cancel_reason, meeting.ical_sequence) == ("cancelled", "Trùng lịch họp Tỉnh ủy", 1)
        copy = await scheduling.copy_draft(session, meeting_id, NOW + timedelta(days=3))
    assert copy.start == NOW + timedelta(days=7, hours=6) and copy.end - copy.start == timedelta(hours=2)
    assert [a.id for a in copy.agenda] == [None, None] and copy.delegates[0].point_id == "xa-ba-che"


async def test_home_lists_only_what_each_person_takes_part_in(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        soon = await scheduling.schedule(session, SECRETARY, _draft(ids, start=NOW + timedelta(minutes=20)), NOW)
        later = await scheduling.schedule(
            session, SECRETARY, _draft(ids, title="Họp chuyên đề", start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, hours=1),
                                       delegates=(DelegateDraft(ids["daibieu2"]),)), NOW)
        past = await scheduling.schedule(session, SECRETARY, _draft(ids, title="Họp tháng 11"), NOW)
        (await session.get(Meeting, past)).scheduled_start = NOW - timedelta(days=30)
        (await session.get(Meeting, past)).status = "closed"
        await session.commit()
    async with db_sessions() as session:
        mine = await listing.home_meetings(session, ids["daibieu1"], False, NOW)
        everything = await listing.home_meetings(session, ids["admin"], True, NOW)
        nothing = await listing.home_meetings(session, ids["admin"], False, NOW)
    assert [m.id for m in mine.upcoming] == [soon] and [m.id for m in mine.past] == [past]
    assert mine.upcoming[0].joinable  # 20 minutes before the start
    assert [m.id for m in everything.upcoming] == [soon, later] and not everything.upcoming[1].joinable
    assert nothing.upcoming == [] and nothing.past == []


async def test_account_rules_protect_the_only_admin_and_meetings_in_progress(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        await scheduling.schedule(session, SECRETARY, _draft(ids), NOW)
        with pytest.raises(AccountError) as raised:
            await account_admin.set_active(session, ids["admin"], False)
        assert raised.value.code == "only_admin"
        with pytest.raises(AccountError) as raised:
            await account_admin.update_account(session, ids["admin"], role="delegate")
        assert raised.value.code == "only_admin"
        with pytest.raises(AccountError) as raised:
            await account_admin.set_active(session, ids["chutoa"], False)
        assert raised.value.code == "in_charge_of_meeting" and raised.value.params["title"] == "Giao ban tháng 12"
    async with db_sessions() as session:
        delegate = await authenticate_password(session, "daibieu1", "mat-khau-123")
        cookie = await open_session(session, delegate)
        await account_admin.set_active(session, ids["daibieu1"], False)
        assert await resolve_session(session, cookie) is None  # every session ends at once
        found = await account_admin.list_accounts(session, "pham thi")
        assert [a.username for a in found] == ["daibieu2"]


async def test_reset_password_forces_a_change_and_own_change_clears_it(db_sessions) -> None:  # type: ignore[no-untyped-def]
    ids = await _people(db_sessions)
    async with db_sessions() as session:
        one_time = await account_admin.reset_password(session, ids["daibieu1"])
        principal = await authenticate_password(session, "daibieu1", one_time)
        assert principal is not None and principal.must_change_password
        assert await authenticate_password(session, "daibieu1", "mat-khau-123") is None
        with pytest.raises(AccountError) as raised:
            await account_admin.change_own_password(session, ids["daibieu1"], "sai", "mat-khau-moi-456")
        assert raised.value.code == "wrong_password"
        await account_admin.change_own_password(session, ids["daibieu1"], one_time, "mat-khau-moi-456")
        assert not (await authenticate_password(session, "daibieu1", "mat-khau-moi-456")).must_change_password


async def test_issued_point_tokens_work_beside_rooms_toml_and_revoke_ends_both(db_sessions) -> None:  # type: ignore[no-untyped-def]
    async with db_sessions() as session:
        token = await point_admin.issue_token(session, "xa-ba-che", "account:1")
        principal = await authenticate_point_token(session, token)
        assert principal is not None and principal.id == "xa-ba-che"
        cookie = await open_session(session, principal, point_token=token)
        assert (await resolve_session(session, cookie)).id == "xa-ba-che"
        views = {p.id: p for p in await point_admin.list_points(session)}
        assert views["xa-ba-che"].token_issued and views["xa-ba-che"].last_seen_at is not None
        second = await point_admin.issue_token(session, "xa-ba-che", "account:1")
        assert await authenticate_point_token(session, token) is None  # the earlier one stopped
        assert await resolve_session(session, cookie) is None
        assert await authenticate_point_token(session, second) is not None
        assert await point_admin.revoke_tokens(session, "xa-ba-che") == 0
        assert await authenticate_point_token(session, second) is None
        assert not {p.id: p for p in await point_admin.list_points(session)}["xa-ba-che"].token_issued
        with pytest.raises(AccountError):
            await point_admin.issue_token(session, "khong-co", "account:1")
