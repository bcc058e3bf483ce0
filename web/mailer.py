"""Sends queued invitation e-mails (meetings/invitations.py) through the `[mail]` SMTP server.

One background task per process: woken when something is queued, otherwise asleep until the
next retry is due. Requests never wait for SMTP; messages are built in an executor.
"""
from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import logging
from pathlib import Path

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from meetings import invitations
from meetings.admin_models import OutgoingMail
from meetings.config import MailConfig
from meetings.meeting_details import details, person_of
from meetings.models import utcnow

log = logging.getLogger("hoinghi.mail")
IDLE_WAKEUP_S = 60.0  # also re-reads the queue this often, in case another process queued
SMTP_TIMEOUT_S = 30.0


class Mailer:
    def __init__(self, config: MailConfig, sessions: async_sessionmaker[AsyncSession], base_url: str) -> None:
        self.config = config
        self.sessions = sessions
        self.link_base = config.link_base or base_url
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hoinghi-mailer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.send_due()
                async with self.sessions() as session:
                    next_at = await invitations.next_due_at(session)
            except Exception:
                log.exception("mail queue pass failed")
                next_at = None
            wait = IDLE_WAKEUP_S if next_at is None else max(0.0, min(IDLE_WAKEUP_S, (next_at - utcnow()).total_seconds()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def send_due(self) -> int:
        """Send every message whose time has come; returns how many went out."""
        sent = 0
        async with self.sessions() as session:
            for row in await invitations.due(session, utcnow()):
                sent += await self._send_one(session, row)
                await session.commit()
        return sent

    async def _send_one(self, session: AsyncSession, row: OutgoingMail) -> int:
        if not await invitations.is_current(session, row):
            row.state = "superseded"
            return 0
        meeting = await details(session, row.meeting_id)  # type: ignore[arg-type]
        person = next((p for p in meeting.invitees() if p.id == row.account_id), None)
        withdrawn = person is None
        if withdrawn:
            if row.kind != "cancel":  # no longer invited: the newer version's queue told them instead
                row.state = "superseded"
                return 0
            person = await person_of(session, row.account_id)
        person = dataclasses.replace(person, email=row.recipient)
        now = utcnow()
        loop = asyncio.get_running_loop()
        message = await loop.run_in_executor(
            None, invitations.build_message, meeting, person, self.config.sender,
            f"{self.link_base}/meetings/{meeting.id}", now, withdrawn,
        )
        try:
            password = await loop.run_in_executor(None, _read_password, self.config.password_file)
            await aiosmtplib.send(
                message, hostname=self.config.host, port=self.config.port, start_tls=self.config.starttls,
                use_tls=self.config.tls, username=self.config.user, password=password, timeout=SMTP_TIMEOUT_S,
            )
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as error:
            invitations.record_failure(row, f"{type(error).__name__}: {error}", utcnow(), self.config.retry_seconds)
            log.warning("invitation not sent", extra={"meeting_id": row.meeting_id, "attempt": row.attempts, "error": str(error)})
            return 0
        invitations.record_sent(row, message.as_string(), now)
        log.info("invitation sent", extra={"meeting_id": row.meeting_id, "kind": row.kind, "sequence": row.sequence})
        return 1


def _read_password(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8").strip() if path is not None else None
