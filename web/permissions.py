"""Who may do what: ONE table of actions × roles, checked by the pages and the REST API alike.

A role is what the server knows about the caller before looking at any particular meeting:
an account's role (web/i18n.py names them), "point" for a logged-in bridge point, "anonymous"
for nobody. Actions are dotted names, `<object>.<verb>`. Rules that depend on one meeting
(is this delegate invited? is the meeting still scheduled?) are the domain's, in `meetings/`,
checked after `allowed` said yes; the in-meeting capacities of the control plane are
`meetings.control_common.PERMISSIONS`.

Adding an action: one line here, one row in tests/test_permissions_table.py's expectations.
"""
from __future__ import annotations

from typing import Iterable

from meetings.models import ACCOUNT_ROLES

ROLES: tuple[str, ...] = (*ACCOUNT_ROLES, "point", "anonymous")
PEOPLE = frozenset(ACCOUNT_ROLES)  # every logged-in person, whatever their role
SCHEDULERS = frozenset({"secretary", "admin"})
ADMINS = frozenset({"admin"})

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
    "meeting.document_read": PEOPLE,  # invitees only, checked by meetings/
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


check_table()
