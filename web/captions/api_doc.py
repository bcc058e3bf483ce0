"""The transcript routes (web/captions/pages.py) in the OpenAPI document, with their bodies as
pydantic models: they are served by web/captions, not wrapped by web/api, but documented and
checked like every /api/ route (tests/transcription/test_transcript_http.py validates answers
against /api/openapi.json)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from web.api.models import Model
from web.api.registry import Endpoint, document

SegmentKind = Literal["speech", "gap"]


class WordOut(Model):
    word: str
    start_s: float = Field(description="Seconds from the segment's start")
    end_s: float
    conf: float = Field(ge=0, le=1, description="The recogniser's confidence")


class CorrectionOut(Model):
    field: Literal["text", "speaker"]
    before: str
    after: str
    by: str = Field(description="Principal key of who corrected (account:ID)")
    by_name: str
    at: str = Field(description="ISO 8601, UTC")


class SegmentOut(Model):
    id: int
    meeting_id: int
    item_id: int | None = Field(description="The agenda item current when it was said; null: none was")
    kind: SegmentKind = Field(description="speech, or gap: audio not recognised (text is the reason: behind, busy)")
    source: str = Field(description="Whose microphone: account:ID or point:ID")
    speaker: str = Field(description="The name shown: the delegate granted the floor at a bridge point, else the point")
    speaker_account_id: int | None
    speaker_point_id: str | None
    start_s: float = Field(description="Meeting time (seconds since it opened)")
    end_s: float
    started_at: str = Field(description="Wall-clock, ISO 8601")
    ended_at: str
    text: str = Field(description="As corrected by the secretary, else as recognised")
    original_text: str = Field(description="As recognised")
    words: list[WordOut]
    corrections: list[CorrectionOut] = Field(description="Every correction, oldest first")


class TranscriptOut(Model):
    ok: Literal[True] = True
    segments: list[SegmentOut] = Field(description="In order of time")


class TranscriptQuery(Model):
    q: str | None = Field(None, description='Search ignoring case and diacritics: "ke hoach dau tu" finds "kế hoạch đầu tư"')
    item: str | None = Field(None, description="Only this agenda item's segments: its id, or none (before any item)")


class CorrectionIn(Model):
    text: str | None = Field(None, description="The corrected text")
    speaker_account_id: int | None = Field(None, description="The speaker is this invitee")
    speaker_name: str | None = Field(None, description="Or a name (e.g. a guest at a bridge point)")


class CorrectionDone(Model):
    ok: Literal[True] = True
    segment: SegmentOut


class TranscriptionStatusOut(Model):
    enabled: bool
    off_reason: Literal["no_model", "bad_model", "starting"] | None = Field(
        description="Why transcription is off: no model installed (hoinghi model install), a model that cannot be loaded")


_ID = {"meeting_id": int}
_READ = "The meeting's invitees (403 for others); 404 for a meeting that does not exist."

document(Endpoint(
    method="GET", path="/api/meetings/{meeting_id}/transcript", name="transcript", tag="transcript",
    summary="The meeting's transcript segments (all, one agenda item's, or those matching a search)",
    description=_READ, action="meeting.read", path_params=_ID, query=TranscriptQuery, body=None,
    responses={200: TranscriptOut}, errors=(400, 401, 403, 404),
))
document(Endpoint(
    method="POST", path="/api/meetings/{meeting_id}/transcript/{segment_id}", name="correct_transcript_segment",
    tag="transcript", summary="Correct a segment's text and/or speaker (the original and who changed it are kept)",
    description="The meeting's secretary only. Broadcast as `transcript_corrected` (docs/protocol.md).",
    action="meeting.read", path_params={"meeting_id": int, "segment_id": int}, query=None, body=CorrectionIn,
    responses={200: CorrectionDone}, errors=(400, 401, 403, 404),
    request_example={"text": "Về kế hoạch đầu tư công năm 2027", "speaker_account_id": 5},
))
_EXPORTS = (
    ("vtt", "WebVTT captions (a speaker's name in each cue's voice tag)", {"text/vtt": {}}),
    ("txt", "Plain text, grouped by agenda item", {"text/plain": {"schema": {"type": "string"}}}),
    ("json", "JSON: the meeting, its agenda and every segment", {"application/json": {"schema": {"type": "object"}}}),
)
for fmt, what, content in _EXPORTS:
    document(Endpoint(
        method="GET", path=f"/api/meetings/{{meeting_id}}/transcript.{fmt}", name=f"transcript_{fmt}", tag="transcript",
        summary=f"Export the transcript: {what}", description=_READ + " An attachment.", action="meeting.read",
        path_params=_ID, query=None, body=None, responses={}, errors=(401, 403, 404),
        raw_responses={200: {"description": what, "content": content}},
    ))
document(Endpoint(
    method="GET", path="/api/transcription", name="transcription_status", tag="transcript",
    summary="Whether this server transcribes (a Vosk model is installed and loaded)", description="",
    action="meeting.read", path_params={}, query=None, body=None, responses={200: TranscriptionStatusOut}, errors=(401,),
))
