"""Socket.IO events of the bridge points at work (docs/protocol.md, "Bridge points").

- `point_health`: a point's TV screen or agent reports its link every few seconds;
- `points_status`: the dashboard's snapshot (later changes come as the `points_status` broadcast);
- `point_command` / `point_devices`: the room's console and its TV screen talk to each other
  (microphone, camera, device choice); relayed to the point's other connections only.
"""
from __future__ import annotations

from typing import Any

from web.control.hub import ControlHub
from web.control.payloads import ControlPayload
from web.events import Ack, field_error, ok, on_event, validate
from web.points.monitor import Health, PointMonitor
from web.points.payloads import PointCommand, PointDevices, PointHealth


def _health(p: PointHealth) -> Health:
    figures = p.model_dump(exclude={"meeting_id", "client", "media"})
    return Health(client=p.client, media=p.media, **{name: round(value, 1) for name, value in figures.items()})


def _check_command(p: PointCommand) -> None:
    """What a command needs besides its name; the refusal names the field."""
    if p.command in ("mic", "camera") and p.on is None:
        raise field_error("on", "required", f"on: {p.command} needs it")
    if p.command == "device" and p.kind not in ("audio", "video"):
        raise field_error("kind", "required" if p.kind is None else "invalid_value", "device: kind is audio or video")
    if p.command == "device" and p.device_id is None:
        raise field_error("device_id", "required", "device: needs device_id")


def register_events(hub: ControlHub, monitor: PointMonitor) -> None:
    sio = hub.state.sio

    def on(name: str):  # type: ignore[no-untyped-def]
        return on_event(hub.state, name)  # web/permissions.py's rule is checked before the handler

    @on("point_health")
    async def point_health(sid: str, payload: dict[str, Any]) -> Ack:
        p = validate(PointHealth, payload)
        meeting_id, caller = await hub.caller(sid)
        p.check_meeting(meeting_id)
        assert caller.point_id is not None
        await monitor.report(meeting_id, caller.point_id, sid, _health(p))
        return ok()

    @on("points_status")
    async def points_status(sid: str, payload: dict[str, Any]) -> Ack:
        p = validate(ControlPayload, payload)
        meeting_id, caller = await hub.caller(sid)
        p.check_meeting(meeting_id)
        return ok(**await monitor.snapshot(meeting_id))

    async def relay(sid: str, event: str, p: ControlPayload) -> int:
        """Send what was sent (without meeting_id) to the sender's point's other connections in
        the meeting; returns how many."""
        meeting_id, caller = await hub.caller(sid)
        p.check_meeting(meeting_id)
        data = p.model_dump(exclude={"meeting_id"}, exclude_unset=True)
        targets = [e.peer_id for e in hub.state.roster.entries(meeting_id) if e.key == caller.key and e.peer_id != sid]
        for target in targets:
            await sio.emit(event, {"meeting_id": meeting_id, **data}, to=target)
        return len(targets)

    @on("point_command")
    async def point_command(sid: str, payload: dict[str, Any]) -> Ack:
        p = validate(PointCommand, payload)
        _check_command(p)
        return ok(delivered=await relay(sid, "point_command", p))

    @on("point_devices")
    async def point_devices(sid: str, payload: dict[str, Any]) -> Ack:
        return ok(delivered=await relay(sid, "point_devices", validate(PointDevices, payload)))
