"""Media of the meetings: one SFU room per meeting, one SFU peer per Socket.IO connection.

The hub turns Socket.IO `media:*` events into SFU commands and SFU events into broadcasts
(docs/protocol.md, "Media signalling"). It holds no meeting state of its own beyond what a
connection has subscribed to and its microphone/camera flags; membership (who is in which
meeting) belongs to web.membership and the roster.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from aiortc import RTCIceServer
from sqlalchemy import select

from meetings.config import DEFAULT_LOUDEST, DEFAULT_THUMBNAILS
from meetings.models import Meeting
from sfu import (
    ACTIVE_SPEAKER,
    ActiveSpeakerChanged,
    LayerDemand,
    PeerStateChanged,
    Sfu,
    SfuEvent,
    SubscriberOffer,
    TrackPublished,
    TrackUnpublished,
    ViewChanged,
    loudest_slot,
    thumbnail_slot,
)
from web.media.outbox import Outboxes
from web.media.sdp import announce_public_address, resolve_public_address
from web.state import AppState

log = logging.getLogger("hoinghi.media")
SOURCES = ("camera", "camera-low", "microphone", "screen")


@dataclass(frozen=True)
class MeetingView:
    """What each screen of a meeting may receive (its room's rooms.toml settings): the
    speaker, up to ``thumbnails`` other cameras, the ``loudest`` microphones; ``pinned``
    principal keys (the chair, the main halls) take thumbnails first."""

    thumbnails: int
    loudest: int
    pinned: tuple[str, ...]

    def slots(self) -> set[str]:
        return ({ACTIVE_SPEAKER} | {thumbnail_slot(i) for i in range(self.thumbnails)}
                | {loudest_slot(i) for i in range(self.loudest)})


def sfu_room(meeting_id: int) -> str:
    return f"meeting:{meeting_id}"


def meeting_of_room(room_id: str) -> int:
    return int(room_id.split(":", 1)[1])


@dataclass
class PeerMedia:
    """What the hub remembers of one connection's media."""

    sid: str
    meeting_id: int
    key: str  # principal key ("account:12", "point:xa-a"), for floor control
    subscribed: set[str] = field(default_factory=set)
    audio: bool = True
    video: bool = True
    speaker_layer: str = "high"  # 'low' when its screen shows the speaker small
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MediaError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class MediaHub:
    def __init__(self, state: AppState) -> None:
        self.state = state
        self.sfu: Sfu | None = None
        self.peers: dict[str, PeerMedia] = {}
        self.active_speaker: dict[int, str | None] = {}
        self.floor_muted: set[tuple[int, str]] = set()  # (meeting id, principal key) muted by the chair
        self.views: dict[int, MeetingView] = {}
        self.public_ip: str | None = None
        self._outboxes: Outboxes | None = None
        self._tracks_dirty: set[int] = set()
        # Also told of every SFU event, synchronously (web.captions taps each new microphone).
        self.sfu_listeners: list[Callable[[SfuEvent], None]] = []

    # --- lifecycle ---------------------------------------------------------------------------

    def client_ice_servers(self) -> list[dict[str, Any]]:
        """ICE servers for browsers, in RTCConfiguration form."""
        servers = []
        for server in self.state.config.network.ice_servers:
            entry: dict[str, Any] = {"urls": list(server.urls)}
            if server.username is not None:
                entry["username"] = server.username
            if server.credential is not None:
                entry["credential"] = server.credential
            servers.append(entry)
        return servers

    def sfu_ice_servers(self) -> list[RTCIceServer]:
        """The SFU needs only STUN (to learn its own public address): it has a routable
        address or an announced one, so a TURN relay on its side would only double the relaying."""
        servers = []
        for server in self.state.config.network.ice_servers:
            stun = [u for u in server.urls if u.startswith(("stun:", "stuns:"))]
            if stun:
                servers.append(RTCIceServer(urls=stun))
        return servers

    async def start(self) -> None:
        self.public_ip = resolve_public_address(self.state.config.network.public_address)
        self.sfu = Sfu(ice_servers=self.sfu_ice_servers(), on_event=self._on_sfu_event,
                       udp_ports=self.state.config.network.udp_ports)
        self._outboxes = Outboxes(self._emit)
        log.info("media ready", extra={"public_ip": self.public_ip or "", "ice_servers": len(self.client_ice_servers())})

    async def close(self) -> None:
        if self.sfu is not None:
            await self.sfu.close()
        if self._outboxes is not None:
            self._outboxes.close()
        self.peers.clear()

    # --- commands from connections -----------------------------------------------------------

    def _require_peer(self, sid: str, meeting_id: int) -> PeerMedia:
        peer = self.peers.get(sid)
        if peer is None or peer.meeting_id != meeting_id:
            raise MediaError("conflict", "send media:join first")
        return peer

    async def join(self, sid: str, meeting_id: int) -> dict[str, Any]:
        assert self.sfu is not None
        entry = self.state.roster.entry(sid)
        if entry is None or self.state.roster.meeting_of(sid) != meeting_id:
            raise MediaError("conflict", "send join_meeting for this meeting first")
        if sid in self.peers:
            await self.release(sid)
        peer = PeerMedia(sid=sid, meeting_id=meeting_id, key=entry.key)
        self.peers[sid] = peer
        async with peer.lock:
            await self.sfu.join(sfu_room(meeting_id), sid)
        view = self.views.get(meeting_id) or await self._load_view(meeting_id)
        self._apply_pins(meeting_id)
        states = {
            p.sid: {"audio": p.audio, "video": p.video}
            for p in self.peers.values() if p.meeting_id == meeting_id and p.sid != sid
        }
        main_points = [f"point:{p.id}" for p in self.state.config.points if p.role == "main"]
        return {
            "peer_id": sid,
            "ice_servers": self.client_ice_servers(),
            "tracks": self._track_list(meeting_id),
            "active_speaker": self.active_speaker.get(meeting_id),
            "main_points": main_points,
            "states": states,
            "floor": {"audio": (meeting_id, entry.key) not in self.floor_muted},
            "view": {"thumbnails": view.thumbnails, "loudest": view.loudest},
        }

    async def _load_view(self, meeting_id: int) -> MeetingView:
        """The meeting's room settings, read once per meeting."""
        async with self.state.sessions() as session:
            row = (await session.execute(
                select(Meeting.room_id, Meeting.chair_id).where(Meeting.id == meeting_id))).first()
        room = self.state.config.room(row.room_id) if row is not None else None
        if room is None:
            view = MeetingView(DEFAULT_THUMBNAILS, DEFAULT_LOUDEST, pinned=())
        else:
            halls = room.pinned if room.pinned is not None else tuple(
                p for p in room.points if (point := self.state.config.point(p)) and point.role == "main")
            view = MeetingView(room.thumbnails, room.loudest,
                               (f"account:{row.chair_id}", *(f"point:{p}" for p in halls)))
        self.views[meeting_id] = view
        return view

    def _apply_pins(self, meeting_id: int) -> None:
        """Give every screen of the meeting the pinned participants present now."""
        assert self.sfu is not None
        view = self.views.get(meeting_id)
        if view is None:
            return
        peers = [p for p in self.peers.values() if p.meeting_id == meeting_id]
        pinned = [p.sid for key in view.pinned for p in peers if p.key == key]
        for peer in peers:
            try:
                self.sfu.set_view(sfu_room(meeting_id), peer.sid, pinned=pinned,
                                  speaker_layer=peer.speaker_layer)
            except KeyError:  # joined the hub, not yet the SFU
                continue

    async def set_view(self, sid: str, meeting_id: int, speaker_layer: str) -> None:
        """The client shows the speaker small ('low') or large ('high')."""
        peer = self._require_peer(sid, meeting_id)
        if speaker_layer not in ("high", "low"):
            raise MediaError("bad_request", "speaker_layer: must be 'high' or 'low'")
        peer.speaker_layer = speaker_layer
        self._apply_pins(meeting_id)

    async def publish(self, sid: str, meeting_id: int, sdp: str, sources: dict[str, str]) -> str:
        assert self.sfu is not None
        peer = self._require_peer(sid, meeting_id)
        async with peer.lock:
            answer = await self.sfu.publish(sfu_room(meeting_id), sid, sdp, sources)
            if (meeting_id, peer.key) in self.floor_muted:
                await self.sfu.set_forwarding(sfu_room(meeting_id), sid, "audio", False)
        return announce_public_address(answer, self.public_ip)

    async def subscribe(self, sid: str, meeting_id: int, track_ids: list[str]) -> dict[str, Any]:
        """Make the connection's subscriptions exactly `track_ids` (unknown or own tracks are
        skipped); slots (the speaker, thumbnails, loudest microphones) up to the room's numbers."""
        assert self.sfu is not None
        peer = self._require_peer(sid, meeting_id)
        room = sfu_room(meeting_id)
        existing = {t.track_id for t in self.sfu.tracks(room) if t.peer_id != sid}
        view = self.views.get(meeting_id)
        existing |= view.slots() if view is not None else set()
        wanted = {t for t in track_ids if t in existing}
        offer: str | None = None
        async with peer.lock:
            gone = peer.subscribed - wanted
            new = wanted - peer.subscribed
            if gone:
                offer = await self.sfu.unsubscribe(room, sid, sorted(gone)) or offer
            if new:
                try:
                    offer = await self.sfu.subscribe(room, sid, sorted(new)) or offer
                except KeyError:
                    # a track vanished between our look-up and the SFU's; the client asks again
                    # when it receives the next media:tracks
                    log.info("subscribe raced an unpublish", extra={"sid": sid})
            peer.subscribed = wanted
            mids = self.sfu.subscriptions(room, sid) if offer else {}
        return {
            "track_ids": sorted(wanted),
            "offer": {"sdp": announce_public_address(offer, self.public_ip), "mids": mids} if offer else None,
        }

    async def answer(self, sid: str, meeting_id: int, sdp: str) -> None:
        assert self.sfu is not None
        peer = self._require_peer(sid, meeting_id)
        await self.sfu.answer(sfu_room(meeting_id), peer.sid, sdp)

    async def keyframe(self, sid: str, meeting_id: int, track_id: str) -> None:
        assert self.sfu is not None
        self._require_peer(sid, meeting_id)
        try:
            await self.sfu.request_keyframe(sfu_room(meeting_id), track_id)
        except KeyError:
            raise MediaError("not_found", f"no track {track_id!r}") from None

    async def set_state(self, sid: str, meeting_id: int, audio: bool, video: bool) -> None:
        peer = self._require_peer(sid, meeting_id)
        peer.audio, peer.video = audio, video
        self._post("media:state", {"meeting_id": meeting_id, "peer_id": sid, "audio": audio, "video": video},
                   key=("state", sid), room=f"meeting:{meeting_id}", skip_sid=sid)

    async def release(self, sid: str) -> None:
        """Free the connection's SFU peer (media:leave, leaving the meeting, disconnecting)."""
        peer = self.peers.pop(sid, None)
        if peer is None or self.sfu is None:
            return
        async with peer.lock:
            await self.sfu.leave(sfu_room(peer.meeting_id), sid)
        if self.active_speaker.get(peer.meeting_id) == sid:
            self.active_speaker[peer.meeting_id] = None
        if not any(p.meeting_id == peer.meeting_id for p in self.peers.values()):
            self.active_speaker.pop(peer.meeting_id, None)
            self.views.pop(peer.meeting_id, None)
        else:
            self._apply_pins(peer.meeting_id)

    async def on_left_meeting(self, meeting_id: int, sid: str) -> None:
        """A leave hook of web.membership."""
        await self.release(sid)

    async def floor(self, meeting_id: int, principal_key: str, allowed: bool) -> None:
        """Server-side mute (allowed=False) or unmute of a participant's microphone(s):
        the SFU stops forwarding, whatever the client does. Remembered across reconnections."""
        assert self.sfu is not None
        if allowed:
            self.floor_muted.discard((meeting_id, principal_key))
        else:
            self.floor_muted.add((meeting_id, principal_key))
        for peer in list(self.peers.values()):
            if peer.meeting_id != meeting_id or peer.key != principal_key:
                continue
            try:
                await self.sfu.set_forwarding(sfu_room(meeting_id), peer.sid, "audio", allowed)
            except KeyError:
                continue
            self._post("media:forwarding", {"meeting_id": meeting_id, "kind": "audio", "enabled": allowed}, to=peer.sid)

    # --- SFU events → broadcasts ------------------------------------------------------------

    def _track_list(self, meeting_id: int) -> list[dict[str, Any]]:
        assert self.sfu is not None
        return [
            {"track_id": t.track_id, "peer_id": t.peer_id, "kind": t.kind, "source": t.source, "forwarding": t.forwarding,
             "layer": t.layer}
            for t in self.sfu.tracks(sfu_room(meeting_id))
        ]

    def _on_sfu_event(self, event: SfuEvent) -> None:
        """Called synchronously by the SFU: only queue work here, never block forwarding."""
        for listener in self.sfu_listeners:
            listener(event)
        if isinstance(event, (TrackPublished, TrackUnpublished)):
            meeting_id = meeting_of_room(event.room_id)
            if isinstance(event, TrackUnpublished):
                for peer in self.peers.values():
                    peer.subscribed.discard(event.track_id)
            if meeting_id not in self._tracks_dirty:
                self._tracks_dirty.add(meeting_id)
                self._post_tracks_soon(meeting_id)
        elif isinstance(event, ActiveSpeakerChanged):
            meeting_id = meeting_of_room(event.room_id)
            self.active_speaker[meeting_id] = event.peer_id
            self._post("media:active_speaker", {"meeting_id": meeting_id, "peer_id": event.peer_id},
                       key=("active_speaker",), room=f"meeting:{meeting_id}")
        elif isinstance(event, SubscriberOffer):
            meeting_id = meeting_of_room(event.room_id)
            self._post("media:offer", {
                "meeting_id": meeting_id, "sdp": announce_public_address(event.sdp, self.public_ip), "mids": event.mids,
            }, to=event.peer_id)
        elif isinstance(event, ViewChanged):
            self._post("media:view", {
                "meeting_id": meeting_of_room(event.room_id),
                "slots": {slot: None if s is None else {"peer_id": s.peer_id, "track_id": s.track_id, "layer": s.layer}
                          for slot, s in event.slots.items()},
            }, to=event.peer_id)
        elif isinstance(event, LayerDemand):
            self._post("media:layer", {
                "meeting_id": meeting_of_room(event.room_id), "track_id": event.track_id,
                "layer": event.layer, "needed": event.needed,
            }, to=event.peer_id)
        elif isinstance(event, PeerStateChanged):
            log.info("peer connection state", extra={
                "room": event.room_id, "sid": event.peer_id, "session": event.session, "state": event.state,
            })

    def _post_tracks_soon(self, meeting_id: int) -> None:
        """Coalesce the track events of one SFU command into one `media:tracks` broadcast."""

        def flush() -> None:
            self._tracks_dirty.discard(meeting_id)
            if self.sfu is None:
                return
            self._post("media:tracks", {"meeting_id": meeting_id, "tracks": self._track_list(meeting_id)},
                       room=f"meeting:{meeting_id}")

        asyncio.get_running_loop().call_soon(flush)

    def _post(self, event: str, data: dict[str, Any], key: Any = None, **target: Any) -> None:
        """Queue on the meeting's outbox (web/media/outbox.py): one sender per meeting keeps
        the order of offers and track lists each client sees; `key` coalesces."""
        if self._outboxes is not None:
            self._outboxes.post(data["meeting_id"], (event, data, target), key)

    async def _emit(self, event: str, data: dict[str, Any], target: dict[str, Any]) -> None:
        await self.state.sio.emit(event, data, **target)
