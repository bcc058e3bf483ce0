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

# Left out: what ends the fuzzing caller's session or disconnects the meeting's members (their
# presence then changes under the next example); tests/test_rest_api.py and
# tests/test_sessions_hardening.py cover those.
SCHEMA = schemathesis.openapi.from_dict(openapi_document()).exclude(
    path=["/logout", "/api/me/password", "/api/accounts/{account_id}", "/api/accounts/{account_id}/reset-password"])


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
