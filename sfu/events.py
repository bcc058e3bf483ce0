"""What the SFU tells ``web/`` (delivered to ``Sfu(on_event=...)``) and the plain values it
returns. Nothing here knows of meetings, agendas or Socket.IO."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackInfo:
    track_id: str
    peer_id: str
    kind: str  # 'audio' | 'video'
    source: str  # 'camera' | 'microphone' | 'screen'
    forwarding: bool  # False while the publisher is muted server-side (floor control)
    layer: str = "high"  # a camera's 'high' or 'low' track (published as 'camera-low')


@dataclass(frozen=True)
class RoomConfig:
    """Per-room settings. ``last_n_audio``: forward only the N loudest audio streams (the
    dominant speaker always included); None forwards every subscribed audio stream."""

    last_n_audio: int | None = None


@dataclass(frozen=True)
class PcmChunk:
    """Decoded audio of one participant: mono signed 16-bit little-endian PCM.
    ``time`` is seconds on the publisher's RTP clock since the tap's first packet; ``level``
    the loudest RFC 6464 audio level of its packets (0 loudest, 127 silence; None: not sent)."""

    peer_id: str
    pcm: bytes
    sample_rate: int
    time: float
    level: int | None = None


@dataclass(frozen=True)
class TrackPublished:
    room_id: str
    peer_id: str
    track_id: str
    kind: str
    source: str
    layer: str = "high"


@dataclass(frozen=True)
class SlotSource:
    """What a subscriber's slot (sfu/view.py) carries now."""

    peer_id: str
    track_id: str
    layer: str


@dataclass(frozen=True)
class ViewChanged:
    """A subscriber's slots got other sources: slot id (``active-speaker``,
    ``thumbnail-N``, ``loudest-N``) -> source or None. The media switch follows at the next
    key frame (video) or packet (audio); label the slot's transceiver (its mid) by this."""

    room_id: str
    peer_id: str
    slots: dict[str, SlotSource | None]


@dataclass(frozen=True)
class LayerDemand:
    """Whether anyone receives this camera layer of a publisher that sends two: the
    publisher may stop sending a layer nobody needs and start again when one does."""

    room_id: str
    peer_id: str
    track_id: str
    layer: str
    needed: bool


@dataclass(frozen=True)
class TrackUnpublished:
    room_id: str
    peer_id: str
    track_id: str
    kind: str
    source: str
    layer: str = "high"


@dataclass(frozen=True)
class ActiveSpeakerChanged:
    room_id: str
    peer_id: str | None


@dataclass(frozen=True)
class PeerStateChanged:
    """``session`` is 'publish' or 'subscribe'; ``state`` is the RTCPeerConnection's
    connectionState ('connecting', 'connected', 'failed', 'closed', …)."""

    room_id: str
    peer_id: str
    session: str
    state: str


@dataclass(frozen=True)
class SubscriberOffer:
    """A server-initiated offer for a peer's subscribe session: changes that happened while
    an earlier offer awaited its answer, or a subscribed track that went away. Send it to
    the client and pass its answer to ``Sfu.answer``. ``mids`` maps each transceiver mid to
    the subscribed track id."""

    room_id: str
    peer_id: str
    sdp: str
    mids: dict[str, str]


SfuEvent = (TrackPublished | TrackUnpublished | ActiveSpeakerChanged | PeerStateChanged
            | SubscriberOffer | ViewChanged | LayerDemand)
