"""web/permissions.py: the one role × action table, read the way a reviewer would check it."""
from __future__ import annotations

import pytest

from meetings.control_common import CAPACITIES, PERMISSIONS
from web.permissions import (
    ROLES, RULES, SOCKET_EVENTS, EventRule, actions_of, allowed, capacity_allows, check_events, check_table, event_rule,
)

pytestmark = pytest.mark.security
ATTENDEES = {"chair", "secretary", "delegate", "operator", "observer", "admin", "point"}
PEOPLE = ATTENDEES - {"point"}

# The expected answer for every cell that must be True; every other cell must be False.
EXPECTED_ALLOWED = {
    "meeting.list": {"chair", "secretary", "delegate", "operator", "observer", "admin"},
    "meeting.read": {"chair", "secretary", "delegate", "operator", "observer", "admin"},
    "meeting.read_any": {"secretary", "admin"},
    "meeting.create": {"secretary", "admin"},
    "meeting.edit": {"secretary", "admin"},
    "meeting.cancel": {"secretary", "admin"},
    "meeting.copy": {"secretary", "admin"},
    "meeting.document_upload": {"secretary", "admin"},
    "meeting.document_read": ATTENDEES,
    "meeting.document_attach": PEOPLE,
    "meeting.outages": PEOPLE,
    "session.home": ATTENDEES,
    "meeting.join": ATTENDEES,
    "meeting.take_part": ATTENDEES,
    "meeting.transcript": ATTENDEES,
    "meeting.minutes": ATTENDEES,
    "meeting.audit_read": PEOPLE,
    "transcription.status": ATTENDEES,
    "account.list": {"secretary", "admin"},
    "account.create": {"admin"},
    "account.update": {"admin"},
    "account.deactivate": {"admin"},
    "account.reset_password": {"admin"},
    "account.change_own_password": {"chair", "secretary", "delegate", "operator", "observer", "admin"},
    "point.list": {"secretary", "admin"},
    "point.token_issue": {"admin"},
    "point.token_revoke": {"admin"},
    "point.current_meeting": {"point", "operator"},  # an operator: of the point attached to them
    "point.console": {"point", "operator"},
}


def test_every_cell_of_the_table() -> None:
    assert set(RULES) == set(EXPECTED_ALLOWED)
    for action, expected in EXPECTED_ALLOWED.items():
        for role in ROLES:
            assert allowed(role, action) == (role in expected), (role, action)


# Every Socket.IO event: (role-level action, in-meeting action or None).
EXPECTED_EVENTS = {
    "join_meeting": ("meeting.join", None), "leave_meeting": ("meeting.join", None),
    "transcript_watch": ("meeting.transcript", None),
    **{e: ("meeting.take_part", e) for e in (
        "control_state", "meeting_open", "meeting_close", "meeting_lock", "meeting_configure", "agenda_add",
        "agenda_update", "agenda_remove", "agenda_reorder", "agenda_set_current", "speak_request", "speak_withdraw",
        "speak_grant", "speak_deny", "speak_end", "vote_open", "vote_cast", "vote_hands", "vote_close", "vote_cancel",
        "headcount_report", "moderate_mute", "moderate_remove", "lobby_admit", "lobby_reject",
        "point_health", "points_status", "point_command")},
    "point_devices": ("meeting.take_part", "point_command"),
    **{f"media:{e}": ("meeting.take_part", "media")
       for e in ("join", "publish", "subscribe", "answer", "view", "keyframe", "state", "leave")},
}
# The in-meeting table (meetings.control_common.PERMISSIONS), cell by cell.
EXPECTED_CAPACITIES = {
    "control_state": set(CAPACITIES), "media": set(CAPACITIES), "lobby_read": {"chair", "secretary"},
    "outages_read": {"chair", "secretary", "admin"},
    "meeting_open": {"chair", "secretary"}, "meeting_close": {"chair"}, "meeting_lock": {"chair"},
    "meeting_configure": {"chair", "secretary"}, "agenda_add": {"chair", "secretary"},
    "agenda_update": {"chair", "secretary"}, "agenda_remove": {"chair", "secretary"},
    "agenda_reorder": {"chair", "secretary"}, "agenda_set_current": {"chair"}, "document_upload": {"chair", "secretary"},
    "speak_request": {"delegate", "point"}, "speak_withdraw": {"delegate", "point"}, "speak_grant": {"chair"},
    "speak_deny": {"chair"}, "speak_end": {"chair", "delegate", "point"}, "vote_open": {"chair"},
    "vote_cast": {"chair", "secretary", "delegate"}, "vote_hands": {"point"}, "vote_close": {"chair"},
    "vote_cancel": {"chair"}, "headcount_report": {"point"}, "moderate_mute": {"chair"}, "moderate_remove": {"chair"},
    "lobby_admit": {"chair", "secretary"}, "lobby_reject": {"chair", "secretary"},
    "audit_read": {"chair", "secretary", "admin"}, "transcript_correct": {"secretary"}, "point_health": {"point"},
    "point_command": {"point"}, "points_status": {"chair", "secretary", "admin", "point"},
    "minutes_conclusion": {"chair", "secretary"}, "minutes_edit": {"secretary"}, "minutes_comment": {"chair", "secretary"},
    "minutes_send": {"secretary"}, "minutes_read": {"chair", "secretary", "admin"}, "minutes_seal": {"secretary", "admin"},
}


def test_every_socket_event_has_its_rule() -> None:
    assert {e: (r.action, r.in_meeting) for e, r in SOCKET_EVENTS.items()} == EXPECTED_EVENTS


def test_every_cell_of_the_in_meeting_table() -> None:
    assert set(PERMISSIONS) == set(EXPECTED_CAPACITIES)
    for action, expected in EXPECTED_CAPACITIES.items():
        for capacity in (*CAPACITIES, None):
            assert capacity_allows(capacity, action) == (capacity in expected), (capacity, action)


def test_an_event_without_a_rule_is_an_error() -> None:
    with pytest.raises(KeyError, match="media:hijack"):
        event_rule("media:hijack")
    with pytest.raises(ValueError, match="no_such_action"):
        check_events({"x": EventRule("meeting.take_part", "no_such_action")})


def test_anonymous_may_do_nothing() -> None:
    assert actions_of("anonymous") == []


def test_an_unknown_action_is_an_error_not_a_refusal() -> None:
    with pytest.raises(KeyError, match="meeting.destroy"):
        allowed("admin", "meeting.destroy")


def test_a_misspelt_role_is_caught() -> None:
    with pytest.raises(ValueError, match="secretery"):
        check_table({"meeting.create": {"secretery"}})
