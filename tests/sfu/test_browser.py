"""Interop with a real browser: headless Chromium publishes its fake camera and microphone
through the SFU to an aiortc subscriber (which decodes Chrome's VP8), and decodes what an
aiortc publisher sends it through the SFU, over the signalling model web/ will use (two
peer connections, non-trickle)."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
from aiohttp import web

from tests.sfu.clients import ColourTrack, DecodeErrors, Subscriber, ToneTrack, publish, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHROMIUM = "/usr/bin/chromium"

PAGE = """<!doctype html><meta charset="utf-8"><script>
async function gathered(pc) {
  if (pc.iceGatheringState === "complete") return;
  await new Promise(r => pc.addEventListener("icegatheringstatechange",
    () => pc.iceGatheringState === "complete" && r()));
}
async function post(path, body) {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body)});
  return response.json();
}
window.run = async (subscribeTo) => {
  const media = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const up = new RTCPeerConnection();
  for (const track of media.getTracks()) up.addTransceiver(track, {direction: "sendonly"});
  await up.setLocalDescription(await up.createOffer());
  await gathered(up);
  const {sdp: answer} = await post("/publish", {sdp: up.localDescription.sdp});
  await up.setRemoteDescription({type: "answer", sdp: answer});

  const down = new RTCPeerConnection();
  window.down = down;
  down.ontrack = (event) => {  // audio energy is measured at playout
    const element = document.createElement(event.track.kind);
    element.srcObject = new MediaStream([event.track]);
    element.muted = event.track.kind === "video";
    document.body.appendChild(element);
    element.play();
    if (event.track.kind === "video") window.video = element;
  };
  const {sdp: offer} = await post("/subscribe", {tracks: subscribeTo});
  await down.setRemoteDescription({type: "offer", sdp: offer});
  await down.setLocalDescription(await down.createAnswer());
  await gathered(down);
  await post("/answer", {sdp: down.localDescription.sdp});
};
window.colour = () => {  // the picture's average colour, [r, g, b]
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 1;
  const context = canvas.getContext("2d");
  context.drawImage(window.video, 0, 0, 1, 1);
  return Array.from(context.getImageData(0, 0, 1, 1).data.slice(0, 3));
};
window.inbound = async () => {
  const out = {};
  (await window.down.getStats()).forEach(s => {
    if (s.type === "inbound-rtp") out[s.kind] = {packetsReceived: s.packetsReceived,
      framesDecoded: s.framesDecoded,
      totalAudioEnergy: s.totalAudioEnergy, packetsLost: s.packetsLost,
      pliCount: s.pliCount, nackCount: s.nackCount};
  });
  return out;
};
</script>"""



class Harness:
    """An HTTP signalling front for the SFU (as web/ will have) and a Chromium tab on it."""

    def __init__(self, sfu, port: int) -> None:
        self.sfu = sfu
        self.port = port
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        sfu = self.sfu

        async def page(request: web.Request) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        async def publish_(request: web.Request) -> web.Response:
            body = json.loads(await request.text())
            return web.json_response({"sdp": await sfu.publish("r", "chrome", body["sdp"], {})})

        async def subscribe(request: web.Request) -> web.Response:
            body = json.loads(await request.text())
            return web.json_response({"sdp": await sfu.subscribe("r", "chrome", body["tracks"])})

        async def answer(request: web.Request) -> web.Response:
            body = json.loads(await request.text())
            await sfu.answer("r", "chrome", body["sdp"])
            return web.json_response({})

        app = web.Application()
        app.add_routes([web.get("/", page), web.post("/publish", publish_),
                        web.post("/subscribe", subscribe), web.post("/answer", answer)])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def launch(playwright):
    return await playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--autoplay-policy=no-user-gesture-required"])


async def poll(tab, predicate, attempts: int = 300):
    """Evaluate ``inbound()`` in the tab until ``predicate(stats)``; returns the last stats."""
    stats: dict = {}
    for _ in range(attempts):
        stats = await tab.evaluate("inbound()")
        if predicate(stats):
            break
        await tab.wait_for_timeout(100)
    return stats


def near(colour, expected, tol=45) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(colour, expected))


needs_chromium = pytest.mark.skipif(shutil.which(CHROMIUM) is None,
                                    reason="needs Debian's chromium")


@needs_chromium
async def test_chromium_publishes_and_subscribes_through_the_sfu(sfu, unused_tcp_port_factory):
    from playwright.async_api import async_playwright

    aiortc_pub = await publish(sfu, "r", "aiortc-pub", ColourTrack((200, 30, 30)), ToneTrack(0.3))
    await sfu.join("r", "chrome")
    harness = Harness(sfu, unused_tcp_port_factory())
    await harness.start()
    errors = DecodeErrors()
    logging.getLogger("aiortc").addHandler(errors)
    try:
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            try:
                tab = await browser.new_page()
                await tab.goto(f"http://127.0.0.1:{harness.port}/")
                await tab.evaluate("ids => run(ids)", [t.track_id for t in sfu.tracks("r")])

                # Chrome's camera and microphone, decoded by aiortc after the SFU
                chrome_tracks = [t.track_id for t in sfu.tracks("r") if t.peer_id == "chrome"]
                assert len(chrome_tracks) == 2
                await sfu.join("r", "viewer")
                viewer = Subscriber(sfu, "r", "viewer")
                await viewer.subscribe(*chrome_tracks)
                await wait_for(lambda: len(viewer.received) == 2 and all(
                    r.frames > 30 for r in viewer.received.values()), timeout=30)

                # aiortc's media, decoded (and played) by Chrome after the SFU
                stats = await poll(tab, lambda s: s.get("video", {}).get("framesDecoded", 0) > 30
                                   and s.get("audio", {}).get("totalAudioEnergy", 0) > 0)
                assert stats["video"]["framesDecoded"] > 30, stats
                assert stats["audio"]["totalAudioEnergy"] > 0, stats
                assert near(await tab.evaluate("colour()"), (200, 30, 30))
                assert errors.count == 0
                await viewer.close()
            finally:
                await browser.close()
    finally:
        logging.getLogger("aiortc").removeHandler(errors)
        await harness.stop()
        await aiortc_pub.close()


@needs_chromium
async def test_chromium_follows_the_active_speaker_across_switches(sfu, events,
                                                                   unused_tcp_port_factory):
    """Chrome checks VP8 picture ids, sequence numbers and timestamps more strictly than
    aiortc: after each switch it must go on decoding the new speaker's picture."""
    from playwright.async_api import async_playwright

    from sfu import ACTIVE_SPEAKER, ActiveSpeakerChanged

    red, blue = (200, 30, 30), (30, 30, 200)
    alice_voice, bob_voice = ToneTrack(0.5), ToneTrack(0.0)
    alice = await publish(sfu, "r", "alice", ColourTrack(red), alice_voice)
    bob = await publish(sfu, "r", "bob", ColourTrack(blue), bob_voice)
    speakers = lambda: [e.peer_id for e in events if isinstance(e, ActiveSpeakerChanged)]  # noqa: E731
    await wait_for(lambda: speakers() == ["alice"])
    await sfu.join("r", "chrome")
    harness = Harness(sfu, unused_tcp_port_factory())
    await harness.start()
    try:
        async with async_playwright() as playwright:
            browser = await launch(playwright)
            try:
                tab = await browser.new_page()
                await tab.goto(f"http://127.0.0.1:{harness.port}/")
                await tab.evaluate("ids => run(ids)", [ACTIVE_SPEAKER])
                stats = await poll(tab, lambda s: s.get("video", {}).get("framesDecoded", 0) > 20)
                assert near(await tab.evaluate("colour()"), red)

                for voice_on, voice_off, speaker, colour in (
                        (bob_voice, alice_voice, "bob", blue),
                        (alice_voice, bob_voice, "alice", red)):
                    voice_on.amplitude, voice_off.amplitude = 0.5, 0.0
                    await wait_for(lambda: speakers()[-1] == speaker)
                    decoded = stats["video"]["framesDecoded"]
                    stats = await poll(tab, lambda s: s["video"]["framesDecoded"] > decoded + 30)
                    assert stats["video"]["framesDecoded"] > decoded + 30, stats
                    assert near(await tab.evaluate("colour()"), colour)
                assert stats["video"]["packetsLost"] <= 2  # no sequence jump at the switches
            finally:
                await browser.close()
    finally:
        await harness.stop()
        for pc in (alice, bob):
            await pc.close()
