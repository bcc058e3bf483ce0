"""Who may do what: ONE table of actions × roles, checked by the pages and the REST API alike.

A role is what the server knows about the caller before looking at any particular meeting:
an account's role (web/i18n.py names them), "point" for a logged-in bridge point, "anonymous"
for nobody. Actions are dotted names, `<object>.<verb>`. Rules that depend on one meeting
(is this delegate invited? is the meeting still scheduled?) are the domain's, in `meetings/`,
checked after `allowed` said yes; the in-meeting capacities of the control plane are
`meetings.control_common.PERMISSIONS`.

Every Socket.IO event has its row in SOCKET_EVENTS (web.events.on_event checks it before the
handler runs: the connection's role, then, for events inside a meeting, the sender's capacity
in the meeting it joined); every route of the web server names its action with
`web.auth.requires` or the REST registry, or is listed in PUBLIC_ROUTES.

Adding an action or event: one line here, one row in tests/test_permissions_table.py's expectations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from meetings.control_common import PERMISSIONS as CAPACITY_RULES
from meetings.models import ACCOUNT_ROLES

ROLES: tuple[str, ...] = (*ACCOUNT_ROLES, "point", "anonymous")
PEOPLE = frozenset(ACCOUNT_ROLES)  # every logged-in person, whatever their role
SCHEDULERS = frozenset({"secretary", "admin"})
ADMINS = frozenset({"admin"})
ATTENDEES = PEOPLE | {"point"}  # whoever may be invited to a meeting, persons and bridge points

RULES: dict[str, frozenset[str]] = {
    # meetings: listing and reading are filtered to invitations by meetings/ (admins and secretaries see all)
    "meeting.list": PEOPLE,
    "meeting.read": PEOPLE,
    "meeting.read_any": SCHEDULERS,  # also meetings one is not invited to
    "meeting.create": SCHEDULERS,
    "meeting.edit": SCHEDULERS,
    "meeting.cancel": SCHEDULERS,
    "meeting.copy": SCHEDULERS,
    "meeting.document_upload": SCHEDULERS,
    "meeting.document_read": ATTENDEES,  # invitees only, checked by meetings/
    "meeting.document_attach": PEOPLE,  # the meeting's chair or secretary, or a scheduler (document_upload)
    "meeting.join": ATTENDEES,  # invitees, or the lobby (meetings/ and web/membership.py decide)
    "meeting.take_part": ATTENDEES,  # then the capacity in the meeting: meetings.control_common.PERMISSIONS
    "meeting.transcript": ATTENDEES,  # invitees only, checked by meetings/
    "meeting.minutes": ATTENDEES,  # then the capacity: `minutes_*` of meetings.control_common.PERMISSIONS
    "meeting.audit_read": PEOPLE,  # chair, secretary of the meeting, administrators
    "meeting.outages": PEOPLE,  # chair, secretary of the meeting, administrators
    "session.home": ATTENDEES,  # the home page (a bridge point is sent to its screen)
    "transcription.status": ATTENDEES,
    # accounts
    "account.list": SCHEDULERS,  # a secretary picks chair and delegates from it
    "account.create": ADMINS,
    "account.update": ADMINS,
    "account.deactivate": ADMINS,
    "account.reset_password": ADMINS,
    "account.change_own_password": PEOPLE,
    # bridge points
    "point.list": ADMINS | {"secretary"},  # a secretary invites points
    "point.token_issue": ADMINS,
    "point.token_revoke": ADMINS,
    "point.current_meeting": frozenset({"point", "operator"}),  # an operator: of the point attached to them
    "point.console": frozenset({"point", "operator"}),
}




@dataclass(frozen=True)
class EventRule:
    """Who may send one Socket.IO event: `action` of RULES for the connection's role; when
    `in_meeting` names an action of meetings.control_common.PERMISSIONS, the sender must have
    joined a meeting (else `conflict`) in a capacity that action allows (else `forbidden`)."""

    action: str
    in_meeting: str | None = None


def _inside(name: str, capacity_action: str | None = None) -> EventRule:
    return EventRule("meeting.take_part", capacity_action or name)


CONTROL_EVENTS = (
    "control_state", "meeting_open", "meeting_close", "meeting_lock", "meeting_configure",
    "agenda_add", "agenda_update", "agenda_remove", "agenda_reorder", "agenda_set_current",
    "speak_request", "speak_withdraw", "speak_grant", "speak_deny", "speak_end",
    "vote_open", "vote_cast", "vote_hands", "vote_close", "vote_cancel",
    "headcount_report", "moderate_mute", "moderate_remove", "lobby_admit", "lobby_reject",
)
MEDIA_EVENTS = ("join", "publish", "subscribe", "answer", "view", "keyframe", "state", "leave")

SOCKET_EVENTS: dict[str, EventRule] = {
    "join_meeting": EventRule("meeting.join"),
    "leave_meeting": EventRule("meeting.join"),
    "transcript_watch": EventRule("meeting.transcript"),  # invitation checked by the handler
    **{name: _inside(name) for name in CONTROL_EVENTS},
    **{f"media:{name}": _inside(f"media:{name}", "media") for name in MEDIA_EVENTS},
    "point_health": _inside("point_health"),
    "points_status": _inside("points_status"),
    "point_command": _inside("point_command"),
    "point_devices": _inside("point_devices", "point_command"),  # the answer to a console's command
}

# Routes anyone may call, logged in or not (every other route names its action).
PUBLIC_ROUTES = frozenset({
    ("GET", "/"), ("POST", "/login"), ("POST", "/logout"), ("POST", "/logout/everywhere"),
    ("GET", "/point"), ("POST", "/point/login"), ("GET", "/healthz"),
    ("GET", "/metrics"),  # its own check: configured addresses or a bearer token (web/health.py)
    ("GET", "/api/openapi.json"), ("POST", "/tsa"), ("GET", "/crl/root.crl"),
    ("GET", "/verify"), ("POST", "/verify"), ("POST", "/api/verify"),  # anyone checks a signed minutes file
    # Engine.IO: the handshake authenticates (web/realtime.py), then SOCKET_EVENTS
    ("GET", "/socket.io/"), ("POST", "/socket.io/"), ("OPTIONS", "/socket.io/"),
})


def event_rule(event: str) -> EventRule:
    """The rule of a Socket.IO event; an event without one is a programming error."""
    try:
        return SOCKET_EVENTS[event]
    except KeyError:
        raise KeyError(f"no permission rule for Socket.IO event {event!r} (web/permissions.py)") from None


def capacity_allows(capacity: str | None, action: str) -> bool:
    """In-meeting rule (meetings.control_common.PERMISSIONS): may this capacity do `action`?"""
    return capacity is not None and capacity in CAPACITY_RULES[action]


def allowed(role: str, action: str) -> bool:
    """True when `role` may perform `action`; an unknown action is a programming error."""
    try:
        return role in RULES[action]
    except KeyError:
        raise KeyError(f"no permission rule for action {action!r} (web/permissions.py)") from None


def actions_of(role: str) -> list[str]:
    """Every action the role may perform (the home page shows the matching buttons)."""
    return [action for action, roles in RULES.items() if role in roles]


def check_table(rules: dict[str, Iterable[str]] = RULES) -> None:
    """Every role named in the table exists: a typo would silently forbid."""
    for action, roles in rules.items():
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"{action}: unknown roles {sorted(unknown)}")


def check_events(events: dict[str, EventRule] = SOCKET_EVENTS) -> None:
    """Every event's actions exist in their tables."""
    for event, rule in events.items():
        if rule.action not in RULES or (rule.in_meeting is not None and rule.in_meeting not in CAPACITY_RULES):
            raise ValueError(f"{event}: unknown action {rule}")


check_table()
check_events()
