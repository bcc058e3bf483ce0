"""The minutes' REST routes (web/minutes/routes.py) described for /api/openapi.json.

Their permission is the caller's capacity in the meeting (`minutes_*` of
meetings.control_common.PERMISSIONS), not a role, and they also take the editor's forms, so
they are documented here rather than wrapped by web/api/registry.py; their bodies are
web/minutes/bodies.py's models; errors use the common ErrorOut format.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from web.api.registry import Endpoint, document
from web.minutes import bodies

MEETING = "/api/meetings/{meeting_id}"
_PDF = {"description": "The PDF", "content": {"application/pdf": {"schema": {"type": "string", "contentMediaType": "application/pdf"}}}}


def _json(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required)}


def _ok(properties: dict[str, Any] | None = None) -> dict[int, dict[str, Any]]:
    schema = _json({"ok": {"const": True}, **(properties or {})}, ("ok",))
    return {200: {"description": "Done", "content": {"application/json": {"schema": schema}}}}


def _route(method: str, path: str, name: str, summary: str, body: type[BaseModel] | None = None,
           answer: dict[str, Any] | None = None, errors: tuple[int, ...] = (400, 401, 403, 404, 409),
           description: str = "", path_params: dict[str, type] | None = None,
           responses: dict[int, dict[str, Any]] | None = None) -> None:
    document(Endpoint(
        method=method, path=path, name=name, summary=summary, tag="minutes", description=description,
        action=None, path_params={"meeting_id": int, **(path_params or {})}, query=None, body=body, responses={},
        errors=(*errors, 422) if body else errors, raw_responses=responses or _ok(answer),
    ))


SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
B64 = {"type": "string", "contentEncoding": "base64"}

_route("POST", MEETING + "/items/{item_id}/conclusion", "minutes_conclusion", "The chair's conclusion on an item",
       bodies.ItemConclusionIn, path_params={"item_id": int},
       description="Chair or secretary, during or after the item.")
_route("POST", MEETING + "/minutes/draft", "minutes_draft", "A new version drafted from the meeting record",
       bodies.MinutesDraftIn, {"version": {"type": "integer"}},
       description="The secretary.")
_route("POST", MEETING + "/minutes/edit", "minutes_edit", "A new version with edits of the latest one",
       bodies.MinutesEditIn, {"version": {"type": "integer"}},
       description="The secretary; 409 when `base` is not the latest version.")
_route("POST", MEETING + "/minutes/comments", "minutes_comment", "A comment on a version (or one section)",
       bodies.MinutesCommentIn, description="The chair or the secretary.")
_route("GET", MEETING + "/minutes/preview.pdf", "minutes_preview", "The latest version as an unsigned PDF",
       errors=(401, 403, 404), responses={200: _PDF})
_route("POST", MEETING + "/minutes/send", "minutes_send", "Freeze a version and render the PDF to sign",
       bodies.MinutesSendIn, {"sha256": SHA, "pages": {"type": "integer"}}, description="The secretary.")
_route("POST", MEETING + "/minutes/sign", "minutes_sign", "Sign the caller's turn with a key the server holds",
       bodies.EmptyIn, answer={"sha256": SHA, "role": {"enum": ["secretary", "chair", "seal"]}},
       description="The key of the caller's account in DATA_DIR/signing/signing.toml; secretary first, then chair.")
_route("POST", MEETING + "/minutes/sign/prepare", "minutes_sign_prepare", "Signing elsewhere, 1: the attributes to sign",
       bodies.SignPrepareIn, {"token": {"type": "string"}, "role": {"type": "string"}, "digest_algorithm": {"const": "sha256"},
        "signed_attrs": B64, "hash_to_sign": B64, "tsa_url": {"type": ["string", "null"]}},
       description="The certificate is checked first; sign `signed_attrs` (a token) or `hash_to_sign` (a hash-signing service).")
_route("POST", MEETING + "/minutes/sign/finish", "minutes_sign_finish", "Signing elsewhere, 2: the CMS embedded",
       bodies.SignFinishIn, {"sha256": SHA, "role": {"type": "string"}})
_route("POST", MEETING + "/minutes/publish", "minutes_publish", "Publish fully signed minutes", bodies.EmptyIn,
       answer={"sha256": SHA})
_route("GET", MEETING + "/minutes/files/{sha256}.pdf", "minutes_file", "A minutes PDF by its SHA-256",
       errors=(401, 403, 404), responses={200: _PDF}, path_params={"sha256": str},
       description="Participants: published files; chair, secretary, administrators: every file of the signing.")
document(Endpoint(
    method="POST", path="/api/verify", name="minutes_verify", summary="Verify a signed PDF (anyone)", tag="minutes",
    description="Signers, positions, times, timestamps, integrity, trust; `ok` false when anything fails.",
    action=None, path_params={}, query=None, body=bodies.VerifyIn, responses={}, errors=(400, 422),
    raw_responses={200: {"description": "The report", "content": {"application/json": {"schema": _json(
        {"ok": {"type": "boolean"}, "report": {"type": "object"}, "text": {"type": "array", "items": {"type": "string"}}},
        ("ok", "report"))}}}},
))
