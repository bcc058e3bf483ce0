"""Every REST endpoint fuzzed from its OpenAPI document (/api/openapi.json) with schemathesis.

Valid and invalid requests (schemathesis's positive and negative modes), as an administrator
and as a delegate, against the whole app served on loopback: never a 5xx, every refusal in
the one error format (a code, a message), and a refused request changes no table.
"""
from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.control.conftest import Room, cookie_for
from tests.control.test_fuzz import harness  # noqa: F401  (the served app and its meeting)
from web.api.openapi import openapi_document
from web.auth import SESSION_COOKIE

pytestmark = [pytest.mark.control, pytest.mark.security]

# What ends the caller's session or disconnects the meeting's members (their presence then
# changes under the next example) is fuzzed apart, below, with invalid requests only and a
# fresh session each time; tests/test_rest_api.py and tests/test_sessions_hardening.py cover
# their valid use.
SESSION_ENDERS = ["/logout", "/api/me/password", "/api/accounts/{account_id}", "/api/accounts/{account_id}/reset-password"]
DOCUMENT = schemathesis.openapi.from_dict(openapi_document())
SCHEMA = DOCUMENT.exclude(path=SESSION_ENDERS)


def _session(h, room: Room, who: str) -> requests.Session:  # type: ignore[no-untyped-def]
    cookie = h.run(cookie_for(room.server, room.account(who), who, who))
    session = requests.Session()
    session.cookies.set(SESSION_COOKIE, cookie)
    return session


def _check(h, room: Room, session: requests.Session, who: str, case: Any) -> None:  # type: ignore[no-untyped-def]
    before = h.run(room.fingerprint())
    response = case.call(base_url=room.server.url, session=session, timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:500])
    if response.status_code >= 400:
        where = (case.method, case.formatted_path, case.query, case.body, response.status_code, response.text[:300])
        if case.formatted_path.startswith("/api/"):  # /login and /logout also answer forms with pages
            assert (response.headers.get("content-type") or [""])[0].startswith("application/json"), where
            body = response.json()
            assert body["ok"] is False and isinstance(body["error"], str) and body["message"], where
        if response.status_code == 401:  # an example ended the caller's session (a login, say): log in again
            session.cookies.set(SESSION_COOKIE, h.run(cookie_for(room.server, room.account(who), who, who)))
            return
        assert h.run(room.fingerprint()) == before, where


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["admin", "delegate"])
def test_every_endpoint_against_its_openapi_document(harness, mode: GenerationMode, who: str) -> None:  # noqa: F811
    h, room = harness
    session = _session(h, room, who)

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=SCHEMA.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        _check(h, room, session, who, case)

    check()


@pytest.mark.parametrize("who", ["admin", "delegate"])
def test_what_ends_sessions_refuses_invalid_requests_and_changes_nothing(harness, who: str) -> None:  # noqa: F811
    h, room = harness

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=DOCUMENT.include(path=SESSION_ENDERS).as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def check(case: Any) -> None:
        session = _session(h, room, who)  # a fresh one: an accepted call may have ended the last
        before = h.run(room.fingerprint())
        response = case.call(base_url=room.server.url, session=session, timeout=30)
        where = (case.method, case.formatted_path, case.query, case.body, response.status_code, response.text[:300])
        assert response.status_code < 500, where
        if response.status_code >= 400:
            if case.formatted_path.startswith("/api/"):
                body = response.json()
                assert body["ok"] is False and isinstance(body["error"], str) and body["message"], where
            assert h.run(room.fingerprint()) == before, where
        h.run(room.rejoin())  # an accepted logout of a member's account: the meeting as it was

    check()
