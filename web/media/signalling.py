"""Socket.IO `media:*` events (docs/protocol.md, "Media signalling")."""
from __future__ import annotations

from typing import Any

from web import payloads as p
from web.events import Ack, EventError, ok, on_event, validate
from web.media.hub import MediaError, MediaHub
from web.state import AppState

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
        return ok(**await hub.join(sid, validate(p.InMeeting, payload).meeting_id))

    @on("media:publish")
    async def media_publish(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.Publish, payload)
        try:
            answer = await hub.publish(sid, request.meeting_id, request.sdp, dict(request.sources))
        except ValueError as error:
            raise EventError("bad_request", f"sdp: {error}") from None
        return ok(sdp=answer)

    @on("media:subscribe")
    async def media_subscribe(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.Subscribe, payload)
        return ok(**await hub.subscribe(sid, request.meeting_id, list(request.track_ids)))

    @on("media:answer")
    async def media_answer(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.Answer, payload)
        try:
            await hub.answer(sid, request.meeting_id, request.sdp)
        except ValueError as error:
            raise EventError("bad_request", f"sdp: {error}") from None
        return ok()

    @on("media:view")
    async def media_view(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.View, payload)
        await hub.set_view(sid, request.meeting_id, request.speaker_layer)
        return ok()

    @on("media:keyframe")
    async def media_keyframe(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.Keyframe, payload)
        await hub.keyframe(sid, request.meeting_id, request.track_id)
        return ok()

    @on("media:state")
    async def media_state(sid: str, payload: dict[str, Any]) -> Ack:
        request = validate(p.MediaState, payload)
        await hub.set_state(sid, request.meeting_id, request.audio, request.video)
        return ok()

    @on("media:leave")
    async def media_leave(sid: str, payload: dict[str, Any]) -> Ack:
        meeting_id = validate(p.InMeeting, payload).meeting_id
        hub._require_peer(sid, meeting_id)
        await hub.release(sid)
        return ok()
