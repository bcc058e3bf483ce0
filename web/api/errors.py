"""The one error format of the REST API, with the message in the caller's language.

    {"ok": false, "error": CODE, "message": TEXT, "params": {...},
     "fields": [{"field": "agenda.0.title", "code": "required", "params": {}, "message": TEXT}]}
"""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from meetings.accounts import AccountError
from meetings.meetings_service import MeetingError
from meetings.scheduling import FieldProblem, InvalidMeeting
from web.api.models import ErrorOut, FieldProblemOut
from web.error_texts import error_message, field_message
from web.i18n import request_language

# Domain codes and their HTTP status; the rest are 400 (the domain refused the input as such).
_STATUS = {
    "not_found": 404, "forbidden": 403, "conflict": 409, "not_scheduled": 409, "only_admin": 409,
    "in_charge_of_meeting": 409, "stale_version": 409, "invalid": 422, "username_taken": 409, "unknown_point": 404,
}
# Account problems that belong to one field of the account forms.
ACCOUNT_FIELDS = {
    "bad_username": "username", "username_taken": "username", "bad_email": "email", "bad_role": "role",
    "weak_password": "new_password", "wrong_password": "current_password", "same_password": "new_password",
}


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, params: dict[str, Any] | None = None,
        problems: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.params, self.problems = status, code, params or {}, problems or []


_PYDANTIC_CODES = {
    "missing": "required", "string_too_long": "too_long", "extra_forbidden": "unknown_field",
    "timezone_aware": "no_time_zone", "datetime_parsing": "invalid_datetime", "datetime_from_date_parsing": "invalid_datetime",
    "datetime_type": "invalid_datetime", "greater_than_equal": "out_of_range", "less_than_equal": "out_of_range",
    "greater_than": "out_of_range", "less_than": "out_of_range", "string_too_short": "required",
    "too_long": "too_many",  # a list or an object with too many entries (strings: string_too_long)
    "out_of_range": "out_of_range",  # web.payloads.between, with both bounds
}


def _field_code(item: Any) -> str:
    """The documented field code of one pydantic error; null where a value is needed is `required`."""
    if item["input"] is None and item["loc"]:
        return "required"
    return _PYDANTIC_CODES.get(item["type"], "invalid_value")


def validation_error(error: ValidationError) -> ApiError:
    problems = []
    for item in error.errors():
        context = item.get("ctx") or {}
        params: dict[str, Any] = {}
        if "max_length" in context:
            params["max"] = context["max_length"]
        for bound, name in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max"), ("min", "min"), ("max", "max")):
            if bound in context:
                params[name] = context[bound]
        name = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append(FieldProblem(name, _field_code(item), params))
    return ApiError(422, "invalid", str(error), problems=problems)


def domain_error(error: Exception) -> ApiError:
    if isinstance(error, InvalidMeeting):
        return ApiError(422, "invalid", str(error), problems=error.problems)
    if isinstance(error, AccountError) and error.code in ACCOUNT_FIELDS:
        problem = FieldProblem(ACCOUNT_FIELDS[error.code], error.code, dict(error.params))
        return ApiError(_STATUS.get(error.code, 422), error.code, str(error), dict(error.params), [problem])
    code = getattr(error, "code", "bad_request")
    params = dict(getattr(error, "params", {}))
    assert isinstance(error, (MeetingError, AccountError))
    return ApiError(_STATUS.get(code, 400), code, str(error), params)


def error_body(lang: str, error: ApiError) -> ErrorOut:
    return ErrorOut(
        error=error.code, message=error_message(lang, error.code, error.params), params=error.params,
        fields=[
            FieldProblemOut(field=p.field, code=p.code, params=p.params, message=field_message(lang, p.code, p.params))
            for p in error.problems
        ],
    )


def error_response(request: web.Request, error: ApiError) -> web.Response:
    body = error_body(request_language(request), error)
    return web.Response(text=body.model_dump_json(), status=error.status, content_type="application/json")
