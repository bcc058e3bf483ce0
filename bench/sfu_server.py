"""The SFU under test, alone in its process, with a minimal HTTP signalling front.

Run by bench/sfu.py: ``python bench/sfu_server.py PORT``; prints ``ready`` once listening.
Endpoints take and return JSON: /join (a peer already there is kept: bench/meeting.py's
points publish and subscribe from different processes), /publish (optional ``sources``),
/subscribe (every track of the other peers, or with ``slots`` the speaker, that many
thumbnails and loudest microphones, as a large meeting's screens), /answer, /demand (GET: track id -> whether anyone
receives that camera layer, from LayerDemand), /speaker_layers (GET: how many subscribers get
the speaker's high and low layer), /stalls (GET: the event loop's longest hold-up and the
garbage collector's longest pause since the last GET). Exits when its
standard input closes. With HOINGHI_BENCH_TRANSCRIBE=K every
publisher's microphone also goes through K audio taps and K recognisers of the Transcriber
(tiny Vosk model), as `hoinghi serve` does for each speaker: forwarding measured with the
transcription of K × publishers speakers running in the same process.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

# run as a script: the repository root, not bench/ (whose sfu.py would shadow the package)
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from sfu import ACTIVE_SPEAKER, LayerDemand, Sfu, SfuEvent, loudest_slot, thumbnail_slot  # noqa: E402
from web.captions.live import TAP_BATCH_PACKETS  # noqa: E402  (the product's batching)
from web.server import raise_descriptor_limit  # noqa: E402  (as `hoinghi serve` does)

ROOM = "bench"


async def feed(transcriber: Any, tap: Any, source: str) -> None:
    """As web/captions/live.py: each batch handed to the recognition process undecoded."""
    await tap.deliver(lambda b: transcriber.feed_opus(source, b.payloads, b.seconds, b.time, b.level))


def tiny_transcriber() -> Any:
    """The product's Transcriber on the tiny model, results discarded: its load beside the SFU
    (its recognition process is started with the app)."""
    import tempfile

    from transcription.pipeline import Transcriber
    from transcription.tiny_model import write_tiny_model

    async def discard(event: Any) -> None:
        pass

    return Transcriber(write_tiny_model(Path(tempfile.mkdtemp())), discard, max_recognizers=64)


class Stalls:
    """The longest time the event loop (which forwards every packet) was held up, and the
    garbage collector's longest pause, since the last look: the causes of a latency tail
    that the CPU figures do not show."""

    TICK_S = 0.002

    def __init__(self) -> None:
        self.loop_ms = self.gc_ms = 0.0
        self.collections = 0
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.collections += 1
            self.gc_ms = max(self.gc_ms, (time.perf_counter() - self._gc_start) * 1000)

    async def watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.TICK_S)
            self.loop_ms = max(self.loop_ms, (time.perf_counter() - before - self.TICK_S) * 1000)

    def take(self) -> dict[str, float]:
        seen = {"loop_stall_max_ms": self.loop_ms, "gc_max_ms": self.gc_ms, "gc_collections": self.collections}
        self.loop_ms = self.gc_ms = 0.0
        self.collections = 0
        return seen


class Demand:
    """Which camera layers anyone receives (LayerDemand), for publishers to poll: what
    media:layer tells a browser, so that bench publishers send only what is needed."""

    def __init__(self) -> None:
        self.needed: dict[str, bool] = {}

    def on_event(self, event: SfuEvent) -> None:
        if isinstance(event, LayerDemand):
            self.needed[event.track_id] = event.needed


def app(sfu: Sfu, demand: Demand, stalls: Stalls) -> web.Application:
    copies = int(os.environ.get("HOINGHI_BENCH_TRANSCRIBE") or 0)  # recognisers per publisher
    transcriber = tiny_transcriber() if copies else None
    taps: list[asyncio.Task[None]] = []
    joined: set[str] = set()

    async def join(request: web.Request) -> web.Response:
        body = await request.json()
        joined.add(body["peer"])
        try:
            await sfu.join(ROOM, body["peer"])
        except ValueError:  # already joined (its publisher or subscriber side came first)
            pass
        return web.json_response({})

    async def publish(request: web.Request) -> web.Response:
        body = await request.json()
        answer = await sfu.publish(ROOM, body["peer"], body["sdp"], body.get("sources") or {})
        for k in range(copies):  # HOINGHI_BENCH_TRANSCRIBE: recognise every publisher beside forwarding
            tap = sfu.audio_tap(ROOM, body["peer"], batch_packets=TAP_BATCH_PACKETS)
            taps.append(asyncio.create_task(feed(transcriber, tap, f"{body['peer']}#{k}")))
        return web.json_response({"sdp": answer})

    async def subscribe(request: web.Request) -> web.Response:
        body = await request.json()
        slots = body.get("slots")
        if slots:
            ids = [ACTIVE_SPEAKER, *map(thumbnail_slot, range(slots["thumbnails"])),
                   *map(loudest_slot, range(slots["loudest"]))]
        else:  # every other peer's tracks, as before there were slots: not their low layers
            ids = [t.track_id for t in sfu.tracks(ROOM)
                   if t.peer_id != body["peer"] and t.layer != "low"]
        offer = await sfu.subscribe(ROOM, body["peer"], ids)
        streams = sum(1 for s in sfu.view(ROOM, body["peer"]).values() if s) if slots else len(ids)
        return web.json_response({"sdp": offer, "streams": streams})

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        await sfu.answer(ROOM, body["peer"], body["sdp"])
        return web.json_response({})

    async def layers(request: web.Request) -> web.Response:
        return web.json_response(demand.needed)

    async def speaker_layers(request: web.Request) -> web.Response:
        """How many subscribers get the speaker's high layer and how many its low one (the
        SFU drops a subscriber whose link looks weak to low: that load is then lighter)."""
        counts = {"high": 0, "low": 0}
        for peer in joined:
            source = sfu.view(ROOM, peer).get(ACTIVE_SPEAKER)
            if source is not None:
                counts[source.layer] += 1
        return web.json_response(counts)

    async def stalled(request: web.Request) -> web.Response:
        return web.json_response(stalls.take())

    application = web.Application(client_max_size=4 * 1024 * 1024)
    if transcriber is not None:
        async def start_transcribing(_app: web.Application) -> None:
            await transcriber.start()

        application.on_startup.append(start_transcribing)

        async def stop_transcribing(_app: web.Application) -> None:
            for task in taps:
                task.cancel()
            await asyncio.gather(*taps, return_exceptions=True)
            await transcriber.aclose()

        application.on_shutdown.append(stop_transcribing)
    application.add_routes([web.post("/join", join), web.post("/publish", publish),
                            web.post("/subscribe", subscribe), web.post("/answer", answer),
                            web.get("/demand", layers), web.get("/speaker_layers", speaker_layers),
                            web.get("/stalls", stalled)])
    return application


async def main(port: int) -> None:
    raise_descriptor_limit()  # 120 points: ~5 descriptors each
    demand, stalls = Demand(), Stalls()
    sfu = Sfu(on_event=demand.on_event)
    watcher = asyncio.create_task(stalls.watch())
    runner = web.AppRunner(app(sfu, demand, stalls), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print("ready", flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    finally:
        watcher.cancel()
        await sfu.close()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
