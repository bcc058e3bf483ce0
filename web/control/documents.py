"""REST for agenda documents: upload a PDF (chair, secretary), download it (anyone in the meeting).

POST /api/meetings/{meeting_id}/agenda/{item_id}/documents   multipart/form-data, field `file`
GET  /api/documents/{document_id}                             the PDF, with its SHA-256 as ETag
GET  /api/meetings/{meeting_id}/audit                         the audit log and its verification
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from meetings import agenda, audit
from meetings.control_common import Caller
from meetings.meetings_service import MeetingError, attendance_role
from web.auth import PRINCIPAL, requires
from web.path_ids import MAX_ID, path_id
from web.permissions import allowed, capacity_allows
from web.state import AppState, app_state

MAX_PDF_BYTES = 50 * 1024 * 1024
MAX_FILENAME = 120
AUDIT_VERIFIED = web.AppKey("hoinghi_audit_verified", dict)  # meeting id -> (seq, hash) verified


class NotPdf(ValueError):
    """What the upload is instead of a PDF."""


def safe_filename(raw: str) -> str:
    """The name to store and show: no directories, control characters or markup, NFC,
    at most MAX_FILENAME characters, ending in .pdf."""
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*&;`$]', "_", name).strip(" .")
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    return (stem[: MAX_FILENAME - 4].strip(" .") or "tai-lieu") + ".pdf"


def check_pdf(data: bytes) -> None:
    """Parse the upload with pyHanko's PDF reader (kept, already used to sign minutes): a file
    that only starts with %PDF- (HTML, a script) is refused."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not data.startswith(b"%PDF-"):
        raise NotPdf("it does not start with %PDF-")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        pages = reader.root["/Pages"]
        count = int(pages["/Count"])
    except (PdfError, KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as error:
        raise NotPdf(f"it is not a readable PDF ({type(error).__name__})") from None
    if count < 1:
        raise NotPdf("it has no pages")


def _check_hash_store(directory: Path, data: bytes) -> str:
    """In an executor: parse, hash and store (50 MiB hash alone is ~0.1 s of CPU)."""
    check_pdf(data)
    digest = hashlib.sha256(data).hexdigest()
    _store(directory, data, digest)
    return digest


def documents_dir(state: AppState) -> Path:
    return state.settings.data_dir / "documents"


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": code, "message": message}, status=status)


_STATUS = {"bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409}


async def _caller(request: web.Request, meeting_id: int) -> Caller | None:
    principal = request[PRINCIPAL]
    async with app_state(request).sessions() as session:
        capacity = await attendance_role(session, meeting_id, principal)
    if capacity is None:
        return None
    return Caller(f"{principal.kind}:{principal.id}", principal.name, capacity, principal.account_id,
                  principal.id if principal.kind == "point" else None)


def _store(directory: Path, data: bytes, digest: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{digest}.pdf"
    if target.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".part")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, target)


async def store_pdf(state: AppState, data: bytes) -> str:
    """Check (NotPdf), hash and keep a PDF in the data directory, off the loop; returns the digest."""
    return await asyncio.get_running_loop().run_in_executor(None, _check_hash_store, documents_dir(state), data)


@requires("meeting.document_attach")
async def upload(request: web.Request) -> web.StreamResponse:
    from web.control import HUB

    state = app_state(request)
    meeting_id, item_id = path_id(request, "meeting_id"), path_id(request, "item_id")
    if meeting_id is None or item_id is None:
        return _error(404, "not_found", "no such meeting or agenda item")
    try:
        caller = await _caller(request, meeting_id)
    except MeetingError as error:
        return _error(_STATUS.get(error.code, 400), error.code, str(error))
    principal = request[PRINCIPAL]
    if (caller is None or not capacity_allows(caller.capacity, "document_upload")) and allowed(
        principal.role, "meeting.document_upload"
    ):
        # administrators and secretaries prepare any meeting's documents, as its secretary would
        caller = Caller(f"account:{principal.id}", principal.name, "secretary", principal.account_id)
    if caller is None or not capacity_allows(caller.capacity, "document_upload"):
        return _error(403, "forbidden", "only the chair or the secretary uploads documents")
    if not request.content_type.startswith("multipart/"):
        return _error(400, "bad_request", "send multipart/form-data with a field named file")
    try:
        reader = await request.multipart()
        part = await reader.next()
        while part is not None and getattr(part, "name", None) != "file":
            part = await reader.next()
        if part is None:
            return _error(400, "bad_request", "field file: missing")
        # Browsers send the name as UTF-8; some clients percent-encode it (RFC 5987 style).
        filename = safe_filename(unquote(part.filename or "document.pdf"))  # type: ignore[union-attr]
        data = bytearray()
        while chunk := await part.read_chunk(1 << 16):  # type: ignore[union-attr]
            data += chunk
            if len(data) > MAX_PDF_BYTES:  # while streaming: the rest is never read
                return _error(413, "bad_request", f"a document is at most {MAX_PDF_BYTES // (1024 * 1024)} MiB")
    except (HttpProcessingError, ValueError) as error:  # a NUL in a part's header, a broken boundary...
        return _error(400, "bad_request", f"the upload is not well-formed multipart/form-data: {error}"[:300])
    try:
        digest = await asyncio.get_running_loop().run_in_executor(
            None, _check_hash_store, documents_dir(state), bytes(data))
    except NotPdf as error:
        return _error(400, "bad_request", f"only PDF documents are accepted: {error}")
    hub = request.app[HUB]
    try:
        async with hub.lock(meeting_id):
            async with state.sessions() as session:
                document_id = await agenda.add_document(session, caller, meeting_id, item_id, filename, digest, len(data))
                await session.commit()
                snapshot = await agenda.snapshot(session, meeting_id)
    except MeetingError as error:
        return _error(_STATUS.get(error.code, 400), error.code, str(error))
    await hub.emit("agenda", snapshot, meeting_id)
    return web.json_response(
        {"ok": True, "document": {"id": document_id, "filename": filename, "sha256": digest, "size": len(data),
                                  "url": f"/api/documents/{document_id}"}}
    )


@requires("meeting.document_read")
async def download(request: web.Request) -> web.StreamResponse:
    state = app_state(request)
    document_id = path_id(request, "document_id")
    if document_id is None:
        return _error(404, "not_found", "no such document")
    async with state.sessions() as session:
        found = await agenda.document(session, document_id)
    if found is None:
        return _error(404, "not_found", "no such document")
    doc, meeting_id = found
    if await _caller(request, meeting_id) is None:
        return _error(403, "forbidden", "you do not attend this meeting")
    if request.headers.get("If-None-Match") == f'"{doc.sha256}"':
        return web.Response(status=304)
    path = documents_dir(state) / f"{doc.sha256}.pdf"
    if not path.is_file():
        return _error(404, "not_found", "the document's file is missing on the server")
    return web.FileResponse(path, headers={
        "Content-Type": "application/pdf",
        # attachment + nosniff: whatever a file holds, the browser saves it, never renders it here
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(safe_filename(doc.filename))}",
        "X-Content-Type-Options": "nosniff",
        "ETag": f'"{doc.sha256}"',
        "X-Content-SHA256": doc.sha256,
        "Cache-Control": "private, max-age=3600",
    })


@requires("meeting.audit_read")
async def audit_log(request: web.Request) -> web.StreamResponse:
    meeting_id = path_id(request, "meeting_id")
    if meeting_id is None:
        return _error(404, "not_found", "no such meeting")
    after_text = request.query.get("after", "0")
    if not (after_text.isascii() and after_text.isdigit() and len(after_text) <= 10 and int(after_text) <= MAX_ID):
        return _error(400, "bad_request", f"after: a whole number from 0 to {MAX_ID}")
    after = int(after_text)
    try:
        caller = await _caller(request, meeting_id)
    except MeetingError as error:
        return _error(_STATUS.get(error.code, 400), error.code, str(error))
    if not capacity_allows(caller.capacity if caller else None, "audit_read"):  # an administrator's capacity is admin
        return _error(403, "forbidden", "only the chair, the secretary or an administrator reads the audit log")
    verified = request.app[AUDIT_VERIFIED]
    since = None if request.query.get("full") == "1" else verified.get(meeting_id)
    async with app_state(request).sessions() as session:
        check = await audit.verify_chain(session, meeting_id, since=since)
        entries = await audit.entries(session, meeting_id, after_seq=after)
    if check.ok:
        verified[meeting_id] = (check.entries, check.head)
    return web.json_response({
        "ok": True, "verified": check.ok, "entries_total": check.entries, "head": check.head,
        "first_bad_seq": check.first_bad_seq, "reason": check.reason, "entries": entries,
    })


def add_routes(app: web.Application) -> None:
    app[AUDIT_VERIFIED] = {}
    app.router.add_post("/api/meetings/{meeting_id}/agenda/{item_id}/documents", upload)
    app.router.add_get("/api/documents/{document_id}", download)
    app.router.add_get("/api/meetings/{meeting_id}/audit", audit_log)
