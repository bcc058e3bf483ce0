"""HOINGHI_TALLY_INTERVAL_MS: the tally of an open vote is coalesced (default) or sent per ballot (0)."""
from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from tests.conftest import RunningServer
from tests.control.conftest import Client, connect_account
from tests.control.helpers import make_world
from web.settings import DEFAULT_TALLY_INTERVAL_MS, Settings

pytestmark = pytest.mark.control
N = 30


async def _burst(server: RunningServer) -> list[int]:
    """N delegates cast at once; the `ballots` of every vote_tally the chair receives, in order."""
    world = await make_world(server.state.sessions, n_delegates=N, at_points=False)
    chair = await connect_account(server, world.chair, world.names[world.chair], "chair")
    delegates = [await connect_account(server, d, world.names[d]) for d in world.delegates]
    clients: list[Client] = [chair, *delegates]
    try:
        for client in clients:
            assert (await client.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
        assert (await chair.call("meeting_open", {}))["ok"]
        opened = await chair.call("vote_open", {"title": "Thông qua", "secret": True})
        vote_id = opened["vote"]["id"]
        acks = await asyncio.gather(*(c.call("vote_cast", {"vote_id": vote_id, "choice": "yes"}) for c in delegates))
        assert all(a["ok"] for a in acks), acks
        await chair.wait_for("vote_tally", lambda d: d["ballots"] == N)
        await asyncio.sleep(0.2)  # nothing more is on its way
        return [d["ballots"] for e, d in chair.received if e == "vote_tally" and d["vote_id"] == vote_id]
    finally:
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


async def test_default_interval_coalesces_a_burst_of_ballots(server: RunningServer) -> None:
    assert server.state.settings.tally_interval_ms == DEFAULT_TALLY_INTERVAL_MS
    seen = await _burst(server)
    assert seen[-1] == N and len(seen) < N, seen


async def test_interval_zero_broadcasts_one_tally_per_ballot(server: RunningServer) -> None:
    server.state.settings = dataclasses.replace(server.state.settings, tally_interval_ms=0)
    seen = await _burst(server)
    assert seen == list(range(1, N + 1))  # even ballots committed in one batch get a tally each


def test_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOINGHI_TALLY_INTERVAL_MS", "0")
    assert Settings.build(data_dir=tmp_path).tally_interval_ms == 0
    monkeypatch.delenv("HOINGHI_TALLY_INTERVAL_MS")
    assert Settings.build(data_dir=tmp_path).tally_interval_ms == DEFAULT_TALLY_INTERVAL_MS


def test_bad_setting_exits_2_naming_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    monkeypatch.setenv("HOINGHI_TALLY_INTERVAL_MS", "fast")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--data-dir", str(tmp_path), "--port", "1"])
    assert exited.value.code == 2
    assert "HOINGHI_TALLY_INTERVAL_MS" in capsys.readouterr().err
