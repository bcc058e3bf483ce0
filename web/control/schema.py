"""Strict payload validation for control events: known keys only, exact types, bounded values.
Each refusal names its field and a problem code, as the REST API and web/payloads.py do."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meetings.scheduling import FieldProblem
from web.events import EventError

MAX_ID = 2**31 - 1  # ids and counts fit PostgreSQL's integer
MAX_TEXT = 2000


@dataclass(frozen=True)
class F:
    kind: type | tuple[type, ...]
    required: bool = False
    nullable: bool = False
    low: int = 0
    high: int = MAX_ID
    items: type | None = None  # element type of a list / value type of a dict
    max_items: int = 1000


def bad(message: str, field: str | None = None, code: str = "invalid_value", **params: Any) -> EventError:
    problems = [FieldProblem(field, code, params)] if field is not None else []
    return EventError("bad_request", message, problems=problems)


def not_joined() -> EventError:
    return EventError("conflict", "join the meeting first (join_meeting)")


def _check(name: str, value: Any, spec: F) -> Any:
    kinds = spec.kind if isinstance(spec.kind, tuple) else (spec.kind,)
    if value is None:
        if spec.nullable:
            return None
        raise bad(f"{name}: must not be null", name, "required")
    if isinstance(value, bool) and bool not in kinds:
        raise bad(f"{name}: must be {'/'.join(k.__name__ for k in kinds)}, not bool", name)
    if not isinstance(value, kinds):
        raise bad(f"{name}: must be {'/'.join(k.__name__ for k in kinds)}, not {type(value).__name__}", name)
    if isinstance(value, int) and not isinstance(value, bool) and not spec.low <= value <= spec.high:
        raise bad(f"{name}: between {spec.low} and {spec.high}", name, "out_of_range", min=spec.low, max=spec.high)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise bad(f"{name}: at most {MAX_TEXT} characters", name, "too_long", max=MAX_TEXT)
    if isinstance(value, (list, dict)):
        if len(value) > spec.max_items:
            raise bad(f"{name}: at most {spec.max_items} entries", name, "too_many", max=spec.max_items)
        inner = F(spec.items or object, low=spec.low, high=spec.high)
        if isinstance(value, list):
            return [_check(f"{name}[{i}]", v, inner) for i, v in enumerate(value)]
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k or len(k) > 63:
                raise bad(f"{name}: keys must be short strings", name)
            out[k] = _check(f"{name}.{k}", v, inner)
        return out
    return value


def parse(payload: dict[str, Any], **fields: F) -> dict[str, Any]:
    """Validate a payload; `meeting_id`, when sent, is accepted (and checked by the caller)."""
    unknown = set(payload) - set(fields) - {"meeting_id"}
    if unknown:
        raise bad(f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}", sorted(map(str, unknown))[0][:63],
                  "unknown_field")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in payload:
            if spec.required:
                raise bad(f"{name}: missing", name, "required")
            continue
        out[name] = _check(name, payload[name], spec)
    if "meeting_id" in payload:
        out["meeting_id"] = _check("meeting_id", payload["meeting_id"], F(int, low=1))
    return out


def same_meeting(parsed: dict[str, Any], meeting_id: int) -> None:
    if parsed.get("meeting_id", meeting_id) != meeting_id:
        raise EventError("conflict", "meeting_id is not the meeting this connection joined")
