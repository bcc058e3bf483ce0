"""The audit log: append-only in the database, hash-chained, an edited row is detected."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from meetings import agenda, audit, moderation, speaking
from tests.control.helpers import make_world

pytestmark = pytest.mark.control


async def _history(sessions):  # type: ignore[no-untyped-def]
    world = await make_world(sessions)
    chair, secretary = world.caller(world.chair), world.caller(world.secretary)
    async with sessions() as s:
        item = await agenda.add_item(s, secretary, world.meeting_id, "Báo cáo kinh tế – xã hội", "Sở KH&ĐT", 30)
        await agenda.add_item(s, secretary, world.meeting_id, "Dự toán ngân sách")
        await moderation.open_meeting(s, chair, world.meeting_id)
        await agenda.set_current(s, chair, world.meeting_id, item)
        request = await speaking.request(s, world.caller(world.delegates[1]), world.meeting_id, "Ý kiến về số liệu")
        await speaking.grant(s, chair, world.meeting_id, request, 120)
        await s.commit()
    return world


async def test_every_change_is_chained_and_verifies(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _history(db_sessions)
    async with db_sessions() as s:
        check = await audit.verify_chain(s, world.meeting_id)
        log = await audit.entries(s, world.meeting_id)
    assert check.ok and check.entries == 6
    assert [e["action"] for e in log] == [
        "agenda_add", "agenda_add", "meeting_open", "agenda_set_current", "speak_request", "speak_grant"]
    assert log[0]["actor"] == f"account:{world.secretary}" and log[0]["actor_name"] == "Trần Thị Thư Ký"
    assert log[0]["details"]["title"] == "Báo cáo kinh tế – xã hội"


async def test_database_refuses_update_and_delete(db_sessions) -> None:  # type: ignore[no-untyped-def]
    world = await _history(db_sessions)
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 6"):
        async with db_sessions() as s:
            with pytest.raises(DBAPIError, match="append-only"):
                await s.execute(text(statement))
            await s.rollback()
    async with db_sessions() as s:
        assert (await audit.verify_chain(s, world.meeting_id)).ok


async def _drop_protection(s) -> None:  # type: ignore[no-untyped-def]
    """What someone with full database access could do before editing the log."""
    if s.bind.dialect.name == "postgresql":
        await s.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
    else:
        await s.execute(text("DROP TRIGGER audit_log_no_update"))
        await s.execute(text("DROP TRIGGER audit_log_no_delete"))


@pytest.mark.parametrize("tamper", [
    "UPDATE audit_log SET details = replace(details, 'Sở KH&ĐT', 'UBND') WHERE seq = 1",
    "UPDATE audit_log SET actor = 'account:999' WHERE seq = 5",
    "UPDATE audit_log SET at = at + interval '1 second' WHERE seq = 3",
    "DELETE FROM audit_log WHERE seq = 4",
])
async def test_an_edited_row_is_detected(db_sessions, tamper: str) -> None:  # type: ignore[no-untyped-def]
    world = await _history(db_sessions)
    async with db_sessions() as s:
        await _drop_protection(s)
        if s.bind.dialect.name == "sqlite" and "interval" in tamper:
            tamper = "UPDATE audit_log SET at = '2030-01-01 00:00:00.000000' WHERE seq = 3"
        await s.execute(text(tamper))
        await s.commit()
    async with db_sessions() as s:
        check = await audit.verify_chain(s, world.meeting_id)
    assert not check.ok
    expected = {"seq = 1": 1, "seq = 5": 5, "seq = 3": 3, "seq = 4": 5}
    assert check.first_bad_seq == next(v for k, v in expected.items() if k in tamper)


async def test_rehashing_an_edited_row_breaks_the_next_link(db_sessions) -> None:  # type: ignore[no-untyped-def]
    """Even recomputing the edited row's own hash is caught by the following entry."""
    world = await _history(db_sessions)
    async with db_sessions() as s:
        await _drop_protection(s)
        row = (await s.execute(text("SELECT * FROM audit_log WHERE meeting_id = :m AND seq = 2"),
                               {"m": world.meeting_id})).mappings().one()
        from datetime import timezone
        at = row["at"] if not isinstance(row["at"], str) else __import__("datetime").datetime.fromisoformat(row["at"])
        at = at.replace(tzinfo=at.tzinfo or timezone.utc)
        details = row["details"].replace("Dự toán", "Quyết toán")
        new_hash = audit.entry_hash(row["prev_hash"], row["meeting_id"], 2, at, row["actor"], row["actor_name"],
                                    row["action"], details)
        await s.execute(text("UPDATE audit_log SET details = :d, hash = :h WHERE id = :i"),
                        {"d": details, "h": new_hash, "i": row["id"]})
        await s.commit()
    async with db_sessions() as s:
        check = await audit.verify_chain(s, world.meeting_id)
    assert not check.ok and check.first_bad_seq == 3
