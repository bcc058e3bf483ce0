"""Payloads of the bridge points' events (docs/protocol.md, "Bridge points at work"), as strict
pydantic models built like the control plane's (web/control/payloads.py)."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictFloat

from web.control.payloads import ControlPayload, Text
from web.payloads import Omittable, Payload, within


Kbps = Annotated[StrictFloat, within(0, 1_000_000)]  # beyond these bounds a client is broken, not a link slow


class PointHealth(ControlPayload):
    client: Literal["screen", "agent"]
    media: StrictBool = False
    bitrate_in_kbps: Kbps = 0.0
    bitrate_out_kbps: Kbps = 0.0
    loss_pct: Annotated[StrictFloat, within(0, 100)] = 0.0
    rtt_ms: Annotated[StrictFloat, within(0, 60_000)] = 0.0
    fps: Annotated[StrictFloat, within(0, 240)] = 0.0


class PointCommand(ControlPayload):
    """What a command needs besides its name (`on` for mic and camera, `kind` and `device_id`
    for device) is checked by the handler, which names the missing field."""

    command: Literal["mic", "camera", "device", "report"]
    on: Omittable[StrictBool] = None
    kind: Omittable[Text] = None
    device_id: Omittable[Text] = None


class Device(Payload):
    kind: Omittable[Text] = None
    device_id: Omittable[Text] = None
    label: Omittable[Text] = None


class PointDevices(ControlPayload):
    devices: list[Device] = Field(max_length=50)
    mic: StrictBool
    camera: StrictBool
    audio_id: Omittable[Text] = None
    video_id: Omittable[Text] = None
