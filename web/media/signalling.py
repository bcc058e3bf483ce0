"""Socket.IO `media:*` events (docs/protocol.md, "Media signalling")."""
from __future__ import annotations

from typing import Any

from web.events import Ack, EventError, ok, on_event, require
from web.media.hub import SOURCES, MediaError, MediaHub
from web.state import AppState

MAX_SDP = 64 * 1024  # bytes; a real offer with three m-sections is ~6 KB
MAX_TRACKS = 512


def _sdp(payload: dict[str, Any]) -> str:
    sdp = require(payload, "sdp", str)
    if len(sdp) > MAX_SDP or not sdp.startswith("v=0"):
        raise EventError("bad_request", "sdp: not a session description (or larger than 64 KiB)")
    return sdp


def register_media_events(state: AppState, hub: MediaHub) -> None:
    def on(name: str):  # type: ignore[no-untyped-def]
        def decorate(handler):  # type: ignore[no-untyped-def]
            async def guarded(sid: str, payload: dict[str, Any]) -> Ack:
                try:
                    return await handler(sid, payload)
                except MediaError as error:
                    raise EventError(error.code, error.message) from None
                except KeyError as error:
                    # the SFU forgot this peer (e.g. it left meanwhile): the client starts again
                    raise EventError("conflict", f"no media session: {error}") from None

            guarded.__name__ = handler.__name__
            on_event(state, name)(guarded)  # web/permissions.py: joined, any capacity
            return handler

        return decorate

    @on("media:join")
    async def media_join(sid: str, payload: dict[str, Any]) -> Ack:
        return ok(**await hub.join(sid, require(payload, "meeting_id", int)))

    @on("media:publish")
    async def media_publish(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        sdp = _sdp(payload)
        sources = require(payload, "sources", dict, optional=True) or {}
        for key, value in sources.items():
            if value not in SOURCES:
                raise EventError("bad_request", f"sources.{key}: must be one of {', '.join(SOURCES)}")
        try:
            answer = await hub.publish(sid, meeting_id, sdp, sources)
        except ValueError as error:
            raise EventError("bad_request", f"sdp: {error}") from None
        return ok(sdp=answer)

    @on("media:subscribe")
    async def media_subscribe(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        track_ids = require(payload, "track_ids", list)
        if len(track_ids) > MAX_TRACKS or not all(isinstance(t, str) for t in track_ids):
            raise EventError("bad_request", "track_ids: must be a list of strings")
        return ok(**await hub.subscribe(sid, meeting_id, track_ids))

    @on("media:answer")
    async def media_answer(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        try:
            await hub.answer(sid, meeting_id, _sdp(payload))
        except ValueError as error:
            raise EventError("bad_request", f"sdp: {error}") from None
        return ok()

    @on("media:view")
    async def media_view(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        await hub.set_view(sid, meeting_id, require(payload, "speaker_layer", str))
        return ok()

    @on("media:keyframe")
    async def media_keyframe(sid: str, payload: dict[str, Any]) -> Ack:
        await hub.keyframe(sid, require(payload, "meeting_id", int), require(payload, "track_id", str))
        return ok()

    @on("media:state")
    async def media_state(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        await hub.set_state(sid, meeting_id, require(payload, "audio", bool), require(payload, "video", bool))
        return ok()

    @on("media:leave")
    async def media_leave(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = require(payload, "meeting_id", int)
        hub._require_peer(sid, meeting_id)
        await hub.release(sid)
        return ok()
