"""The OpenAPI 3.1 document, generated from the endpoint declarations (web/api/registry.py) and
their pydantic models: JSON Schema 2020-12, which OpenAPI 3.1 uses as is, comes from pydantic."""
from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.api.models import ErrorOut
from web.api.registry import ENDPOINTS, Endpoint
from web.auth import SESSION_COOKIE

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK", 201: "Created", 204: "No content", 400: "Bad request", 401: "Not logged in", 403: "Not allowed",
    404: "Not found", 409: "Not possible in the meeting's or account's current state", 413: "Too large",
    415: "Not JSON", 422: "Invalid fields (every one listed in `fields`)",
}


_LANG = {
    "name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["vi", "en"]},
    "description": "Language of error messages and local times (default: Vietnamese, or the hoinghi_lang cookie)",
}


def _models(endpoints: list[Endpoint]) -> list[tuple[type[BaseModel], str]]:
    found: dict[tuple[type[BaseModel], str], None] = {(ErrorOut, "serialization"): None}
    for item in endpoints:
        if item.body is not None:
            found[(item.body, "validation")] = None
        for model in item.responses.values():
            found[(model, "serialization")] = None
    return list(found)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _parameters(item: Endpoint) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer" if kind is int else "string"}}
        for name, kind in item.path_params.items()
    ]
    if item.query is not None:
        schema = item.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            prop = dict(prop)
            description = prop.pop("description", None)
            prop.pop("title", None)
            parameter = {"name": name, "in": "query", "required": name in schema.get("required", []), "schema": prop}
            if description:
                parameter["description"] = description
            parameters.append(parameter)
    parameters.append(_LANG)
    return parameters


def _operation(item: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": item.name, "summary": item.summary, "tags": [item.tag], "responses": {},
    }
    if item.description:
        operation["description"] = item.description
    if item.action is not None:
        operation["security"] = [{"session": []}]
        operation["x-permission"] = item.action
    parameters = _parameters(item)
    if parameters:
        operation["parameters"] = parameters
    if item.body is not None:
        media: dict[str, Any] = {"schema": _ref(item.body)}
        if item.request_example is not None:
            media["example"] = item.request_example
        operation["requestBody"] = {"required": True, "content": {"application/json": media}}
    elif item.raw_request is not None:
        operation["requestBody"] = item.raw_request
    for status, model in item.responses.items():
        operation["responses"][str(status)] = {
            "description": _STATUS_TEXT.get(status, "OK"), "content": {"application/json": {"schema": _ref(model)}},
        }
    for status, response in (item.raw_responses or {}).items():
        operation["responses"][str(status)] = response
    for status in item.errors:
        operation["responses"][str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"), "content": {"application/json": {"schema": _ref(ErrorOut)}},
        }
    return operation


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    endpoints = sorted(ENDPOINTS, key=lambda e: (e.path, e.method))
    _, schemas = models_json_schema(_models(endpoints), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for item in endpoints:
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", item.path)
        paths.setdefault(path, {})[item.method.lower()] = _operation(item)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hoinghi REST API",
            "version": "1",
            "description": (
                "Meetings with their agenda and documents, accounts and bridge points. Log in with "
                "POST /login (JSON); the session cookie authenticates every call. Errors have one "
                "format (ErrorOut). See docs/api.md."
            ),
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}},
        },
        "paths": paths,
    }
