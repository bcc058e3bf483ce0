"""One session of the agent in a meeting: Socket.IO, the publish and subscribe connections, health.

The sequence is the browser's (docs/protocol.md, "A client's sequence"): join_meeting,
media:join, publish the room's tracks, subscribe to the others', answer every offer. A session
ends — and the agent starts a new one — when Socket.IO drops, a peer connection fails, two
health reports in a row go unanswered (a cut link: Socket.IO itself would notice only after its
ping timeout), the sources end, or the point's meeting changes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import socketio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription

from bridge.config import AgentConfig
from bridge.http_api import current_meeting
from bridge.layers import CameraLayers
from bridge.outputs import Outputs
from bridge.shutdown import bounded
from bridge.sources import FeedTrack, Sources
from bridge.stats import HealthMeter
from bridge.texts import say

log = logging.getLogger("hoinghi.bridge.session")
HEALTH_INTERVAL_S = 2.0
ACK_TIMEOUT_S = 4.0
MISSED_HEALTH_LIMIT = 2
MEETING_POLL_S = 10.0


def video_to_show(tracks: list[dict[str, Any]], active_speaker: str | None) -> str | None:
    """The one video the room's screen shows, full size: the active speaker's camera, else a
    screen share, else anyone's camera. Always a camera's high layer when it has one: each
    publisher also sends a small low layer (docs/sfu.md), listed as a track of its own and in no
    fixed order, and a full-screen picture must not be the 320-pixel one."""
    videos = sorted((t for t in tracks if t["kind"] == "video"), key=lambda t: t.get("layer") == "low")
    shown = next((t for t in videos if t["peer_id"] == active_speaker and t.get("source") != "screen"), None)
    shown = shown or next((t for t in videos if t.get("source") == "screen"), None) or (videos[0] if videos else None)
    return shown["track_id"] if shown is not None else None


class SessionEnded(Exception):
    pass


def _ice_servers(raw: list[dict[str, Any]]) -> RTCConfiguration:
    servers = [RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in raw]
    # one transport for all tracks, as browsers bundle: with aiortc's default (one per kind) a
    # third track (the camera's low layer) never started sending
    return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class Session:
    def __init__(self, config: AgentConfig, sources: Sources, outputs: Outputs, http: aiohttp.ClientSession,
                 meeting: dict[str, Any]) -> None:
        self.config, self.sources, self.outputs, self.http = config, sources, outputs, http
        self.meeting_id: int = meeting["id"]
        self.sio = socketio.AsyncClient(reconnection=False, http_session=http, request_timeout=ACK_TIMEOUT_S)
        self.pub: RTCPeerConnection | None = None
        self.sub: RTCPeerConnection | None = None
        self.peer_id = ""
        self.tracks: dict[str, dict[str, Any]] = {}  # track id -> media:tracks entry
        self.mids: dict[str, str] = {}  # subscribe mid -> track id
        self.received: dict[str, Any] = {}  # track id -> remote track
        self.active_speaker: str | None = None
        self.names: dict[str, str] = {}  # peer id -> name shown under their picture on the room's screen
        self.feeds: list[FeedTrack] = []
        self.layers: CameraLayers | None = None  # the camera's two layers
        self._ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._sub_lock = asyncio.Lock()
        self._meter = HealthMeter()
        self.last_health: dict[str, Any] | None = None  # the latest report sent (logs, tests)

    # ------------------------------------------------------------ the whole session

    async def run(self) -> str:
        """Run until the session ends; returns why."""
        tasks: list[asyncio.Task[Any]] = []
        try:
            await self._connect()
            await self._join()
            tasks = [asyncio.create_task(self._report_health()), asyncio.create_task(self._watch_meeting()),
                     asyncio.create_task(self._watch_sources())]
            return await self._ended
        finally:
            for task in tasks:
                task.cancel()
            await self.close()

    def end(self, reason: str) -> None:
        if not self._ended.done():
            self._ended.set_result(reason)

    async def close(self) -> None:
        self.outputs.status = say("display_connecting")
        self.outputs.mixer.clear()
        self.outputs.switcher.follow(None, None)
        for feed in self.feeds:
            feed.stop()
        if self.layers is not None:
            self.layers.stop()
        closing = [bounded(pc.close(), name) for pc, name in ((self.pub, "publish"), (self.sub, "subscribe")) if pc]
        if self.sio.connected:
            closing.append(bounded(self.sio.disconnect(), "socket.io"))
        await asyncio.gather(*closing)  # at the same time: a cut link makes each of them wait

    async def _call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        ack = await self.sio.call(event, payload, timeout=ACK_TIMEOUT_S * 2)
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise SessionEnded(f"{event}: {ack.get('error') if isinstance(ack, dict) else ack}: "
                               f"{ack.get('message', '') if isinstance(ack, dict) else ''}")
        return ack

    # ------------------------------------------------------------ joining

    async def _connect(self) -> None:
        self.sio.on("disconnect", lambda *args: self.end("socket.io disconnected"))
        self.sio.on("media:tracks", self._on_tracks)
        self.sio.on("media:offer", self._on_offer)
        self.sio.on("media:active_speaker", self._on_active_speaker)
        self.sio.on("media:layer", self._on_layer)
        self.sio.on("meeting_state", self._on_meeting_state)
        self.sio.on("participants", self._on_participants)
        self.sio.on("removed", lambda data: self.end("removed by the chair"))
        await self.sio.connect(self.config.server, auth={"token": self.config.token}, transports=["websocket"],
                               wait_timeout=ACK_TIMEOUT_S)

    async def _join(self) -> None:
        joined = await self._call("join_meeting", {"meeting_id": self.meeting_id})
        log.info(say("joined", meeting_id=self.meeting_id, title=joined["meeting"]["title"]))
        self.names = {e["peer_id"]: e["name"] for e in joined.get("roster") or [] if e.get("peer_id")}
        self.outputs.status = say("display_waiting")
        media = await self._call("media:join", {"meeting_id": self.meeting_id})
        self.peer_id = media["peer_id"]
        self.active_speaker = media.get("active_speaker")
        self.tracks = {t["track_id"]: t for t in media["tracks"]}
        configuration = _ice_servers(media.get("ice_servers") or [])
        await self._publish(configuration)
        self.sub = RTCPeerConnection(configuration)
        self.sub.on("track", self._on_remote_track)
        self._watch_pc(self.sub, "subscribe")
        await self._subscribe()

    def _watch_pc(self, pc: RTCPeerConnection, name: str) -> None:
        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState == "failed":
                self.end(f"{name} connection failed")

    # ------------------------------------------------------------ publishing (one place: the room's tracks)

    async def _publish(self, configuration: RTCConfiguration) -> None:
        """Offer the room's microphone and camera; passed-through video keeps its own codec only."""
        self.pub = RTCPeerConnection(configuration)
        self._watch_pc(self.pub, "publish")
        sources: dict[Any, str] = {}
        for feed, name in ((self.sources.audio, "microphone"), (self.sources.video, "camera")):
            if feed is None:
                continue
            track = feed.track()
            self.feeds.append(track)
            if name == "camera":  # both layers; passed through: the high one as the camera made it
                self.layers = CameraLayers(self.pub, track, feed.track(),  # (stopped with the layers)
                                           self.sources.video_codec if self.sources.passthrough else None)
                continue
            sources[self.pub.addTransceiver(track, direction="sendonly")] = name
        await self.pub.setLocalDescription(await self.pub.createOffer())  # aiortc gathers every candidate here
        answer = await self._call("media:publish", {
            "meeting_id": self.meeting_id, "sdp": self.pub.localDescription.sdp,
            "sources": {**{t.mid: name for t, name in sources.items()},
                        **(self.layers.sources() if self.layers is not None else {})},
        })
        await self.pub.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    # ------------------------------------------------------------ subscribing

    def _wanted(self) -> list[str]:
        """Every other audio track (mixed for the room), and the video of whom the room should see."""
        others = [t for t in self.tracks.values() if t["peer_id"] != self.peer_id]
        wanted = [t["track_id"] for t in others if t["kind"] == "audio"] if self.outputs.wants_audio else []
        if self.outputs.wants_video:
            shown = video_to_show(others, self.active_speaker)
            if shown is not None:
                wanted.append(shown)
        return wanted

    async def _subscribe(self) -> None:
        async with self._sub_lock:
            ack = await self._call("media:subscribe", {"meeting_id": self.meeting_id, "track_ids": self._wanted()})
            if ack.get("offer"):
                await self._answer(ack["offer"])
        self._follow()

    async def _answer(self, offer: dict[str, Any]) -> None:
        assert self.sub is not None
        self.mids.update(offer.get("mids") or {})
        await self.sub.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await self.sub.setLocalDescription(await self.sub.createAnswer())
        await self._call("media:answer", {"meeting_id": self.meeting_id, "sdp": self.sub.localDescription.sdp})

    def _on_remote_track(self, track: Any) -> None:
        assert self.sub is not None
        transceiver = next((t for t in self.sub.getTransceivers() if t.receiver.track is track), None)
        track_id = self.mids.get(transceiver.mid) if transceiver is not None else None
        if track_id is None:
            return
        self.received[track_id] = track
        if track.kind == "audio":
            self.outputs.mixer.add(track_id, track)
        self._follow()

    def _follow(self) -> None:
        """Point the video output at the subscribed video track, and drop audio no longer wanted."""
        wanted = set(self._wanted())
        for track_id in list(self.received):
            if track_id not in wanted or track_id not in self.tracks:
                self.received.pop(track_id)
                self.outputs.mixer.remove(track_id)
        video = next((tid for tid in wanted if self.tracks.get(tid, {}).get("kind") == "video"), None)
        label = self.names.get(self.tracks.get(video or "", {}).get("peer_id", ""), "")
        self.outputs.switcher.follow(video if video in self.received else None, self.received.get(video or ""), label)

    async def _on_tracks(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") == self.meeting_id:
            self.tracks = {t["track_id"]: t for t in msg["tracks"]}
            await self._resubscribe()

    async def _on_active_speaker(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") == self.meeting_id and msg.get("peer_id") != self.active_speaker:
            self.active_speaker = msg.get("peer_id")
            await self._resubscribe()

    async def _on_offer(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") != self.meeting_id:
            return
        try:
            async with self._sub_lock:
                await self._answer(msg)
        except Exception as error:  # a session whose signalling broke is over
            self.end(f"media:offer: {error!r}")

    async def _resubscribe(self) -> None:
        try:
            await self._subscribe()
        except Exception as error:
            self.end(f"media:subscribe: {error!r}")

    def _on_layer(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") == self.meeting_id and self.layers is not None:
            self.layers.on_layer(str(msg.get("track_id")), bool(msg.get("needed")))

    def _on_participants(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") == self.meeting_id:
            for entry in msg.get("joined") or []:
                self.names[entry["peer_id"]] = entry["name"]
            self._follow()

    def _on_meeting_state(self, msg: dict[str, Any]) -> None:
        if msg.get("meeting_id") == self.meeting_id and msg.get("status") == "closed":
            self.end("the meeting closed")

    # ------------------------------------------------------------ watching

    async def _report_health(self) -> None:
        missed = 0
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            figures = await self._figures()
            try:
                ack = await self.sio.call("point_health", {"meeting_id": self.meeting_id, **figures}, timeout=ACK_TIMEOUT_S)
                missed = 0 if isinstance(ack, dict) and ack.get("ok") else missed + 1
            except Exception:
                missed += 1
            self.last_health = figures
            if missed >= MISSED_HEALTH_LIMIT:
                self.end("the server stopped answering")
                return

    async def _figures(self) -> dict[str, Any]:
        frames = sum(f.frames for f in self.feeds if f.kind == "video")
        for feed in self.feeds:
            feed.frames = 0
        pcs = [pc for pc in (self.pub, self.sub) if pc is not None]
        # (the subscribe connection stays "new" while the room subscribes to nothing)
        media = all(pc.connectionState == "connected" or (pc is self.sub and pc.connectionState == "new") for pc in pcs)
        try:
            reports = [await pc.getStats() for pc in pcs]
        except Exception:  # a connection closing under us: report the link without figures
            log.debug("getStats failed", exc_info=True)
            reports = []
        return self._meter.figures(reports, frames, media)

    async def _watch_meeting(self) -> None:
        while True:
            await asyncio.sleep(MEETING_POLL_S)
            try:
                meeting = await current_meeting(self.http, self.config)
            except Exception:
                continue  # the health reports notice a dead link
            if meeting is None or meeting["id"] != self.meeting_id:
                self.end("the point's meeting changed")
                return

    async def _watch_sources(self) -> None:
        while not self.sources.ended:
            await asyncio.sleep(1.0)
        self.end("a source ended")
