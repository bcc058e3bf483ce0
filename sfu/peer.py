"""A participant in a room: its two sessions, its view preferences and its audio taps."""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from .audiotap import AudioTap
from .events import SlotSource
from .publish import PublishSession
from .subscribe import SubscribeSession


class Peer:
    def __init__(self, *, room_id: str, peer_id: str, publish: PublishSession,
                 subscribe: SubscribeSession) -> None:
        self.room_id = room_id
        self.peer_id = peer_id
        self.publish = publish
        self.subscribe = subscribe
        self.last_n: int | None = None  # camera videos: the n most recent speakers …
        self.pinned: set[str] = set()  # … plus these peer or track ids
        self.pinned_order: list[str] = []  # the same, in priority order (thumbnails first)
        self.max_speaker_layer = "high"  # 'low' when the client shows the speaker small
        self.view: dict[str, SlotSource | None] = {}  # slot id -> source, as last announced
        self.taps: list[AudioTap] = []

    def speaker_layer(self) -> str:
        """The camera layer for this peer's speaker slot: its link's and its screen's."""
        if self.max_speaker_layer == "low":
            return "low"
        return self.subscribe.downlink.layer

    def wants_video_from(self, peer_id: str, track_id: str, recent_speakers: list[str]) -> bool:
        if self.last_n is None or peer_id in self.pinned or track_id in self.pinned:
            return True
        return peer_id in recent_speakers[: self.last_n]

    async def close(self) -> None:
        for tap in list(self.taps):
            tap.end()
        self.taps.clear()
        await self.publish.close()
        await self.subscribe.close()


def configuration(ice_servers: list[RTCIceServer]) -> RTCConfiguration:
    """The SFU's sessions: max-bundle keeps one ICE/DTLS transport per session."""
    return RTCConfiguration(iceServers=list(ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
