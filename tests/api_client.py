"""A REST client for the tests that checks every answer against the server's own OpenAPI document."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict


@dataclass
class SentRequest:
    """What the test sent, in the shape openapi-core reads (its protocols.Request); the operation
    is found by matching the path against the document's templates."""

    host_url: str
    path: str
    method: str
    body: bytes | None = None
    content_type: str = "application/json"
    parameters: RequestParameters = field(default_factory=RequestParameters)


@dataclass
class ReceivedResponse:
    status_code: int
    content_type: str
    data: bytes
    headers: Headers


class ApiClient:
    """One logged-in (or anonymous) caller. `call` returns (status, JSON body) after validating
    the response against /api/openapi.json: an undocumented status or a body off its schema fails."""

    def __init__(self, base_url: str, spec: OpenAPI, jar: aiohttp.CookieJar | None = None, csrf: str = "") -> None:
        self.base_url = base_url
        self.spec = spec
        self.jar = jar or aiohttp.CookieJar(unsafe=True)
        self.csrf = csrf

    @classmethod
    async def open(cls, base_url: str, username: str | None = None, password: str | None = None) -> "ApiClient":
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base_url}/api/openapi.json") as response:
                spec = OpenAPI.from_dict(await response.json())
        client = cls(base_url, spec)
        if username is not None:
            status, body = await client.call("POST", "/login", json_body={"username": username, "password": password})
            assert status == 200, body
            client.csrf = body["csrf_token"]
        return client

    async def call(
        self, method: str, path: str, json_body: Any = None, query: dict[str, str] | None = None,
        data: aiohttp.FormData | None = None,
    ) -> tuple[int, Any]:
        headers = {"X-CSRF-Token": self.csrf} if data is not None else {}
        if method == "POST" and json_body is None and data is None:
            json_body = {}  # docs/api.md: a POST is JSON (or multipart with X-CSRF-Token)
        async with aiohttp.ClientSession(cookie_jar=self.jar) as http:
            async with http.request(
                method, f"{self.base_url}{path}", json=json_body, params=query, data=data, headers=headers,
                allow_redirects=False,
            ) as response:
                raw = await response.read()
                received = ReceivedResponse(
                    response.status, response.headers.get("Content-Type", "").split(";")[0].lower(), raw,
                    Headers(dict(response.headers)),
                )
        sent = SentRequest(
            host_url=self.base_url, path=path, method=method.lower(),
            body=json.dumps(json_body).encode() if json_body is not None else None,
            parameters=RequestParameters(query=ImmutableMultiDict(query or {})),
        )
        self.spec.validate_response(sent, received)
        return received.status_code, (json.loads(raw) if received.content_type == "application/json" else raw)
