"""The SFU's command interface: what ``web/`` calls. One ``Sfu`` per process.

Commands for one peer are serialised (a lock per peer), so a publish renegotiation and a
subscription change for the same peer never interleave inside aiortc.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from aiortc import RTCIceServer, RTCPeerConnection
from aiortc.exceptions import InternalError, InvalidAccessError, InvalidStateError

from .aiortc_hooks import AiortcIncompatible, check_compatibility, guards_hold, install_guards, udp_port_range
from .audiotap import AudioTap
from .events import (
    PeerStateChanged,
    RoomConfig,
    SfuEvent,
    SlotSource,
    SubscriberOffer,
    TrackInfo,
    TrackPublished,
    TrackUnpublished,
)
from .peer import Peer, configuration
from .publish import PublishSession
from .room import Room
from .sdp import MAX_PUBLISH_SECTIONS, SdpRefused, check_description
from .subscribe import SubscribeSession
from .view import slot_kind

log = logging.getLogger(__name__)


@contextmanager
def _refusing_bad_descriptions() -> Iterator[None]:
    """What aiortc raises for a description it cannot apply, as :class:`SdpRefused`."""
    try:
        yield
    except SdpRefused:
        raise
    except (ValueError, InvalidStateError, InvalidAccessError, InternalError) as error:
        raise SdpRefused(str(error) or type(error).__name__) from None
    except (KeyError, IndexError, AttributeError, TypeError, AssertionError, RuntimeError) as error:
        # aiortc on input it did not expect: its parser asserts, a next() raises StopIteration
        # (a RuntimeError in a coroutine), a=rtpmap with no codec name...
        raise SdpRefused(f"unusable description ({type(error).__name__}: {error})") from None


class PeerGone(KeyError):
    """The peer left (or left and came back as a new peer) while the command waited its turn."""


class Sfu:
    def __init__(self, *, ice_servers: list[RTCIceServer] | None = None,
                 on_event: Callable[[SfuEvent], None] | None = None,
                 default_room_config: RoomConfig = RoomConfig(),
                 udp_ports: range | None = None) -> None:
        """``udp_ports``: the UDP ports ICE may bind (a firewall's open range); None for any."""
        check_compatibility()
        install_guards()
        failing = guards_hold()
        if failing:
            raise AiortcIncompatible("hostile packets still raise out of: " + ", ".join(failing))
        if udp_ports is not None and (len(udp_ports) == 0 or udp_ports.start < 1024 or udp_ports.stop > 65536):
            raise ValueError(f"udp_ports must be a non-empty range within 1024-65535, not {udp_ports}")
        self._ice_servers = list(ice_servers or [])
        self._udp_ports = udp_ports
        self._on_event = on_event
        self._default_config = default_room_config
        self._rooms: dict[str, Room] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    # --- rooms and peers ---------------------------------------------------------------------

    @asynccontextmanager
    async def _serialised(self, room_id: str, peer_id: str) -> AsyncIterator[None]:
        """One command at a time per peer; any ICE gathering inside binds within udp_ports.
        A command that waited behind the peer's leave finds its sessions closed: it ends with
        KeyError, as if it had come after the leave."""
        lock = self._locks.get((room_id, peer_id))
        if lock is None:
            raise PeerGone(f"peer {peer_id!r} not in room {room_id!r}")
        async with lock:
            if self._locks.get((room_id, peer_id)) is not lock:
                raise PeerGone(f"peer {peer_id!r} left room {room_id!r} meanwhile")
            with udp_port_range(self._udp_ports):
                yield

    def configure_room(self, room_id: str, config: RoomConfig) -> None:
        """Set a room's configuration (before or after it exists)."""
        room = self._rooms.get(room_id)
        if room is None:
            self._rooms[room_id] = Room(room_id, config, self._emit)
        else:
            room.config = config
            room.apply_audio_last_n()

    async def join(self, room_id: str, peer_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            room = self._rooms[room_id] = Room(room_id, self._default_config, self._emit)
        if peer_id in room.peers:
            raise ValueError(f"peer {peer_id!r} already in room {room_id!r}")
        config = configuration(self._ice_servers)
        peer = Peer(room_id=room_id, peer_id=peer_id,
                    publish=PublishSession(peer_id=peer_id, configuration=config,
                                           make_track=room.make_track),
                    subscribe=SubscribeSession(peer_id=peer_id, configuration=config))
        for name, session in (("publish", peer.publish), ("subscribe", peer.subscribe)):
            self._watch_state(room_id, peer_id, name, session.pc)
        room.peers[peer_id] = peer
        self._locks[room_id, peer_id] = asyncio.Lock()

        def link_changed() -> None:  # by id: the session must not keep its peer alive
            current = room.peers.get(peer_id)
            if current is not None:
                room.apply_view(current)
                room.update_demand()

        peer.subscribe.on_link_change = link_changed

    async def leave(self, room_id: str, peer_id: str) -> None:
        """Remove the peer, its tracks (subscribers get offers without them) and every task,
        timer, buffer and tap it had."""
        room = self._rooms.get(room_id)
        peer = room.peers.get(peer_id) if room else None
        if room is None or peer is None:
            return
        lock = self._locks.get((room_id, peer_id))
        changed: set[str] = set()
        try:
            async with self._serialised(room_id, peer_id):
                if room.peers.get(peer_id) is not peer:
                    return
                del room.peers[peer_id]
                for up in list(peer.publish.tracks.values()):
                    changed.update(p.peer_id for p in room.remove_track(up))
                    self._emit(TrackUnpublished(room_id, peer_id, up.track_id, up.kind, up.source,
                                                up.layer))
                await peer.close()
        except PeerGone:
            return  # a concurrent leave (disconnect during media:leave) did it
        if self._locks.get((room_id, peer_id)) is lock:  # (not a rejoined peer's, same id)
            del self._locks[room_id, peer_id]
        for other in changed:
            if other in room.peers:
                await self._offer_later(room, room.peers[other])
        if not room.peers:
            room.close()  # its timer; the room itself stays if configured
            if room.config == self._default_config and self._rooms.get(room_id) is room:
                del self._rooms[room_id]  # (a concurrent leave may have removed it already)

    # --- publishing --------------------------------------------------------------------------

    async def publish(self, room_id: str, peer_id: str, offer_sdp: str,
                      sources: dict[str, str] | None = None) -> str:
        """Apply the client's offer on its publish session and return the answer. Raises
        :class:`SdpRefused` (a ValueError saying why) for an offer it cannot take."""
        room, peer = self._peer(room_id, peer_id)
        check_description(offer_sdp, max_sections=MAX_PUBLISH_SECTIONS)
        async with self._serialised(room_id, peer_id):
            with _refusing_bad_descriptions():
                answer, added, removed = await peer.publish.negotiate(offer_sdp, sources or {})
        changed: set[str] = set()
        for up in removed:
            changed.update(p.peer_id for p in room.remove_track(up))
            self._emit(TrackUnpublished(room_id, peer_id, up.track_id, up.kind, up.source,
                                        up.layer))
        for up in added:
            room.add_track(up)
            if up.kind == "audio" and up.source == "microphone":
                up.audio_listeners.extend(tap.push for tap in peer.taps)
            self._emit(TrackPublished(room_id, peer_id, up.track_id, up.kind, up.source,
                                      up.layer))
        for other in changed:
            if other in room.peers:
                await self._offer_later(room, room.peers[other])
        return answer

    async def set_forwarding(self, room_id: str, peer_id: str, kind: str, enabled: bool
                             ) -> None:
        """Server-side mute of a publisher's tracks of ``kind`` (floor control). A muted
        microphone stops counting for the active speaker (an ActiveSpeakerChanged(None)
        follows if it was the speaker); the audio tap still hears it."""
        room, peer = self._peer(room_id, peer_id)
        for up in peer.publish.tracks.values():
            if up.kind == kind:
                up.mute("server", not enabled)
                if kind == "audio" and not enabled:
                    room.silence(up)

    async def request_keyframe(self, room_id: str, track_id: str) -> None:
        room = self._rooms[room_id]
        room.tracks[track_id].keyframes.request()

    def tracks(self, room_id: str) -> list[TrackInfo]:
        room = self._rooms.get(room_id)
        return room.info() if room else []

    # --- subscribing -------------------------------------------------------------------------

    async def subscribe(self, room_id: str, peer_id: str, track_ids: list[str]) -> str | None:
        """Forward these tracks (or slots: :data:`ACTIVE_SPEAKER`, :func:`thumbnail_slot`,
        :func:`loudest_slot`) to the peer. Returns an offer for
        its subscribe session, or None when nothing changed or an earlier offer still awaits
        its answer (the changes then arrive as a :class:`SubscriberOffer` event). Raises
        KeyError, changing nothing, if a track is unknown or the peer's own."""
        room, peer = self._peer(room_id, peer_id)
        for track_id in track_ids:
            up = room.tracks.get(track_id)
            if slot_kind(track_id) is None and (up is None or up.peer_id == peer_id):
                raise KeyError(f"no track {track_id!r} to subscribe to in room {room_id!r}")
        async with self._serialised(room_id, peer_id):
            for track_id in track_ids:
                room.subscribe(peer, track_id)
            return await peer.subscribe.offer()

    async def unsubscribe(self, room_id: str, peer_id: str, track_ids: list[str]
                          ) -> str | None:
        room, peer = self._peer(room_id, peer_id)
        async with self._serialised(room_id, peer_id):
            for track_id in track_ids:
                peer.subscribe.remove(track_id)
            room.update_demand()  # a layer nobody receives any more is stopped
            return await peer.subscribe.offer()

    async def set_subscriptions(self, room_id: str, peer_id: str, track_ids: list[str]
                                ) -> str | None:
        """Make the peer's subscriptions exactly ``track_ids`` in one step and one offer
        (unknown and own track ids are skipped: tracks come and go between a client's view
        and this call). Removals come first, so their transceivers carry the additions.
        Returns an offer or None, as :meth:`subscribe`."""
        room, peer = self._peer(room_id, peer_id)
        async with self._serialised(room_id, peer_id):
            wanted = [t for t in dict.fromkeys(track_ids) if slot_kind(t) is not None or (
                t in room.tracks and room.tracks[t].peer_id != peer_id)]
            for track_id in list(peer.subscribe.down):
                if track_id not in wanted:
                    peer.subscribe.remove(track_id)
            for track_id in wanted:
                room.subscribe(peer, track_id)
            room.update_demand()  # (removals alone change it too)
            return await peer.subscribe.offer()

    async def answer(self, room_id: str, peer_id: str, answer_sdp: str) -> None:
        """The client's answer to the last offer for its subscribe session. Raises
        :class:`SdpRefused` when no offer waits for one or the answer is unusable."""
        room, peer = self._peer(room_id, peer_id)
        pc = peer.subscribe.pc
        async with self._serialised(room_id, peer_id):
            if pc.signalingState != "have-local-offer":
                raise SdpRefused(f"no offer is waiting for an answer (the session is "
                                 f"{pc.connectionState if pc.connectionState == 'closed' else pc.signalingState})")
            check_description(answer_sdp, max_sections=len(pc.getTransceivers()))
            with _refusing_bad_descriptions():
                offer = await peer.subscribe.answer(answer_sdp)
        if offer is not None:
            self._emit(SubscriberOffer(room_id, peer_id, offer, peer.subscribe.mids()))

    def subscriptions(self, room_id: str, peer_id: str) -> dict[str, str]:
        """Subscribe-session transceiver mid -> subscribed track id, for transceivers that
        have been offered (a track added while an offer is outstanding shows up once the
        next offer, a SubscriberOffer event, carries it)."""
        return self._peer(room_id, peer_id)[1].subscribe.mids()

    async def set_last_n(self, room_id: str, peer_id: str, n: int | None,
                         pinned: list[str] | None = None) -> None:
        """Forward to this subscriber only the camera videos of the ``n`` most recent active
        speakers plus ``pinned`` (peer or track ids); None: every subscribed video."""
        room, peer = self._peer(room_id, peer_id)
        peer.last_n = n
        peer.pinned = set(pinned or [])
        peer.pinned_order = list(dict.fromkeys(pinned or []))
        room.apply_video_last_n(peer)
        room.apply_view(peer)

    def set_view(self, room_id: str, peer_id: str, *, pinned: list[str] | None = None,
                 speaker_layer: str = "high") -> None:
        """How the peer's slots are filled: ``pinned`` peer ids take thumbnails first (the
        chair, the main hall), ``speaker_layer`` 'low' when the client shows the speaker
        small (a phone) whatever its link could take. Raises ValueError, changing nothing,
        on an unknown layer."""
        if speaker_layer not in ("high", "low"):
            raise ValueError(f"speaker_layer must be 'high' or 'low', not {speaker_layer!r}")
        room, peer = self._peer(room_id, peer_id)
        peer.pinned_order = list(dict.fromkeys(pinned or []))
        peer.max_speaker_layer = speaker_layer
        room.apply_view(peer)
        room.update_demand()

    def view(self, room_id: str, peer_id: str) -> dict[str, SlotSource | None]:
        """The peer's slots and what each carries now (see :class:`ViewChanged`)."""
        return dict(self._peer(room_id, peer_id)[1].view)

    # --- audio tap ---------------------------------------------------------------------------

    def audio_tap(self, room_id: str, peer_id: str, sample_rate: int = 16000,
                  batch_packets: int = 1) -> AudioTap:
        """Decoded mono s16 PCM of the peer's microphone(s), as an async iterator of
        :class:`PcmChunk` of ``batch_packets`` packets at least (at most 0.1 s late), or pushes
        them undecoded (``AudioTap.deliver``). Starts
        now (also before the peer publishes), ends when the peer leaves or the iterator is
        closed; drops packets rather than slow forwarding."""
        room, peer = self._peer(room_id, peer_id)

        def detach(tap: AudioTap) -> None:
            if tap in peer.taps:
                peer.taps.remove(tap)
            for up in peer.publish.tracks.values():
                if tap.push in up.audio_listeners:
                    up.audio_listeners.remove(tap.push)

        tap = AudioTap(peer_id, sample_rate, detach, batch_packets)
        peer.taps.append(tap)
        for up in peer.publish.tracks.values():
            if up.kind == "audio" and up.source == "microphone":
                up.audio_listeners.append(tap.push)
        return tap

    # --- lifecycle ---------------------------------------------------------------------------

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            for peer_id in list(room.peers):
                await self.leave(room.room_id, peer_id)
            room.close()
        self._rooms.clear()

    # --- internals ---------------------------------------------------------------------------

    def _peer(self, room_id: str, peer_id: str) -> tuple[Room, Peer]:
        room = self._rooms.get(room_id)
        if room is None or peer_id not in room.peers:
            raise KeyError(f"peer {peer_id!r} not in room {room_id!r}")
        return room, room.peers[peer_id]

    async def _offer_later(self, room: Room, peer: Peer) -> None:
        try:
            async with self._serialised(room.room_id, peer.peer_id):
                if room.peers.get(peer.peer_id) is not peer:
                    return
                offer = await peer.subscribe.offer()
        except PeerGone:
            return  # it left meanwhile: nobody to offer the change to
        if offer is not None:
            self._emit(SubscriberOffer(room.room_id, peer.peer_id, offer, peer.subscribe.mids()))

    def _watch_state(self, room_id: str, peer_id: str, session: str,
                     pc: RTCPeerConnection) -> None:
        @pc.on("connectionstatechange")
        def changed() -> None:
            self._emit(PeerStateChanged(room_id, peer_id, session, pc.connectionState))

    def _emit(self, event: SfuEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # a faulty listener must not break forwarding
            log.exception("SFU event listener failed on %r", event)
