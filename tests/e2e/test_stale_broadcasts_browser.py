"""A state broadcast that arrives after a newer one is dropped by the pages (web/static/control.js
on a person's meeting page, web/static/js/tvstate.js on a bridge point's TV screen).

Two quick renames of the current agenda item reach Chromium in order; the test then hands the
older broadcast to the page's own Socket.IO listeners, as a late delivery would: the page keeps
the newer title. The same old content stamped with a newer `seq` does replace it, so the replay
really reaches the page's logic.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.e2e.harness import Deployment, serving
from tests.e2e.test_control_panel import open_person
from tests.e2e.test_meeting_browser import Client, dump_console, open_point, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.security, pytest.mark.timeout(240)]

WAIT = 30
OLD, NEW = "Dự thảo kế hoạch (bản cũ)", "Dự thảo kế hoạch đầu tư công năm 2027"

RECORD = """() => { window.__agendas = []; window.hoinghi.socket.on('agenda', (d) => window.__agendas.push(d)); }"""
CALL = """async ([event, payload]) => await window.hoinghi.socket.emitWithAck(event, payload)"""
# hand a broadcast to the page's listeners, as if the server's packet had arrived now
DELIVER = """(d) => window.hoinghi.socket.listeners('agenda').forEach((listener) => listener(d))"""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    yield from serving(Deployment(root=tmp_path / "hoinghi"))


def test_an_overtaken_broadcast_never_replaces_the_newer_state(deployment: Deployment, browser: Any) -> None:
    chair = open_person(browser, deployment, "chutoa")
    tv = open_point(browser, deployment)
    clients: list[Client] = [chair, tv]
    try:
        chair.shows("Sắp diễn ra")
        wait_for("the TV screen to follow the meeting", lambda: tv.page.evaluate("() => !!(window.hoinghi && window.hoinghi.socket)"), WAIT)
        for page in (chair.page, tv.page):
            page.evaluate(RECORD)
        assert chair.page.evaluate(CALL, ["meeting_open", {}])["ok"]
        item = chair.page.evaluate(CALL, ["agenda_add", {"title": OLD}])
        assert item["ok"], item
        assert chair.page.evaluate(CALL, ["agenda_set_current", {"item_id": item["item_id"]}])["ok"]
        assert chair.page.evaluate(CALL, ["agenda_update", {"item_id": item["item_id"], "title": NEW}])["ok"]
        chair.shows(NEW)
        for page in (chair.page, tv.page):
            wait_for("the rename's broadcast", lambda: page.evaluate(
                "(t) => window.__agendas.some((d) => JSON.stringify(d).includes(t))", NEW), WAIT)
        wait_for("the TV screen to show the renamed item", lambda: NEW in tv.page.inner_text("body"), WAIT)

        for client in clients:
            page = client.page
            older = page.evaluate("(t) => window.__agendas.filter((d) => JSON.stringify(d).includes(t)).pop()", OLD)
            newest = page.evaluate("() => window.__agendas[window.__agendas.length - 1]")
            assert older["seq"] < newest["seq"], (older, newest)
            page.evaluate(DELIVER, older)  # late: dropped (a page renders within its listener)
            body = page.inner_text("body")
            assert NEW in body and OLD not in body, f"{client.name} shows the older agenda:\n{body}"
            client.screenshot("stale-broadcast-dropped")
            page.evaluate(DELIVER, {**older, "seq": newest["seq"] + 1})  # the control: a newer seq is taken
            wait_for(f"{client.name} to take a newer broadcast", lambda: OLD in page.inner_text("body"), WAIT)
    except Exception:
        print(dump_console(clients))
        raise
