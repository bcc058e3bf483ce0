"""Socket.IO events of the bridge points at work (docs/protocol.md, "Bridge points").

- `point_health`: a point's TV screen or agent reports its link every few seconds;
- `points_status`: the dashboard's snapshot (later changes come as the `points_status` broadcast);
- `point_command` / `point_devices`: the room's console and its TV screen talk to each other
  (microphone, camera, device choice); relayed to the point's other connections only.
"""
from __future__ import annotations

from typing import Any

from web.control.hub import ControlHub
from web.control.schema import F, bad, parse, same_meeting
from web.events import Ack, ok, on_event
from web.points.monitor import Health, PointMonitor

CLIENTS = ("screen", "agent")
COMMANDS = ("mic", "camera", "device", "report")
# Bounds of the figures a report may carry: beyond them a client is broken, not a link slow.
FIGURE_BOUNDS = {"bitrate_in_kbps": 1e6, "bitrate_out_kbps": 1e6, "loss_pct": 100.0, "rtt_ms": 60_000.0, "fps": 240.0}


def _health(p: dict[str, Any]) -> Health:
    if p["client"] not in CLIENTS:
        raise bad(f"client: one of {', '.join(CLIENTS)}")
    figures = {}
    for name, high in FIGURE_BOUNDS.items():
        value = float(p.get(name, 0))
        if not 0 <= value <= high:
            raise bad(f"{name}: between 0 and {high:g}")
        figures[name] = round(value, 1)
    return Health(client=p["client"], media=p.get("media", False), **figures)


def register_events(hub: ControlHub, monitor: PointMonitor) -> None:
    sio = hub.state.sio

    def on(name: str):  # type: ignore[no-untyped-def]
        return on_event(hub.state, name)  # web/permissions.py's rule is checked before the handler

    number = F((int, float))

    @on("point_health")
    async def point_health(sid: str, payload: dict[str, Any]) -> Ack:
        p = parse(payload, client=F(str, required=True), media=F(bool), **{name: number for name in FIGURE_BOUNDS})
        meeting_id, caller = await hub.caller(sid)
        same_meeting(p, meeting_id)
        assert caller.point_id is not None
        await monitor.report(meeting_id, caller.point_id, sid, _health(p))
        return ok()

    @on("points_status")
    async def points_status(sid: str, payload: dict[str, Any]) -> Ack:
        p = parse(payload)
        meeting_id, caller = await hub.caller(sid)
        same_meeting(p, meeting_id)
        return ok(**await monitor.snapshot(meeting_id))

    async def relay(sid: str, event: str, data: dict[str, Any]) -> int:
        """Send to the sender's point's other connections in the meeting; returns how many."""
        meeting_id, caller = await hub.caller(sid)
        same_meeting(data, meeting_id)
        data.pop("meeting_id", None)
        targets = [e.peer_id for e in hub.state.roster.entries(meeting_id) if e.key == caller.key and e.peer_id != sid]
        for target in targets:
            await sio.emit(event, {"meeting_id": meeting_id, **data}, to=target)
        return len(targets)

    @on("point_command")
    async def point_command(sid: str, payload: dict[str, Any]) -> Ack:
        p = parse(payload, command=F(str, required=True), on=F(bool), kind=F(str), device_id=F(str))
        if p["command"] not in COMMANDS:
            raise bad(f"command: one of {', '.join(COMMANDS)}")
        if p["command"] in ("mic", "camera") and "on" not in p:
            raise bad("on: missing")
        if p["command"] == "device" and (p.get("kind") not in ("audio", "video") or "device_id" not in p):
            raise bad("device: needs kind (audio or video) and device_id")
        return ok(delivered=await relay(sid, "point_command", p))

    @on("point_devices")
    async def point_devices(sid: str, payload: dict[str, Any]) -> Ack:
        p = parse(
            payload, devices=F(list, required=True, items=dict, max_items=50), mic=F(bool, required=True),
            camera=F(bool, required=True), audio_id=F(str), video_id=F(str),
        )
        for i, device in enumerate(p["devices"]):
            if set(device) - {"kind", "device_id", "label"} or not all(isinstance(v, str) for v in device.values()):
                raise bad(f"devices[{i}]: an object with kind, device_id and label strings")
        return ok(delivered=await relay(sid, "point_devices", p))
