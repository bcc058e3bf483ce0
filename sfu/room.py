"""A room: its peers, the tracks they publish, and who is heard and seen.

The room turns audio levels into the active speaker (an event, the source of every
active-speaker video down-track, and the order Last-N video follows) and, when configured,
into the set of N loudest audio streams that are forwarded at all. It fills each
subscriber's slots (sfu/view.py: speaker, thumbnails, loudest microphones) with sources,
choosing each camera's layer by the slot, the subscriber's link (sfu/downlink.py) and the
publisher's (sfu/uplink.py), and tells publishers which of their camera layers anyone
receives (:class:`LayerDemand`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .downtrack import DownTrack
from .events import (
    ActiveSpeakerChanged,
    LayerDemand,
    RoomConfig,
    SfuEvent,
    SlotSource,
    TrackInfo,
    ViewChanged,
)
from .peer import Peer
from .speaker import SpeakerDetector
from .uplink import Uplink
from .uptrack import UpTrack
from .view import ACTIVE_SPEAKER, assign, slot_index, slot_kind

# Slots switch between publishers, so each carries one codec: what browsers send by default.
SLOT_MIME = {"speaker": "video/VP8", "thumbnail": "video/VP8", "loudest": "audio/opus"}
ACTIVE_SPEAKER_MIME = SLOT_MIME["speaker"]
# A layer must go unreceived this long before its publisher is told to stop it: subscriptions
# change in steps (a re-subscription removes, then adds), and each stop and start costs the
# viewers a key frame.
UNNEEDED_AFTER_S = 2.0


class Room:
    def __init__(self, room_id: str, config: RoomConfig, emit: Callable[[SfuEvent], None]
                 ) -> None:
        self.room_id = room_id
        self.config = config
        self._emit = emit
        self.peers: dict[str, Peer] = {}
        self.tracks: dict[str, UpTrack] = {}
        self.speakers: SpeakerDetector[UpTrack] = SpeakerDetector()
        self.active_speaker: str | None = None
        self._speaking: tuple[UpTrack, ...] = ()
        self._demand_check: asyncio.TimerHandle | None = None
        self.uplinks: dict[str, Uplink] = {}  # publishers of two camera layers, by peer id

    # --- tracks ------------------------------------------------------------------------------

    def make_track(self, **kwargs: object) -> UpTrack:
        """Factory for the publish sessions: wires audio levels to this room."""
        return UpTrack(**kwargs, on_audio_level=self._on_audio_level)  # type: ignore[arg-type]

    def add_track(self, up: UpTrack) -> None:
        self.tracks[up.track_id] = up
        self._watch_uplink(up.peer_id)
        self.apply_audio_last_n()
        self.apply_views()

    def remove_track(self, up: UpTrack) -> list[Peer]:
        """Forget ``up``; returns the peers whose subscriptions changed (they need an offer)."""
        self.tracks.pop(up.track_id, None)
        changed = [p for p in self.peers.values() if p.subscribe.remove(up.track_id)]
        up.close()
        if up.source == "camera" and up.peer_id in self.uplinks:  # (one layer left)
            self.uplinks.pop(up.peer_id).close()
        if up.kind == "audio" and self.speakers.remove(up):
            self._set_speaker(None)
        self.apply_views()
        return changed

    def info(self) -> list[TrackInfo]:
        return [TrackInfo(t.track_id, t.peer_id, t.kind, t.source, not t.muted_by("server"),
                          t.layer) for t in self.tracks.values()]

    # --- subscriptions -----------------------------------------------------------------------

    def subscribe(self, peer: Peer, track_id: str) -> None:
        """Add a down-track for ``track_id`` (a known track or a slot, sfu/view.py)."""
        if track_id in peer.subscribe.down:
            return
        kind = slot_kind(track_id)
        if kind is not None:
            peer.subscribe.add(track_id, "audio" if kind == "loudest" else "video",
                               SLOT_MIME[kind], None, track_id)
            self.apply_view(peer)
        else:
            up = self.tracks[track_id]
            peer.subscribe.add(track_id, up.kind, up.mime_type, self._direct_source(peer, up),
                               up.peer_id)
        self.apply_video_last_n(peer)
        self.update_demand()

    # --- audio levels, active speaker, Last-N ------------------------------------------------

    def _on_audio_level(self, up: UpTrack, level: int) -> None:
        if self.speakers.add(up, level):
            if self.speakers.evaluate():
                current = self.speakers.current
                self._set_speaker(current.peer_id if current is not None else None)
            self.apply_audio_last_n()
            speaking = tuple(self.speaking())
            if speaking != self._speaking:
                self._speaking = speaking
                self.apply_views()

    def silence(self, up: UpTrack) -> None:
        """A microphone muted by the chair stops counting as a speaker at once."""
        if self.speakers.remove(up):
            self._set_speaker(None)

    def _set_speaker(self, peer_id: str | None) -> None:
        if peer_id == self.active_speaker:
            return
        self.active_speaker = peer_id
        self._emit(ActiveSpeakerChanged(self.room_id, peer_id))
        self.apply_views()
        for peer in self.peers.values():
            self.apply_video_last_n(peer)

    def camera(self, peer_id: str, layer: str) -> UpTrack | None:
        """The peer's camera in ``layer`` ('high' or 'low'; low while its uplink is weak),
        else its other layer."""
        if self._uplink_weak(peer_id):
            layer = "low"
        cameras = [t for t in self.tracks.values()
                   if t.peer_id == peer_id and t.kind == "video" and t.source == "camera"
                   and t.mime_type.lower() == ACTIVE_SPEAKER_MIME.lower()]
        return next((t for t in cameras if t.layer == layer), cameras[0] if cameras else None)

    # --- layers of a camera subscribed to directly (a small meeting: everyone's camera) -------

    def _direct_source(self, viewer: Peer, up: UpTrack) -> UpTrack:
        """What a subscription to ``up`` forwards: a camera's high layer gives way to its
        low layer on the viewer's small screen or the publisher's weak uplink. (Not on the
        viewer's weak link: a small meeting's few cameras are all shown large, and a switch
        costs aiortc receivers, the halls' agents, seconds of picture.)"""
        if up.kind != "video" or up.source != "camera" or up.layer != "high":
            return up
        if viewer.max_speaker_layer == "high" and not self._uplink_weak(up.peer_id):
            return up
        return next((t for t in self.tracks.values() if t.peer_id == up.peer_id
                     and t.source == "camera" and t.layer == "low"
                     and t.mime_type.lower() == up.mime_type.lower()), up)

    def _apply_direct_layers(self, viewer: Peer) -> None:
        for track_id, down in viewer.subscribe.down.items():
            up = self.tracks.get(track_id) if slot_kind(track_id) is None else None
            if up is not None:
                down.switch(self._direct_source(viewer, up))

    # --- publishers' uplinks (sfu/uplink.py) --------------------------------------------------

    def _watch_uplink(self, peer_id: str) -> None:
        """A publisher of two camera layers gets its link judged by its high one."""
        if peer_id in self.uplinks:
            return
        cameras = {t.layer: t for t in self.tracks.values()
                   if t.peer_id == peer_id and t.kind == "video" and t.source == "camera"}
        if "high" in cameras and "low" in cameras:
            self.uplinks[peer_id] = Uplink(cameras["high"], self.apply_views,
                                           lambda: self._wants_high(peer_id))

    def _wants_high(self, peer_id: str) -> bool:
        """Would a viewer get this publisher's high layer if its link carried it?"""
        for viewer in self.peers.values():
            if viewer.peer_id == peer_id or viewer.max_speaker_layer != "high":
                continue
            for track_id, down in viewer.subscribe.down.items():
                if down.source is None or down.source.peer_id != peer_id:
                    continue
                up = self.tracks.get(track_id)
                if track_id == ACTIVE_SPEAKER or (up is not None and up.source == "camera"
                                                  and up.layer == "high"):
                    return True
        return False

    def _uplink_weak(self, peer_id: str) -> bool:
        uplink = self.uplinks.get(peer_id)
        return uplink is not None and uplink.weak

    def _speaker_camera(self, viewer: Peer) -> UpTrack | None:
        if self.active_speaker is None or self.active_speaker == viewer.peer_id:
            return None
        return self.camera(self.active_speaker, viewer.speaker_layer())

    def recent_speakers(self) -> list[str]:
        seen: list[str] = []
        for up in self.speakers.recent:
            if up.peer_id not in seen:
                seen.append(up.peer_id)
        return seen

    def apply_video_last_n(self, peer: Peer) -> None:
        recent = self.recent_speakers()
        for track_id, down in peer.subscribe.down.items():
            source = down.source
            if slot_kind(track_id) or source is None or source.source != "camera":
                continue
            if peer.wants_video_from(source.peer_id, source.track_id, recent):
                down.resume()
            else:
                down.pause()
        self.update_demand()

    def apply_audio_last_n(self) -> None:
        n = self.config.last_n_audio
        audio = [t for t in self.tracks.values() if t.kind == "audio"]
        if n is None:
            chosen = set(audio)
        else:
            chosen = set(self.speakers.loudest(n))
            silent = [t for t in audio if t not in self.speakers.loudness]
            chosen.update(silent[: max(0, n - len(chosen))])
        for up in audio:
            up.mute("last-n", up not in chosen)

    # --- slots (sfu/view.py) -----------------------------------------------------------------

    def speaking(self) -> list[UpTrack]:
        """Microphones heard now, loudest first (the active speaker's first)."""
        loud = self.speakers.loudness
        ranked = sorted((t for t, v in loud.items() if v >= self.speakers.speech_loudness),
                        key=loud.__getitem__, reverse=True)
        current = self.speakers.current
        if current is not None and current in ranked:
            ranked.remove(current)
            ranked.insert(0, current)
        return ranked

    def apply_views(self) -> None:
        for peer in self.peers.values():
            self.apply_view(peer)
        self.update_demand()

    def apply_view(self, peer: Peer) -> None:
        """Fill the peer's slots: the speaker (layer by the peer's link; a viewer who speaks
        keeps the previous speaker), thumbnails (low layers: pinned, then recent speakers,
        then the others in order of publishing), and the loudest microphones (whoever
        speaks; the last ones heard stay meanwhile); and the layer of each camera it
        subscribed to directly."""
        self._apply_direct_layers(peer)
        slots = {tid: d for tid, d in peer.subscribe.down.items() if slot_kind(tid) is not None}
        if not slots:
            return
        speaker = slots.get(ACTIVE_SPEAKER)
        if speaker is not None:
            camera = self._speaker_camera(peer)
            if camera is None and speaker.source is not None:
                camera = self.camera(speaker.source.peer_id, peer.speaker_layer())
            speaker.switch(camera)
        shown = speaker.source.peer_id if speaker is not None and speaker.source else None
        by_kind: dict[str, list[DownTrack]] = {"thumbnail": [], "loudest": []}
        for tid in sorted((t for t in slots if t != ACTIVE_SPEAKER), key=slot_index):
            by_kind[slot_kind(tid)].append(slots[tid])  # type: ignore[index]
        self._fill_thumbnails(peer, by_kind["thumbnail"], shown)
        self._fill_loudest(peer, by_kind["loudest"])
        view = {tid: (SlotSource(d.source.peer_id, d.source.track_id, d.source.layer)
                      if d.source is not None else None) for tid, d in slots.items()}
        if view != peer.view:
            peer.view = view
            self._emit(ViewChanged(self.room_id, peer.peer_id, dict(view)))

    def _fill_thumbnails(self, peer: Peer, downs: list[DownTrack], shown: str | None) -> None:
        if not downs:
            return
        cameras = list(dict.fromkeys(t.peer_id for t in self.tracks.values()
                                     if t.kind == "video" and t.source == "camera"))
        order = [p for p in peer.pinned_order if p in cameras]
        order += [p for p in self.recent_speakers() if p in cameras] + cameras
        wanted = [p for p in dict.fromkeys(order) if p not in (peer.peer_id, shown)]
        current = [d.source.peer_id if d.source is not None and d.source.peer_id in wanted
                   else None for d in downs]
        for down, holder in zip(downs, assign(current, wanted, keep_unwanted=False)):
            down.switch(self.camera(holder, "low") if holder is not None else None)

    def _fill_loudest(self, peer: Peer, downs: list[DownTrack]) -> None:
        if not downs:
            return
        microphones = [t for t in self.tracks.values() if t.kind == "audio"
                       and t.source == "microphone" and t.peer_id != peer.peer_id]
        current = [d.source if d.source in microphones else None for d in downs]
        wanted = [t for t in self.speaking() if t in microphones]
        holders = assign(current, wanted, keep_unwanted=True)
        idle = [t for t in microphones if t not in holders]  # a small meeting: everyone
        for down, holder in zip(downs, holders):
            down.switch(holder if holder is not None else (idle.pop(0) if idle else None))

    def update_demand(self) -> None:
        """Tell publishers of two camera layers which of them someone receives, so that a
        layer nobody watches is not sent (a commune's uplink carries its low layer only
        until it is on someone's big screen)."""
        layered = {t.peer_id for t in self.tracks.values() if t.layer == "low"}
        now = asyncio.get_running_loop().time()
        later = False
        for up in self.tracks.values():
            if up.kind != "video" or up.source != "camera" or up.peer_id not in layered:
                continue
            uplink = self.uplinks.get(up.peer_id)
            probing = up.layer == "high" and uplink is not None and uplink.state == "probing"
            weak = up.layer == "high" and uplink is not None and uplink.state == "weak"
            if up.receivers() > 0 or probing:  # a probe: the publisher sends, nobody receives
                up.unneeded_since = None
                if up.needed is not True:
                    up.needed = True
                    self._emit(LayerDemand(self.room_id, up.peer_id, up.track_id, up.layer, True))
                continue
            if up.unneeded_since is None:
                up.unneeded_since = now
            # a weak uplink is relieved at once; otherwise wait (subscriptions change in steps)
            if up.needed is not False and (weak or now - up.unneeded_since >= UNNEEDED_AFTER_S):
                up.needed = False
                self._emit(LayerDemand(self.room_id, up.peer_id, up.track_id, up.layer, False))
            elif up.needed is not False:
                later = True
        if later and self._demand_check is None:
            self._demand_check = asyncio.get_running_loop().call_later(
                UNNEEDED_AFTER_S, self._check_demand)

    def _check_demand(self) -> None:
        self._demand_check = None
        self.update_demand()

    def close(self) -> None:
        for uplink in self.uplinks.values():
            uplink.close()
        self.uplinks.clear()
        if self._demand_check is not None:
            self._demand_check.cancel()
            self._demand_check = None
