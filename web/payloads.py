"""Payloads of the Socket.IO events outside the control plane (membership, transcript, media),
as pydantic models: strict types (no "1" for 1, no true for 1), no unknown fields, ids that fit
the database, bounded text. web.events.validate turns a refusal into `bad_request` naming each
field, in the same form as the REST API's errors. The control plane's payloads
(web/control/payloads.py, web/points/payloads.py) are built from the same pieces."""
from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic_core import PydanticCustomError

from web.path_ids import MAX_ID

MAX_SDP = 64 * 1024  # characters; a real offer with three m-sections is ~6 KB
MAX_TRACKS = 512
T = TypeVar("T")


def within(low: float, high: float) -> AfterValidator:
    """A number in low…high: `Annotated[StrictInt, within(1, 10)]`. Not Field(ge=, le=): pydantic
    names only the bound that was crossed, and the `out_of_range` problem carries both (`min`,
    `max`), which its text "between {min} and {max}" needs. NaN is out of every range."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise PydanticCustomError("out_of_range", "must be between {min} and {max}", {"min": low, "max": high})
        return value

    return AfterValidator(check)


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null", "may be left out, but not null")
    return value


# A field that may be left out (then None) but not sent as null: give it the default None.
# (Not SkipJsonSchema[None]: it turns the field into a union, whose errors name its members.)
Omittable = Annotated[T | None, BeforeValidator(_not_null)]
Id = Annotated[StrictInt, within(1, MAX_ID)]
Name = Annotated[StrictStr, Field(max_length=200)]


def _session_description(text: str) -> str:
    if not text.startswith("v=0"):
        raise ValueError("not a session description (it starts with v=0)")
    return text


Sdp = Annotated[StrictStr, Field(max_length=MAX_SDP), AfterValidator(_session_description)]
Source = Literal["camera", "camera-low", "microphone", "screen"]  # web.media.hub.SOURCES


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoFields(Payload):
    pass


class InMeeting(Payload):
    meeting_id: Id


class JoinMeeting(InMeeting):
    console: StrictBool = False


class Publish(InMeeting):
    sdp: Sdp
    sources: dict[Annotated[StrictStr, Field(max_length=64)], Source] = Field(default_factory=dict, max_length=64)


class Subscribe(InMeeting):
    track_ids: list[Name] = Field(max_length=MAX_TRACKS)


class Answer(InMeeting):
    sdp: Sdp


class View(InMeeting):
    speaker_layer: Literal["high", "low"]


class Keyframe(InMeeting):
    track_id: Name


class MediaState(InMeeting):
    audio: StrictBool
    video: StrictBool
