"""Pages and REST of the minutes (docs/minutes.md lists them). A POST with a JSON body gets JSON
back; a form POST (with its CSRF token) is redirected to the editor page with the outcome. Bodies
are web/minutes/bodies.py's models; who may do what is the in-meeting table
(meetings.control_common.PERMISSIONS, `minutes_*`); refusals are the REST API's error format,
in the caller's language.

Pages: /meetings/{id}/minutes (editor with each item's transcript beside it, comments,
versions, signing, published files) and /verify (public: anyone uploads a PDF).
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Awaitable, Callable, TypeVar
from urllib.parse import quote

from aiohttp import web
from asn1crypto import x509
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import transcript
from meetings.control_common import Caller, allow
from meetings.localtime import format_datetime
from meetings.meetings_service import MeetingError, attendance_role
from meetings.minutes import service
from meetings.minutes.messages import MinutesError
from meetings.minutes.pades import Signatory
from meetings.minutes.record import person
from meetings.minutes.verify import describe
from meetings.minutes_models import MinutesSignature, MinutesSigning
from meetings.models import Account, Meeting
from web import csrf
from web.api.errors import ApiError, domain_error, error_body, validation_error
from web.api.models import ErrorOut
from web.auth import PRINCIPAL, requires
from web.i18n import request_language
from web.minutes import bodies
from web.minutes.texts import texts
from web.minutes.work import MinutesWork
from web.path_ids import path_id_or_404
from web.pages import render
from web.permissions import capacity_allows
from web.state import app_state

WORK = web.AppKey("hoinghi_minutes_work", MinutesWork)
MAX_UPLOAD = 50 * 1024 * 1024
B = TypeVar("B", bound=bodies.Body)
Refusal = (MeetingError, MinutesError, ValidationError, ApiError)


def _meeting_id(request: web.Request) -> int:
    return path_id_or_404(request, "meeting_id")


async def _caller(request: web.Request, meeting_id: int) -> Caller:
    principal = request[PRINCIPAL]
    async with app_state(request).sessions() as session:
        try:
            capacity = await attendance_role(session, meeting_id, principal)
        except MeetingError:
            raise web.HTTPNotFound() from None
    if capacity is None:
        raise web.HTTPForbidden(text="you are not invited to this meeting")
    return Caller(f"{principal.kind}:{principal.id}", principal.name, capacity, principal.account_id,
                  principal.id if principal.kind == "point" else None)


def _json_request(request: web.Request) -> bool:
    return request.content_type == "application/json"


async def _read(request: web.Request, model: type[B],
                from_form: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> B:
    """The body as `model`: JSON strictly; a form's text fields (less its CSRF token, already
    checked by web/csrf.py), shaped by `from_form`, with pydantic's conversions of text."""
    if _json_request(request):
        try:
            raw = await request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "bad_json", "the body is not valid JSON") from None
        return model.model_validate(raw)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str) and k != csrf.FIELD}
    return model.model_validate(from_form(form), strict=False)


def _error(lang: str, error: Exception) -> tuple[int, ErrorOut]:
    """A refusal in the REST API's one error format; a MinutesError says its own sentence."""
    if isinstance(error, MinutesError):
        return 400, ErrorOut(error=error.code, message=error.text(lang))
    api = error if isinstance(error, ApiError) else (
        validation_error(error) if isinstance(error, ValidationError) else domain_error(error))
    return api.status, error_body(lang, api)


def _outcome(request: web.Request, meeting_id: int, payload: dict[str, Any] | None = None,
             error: Exception | None = None) -> web.Response:
    if error is not None:
        status, body = _error(request_language(request), error)
        if _json_request(request):
            return web.Response(text=body.model_dump_json(), status=status, content_type="application/json")
        message = " ".join([body.message, *(f"{f.field}: {f.message}" for f in body.fields)])
        return web.Response(status=303, headers={"Location": f"/meetings/{meeting_id}/minutes?error={quote(message)}"})
    if _json_request(request):
        return web.json_response({"ok": True, **(payload or {})})
    return web.Response(status=303, headers={"Location": f"/meetings/{meeting_id}/minutes?done=1"})


Payload = dict[str, Any] | None


async def _guarded(request: web.Request, model: type[B], action: Callable[[Caller, int, B], Awaitable[Payload]],
                   from_form: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> web.Response:
    """Read the body as `model` and run an action of the meeting's caller with it; a refusal (a
    body that does not fit, MeetingError, MinutesError) is answered as JSON or as a message on
    the editor page, whichever the request asked for, and has changed nothing."""
    meeting_id = _meeting_id(request)
    caller = await _caller(request, meeting_id)
    try:
        payload = await action(caller, meeting_id, await _read(request, model, from_form))
    except Refusal as error:
        return _outcome(request, meeting_id, error=error)
    return _outcome(request, meeting_id, payload)


async def _in_one_transaction(request: web.Request, model: type[B],
                              action: Callable[[AsyncSession, Caller, int, B], Awaitable[Payload]],
                              from_form: Callable[[dict[str, Any]], dict[str, Any]] = dict) -> web.Response:
    """An action in one committed transaction; a refusal rolls it back, so it changes nothing."""
    async def run(caller: Caller, meeting_id: int, body: B) -> Payload:
        async with app_state(request).sessions() as session:
            payload = await action(session, caller, meeting_id, body)
            await session.commit()
        return payload

    return await _guarded(request, model, run, from_form)


@requires("meeting.minutes")
async def conclusion(request: web.Request) -> web.StreamResponse:
    item_id = path_id_or_404(request, "item_id")

    async def action(session: AsyncSession, caller: Caller, meeting_id: int, body: bodies.ItemConclusionIn) -> None:
        await service.set_conclusion(session, caller, meeting_id, item_id, body.text)

    return await _in_one_transaction(request, bodies.ItemConclusionIn, action)


@requires("meeting.minutes")
async def draft(request: web.Request) -> web.StreamResponse:
    async def action(session: AsyncSession, caller: Caller, meeting_id: int, body: bodies.MinutesDraftIn) -> dict[str, Any]:
        version = await service.draft_from_record(session, caller, meeting_id, number=body.number or None)
        return {"version": version.number}

    return await _in_one_transaction(request, bodies.MinutesDraftIn, action)


@requires("meeting.minutes")
async def edit(request: web.Request) -> web.StreamResponse:
    async def action(session: AsyncSession, caller: Caller, meeting_id: int, body: bodies.MinutesEditIn) -> dict[str, Any]:
        edits = body.edits.model_dump(exclude_unset=True)
        version = await service.edit(session, caller, meeting_id, body.base, edits)
        return {"version": version.number}

    return await _in_one_transaction(request, bodies.MinutesEditIn, action, bodies.edit_from_form)


@requires("meeting.minutes")
async def add_comment(request: web.Request) -> web.StreamResponse:
    async def action(session: AsyncSession, caller: Caller, meeting_id: int, body: bodies.MinutesCommentIn) -> None:
        await service.comment(session, caller, meeting_id, body.version, body.text, body.section or None)

    return await _in_one_transaction(request, bodies.MinutesCommentIn, action)


@requires("meeting.minutes")
async def preview(request: web.Request) -> web.StreamResponse:
    meeting_id = _meeting_id(request)
    caller = await _caller(request, meeting_id)
    if not capacity_allows(caller.capacity, "minutes_read"):
        raise web.HTTPForbidden(text="only the chair, the secretary and administrators read drafts")
    async with app_state(request).sessions() as session:
        latest = await service.latest(session, meeting_id)
    if latest is None:
        raise web.HTTPNotFound(text="no draft yet")
    pdf = await request.app[WORK].preview(service.document(latest))
    return web.Response(body=pdf, content_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="bien-ban-{meeting_id}-v{latest.number}.pdf"'})


@requires("meeting.minutes")
async def send(request: web.Request) -> web.StreamResponse:
    """Freeze the version the secretary saw and render its PDF, the file everyone signs."""
    async def action(caller: Caller, meeting_id: int, body: bodies.MinutesSendIn) -> Payload:
        allow(caller, "minutes_send")  # before the rendering, which takes seconds
        async with app_state(request).sessions() as session:
            version = await service.version(session, meeting_id, body.base)
        sha, pages = await request.app[WORK].render(service.document(version), body.with_seal)
        async with app_state(request).sessions() as session:
            await service.send_for_signing(session, caller, meeting_id, body.base, sha, body.with_seal)
            await session.commit()
        return {"sha256": sha, "pages": pages}

    return await _guarded(request, bodies.MinutesSendIn, action)


async def _signatory(request: web.Request, meeting_id: int, turn: service.Turn, caller: Caller) -> Signatory:
    async with app_state(request).sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        if turn.role == "seal":
            return Signatory("seal", app_state(request).config.province.agency, "Văn thư", meeting.location if meeting else "")
        who = person(await session.get(Account, caller.account_id))
    return Signatory(turn.role, who.name, who.position, meeting.location if meeting else "")


@requires("meeting.minutes")
async def sign_on_server(request: web.Request) -> web.StreamResponse:
    """The caller's turn, signed with the key signing.toml gives their account (or the seal)."""
    work = request.app[WORK]

    async def action(caller: Caller, meeting_id: int, body: bodies.EmptyIn) -> Payload:
        async with app_state(request).sessions() as session:
            turn = await service.signing_turn(session, caller, meeting_id)
            account = await session.get(Account, caller.account_id) if caller.account_id else None
        config = work.signing_config()
        source = None
        if config is not None:
            source = config.seal if turn.role == "seal" else config.keys.get(account.username if account else "")
        if source is None:
            raise MinutesError("no_key", name=caller.name)
        who = await _signatory(request, meeting_id, turn, caller)
        sha = await work.sign_on_server(turn, source, who)
        async with app_state(request).sessions() as session:
            await service.record_signature(session, caller, meeting_id, turn, who.name, source.kind, sha)
            await session.commit()
        return {"sha256": sha, "role": turn.role}

    return await _guarded(request, bodies.EmptyIn, action)


def _certificate(value: str, where: str) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(base64.b64decode(value, validate=True))
        cert.native  # parse now: garbage fails here with its reason
        return cert
    except ValueError as error:  # binascii.Error is one
        raise MeetingError("bad_request", f"{where}: a base64 DER certificate ({error})") from None


@requires("meeting.minutes")
async def sign_prepare(request: web.Request) -> web.StreamResponse:
    """Step 1 of signing elsewhere: the signer's certificate in, the attributes to sign out."""
    async def action(caller: Caller, meeting_id: int, body: bodies.SignPrepareIn) -> Payload:
        certificate = _certificate(body.certificate, "certificate")
        chain = [_certificate(c, f"chain.{n}") for n, c in enumerate(body.chain)]
        async with app_state(request).sessions() as session:
            turn = await service.signing_turn(session, caller, meeting_id)
        who = await _signatory(request, meeting_id, turn, caller)
        token, pending = await request.app[WORK].prepare(meeting_id, caller.account_id, turn, who, certificate, chain)
        return {
            "token": token, "role": turn.role, "digest_algorithm": "sha256",
            "signed_attrs": base64.b64encode(pending.prepared.signed_attrs).decode(),
            "hash_to_sign": base64.b64encode(pending.prepared.hash_to_sign).decode(),
            "tsa_url": pending.tsa_url,
        }

    return await _guarded(request, bodies.SignPrepareIn, action)


@requires("meeting.minutes")
async def sign_finish(request: web.Request) -> web.StreamResponse:
    """Step 2: the CMS made on the signer's machine, embedded and recorded."""
    work = request.app[WORK]

    async def action(caller: Caller, meeting_id: int, body: bodies.SignFinishIn) -> Payload:
        try:
            cms_der = base64.b64decode(body.cms, validate=True)
        except ValueError as error:  # binascii.Error, or non-ASCII text
            raise MeetingError("bad_request", f"cms: base64 ({error})") from None
        pending = work.take(body.token, meeting_id, caller.account_id)
        sha = await work.finish(pending, cms_der)
        async with app_state(request).sessions() as session:
            await service.record_signature(session, caller, meeting_id, pending.turn, pending.prepared.who.name,
                                           "external", sha)
            await session.commit()
        return {"sha256": sha, "role": pending.turn.role}

    return await _guarded(request, bodies.SignFinishIn, action)


@requires("meeting.minutes")
async def publish(request: web.Request) -> web.StreamResponse:
    async def action(session: AsyncSession, caller: Caller, meeting_id: int, body: bodies.EmptyIn) -> dict[str, Any]:
        return {"sha256": (await service.publish(session, caller, meeting_id)).pdf_sha256}

    return await _in_one_transaction(request, bodies.EmptyIn, action)


@requires("meeting.minutes")
async def download(request: web.Request) -> web.StreamResponse:
    """A PDF of this meeting's minutes: published ones for every participant, the files on the
    way through the signatures for the chair, the secretary and administrators."""
    meeting_id = _meeting_id(request)
    caller = await _caller(request, meeting_id)
    sha = request.match_info["sha256"]
    async with app_state(request).sessions() as session:
        rows = (await session.execute(
            MinutesSigning.__table__.select().where(MinutesSigning.meeting_id == meeting_id)
        )).all()
        signed = {s.pdf_sha256 for s in (await session.execute(
            MinutesSignature.__table__.select().where(MinutesSignature.signing_id.in_([r.id for r in rows]))
        )).all()} if rows else set()
    published = {r.pdf_sha256 for r in rows if r.state == "published"}
    mine = {r.pdf_sha256 for r in rows} | signed
    if sha not in (mine if capacity_allows(caller.capacity, "minutes_read") else published):
        raise web.HTTPNotFound(text="no such file of these minutes")
    return web.Response(body=request.app[WORK].store.get(sha), content_type="application/pdf",
                        headers={"ETag": f'"{sha}"', "Content-Disposition": f'attachment; filename="bien-ban-{meeting_id}-{sha[:12]}.pdf"'})


async def _transcripts(session, meeting_id: int, item_ids: list[int]) -> dict[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    return {i: [s for s in await transcript.segments(session, meeting_id, item_id=i) if s["kind"] == "speech"]
            for i in item_ids}


@requires("meeting.minutes")
async def editor_page(request: web.Request) -> web.StreamResponse:
    meeting_id = _meeting_id(request)
    caller = await _caller(request, meeting_id)
    work = request.app[WORK]
    can_read = capacity_allows(caller.capacity, "minutes_read")
    async with app_state(request).sessions() as session:
        meeting = await session.get(Meeting, meeting_id)
        latest = await service.latest(session, meeting_id) if can_read else None
        doc = service.document(latest) if latest else None
        item_ids = [int(s.key.split(":")[1]) for s in doc.sections if s.key.startswith("item:")] if doc else []
        said = await _transcripts(session, meeting_id, item_ids) if doc else {}
        comments = await service.comments(session, meeting_id, latest.number) if latest else []
        versions = await service.versions(session, meeting_id) if can_read else []
        signing = await service.active_signing(session, meeting_id) if can_read else None
        signatures = list((await session.execute(
            MinutesSignature.__table__.select().where(MinutesSignature.signing_id == signing.id)
            .order_by(MinutesSignature.id)
        )).all()) if signing else []
        published = await service.published(session, meeting_id)
        try:
            turn = await service.signing_turn(session, caller, meeting_id) if signing else None
        except MeetingError:
            turn = None
        account = await session.get(Account, caller.account_id) if caller.account_id else None
        conclusions = await service.conclusions(session, meeting_id) if capacity_allows(caller.capacity, "minutes_conclusion") else []
    config = None
    try:
        config = work.signing_config()
    except MinutesError:
        pass
    has_key = bool(config and turn and (config.seal if turn.role == "seal" else config.keys.get(account.username if account else "")))
    server_url = f"{request.scheme}://{request.host}"
    return render(
        request, "minutes", mt=texts(request), meeting_id=meeting_id, title=meeting.title if meeting else "",
        capacity=caller.capacity, can_read=can_read, latest=latest, doc=doc, said=said, comments=comments,
        versions=versions, signing=signing, signatures=signatures, published=published, turn=turn, has_key=has_key,
        username=account.username if account else "", server_url=server_url, conclusions=conclusions,
        when=lambda moment: format_datetime(datetime.fromisoformat(moment) if isinstance(moment, str) else moment,
                                            request_language(request)),
        error=request.query.get("error", ""), done=bool(request.query.get("done")),
    )


async def verify_page(request: web.Request) -> web.StreamResponse:
    return render(request, "verify", mt=texts(request), lines=None, ok=None, error="", report=None)


async def verify_upload(request: web.Request) -> web.StreamResponse:
    """Public: a PDF in (form field `file`, or JSON {"pdf": base64}), the findings out."""
    lang = request_language(request)
    as_json = _json_request(request)
    try:
        if as_json:
            body = await _read(request, bodies.VerifyIn)
            try:
                pdf = base64.b64decode(body.pdf, validate=True)
            except ValueError as error:  # binascii.Error, or non-ASCII text
                raise MinutesError("not_pdf", reason=f"pdf: base64 ({error})") from None
        else:
            field = (await request.post()).get("file")
            pdf = field.file.read(MAX_UPLOAD + 1) if isinstance(field, web.FileField) else b""
        if not pdf or len(pdf) > MAX_UPLOAD:
            raise MinutesError("not_pdf", reason="empty file or larger than 50 MB")
        report = await request.app[WORK].verify(pdf)
    except Refusal as error:
        status, refusal = _error(lang, error)
        if as_json:
            return web.Response(text=refusal.model_dump_json(), status=status, content_type="application/json")
        return render(request, "verify", status=status, mt=texts(request), lines=None, ok=None, error=refusal.message,
                      report=None)
    if as_json:
        return web.json_response({"ok": report.ok, "report": report.as_dict(), "text": describe(report, lang)})
    return render(request, "verify", mt=texts(request), lines=describe(report, lang), ok=report.ok, error="",
                  report=report)


async def _close_work(app: web.Application) -> None:
    app[WORK].close()


def setup(app: web.Application, data_dir) -> None:  # type: ignore[no-untyped-def]
    app[WORK] = MinutesWork(data_dir)
    app.on_cleanup.append(_close_work)
    base = "/api/meetings/{meeting_id}"
    app.router.add_post(base + "/items/{item_id}/conclusion", conclusion)
    app.router.add_post(base + "/minutes/draft", draft)
    app.router.add_post(base + "/minutes/edit", edit)
    app.router.add_post(base + "/minutes/comments", add_comment)
    app.router.add_get(base + "/minutes/preview.pdf", preview)
    app.router.add_post(base + "/minutes/send", send)
    app.router.add_post(base + "/minutes/sign", sign_on_server)
    app.router.add_post(base + "/minutes/sign/prepare", sign_prepare)
    app.router.add_post(base + "/minutes/sign/finish", sign_finish)
    app.router.add_post(base + "/minutes/publish", publish)
    app.router.add_get(base + "/minutes/files/{sha256:[0-9a-f]{64}}.pdf", download)
    app.router.add_get("/meetings/{meeting_id}/minutes", editor_page)
    app.router.add_get("/verify", verify_page)
    app.router.add_post("/verify", verify_upload)
    app.router.add_post("/api/verify", verify_upload)
