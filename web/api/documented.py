"""Routes served outside web/api but part of the API, described for the OpenAPI document:
the JSON login and logout (web/auth.py), document upload and download (web/control/documents.py)."""
from __future__ import annotations

from web.api import models as m
from web.api.registry import Endpoint, document

_PDF = {"description": "The PDF", "content": {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}}

document(Endpoint(
    method="POST", path="/login", name="login", summary="Log in (JSON); sets the session cookie", tag="session",
    description="The answer's csrf_token goes in X-CSRF-Token on multipart uploads. A wrong password is 401.",
    action=None, path_params={}, query=None, body=m.LoginIn, responses={200: m.LoginOut}, errors=(400, 401),
    request_example={"username": "thuky", "password": "mat-khau-cua-ban"},
))
document(Endpoint(
    method="POST", path="/logout", name="logout", summary="Log out (ends the session)", tag="session",
    description="Answers 303 to the login page.", action=None, path_params={}, query=None, body=None, responses={},
    errors=(), raw_responses={303: {"description": "Logged out; Location: /"}},
))
document(Endpoint(
    method="POST", path="/api/meetings/{meeting_id}/agenda/{item_id}/documents", name="upload_document",
    summary="Attach a PDF to an agenda item (multipart field `file`, header X-CSRF-Token)", tag="meetings",
    description="The chair and secretary of the meeting, administrators and secretaries; at most 50 MiB.",
    action="meeting.document_upload", path_params={"meeting_id": int, "item_id": int}, query=None, body=None,
    responses={200: m.DocumentUploadOut}, errors=(400, 401, 403, 404, 409, 413),
    raw_request={"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "contentMediaType": "application/pdf"}},
    }}}},
))
document(Endpoint(
    method="GET", path="/api/documents/{document_id}", name="download_document", summary="A document's PDF",
    tag="meetings", description="For the meeting's participants; its SHA-256 is the ETag.",
    action="meeting.document_read", path_params={"document_id": int}, query=None, body=None, responses={},
    errors=(401, 403, 404), raw_responses={200: _PDF, 304: {"description": "Not modified"}},
))
