"""The minutes' routes read their bodies with web/minutes/bodies.py's models and ask the
in-meeting table (`minutes_*`) who may: JSON strictly, the editor's forms as text; a refusal is
the REST API's error format in the caller's language (a form: the sentence on the editor page)
and changes nothing."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from sqlalchemy import text

from meetings.minutes import service
from tests.control.conftest import cookie_for
from tests.minutes.test_drafting import held_meeting
from web.auth import SESSION_COOKIE
from web.csrf import FIELD, token_for_session

QUERIES = {
    **{t: f"SELECT * FROM {t} WHERE meeting_id = :m" for t in ("minutes_version", "item_conclusion", "minutes_signing", "audit_log")},
    "minutes_comment": "SELECT c.* FROM minutes_comment c JOIN minutes_version v ON v.id = c.version_id WHERE v.meeting_id = :m",
}


async def _state(sessions, meeting_id: int) -> dict[str, list[Any]]:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return {t: sorted(map(tuple, (await s.execute(text(q), {"m": meeting_id})).all())) for t, q in QUERIES.items()}


async def test_bodies_that_do_not_fit_and_callers_who_may_not_are_refused_in_their_language(server) -> None:  # type: ignore[no-untyped-def]
    state = server.state
    world, item, _ = await held_meeting(state.sessions)
    cookies = {who: await cookie_for(server, account, world.names[account], role)
               for who, account, role in (("secretary", world.secretary, "secretary"), ("chair", world.chair, "chair"),
                                          ("delegate", world.delegates[0], "delegate"))}
    api = f"{server.url}/api/meetings/{world.meeting_id}"

    async def post(who: str, path: str, body: Any, lang: str = "") -> tuple[int, dict[str, Any]]:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookies[who]}"}
        async with aiohttp.ClientSession(headers=headers) as http, \
                http.post(api + path + (f"?lang={lang}" if lang else ""), json=body) as response:
            return response.status, await response.json()

    async def form(who: str, path: str, fields: dict[str, str]) -> str:
        """Posts the editor's form; returns where the page is sent back to."""
        headers = {"Cookie": f"{SESSION_COOKIE}={cookies[who]}"}
        async with aiohttp.ClientSession(headers=headers) as http, http.post(
                api + path, data={FIELD: token_for_session(server.app, cookies[who]), **fields}, allow_redirects=False) as response:
            assert response.status == 303, (path, response.status, await response.text())
            return response.headers["Location"]

    assert (await post("secretary", "/minutes/draft", {}))[1]["version"] == 1
    before = await _state(state.sessions, world.meeting_id)

    status, refused = await post("secretary", "/minutes/edit", {"base": "1", "edits": {"number": "Số: 7/BB-UBND"}, "x": 1})
    assert status == 422 and refused["error"] == "invalid", refused
    assert refused["message"] == "Có trường chưa hợp lệ; không có gì được lưu."
    assert [(f["field"], f["code"], f["message"]) for f in refused["fields"]] == [
        ("base", "invalid_value", "Giá trị không hợp lệ."), ("x", "unknown_field", "Trường này không tồn tại.")]
    status, refused = await post("secretary", "/minutes/send", {"base": 0, "with_seal": "on"}, lang="en")
    assert status == 422 and refused["message"] == "Some fields are not valid; nothing was saved."
    assert [(f["field"], f["code"], f["params"]) for f in refused["fields"]] == [
        ("base", "out_of_range", {"min": 1, "max": 2**31 - 1}), ("with_seal", "invalid_value", {})]
    status, refused = await post("secretary", "/minutes/comments", {"version": 1, "text": None})
    assert (status, refused["fields"][0]["field"], refused["fields"][0]["code"]) == (422, "text", "required")

    status, refused = await post("delegate", "/minutes/edit", {"base": 1, "edits": {"number": "x"}})
    assert (status, refused["error"], refused["message"]) == (403, "forbidden", "Bạn không có quyền làm việc này.")
    status, refused = await post("chair", "/minutes/publish", {}, lang="en")
    assert (status, refused["error"], refused["message"]) == (403, "forbidden", "You are not allowed to do this.")
    status, refused = await post("secretary", "/minutes/edit", {"base": 5, "edits": {"number": "x"}})
    assert (status, refused["error"], refused["params"]) == (409, "stale_version", {"latest": 1, "base": 5}), refused
    assert refused["message"] == ("Bản 5 không còn là bản mới nhất: đã có bản 1. "
                                  "Hãy tải lại trang và làm trên bản 1; không có gì bị ghi đè.")
    status, refused = await post("secretary", "/minutes/edit", {"base": 5, "edits": {"number": "x"}}, lang="en")
    assert refused["message"].startswith("Version 5 is no longer the latest: version 1 exists."), refused
    async with aiohttp.ClientSession(headers={"Cookie": f"{SESSION_COOKIE}={cookies['chair']}"}) as http, \
            http.post(f"{api}/items/abc/conclusion", json={"text": "x"}) as response:
        assert response.status == 404

    # the editor's forms: text fields converted, refusals told on the page in Vietnamese
    sent_back = await form("secretary", "/minutes/edit", {"base": "một", "number": "Số: 7/BB-UBND"})
    error = parse_qs(urlsplit(sent_back).query)["error"][0]
    assert error.startswith("Có trường chưa hợp lệ") and "base: Giá trị không hợp lệ." in error, error
    sent_back = await form("delegate", "/minutes/comments", {"version": "1", "text": "Góp ý", "section": ""})
    assert parse_qs(urlsplit(sent_back).query)["error"] == ["Bạn không có quyền làm việc này."]
    assert await _state(state.sessions, world.meeting_id) == before

    done = await form("secretary", "/minutes/edit", {"base": "1", "number": "Số: 7/BB-UBND", "recipients": "Như trên\n\nLưu: VT",
                                                     f"section_item:{item}": "Đồng chí Giám đốc trình bày kế hoạch."})
    assert done.endswith("?done=1"), done
    assert await form("chair", "/minutes/comments", {"version": "2", "text": "Ghi rõ số vốn.", "section": ""}) == \
        f"/meetings/{world.meeting_id}/minutes?done=1"
    status, sent = await post("secretary", "/minutes/send", {"base": 2, "with_seal": False})
    assert status == 200 and len(sent["sha256"]) == 64
    after = await _state(state.sessions, world.meeting_id)
    assert len(after["minutes_version"]) == 2 and len(after["minutes_signing"]) == 1 and len(after["minutes_comment"]) == 1
    async with state.sessions() as s:
        saved = service.document(await service.version(s, world.meeting_id, 2))
    assert (saved.number, saved.recipients) == ("Số: 7/BB-UBND", ["Như trên", "Lưu: VT"])
    assert saved.section(f"item:{item}").text == "Đồng chí Giám đốc trình bày kế hoạch."
