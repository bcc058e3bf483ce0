"""The control events' payload models (web/control/payloads.py, web/points/payloads.py) refuse
with docs/protocol.md's field codes — `required`, `invalid_value`, `out_of_range` (`min`, `max`),
`too_long` (`max`), `too_many` (`max`), `unknown_field` — not pydantic's own names for them
(web/api/errors.py maps those, for the REST API too)."""
from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from tests.control.conftest import Room
from web.control import payloads as m
from web.events import EventError, validate
from web.path_ids import MAX_ID
from web.points.payloads import PointCommand, PointDevices, PointHealth

pytestmark = pytest.mark.control

CASES: list[tuple[type[BaseModel], dict[str, Any], list[tuple[str, str, dict[str, Any]]]]] = [
    (m.MeetingLock, {}, [("locked", "required", {})]),
    (m.MeetingLock, {"locked": None}, [("locked", "required", {})]),
    (m.MeetingLock, {"locked": 1}, [("locked", "invalid_value", {})]),
    (m.ControlPayload, {"meeting_id": None}, [("meeting_id", "required", {})]),
    (m.ControlPayload, {"meeting_id": 0}, [("meeting_id", "out_of_range", {"min": 1, "max": MAX_ID})]),
    (m.ControlPayload, {"meeting_id": 2**31}, [("meeting_id", "out_of_range", {"min": 1, "max": MAX_ID})]),
    (m.ControlPayload, {"meeting_id": 10**30}, [("meeting_id", "out_of_range", {"min": 1, "max": MAX_ID})]),
    (m.ControlPayload, {"meeting_id": True}, [("meeting_id", "invalid_value", {})]),
    (m.ControlPayload, {"meeting_id": "1"}, [("meeting_id", "invalid_value", {})]),
    (m.ControlPayload, {"meeting_id": 1.0}, [("meeting_id", "invalid_value", {})]),
    (m.ControlPayload, {"x": 1}, [("x", "unknown_field", {})]),
    (m.AgendaItem, {"item_id": -1}, [("item_id", "out_of_range", {"min": 0, "max": MAX_ID})]),
    (m.AgendaAdd, {"presenter": "A"}, [("title", "required", {})]),
    (m.AgendaAdd, {"title": "x" * 2001}, [("title", "too_long", {"max": 2000})]),
    (m.AgendaAdd, {"title": "T", "planned_minutes": 0}, [("planned_minutes", "out_of_range", {"min": 1, "max": 1440})]),
    (m.AgendaUpdate, {"item_id": 1, "title": None}, [("title", "required", {})]),
    (m.AgendaReorder, {"order": list(range(201))}, [("order", "too_many", {"max": 200})]),
    (m.AgendaReorder, {"order": [1, None, "2"]}, [("order.1", "required", {}), ("order.2", "invalid_value", {})]),
    (m.SpeakGrant, {"request_id": 1, "time_limit_s": 3601}, [("time_limit_s", "out_of_range", {"min": 0, "max": 3600})]),
    (m.VoteOpen, {"title": "V", "hand_seats": {"p": 10_001}}, [("hand_seats.p", "out_of_range", {"min": 0, "max": 10_000})]),
    (m.VoteOpen, {"title": "V", "hand_seats": {"": 1}}, [("hand_seats..[key]", "required", {})]),
    (m.VoteOpen, {"title": "V", "voters": [1] * 10_001}, [("voters", "too_many", {"max": 10_000})]),
    (m.VoteHands, {"vote_id": 1, "counts": {"yes": 1, "no": 1, "abstain": 1, "x": 1}}, [("counts", "too_many", {"max": 3})]),
    (PointHealth, {"client": "tv"}, [("client", "invalid_value", {})]),
    (PointHealth, {"client": "agent", "loss_pct": 100.5}, [("loss_pct", "out_of_range", {"min": 0, "max": 100})]),
    (PointHealth, {"client": "agent", "fps": float("nan")}, [("fps", "out_of_range", {"min": 0, "max": 240})]),
    (PointHealth, {"client": "agent", "fps": True}, [("fps", "invalid_value", {})]),
    (PointCommand, {"command": "mic", "on": None}, [("on", "required", {})]),
    (PointDevices, {"devices": [{"kind": "audio", "x": "y"}], "mic": True, "camera": False},
     [("devices.0.x", "unknown_field", {})]),
]


@pytest.mark.parametrize(("model", "payload", "expected"), CASES, ids=[f"{c[0].__name__}-{i}" for i, c in enumerate(CASES)])
def test_refusals_carry_the_documented_field_codes(model: type[BaseModel], payload: dict[str, Any],
                                                   expected: list[tuple[str, str, dict[str, Any]]]) -> None:
    with pytest.raises(EventError) as refused:
        validate(model, payload)
    assert refused.value.code == "bad_request"
    assert [(p.field, p.code, p.params) for p in refused.value.problems] == expected


def test_left_out_is_not_null() -> None:
    """A field that may be left out reads as None (or its default) when it is."""
    update = validate(m.AgendaUpdate, {"item_id": 3, "presenter": "Bà Lan"})
    assert (update.item_id, update.title, update.presenter, update.planned_minutes) == (3, None, "Bà Lan", None)
    assert validate(m.ControlPayload, {}).meeting_id is None
    health = validate(PointHealth, {"client": "screen", "rtt_ms": 23})
    assert (health.rtt_ms, health.media, health.fps) == (23.0, False, 0.0)


async def test_acks_name_the_field_code_and_bounds_and_change_nothing(room: Room) -> None:
    await room.call("chair", "meeting_open")
    asked = await room.call("delegate", "speak_request", {"topic": "Ngân sách"})
    before = await room.fingerprint()
    ack = await room.call("chair", "speak_grant", {"request_id": asked["request_id"], "time_limit_s": 7200, "y": 1})
    assert ack["ok"] is False and ack["error"] == "bad_request", ack
    assert ack["fields"] == [
        {"field": "time_limit_s", "code": "out_of_range", "params": {"min": 0, "max": 3600},
         "message": "Giá trị phải từ 0 đến 3600."},
        {"field": "y", "code": "unknown_field", "params": {}, "message": "Trường này không tồn tại."},
    ]
    ack = await room.call("point", "point_command", {"command": "device", "kind": "audio"})
    assert ack["fields"] == [{"field": "device_id", "code": "required", "params": {}, "message": "Trường này không được để trống."}]
    other = await room.call("chair", "meeting_lock", {"locked": True, "meeting_id": room.meeting_id + 1})
    assert other["error"] == "conflict", other
    assert await room.fingerprint() == before
