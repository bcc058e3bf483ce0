"""A participant in a room: its two sessions, its view preferences and its audio taps."""

from __future__ import annotations

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer

from .audiotap import AudioTap
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
        self.taps: list[AudioTap] = []

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
