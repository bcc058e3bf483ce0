"""web/permissions.py: the one role × action table, read the way a reviewer would check it."""
from __future__ import annotations

import pytest

from web.permissions import ROLES, RULES, actions_of, allowed, check_table

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
    "meeting.document_read": {"chair", "secretary", "delegate", "operator", "observer", "admin"},
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


def test_anonymous_may_do_nothing() -> None:
    assert actions_of("anonymous") == []


def test_an_unknown_action_is_an_error_not_a_refusal() -> None:
    with pytest.raises(KeyError, match="meeting.destroy"):
        allowed("admin", "meeting.destroy")


def test_a_misspelt_role_is_caught() -> None:
    with pytest.raises(ValueError, match="secretery"):
        check_table({"meeting.create": {"secretery"}})
