"""Live captions: each published microphone's audio tap → the Transcriber → transcript and Socket.IO.

A final result is committed as a transcript segment (meetings.transcript decides whose name
it carries and under which agenda item) before it is broadcast; partial results are only
broadcast. Both go to everyone in the meeting as `caption` events (docs/protocol.md).
Without a Vosk model the server runs with transcription off and says so once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge

from meetings import transcript
from meetings.meetings_service import MeetingError
from sfu import SfuEvent, TrackPublished
from sfu.audiotap import AudioTap, OpusBatch
from transcription.models import active_model
from transcription.pipeline import Dropped, Final, Partial, RecognitionUnavailable, Transcriber, TranscriptEvent
from web.captions.commits import Draft, SegmentCommitter
from web.media.hub import MediaHub, meeting_of_room
from web.roster import meeting_room
from web.state import AppState

log = logging.getLogger("hoinghi.captions")
TAP_BATCH_PACKETS = 5  # decode and recognise 100 ms at a time, in one job: one thread hop, not one per packet
SPEAKER_CACHE_S = 10.0  # a partial's attribution is looked up again after a change of floor, or when older than this


def _rooms(meeting_id: int) -> list[str]:
    """The meeting's participants and its live transcript pages (each connection gets one copy)."""
    return [meeting_room(meeting_id), f"transcript:{meeting_id}"]


@dataclass
class _Mic:
    """One tapped microphone: whose, in which meeting, and where its clock started."""

    sid: str
    meeting_id: int
    key: str  # principal key of the connection
    origin: datetime | None = None  # wall-clock time of the source's time 0 (its first packet)
    speaker: transcript.Speaker | None = None
    speaker_at: float = 0.0
    refreshing: asyncio.Task[None] | None = None


class CaptionHub:
    def __init__(self, state: AppState, media: MediaHub) -> None:
        self.state = state
        self.media = media
        self.transcriber: Transcriber | None = None
        self.model_path: Path | None = None
        self.off_reason: str | None = "starting"
        self._mics: dict[str, _Mic] = {}
        self._taps: set[asyncio.Task[None]] = set()
        self._committer = SegmentCommitter(state.sessions)
        self._floor_at: dict[int, float] = {}  # meeting -> monotonic time of its last change of floor
        registry = state.metrics.registry
        self.dropped = Counter("hoinghi_transcription_dropped_seconds", "Audio not recognised, by reason",
                               ["reason"], registry=registry)
        self.segments = Counter("hoinghi_transcript_segments", "Transcript segments committed", registry=registry)
        self.streams = Gauge("hoinghi_transcription_streams", "Microphones being recognised now", registry=registry)
        self.streams.set_function(lambda: self.transcriber.active if self.transcriber else 0)
        # how much of the server's CPU the speech model itself takes (sizing; bench/asr.py subtracts it)
        self.model_cpu = Gauge("hoinghi_transcription_model_cpu_seconds", "CPU time spent inside libvosk so far",
                               registry=registry)
        self.model_cpu.set_function(lambda: self.transcriber.model_cpu_s if self.transcriber else 0.0)
        self.restarts = Gauge("hoinghi_transcription_worker_restarts", "Times the recognition process died and was started again",
                              registry=registry)
        self.restarts.set_function(lambda: self.transcriber.restarts if self.transcriber else 0)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.state.settings
        path = settings.vosk_model or active_model(settings.data_dir)
        if path is None or not path.is_dir():
            self.off_reason = "no_model"
            log.warning("transcription off: no Vosk model installed (install one: hoinghi model install vi-small)",
                        extra={"looked_in": str(path or settings.data_dir / "models")})
            return
        transcriber = Transcriber(path, self._on_result, max_recognizers=settings.asr_max_streams)
        try:
            await transcriber.start()  # the recognition process loads the model
        except RecognitionUnavailable as error:
            self.off_reason = "bad_model"
            log.error("transcription off: the Vosk model cannot be loaded", extra={"model": str(path), "error": str(error)})
            return
        self.model_path, self.off_reason, self.transcriber = path, None, transcriber
        self.media.sfu_listeners.append(self._on_sfu_event)
        self._watch_floor()
        log.info("transcription on", extra={"model": str(path), "workers": transcriber.workers,
                                            "worker_pid": transcriber.worker_pid})

    def _watch_floor(self) -> None:
        """Chain onto the control plane's floor hook (grants and ends of speaking turns)."""
        media_floor = self.state.media_floor

        async def floor_changed(meeting_id: int, key: str, allowed: bool) -> None:
            self._floor_at[meeting_id] = time.monotonic()
            if media_floor is not None:
                await media_floor(meeting_id, key, allowed)

        self.state.media_floor = floor_changed

    async def close(self) -> None:
        for task in list(self._taps):
            task.cancel()
        await asyncio.gather(*self._taps, return_exceptions=True)
        if self.transcriber is not None:
            await self.transcriber.aclose()

    # --- SFU side ------------------------------------------------------------------------------

    def _on_sfu_event(self, event: SfuEvent) -> None:
        """Called synchronously by the SFU: a new microphone gets a tap task, nothing more here."""
        if not (isinstance(event, TrackPublished) and event.kind == "audio" and event.source == "microphone"):
            return
        peer = self.media.peers.get(event.peer_id)
        if peer is None or event.peer_id in self._mics or self.media.sfu is None:
            return
        mic = self._mics[event.peer_id] = _Mic(event.peer_id, meeting_of_room(event.room_id), peer.key)
        tap = self.media.sfu.audio_tap(event.room_id, event.peer_id, batch_packets=TAP_BATCH_PACKETS)
        task = asyncio.get_running_loop().create_task(self._listen(mic, tap), name=f"hoinghi-tap-{event.peer_id}")
        self._taps.add(task)
        task.add_done_callback(self._taps.discard)

    async def _listen(self, mic: _Mic, tap: AudioTap) -> None:
        assert self.transcriber is not None
        transcriber, reported = self.transcriber, 0

        def on_batch(batch: OpusBatch) -> None:
            """On the forwarding path: only hands the undecoded batch over (to the recognition process)."""
            nonlocal reported
            if mic.origin is None:
                first = tap.started_at if tap.started_at is not None else time.time() - batch.time
                mic.origin = datetime.fromtimestamp(first, timezone.utc)
            if (mic.meeting_id, mic.key) in self.media.floor_muted:
                return  # the chair muted this microphone: what it hears is not the meeting's
            transcriber.feed_opus(mic.sid, batch.payloads, batch.seconds, batch.time, batch.level)
            if tap.dropped > reported:  # the tap's own queue overflowed (the loop fell behind)
                self.dropped.labels("tap").inc((tap.dropped - reported) * 0.02)
                reported = tap.dropped

        try:
            await tap.deliver(on_batch)
        finally:
            await transcriber.finish(mic.sid)
            self._mics.pop(mic.sid, None)

    # --- results -------------------------------------------------------------------------------

    async def _refresh_speaker(self, mic: _Mic) -> transcript.Speaker:
        asked = time.monotonic()  # a change of floor after this instant makes the answer stale
        async with self.state.sessions() as session:
            mic.speaker = await transcript.attribute(session, mic.meeting_id, mic.key)
        mic.speaker_at = asked
        return mic.speaker

    async def _partial_speaker(self, mic: _Mic) -> transcript.Speaker:
        """Who a partial caption is shown as. A partial must not wait for the database: the known
        attribution (from the last final, or a lookup) is used at once and, when the floor of the
        meeting changed since or it is older than SPEAKER_CACHE_S, looked up again in the
        background for the next partials. Only the floor makes a bridge point's speaker change,
        so partials cost no database read while it stays (a final is attributed afresh anyway)."""
        if mic.speaker is None:
            return await self._refresh_speaker(mic)
        stale = mic.speaker_at < self._floor_at.get(mic.meeting_id, 0.0) or \
            time.monotonic() - mic.speaker_at > SPEAKER_CACHE_S
        if stale and (mic.refreshing is None or mic.refreshing.done()):
            mic.refreshing = asyncio.get_running_loop().create_task(self._refresh_later(mic))
        return mic.speaker

    async def _refresh_later(self, mic: _Mic) -> None:
        try:
            await self._refresh_speaker(mic)
        except Exception:  # the next partial tries again; the final is attributed on its own
            log.warning("caption speaker not refreshed", exc_info=True, extra={"source": mic.key})

    async def _on_result(self, event: TranscriptEvent) -> None:
        mic = self._mics.get(event.source)
        if mic is None:
            return
        try:
            if isinstance(event, Partial):
                speaker = await self._partial_speaker(mic)
                await self._emit(mic, speaker, event.text, final=False)
            elif isinstance(event, Final):
                u = event.utterance
                segment = await self._commit(mic, u.start_s, u.end_s, u.text, [
                    transcript.Word(w.word, round(w.start_s - u.start_s, 3), round(w.end_s - u.start_s, 3), w.conf)
                    for w in u.words
                ])
                await self._emit(mic, None, segment["text"], final=True, segment=segment)
            elif isinstance(event, Dropped):
                self.dropped.labels(event.reason).inc(event.seconds)
                # a gap's text is its reason ("behind", "busy"): pages and exports word it in their language
                segment = await self._commit(mic, event.start_s, event.start_s + event.seconds, event.reason, [],
                                             kind="gap")
                await self.state.sio.emit("transcript_gap", segment, room=_rooms(mic.meeting_id))
        except MeetingError as error:  # e.g. the meeting was deleted while someone spoke
            log.warning("transcript result not stored", extra={"source": mic.key, "error": str(error)})

    async def _commit(self, mic: _Mic, start_s: float, end_s: float, text: str, words: list[transcript.Word],
                      kind: str = "speech") -> dict[str, Any]:
        assert mic.origin is not None
        started = mic.origin + timedelta(seconds=start_s)
        ended = mic.origin + timedelta(seconds=max(end_s, start_s))
        asked = time.monotonic()
        segment, speaker = await self._committer.commit(
            Draft(mic.meeting_id, mic.key, started, ended, text, words, kind))
        mic.speaker, mic.speaker_at = speaker, asked
        self.segments.inc()
        return segment

    async def _emit(self, mic: _Mic, speaker: transcript.Speaker | None, text: str, final: bool,
                    segment: dict[str, Any] | None = None) -> None:
        data: dict[str, Any] = {
            "meeting_id": mic.meeting_id, "peer_id": mic.sid, "source": mic.key,
            "speaker": segment["speaker"] if segment else speaker.name if speaker else "",
            "text": text, "final": final,
        }
        if segment is not None:
            data["segment"] = segment
        await self.state.sio.emit("caption", data, room=_rooms(mic.meeting_id))
