"""Secret ballots cast one voter at a time leave nothing in the database's files that links a
voter to a choice: not in any state the SQLite write-ahead log passes through (each one is what
a backup or a replica taken at that moment holds), not in the PostgreSQL WAL read row by row
through logical decoding (test_decoding), not in the counters until the close."""
from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import struct
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import RunningServer
from tests.control.conftest import Client, connect_account
from tests.control.helpers import make_world

pytestmark = [pytest.mark.control, pytest.mark.security]

CHOICES = ("yes", "no", "abstain")
SLOT = "hn14_ballots"


def _mentions_a_choice(value: object) -> bool:
    """A cell that is a choice, or text (JSON) quoting one."""
    s = str(value)
    return s in CHOICES or any(f'"{c}"' in s or f"'{c}'" in s for c in CHOICES)


# ------------------------------------------------------------------ SQLite: every WAL state

def _wal_commits(wal: bytes) -> tuple[int, list[tuple[int, list[int]]]]:
    """(page size, [(end offset of a committed transaction, pages it wrote)]) of the WAL's valid frames."""
    _, _, page_size, _, salt1, salt2 = struct.unpack(">IIIIII", wal[:24])
    frame = 24 + page_size
    commits, pages, offset = [], [], 32
    while offset + frame <= len(wal):
        page, commit_size, s1, s2 = struct.unpack(">IIII", wal[offset:offset + 16])
        if (s1, s2) != (salt1, salt2):
            break  # left over from before the last checkpoint
        pages.append(page)
        offset += frame
        if commit_size:
            commits.append((offset, pages))
            pages = []
    return page_size, commits


def _dump(database: Path) -> dict[str, set[tuple[object, ...]]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: set(connection.execute(f'SELECT * FROM "{t}"')) for t in tables}
    finally:
        connection.close()


def _state_at(db: bytes, wal: bytes, end: int, directory: Path) -> dict[str, set[tuple[object, ...]]]:
    """The database as it stood after the transaction ending at `end` (a backup taken then)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    (directory / "copy.sqlite3").write_bytes(db)
    (directory / "copy.sqlite3-wal").write_bytes(wal[:end])
    return _dump(directory / "copy.sqlite3")


def _root_page(db: Path, table: str) -> int:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    finally:
        connection.close()


# ------------------------------------------------------------------ the vote

async def _secret_vote_one_voter_at_a_time(server: RunningServer, before_casting):  # type: ignore[no-untyped-def]
    """Six delegates cast a secret ballot, each after the previous one's ack; returns
    (vote id, what `before_casting` returned once the vote was open, chair, delegates)."""
    world = await make_world(server.state.sessions, n_delegates=6, at_points=False)
    chair = await connect_account(server, world.chair, role="chair")
    delegates: list[Client] = [await connect_account(server, d) for d in world.delegates]
    try:
        for client in (chair, *delegates):
            assert (await client.call("join_meeting", {"meeting_id": world.meeting_id}))["ok"]
        assert (await chair.call("meeting_open", {}))["ok"]
        vote_id = (await chair.call("vote_open", {"title": "Bầu trưởng ban", "secret": True}))["vote"]["id"]
        mark = await before_casting()
        for client, choice in zip(delegates, ["yes", "no", "abstain", "yes", "no", "yes"]):
            ack = await client.call("vote_cast", {"vote_id": vote_id, "choice": choice})
            assert ack["ok"], ack  # acked: committed, alone in its batch
        return vote_id, mark, chair, delegates
    except BaseException:
        await asyncio.gather(*(c.disconnect() for c in (chair, *delegates)), return_exceptions=True)
        raise


async def _close(server: RunningServer, vote_id: int, chair: Client, delegates: list[Client]) -> None:
    try:
        closed = await chair.call("vote_close", {"vote_id": vote_id})
        assert closed["ok"], closed
        assert (closed["result"]["yes"], closed["result"]["no"], closed["result"]["abstain"]) == (3, 2, 1)
        async with server.state.sessions() as session:
            assert await session.scalar(text("SELECT count(*) FROM vote_sealed_ballot")) == 0
        assert not (server.state.settings.data_dir / "ballot-keys" / f"{vote_id}.key").exists()
    finally:
        await asyncio.gather(*(c.disconnect() for c in (chair, *delegates)), return_exceptions=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_files_never_link_a_voter_to_a_choice(server: RunningServer, tmp_path: Path) -> None:
    database = Path(make_url(server.state.settings.database_url).database or "")
    wal_path = database.with_name(database.name + "-wal")

    async def wal_offset() -> int:
        return len(wal_path.read_bytes())

    vote_id, mark, chair, delegates = await _secret_vote_one_voter_at_a_time(server, wal_offset)
    db_bytes, wal = database.read_bytes(), wal_path.read_bytes()
    _, commits = _wal_commits(wal)
    casting = [(end, pages) for end, pages in commits if end > mark]
    assert len(casting) >= 6, "every ballot is its own transaction"
    counters_page = _root_page(database, "vote_count")
    assert all(counters_page not in pages for _, pages in casting), "a ballot's transaction changed the counters"
    previous = _state_at(db_bytes, wal, mark, tmp_path / "state")
    counters = previous["vote_count"]
    assert {(v, o, c) for v, o, c in counters if v == vote_id} == {(vote_id, o, 0) for o in CHOICES}
    voters_seen = 0
    for end, _ in casting:
        state = _state_at(db_bytes, wal, end, tmp_path / "state")
        assert state["vote_count"] == counters  # counted only at the close
        for table, rows in state.items():
            for row in rows - previous.get(table, set()):  # what this one transaction wrote
                assert not any(_mentions_a_choice(v) for v in row), (table, row)
        new_voters = state["vote_voter"] - previous["vote_voter"]
        assert len(new_voters) <= 1  # one voter at a time, as the scenario says
        voters_seen += len(new_voters)
        previous = state
    assert voters_seen == 6
    sealed = previous["vote_sealed_ballot"]
    assert len(sealed) == 6 and {len(blob) for _, _, blob in sealed} == {29}
    await _close(server, vote_id, chair, delegates)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_postgresql_wal_never_links_a_voter_to_a_choice(server: RunningServer) -> None:
    async with server.state.sessions() as session:
        if await session.scalar(text("SHOW wal_level")) != "logical":
            pytest.skip("this PostgreSQL server runs without wal_level=logical")

    async def create_slot() -> int:
        async with server.state.engine.connect() as connection:
            await connection.execute(text(f"SELECT pg_create_logical_replication_slot('{SLOT}', 'test_decoding')"))
            await connection.commit()
        return 0

    try:
        vote_id, _, chair, delegates = await _secret_vote_one_voter_at_a_time(server, create_slot)
        async with server.state.engine.connect() as connection:
            changes = (await connection.execute(
                text(f"SELECT data FROM pg_logical_slot_get_changes('{SLOT}', NULL, NULL)"))).scalars().all()
    finally:
        async with server.state.engine.connect() as connection:
            await connection.execute(text(
                f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{SLOT}'"))
            await connection.commit()
    transactions: list[list[str]] = []
    for line in changes:
        if line.startswith("BEGIN"):
            transactions.append([])
        elif not line.startswith("COMMIT"):
            transactions[-1].append(line)
    ballots = [t for t in transactions if any(line.startswith("table public.vote_voter: INSERT") for line in t)]
    assert len(ballots) == 6, "every ballot is its own transaction"
    for changes_of_one in ballots:
        assert sum(line.startswith("table public.vote_voter: INSERT") for line in changes_of_one) == 1
        for line in changes_of_one:
            assert not line.startswith("table public.vote_count"), line
            assert not re.search(r"'(yes|no|abstain)'|\"(yes|no|abstain)\"", line), line
        assert sum(line.startswith("table public.vote_sealed_ballot: INSERT") for line in changes_of_one) == 1
    await _close(server, vote_id, chair, delegates)
