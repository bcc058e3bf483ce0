"""What happens after a meeting is scheduled, changed or cancelled, for the pages and the API alike:
the domain change (meetings/scheduling.py), then the invitations queued and the mailer woken."""
from __future__ import annotations

from aiohttp import web

from meetings import invitations, scheduling
from meetings.accounts import Principal
from meetings.audit import Actor
from meetings.meeting_details import details
from meetings.models import utcnow
from meetings.scheduling import MeetingDraft
from web.mailer import Mailer
from web.state import AppState, app_state

MAILER = web.AppKey("hoinghi_mailer", Mailer)


def actor_of(principal: Principal) -> Actor:
    return Actor(f"{principal.kind}:{principal.id}", principal.name)


def mail_configured(app: web.Application) -> bool:
    return MAILER in app


async def _invite(request: web.Request, meeting_id: int) -> None:
    """Queue the current version's invitation; without `[mail]` nothing is queued."""
    if not mail_configured(request.app):
        return
    async with app_state(request).sessions() as session:
        await invitations.queue(session, await details(session, meeting_id), utcnow())
        await session.commit()
    request.app[MAILER].wake()


async def schedule(request: web.Request, principal: Principal, draft: MeetingDraft) -> int:
    async with app_state(request).sessions() as session:
        meeting_id = await scheduling.schedule(session, actor_of(principal), draft, utcnow())
    await _invite(request, meeting_id)
    return meeting_id


async def update(request: web.Request, principal: Principal, meeting_id: int, draft: MeetingDraft) -> None:
    async with app_state(request).sessions() as session:
        await scheduling.update(session, actor_of(principal), meeting_id, draft, utcnow())
    await _invite(request, meeting_id)


async def cancel(request: web.Request, principal: Principal, meeting_id: int, reason: str) -> None:
    async with app_state(request).sessions() as session:
        await scheduling.cancel(session, actor_of(principal), meeting_id, reason, utcnow())
    await _invite(request, meeting_id)


async def invitation_status(request: web.Request, meeting_id: int) -> invitations.OutboxStatus:
    async with app_state(request).sessions() as session:
        return await invitations.status(session, meeting_id)


def setup(app: web.Application, state: AppState) -> None:
    """Start the mailer when rooms.toml has `[mail]`; stop it with the app."""
    if state.config.mail is None:
        return
    mailer = Mailer(state.config.mail, state.sessions, state.settings.base_url)
    app[MAILER] = mailer

    async def start(_: web.Application) -> None:
        mailer.start()

    async def stop(_: web.Application) -> None:
        await mailer.stop()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)  # before the database engine is disposed
