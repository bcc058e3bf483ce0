"""A room: its peers, the tracks they publish, and who is heard and seen.

The room turns audio levels into the active speaker (an event, the source of every
active-speaker video down-track, and the order Last-N video follows) and, when configured,
into the set of N loudest audio streams that are forwarded at all.
"""

from __future__ import annotations

from collections.abc import Callable

from .events import ActiveSpeakerChanged, RoomConfig, SfuEvent, TrackInfo
from .peer import Peer
from .speaker import SpeakerDetector
from .uptrack import UpTrack

ACTIVE_SPEAKER = "active-speaker"
"""Pseudo track id: subscribing to it gives one video that follows the active speaker's
camera (switching source without renegotiation)."""

ACTIVE_SPEAKER_MIME = "video/VP8"


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

    # --- tracks ------------------------------------------------------------------------------

    def make_track(self, **kwargs: object) -> UpTrack:
        """Factory for the publish sessions: wires audio levels to this room."""
        return UpTrack(**kwargs, on_audio_level=self._on_audio_level)  # type: ignore[arg-type]

    def add_track(self, up: UpTrack) -> None:
        self.tracks[up.track_id] = up
        if up.kind == "video" and up.source == "camera" and up.peer_id == self.active_speaker:
            self._follow_speaker()
        self.apply_audio_last_n()

    def remove_track(self, up: UpTrack) -> list[Peer]:
        """Forget ``up``; returns the peers whose subscriptions changed (they need an offer)."""
        self.tracks.pop(up.track_id, None)
        changed = [p for p in self.peers.values() if p.subscribe.remove(up.track_id)]
        up.close()
        if up.kind == "audio" and self.speakers.remove(up):
            self._set_speaker(None)
        return changed

    def info(self) -> list[TrackInfo]:
        return [TrackInfo(t.track_id, t.peer_id, t.kind, t.source, not t.muted_by("server"))
                for t in self.tracks.values()]

    # --- subscriptions -----------------------------------------------------------------------

    def subscribe(self, peer: Peer, track_id: str) -> None:
        """Add a down-track for ``track_id`` (a known track or :data:`ACTIVE_SPEAKER`)."""
        if track_id in peer.subscribe.down:
            return
        if track_id == ACTIVE_SPEAKER:
            peer.subscribe.add(ACTIVE_SPEAKER, "video", ACTIVE_SPEAKER_MIME,
                               self._speaker_camera(peer), ACTIVE_SPEAKER)
        else:
            up = self.tracks[track_id]
            peer.subscribe.add(track_id, up.kind, up.mime_type, up, up.peer_id)
        self.apply_video_last_n(peer)

    # --- audio levels, active speaker, Last-N ------------------------------------------------

    def _on_audio_level(self, up: UpTrack, level: int) -> None:
        if self.speakers.add(up, level):
            if self.speakers.evaluate():
                current = self.speakers.current
                self._set_speaker(current.peer_id if current is not None else None)
            self.apply_audio_last_n()

    def silence(self, up: UpTrack) -> None:
        """A microphone muted by the chair stops counting as a speaker at once."""
        if self.speakers.remove(up):
            self._set_speaker(None)

    def _set_speaker(self, peer_id: str | None) -> None:
        if peer_id == self.active_speaker:
            return
        self.active_speaker = peer_id
        self._emit(ActiveSpeakerChanged(self.room_id, peer_id))
        self._follow_speaker()
        for peer in self.peers.values():
            self.apply_video_last_n(peer)

    def _speaker_camera(self, viewer: Peer) -> UpTrack | None:
        if self.active_speaker is None or self.active_speaker == viewer.peer_id:
            return None
        return next((t for t in self.tracks.values()
                     if t.peer_id == self.active_speaker and t.kind == "video"
                     and t.source == "camera" and t.mime_type.lower() == ACTIVE_SPEAKER_MIME.lower()),
                    None)

    def _follow_speaker(self) -> None:
        for peer in self.peers.values():
            down = peer.subscribe.down.get(ACTIVE_SPEAKER)
            camera = self._speaker_camera(peer)
            if down is not None and camera is not None:
                down.switch(camera)  # the viewer speaking keeps seeing the previous speaker

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
            if track_id == ACTIVE_SPEAKER or source is None or source.source != "camera":
                continue
            if peer.wants_video_from(source.peer_id, source.track_id, recent):
                down.resume()
            else:
                down.pause()

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
