"""The audit log: every control-plane state change with actor and time, hash-chained per meeting.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's own fields in a
canonical form, so editing, deleting or reordering any row breaks the chain from there on.
The database also refuses UPDATE and DELETE on the table (triggers, migration 0002).
Appends happen inside the caller's transaction: the change and its entry commit together.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.control_models import AuditEntry
from meetings.models import utcnow

GENESIS = "0" * 64


def _timestamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: dict[str, Any]) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def entry_hash(
    prev_hash: str, meeting_id: int, seq: int, at: datetime, actor: str, actor_name: str, action: str, details: str
) -> str:
    body = json.dumps(
        [prev_hash, meeting_id, seq, _timestamp(at), actor, actor_name, action, details],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Actor:
    """Who made a change: a principal key ("account:12", "point:ubnd-tinh", "system") and a name."""

    key: str
    name: str


SYSTEM = Actor("system", "hệ thống")


@dataclass(frozen=True)
class Head:
    """The last entry of a meeting's chain: where the next entry links (seq 0: the chain is empty)."""

    seq: int
    hash: str


class StaleHead(Exception):
    """Entries were appended after the head the writer gave; its transaction must be rolled back."""


async def head(session: AsyncSession, meeting_id: int) -> Head:
    row = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash)
            .where(AuditEntry.meeting_id == meeting_id)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).first()
    return Head(row[0], row[1]) if row else Head(0, GENESIS)


async def append(session: AsyncSession, meeting_id: int, actor: Actor, action: str, **details: Any) -> Head:
    """Add one entry (not committed: the caller commits it with the change it records)."""
    return await append_many(session, meeting_id, [(actor, action, details)])


async def append_many(
    session: AsyncSession, meeting_id: int, entries: list[tuple[Actor, str, dict[str, Any]]], after: Head | None = None
) -> Head:
    """Add entries in one INSERT (a batch of ballots writes hundreds); returns the new head.

    `after`: the head as the caller last wrote it, which saves reading it (one round trip per
    batch of ballots). Should anything have been appended since, the first new entry's seq is
    taken and the unique (meeting_id, seq) refuses the INSERT: StaleHead is raised, the chain
    never forks, and the caller rolls back and writes again with after=None.
    """
    start = after if after is not None else await head(session, meeting_id)
    seq, prev = start.seq, start.hash
    at = utcnow()
    rows = []
    for actor, action, details in entries:
        seq += 1
        text = canonical_details(details)
        digest = entry_hash(prev, meeting_id, seq, at, actor.key, actor.name, action, text)
        rows.append({
            "meeting_id": meeting_id, "seq": seq, "at": at, "actor": actor.key, "actor_name": actor.name,
            "action": action, "details": text, "prev_hash": prev, "hash": digest,
        })
        prev = digest
    if rows:
        try:
            await session.execute(insert(AuditEntry), rows)
        except IntegrityError:
            if after is None:
                raise
            raise StaleHead(f"the audit log of meeting {meeting_id} has moved past seq {after.seq}") from None
    return Head(seq, prev)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    head: str
    first_bad_seq: int | None = None
    reason: str = ""


async def verify_chain(session: AsyncSession, meeting_id: int, since: tuple[int, str] | None = None) -> ChainCheck:
    """Recompute every hash of a meeting's log; report the first entry that does not match.
    ``since`` = (seq, hash) of an entry already verified: only the entries after it are read
    and recomputed (a reader polling the log does not make the server rehash all of it)."""
    start_seq, prev = since if since is not None else (0, GENESIS)
    rows = (
        await session.execute(select(AuditEntry).where(AuditEntry.meeting_id == meeting_id, AuditEntry.seq > start_seq)
                              .order_by(AuditEntry.seq))
    ).scalars().all()
    for expected_seq, row in enumerate(rows, start=start_seq + 1):
        if row.seq != expected_seq:
            return ChainCheck(False, start_seq + len(rows), prev, row.seq, f"entry {expected_seq} is missing")
        if row.prev_hash != prev:
            return ChainCheck(False, start_seq + len(rows), prev, row.seq, "prev_hash does not match the previous entry")
        digest = entry_hash(prev, meeting_id, row.seq, row.at, row.actor, row.actor_name, row.action, row.details)
        if digest != row.hash:
            return ChainCheck(False, start_seq + len(rows), prev, row.seq, "hash does not match the entry's contents")
        prev = row.hash
    return ChainCheck(True, start_seq + len(rows), prev)


async def entries(session: AsyncSession, meeting_id: int, after_seq: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(AuditEntry)
            .where(AuditEntry.meeting_id == meeting_id, AuditEntry.seq > after_seq)
            .order_by(AuditEntry.seq)
            .limit(limit)
        )
    ).scalars()
    return [
        {
            "seq": r.seq, "at": _timestamp(r.at), "actor": r.actor, "actor_name": r.actor_name,
            "action": r.action, "details": json.loads(r.details), "hash": r.hash,
        }
        for r in rows
    ]
