"""hoinghi's SFU: forwards RTP packets between peers without decoding (aiortc underneath).

It knows rooms, peers and tracks; nothing of meetings, agendas or Socket.IO.

Signalling model (non-trickle: every SDP already holds all ICE candidates). Each peer has
two peer connections managed by the SFU:

* **publish session** - the client offers (sendonly transceivers) and the SFU answers:
  ``answer = await sfu.publish(room, peer, offer_sdp, sources)``. Adding, removing or
  replacing a track (e.g. screen share) is a new client offer on the same connection.
  ``sources`` maps a mid or msid track id to 'camera' | 'microphone' | 'screen'.
* **subscribe session** - the SFU offers (sendonly from the SFU) and the client answers:
  ``offer = await sfu.subscribe(room, peer, [track_id, ...])`` (None: nothing to offer now)
  then ``await sfu.answer(room, peer, answer_sdp)``. Offers the SFU makes on its own (a
  subscribed track went away, or changes piled up while an offer was outstanding) arrive as
  :class:`SubscriberOffer` events; answer those the same way. Each offered m-section's msid
  is ``<publisher peer id> <track id>`` and ``SubscriberOffer.mids`` /
  :meth:`Sfu.subscriptions` map mids to track ids.

Track ids are ``"<peer_id>:<mid>"`` (see :meth:`Sfu.tracks`); :data:`ACTIVE_SPEAKER` is a
pseudo track that always shows the active speaker's camera. Large meetings subscribe to
*slots* instead of every track (sfu/view.py): the speaker, ``thumbnail_slot(i)`` and
``loudest_slot(i)``; the SFU fills them (:class:`ViewChanged`), picks each camera's layer
(a publisher's ``camera-low`` source is its second, small track) by the slot and the
subscriber's link, and says which layers anyone receives (:class:`LayerDemand`).

Commands: join, leave, publish, subscribe, unsubscribe, set_subscriptions (exactly these
tracks, one offer), answer, subscriptions, request_keyframe,
set_forwarding (floor control), set_last_n (active speakers + pinned videos), set_view and
view (slots: pinned thumbnails, speaker layer),
configure_room (:class:`RoomConfig`: N loudest audio streams), audio_tap, tracks, close.
Events: TrackPublished, TrackUnpublished, ActiveSpeakerChanged, PeerStateChanged,
SubscriberOffer, ViewChanged, LayerDemand. All aiortc internals live in :mod:`sfu.aiortc_hooks`. See docs/sfu.md.
"""

from .events import (
    ActiveSpeakerChanged,
    LayerDemand,
    PcmChunk,
    PeerStateChanged,
    RoomConfig,
    SfuEvent,
    SlotSource,
    SubscriberOffer,
    TrackInfo,
    TrackPublished,
    TrackUnpublished,
    ViewChanged,
)
from .server import Sfu
from .view import ACTIVE_SPEAKER, loudest_slot, slot_kind, thumbnail_slot

__all__ = [
    "ACTIVE_SPEAKER",
    "ActiveSpeakerChanged",
    "LayerDemand",
    "PcmChunk",
    "PeerStateChanged",
    "RoomConfig",
    "SfuEvent",
    "Sfu",
    "SlotSource",
    "SubscriberOffer",
    "TrackInfo",
    "TrackPublished",
    "TrackUnpublished",
    "ViewChanged",
    "loudest_slot",
    "slot_kind",
    "thumbnail_slot",
]
