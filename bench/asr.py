"""Transcription benchmark: the pipeline's CPU per active speaker and caption latency.

    .venv/bin/python bench/asr.py            # 1, 8 and 32 concurrent speakers
    .venv/bin/python bench/asr.py --quick    # 1 and 8, shorter windows

For each size a real `hoinghi serve` (its own process, SQLite, the tiny Vosk model of
transcription/tiny_model.py) receives N speakers: Socket.IO clients that join the meeting and
publish one microphone each, sending pre-encoded Opus (a 0.4 s tone burst every 2 s, staggered;
nothing is encoded during the run). A watcher client times every `caption` event. The server
and this process run at nice -10 (as bench/sfu.py: the box is shared with other work).

CPU: the server's CPU over the window (/proc/PID/stat, its recognition process included) is
measured twice in the same run, with
transcription on and, as the baseline, with transcription off (no model), same load.
`per_speaker_core_pct` = (on − off) / window / N as % of one core: everything transcription
adds (tap, Opus decoding, recognition, committing a segment every 2 s, broadcasting captions).
`model_pct` is the CPU the recognition process spent inside libvosk in that window (the
server's metric `hoinghi_transcription_model_cpu_seconds`, thread CPU time around each Vosk call), per
speaker; `excl_model_pct` = per_speaker_core_pct − model_pct: the pipeline's own cost.
`vs_baseline` = server CPU on / off.
`pipeline_pct` is the issue's narrower scope measured in this process, without a server: N audio
taps fed the same Opus packets at 50 per second, Opus decoding, the Transcriber and the tiny
model (results discarded), as CPU time of this process and its recognition process minus a
baseline run of the same feeding loop with no taps, per speaker; `pipeline_excl_model_pct` the same without the time inside libvosk.

Latency, both from the end of a burst (when its last packet left the speaker):
`caption_p50_ms`/`caption_p99_ms` until the first `caption` event at the watcher that shows the
burst's word (a partial or the final; the tiny model, like a real one, knows a word only once
it has heard its end); `final_p50_ms`/`final_p99_ms` until the final caption (committed to
the transcript first; it waits for the model's endpoint, 0.3 s of trailing silence).
One line per size:
``asr speakers=N per_speaker_core_pct=.. caption_p50_ms=.. caption_p99_ms=.. dropped=..``.

With HOINGHI_VOSK_MODEL set to a real model it also prints word error rate and real-time
factor on the FPT Open Speech samples in ../shared/data/speech-vi (or $HOINGHI_SPEECH_DIR).
"""
from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
import wave
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository root

import aiohttp  # noqa: E402
import numpy as np  # noqa: E402
import socketio  # noqa: E402
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription  # noqa: E402
from aiortc.codecs.opus import OpusEncoder  # noqa: E402
from av import AudioFrame  # noqa: E402

from bench.sfu import raise_priority  # noqa: E402
from bench.sfu_load import Stream  # noqa: E402
from sfu.aiortc_hooks import SenderAccess, SilentTrack  # noqa: E402
from sfu.audiotap import AudioTap  # noqa: E402
from sfu.packet import RtpView  # noqa: E402
from tests.e2e.harness import PASSWORD, Deployment, Person  # noqa: E402
from transcription.pipeline import Transcriber, TranscriptEvent  # noqa: E402
from transcription.tiny_model import WORD, write_tiny_model  # noqa: E402
from web.captions.live import TAP_BATCH_PACKETS  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CYCLE_S, BURST_S = 2.0, 0.4
RATE = 48000
NICE = 10  # server and speakers run at nice -10 while measuring (needs root; said otherwise)


def opus_cycle() -> list[bytes]:
    """One cycle (a burst, then faint noise) as 20 ms Opus payloads."""
    n = int(CYCLE_S * RATE)
    t = np.arange(n) / RATE
    signal = 0.0006 * np.random.default_rng(5).standard_normal(n)
    signal[t < BURST_S] += 0.3 * np.sin(2 * np.pi * 440 * t[t < BURST_S])
    pcm = (signal * 32767).astype(np.int16)
    encoder, payloads = OpusEncoder(), []
    for k in range(0, n, 960):
        frame = AudioFrame.from_ndarray(pcm[k:k + 960].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, k, fractions.Fraction(1, RATE)
        payloads.extend(encoder.encode(frame)[0])
    return payloads


class Microphone(Stream):
    """Stream of bench/sfu_load.py without its send-time trailer: the payload must stay Opus."""

    def send(self, payload: bytes, marker: bool, timestamp: int) -> None:
        if self.sink.ready() and self.writer.write(self.extensions + payload, self.first_byte, marker, self.seq,
                                                   timestamp, -1, 0, False):
            self.sent += 1
        self.seq = (self.seq + 1) & 0xFFFF


def cpu_s(pid: int) -> float:
    """CPU seconds of the process and of its children (the recognition process) still running."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / TICK
    children = {int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()}
    return own + sum(cpu_s(child) for child in children)


async def client(url: str, username: str) -> socketio.AsyncClient:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{url}/login", json={"username": username, "password": PASSWORD}) as response:
            assert response.status == 200, await response.text()
        cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(url, headers={"Cookie": cookie}, transports=["websocket"])
    return sio


async def speaker(url: str, meeting_id: int, username: str) -> tuple[socketio.AsyncClient, RTCPeerConnection, Any]:
    sio = await client(url, username)
    assert (await sio.call("join_meeting", {"meeting_id": meeting_id}, timeout=60))["ok"]
    assert (await sio.call("media:join", {"meeting_id": meeting_id}, timeout=60))["ok"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver(SilentTrack("audio", username), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    ack = await sio.call("media:publish", {"meeting_id": meeting_id, "sdp": pc.localDescription.sdp,
                                           "sources": {transceiver.mid: "microphone"}}, timeout=60)
    assert ack["ok"], ack
    await pc.setRemoteDescription(RTCSessionDescription(ack["sdp"], "answer"))
    return sio, pc, transceiver


async def run_size(n: int, window_s: float, transcribe: bool, model_dir: Path, payloads: list[bytes]) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="hoinghi-bench-asr-"))
    people = [Person("chutoa", "Chủ Tọa", "chair"), Person("thuky", "Thư Ký", "secretary")]
    people += [Person(f"daibieu{i}", f"Đại biểu {i}", "delegate") for i in range(n)]
    deployment = Deployment(root=root, people=people)
    await asyncio.to_thread(deployment.prepare)  # it runs its own event loop to seed the database
    if transcribe:
        os.environ["HOINGHI_VOSK_MODEL"] = str(model_dir)
    else:
        os.environ.pop("HOINGHI_VOSK_MODEL", None)
    os.environ["HOINGHI_ASR_MAX_STREAMS"] = str(max(16, n))
    await asyncio.to_thread(deployment.start)
    assert deployment.process is not None
    raise_priority(deployment.process.pid, NICE)  # the box is shared: as bench/sfu.py does
    url, meeting_id = deployment.url, deployment.meeting_id
    captions: list[tuple[float, dict[str, Any]]] = []
    try:
        watcher = await client(url, "thuky")
        watcher.on("caption", lambda data: captions.append((time.time(), data)))
        assert (await watcher.call("join_meeting", {"meeting_id": meeting_id}, timeout=60))["ok"]
        speakers = [await speaker(url, meeting_id, f"daibieu{i}") for i in range(n)]
        while not all(SenderAccess(t.sender).started for _, _, t in speakers):
            await asyncio.sleep(0.05)
        streams = [Microphone(t, 30) for _, _, t in speakers]
        keys = [f"account:{p.id}" for p in people[2:]]
        offsets = [round(i * len(payloads) / n) for i in range(n)]  # staggered bursts
        burst_packets = int(BURST_S / 0.02)
        bursts: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
        start = time.monotonic()
        tick, measuring, cpu0, t0, model0 = 0, False, 0.0, 0.0, 0.0
        warmup = 4.0
        while True:
            now = time.monotonic()
            if not measuring and now - start >= warmup:
                model0 = (await fetch_metrics(url))["model_cpu"]
                measuring, cpu0, t0 = True, cpu_s(deployment.process.pid), time.monotonic()
                captions.clear()
            if measuring and now - t0 >= window_s:
                break
            for k, stream in enumerate(streams):
                position = (tick + offsets[k]) % len(payloads)
                stream.send(payloads[position], False, stream.ts)
                stream.ts = (stream.ts + 960) & 0xFFFFFFFF
                if measuring and position == 0:
                    bursts[keys[k]].append((time.time(), 0.0))
                if measuring and position == burst_packets - 1 and bursts[keys[k]]:
                    bursts[keys[k]][-1] = (bursts[keys[k]][-1][0], time.time() + 0.02)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * 0.02 - time.monotonic()))
        cpu = cpu_s(deployment.process.pid) - cpu0
        elapsed = time.monotonic() - t0
        model_cpu = (await fetch_metrics(url))["model_cpu"] - model0
        await asyncio.sleep(1.0)  # finals of the last bursts
        metrics = await fetch_metrics(url)
        for sio, pc, _ in speakers:
            await pc.close()
            await sio.disconnect()
        await watcher.disconnect()
    finally:
        deployment.stop()
        shutil.rmtree(root, ignore_errors=True)
    shown, finals = [], []
    for key, spans in bursts.items():
        events = [(at, c) for at, c in captions if c["source"] == key]
        for begin, end in spans:
            if not end:
                continue
            first = next((at for at, c in events if at >= begin and WORD in c["text"]), None)
            final = next((at for at, c in events if at >= begin and c["final"]), None)
            if first is not None and first - end < CYCLE_S:
                shown.append((first - end) * 1000)
            if final is not None and final - end < CYCLE_S:
                finals.append((final - end) * 1000)
    return {"cpu_s": cpu, "model_cpu_s": model_cpu, "elapsed": elapsed, "shown": shown, "finals": finals,
            "bursts": sum(1 for spans in bursts.values() for _, end in spans if end), "dropped": metrics["dropped"]}


async def fetch_metrics(url: str) -> dict[str, float]:
    """Seconds of audio dropped (all reasons) and CPU seconds spent in libvosk, from /metrics."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics") as response:
            text = await response.text()
    dropped = re.findall(r'^hoinghi_transcription_dropped_seconds_total\{[^}]*\} (\S+)', text, re.M)
    model = re.findall(r'^hoinghi_transcription_model_cpu_seconds (\S+)', text, re.M)
    return {"dropped": sum(map(float, dropped)), "model_cpu": float(model[0]) if model else 0.0}


async def pipeline_cost(n: int, seconds: float, model: Path, payloads: list[bytes], tapped: bool) -> tuple[float, float]:
    """(CPU s of this process and the recognition process, libvosk CPU s) per second of feeding n
    microphones' packets to taps and the Transcriber (`tapped`), or to nothing (the baseline:
    the feeding loop alone, beside an idle recognition process)."""
    async def discard(_event: TranscriptEvent) -> None:
        pass

    transcriber = Transcriber(model, discard, max_recognizers=max(16, n))
    await transcriber.start()
    taps = [AudioTap(f"mic{i}", 16000, lambda _tap: None, TAP_BATCH_PACKETS) for i in range(n)] if tapped else []

    async def listen(tap: AudioTap) -> None:  # as web/captions/live.py: handed over undecoded
        await tap.deliver(lambda b: transcriber.feed_opus(tap.peer_id, b.payloads, b.seconds, b.time, b.level))

    listeners = [asyncio.create_task(listen(tap)) for tap in taps]
    offsets = [round(i * len(payloads) / n) for i in range(n)]
    start, cpu0, tick = time.monotonic(), cpu_s(os.getpid()), 0
    while time.monotonic() - start < seconds:
        for k in range(n):
            payload = payloads[(tick + offsets[k]) % len(payloads)]
            view = RtpView(payload, 1234 + k, 111, tick & 0xFFFF, (tick * 960) & 0xFFFFFFFF, False, False, 0)
            view.audio_level = 30
            if taps:
                taps[k].push(view)
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * 0.02 - time.monotonic()))
    elapsed, cpu = time.monotonic() - start, cpu_s(os.getpid()) - cpu0
    model_cpu = transcriber.model_cpu_s
    for tap in taps:
        tap.end()
    await asyncio.gather(*listeners)
    await transcriber.aclose()
    return cpu / elapsed, model_cpu / elapsed


async def pipeline_figures(n: int, seconds: float, model_dir: Path, payloads: list[bytes]) -> tuple[float, float]:
    """(pipeline_pct, pipeline_excl_model_pct) per speaker, against the baseline of the same run."""
    base, _ = await pipeline_cost(n, seconds, model_dir, payloads, tapped=False)
    total, model_cpu = await pipeline_cost(n, seconds, model_dir, payloads, tapped=True)
    per = 100 * (total - base) / n
    return per, per - 100 * model_cpu / n


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _normalise(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).lower()
    return re.sub(r"[^\w\s]", " ", text).split()


def word_errors(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def real_model_figures(model: Path, data: Path) -> None:
    import vosk

    vosk.SetLogLevel(-1)
    loaded = vosk.Model(str(model))
    rows = [line.split("\t") for line in (data / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:] if line]
    errors = words = 0
    cpu = audio = 0.0
    for ident, duration, reference, *_ in rows:
        with wave.open(str(data / f"{ident}.wav")) as wav:
            rate, pcm = wav.getframerate(), wav.readframes(wav.getnframes())
        recognizer = vosk.KaldiRecognizer(loaded, rate)
        begin = time.process_time()
        for i in range(0, len(pcm), 8000):
            recognizer.AcceptWaveform(pcm[i:i + 8000])
        text = json.loads(recognizer.FinalResult()).get("text", "")
        cpu += time.process_time() - begin
        audio += float(duration)
        ref = _normalise(reference)
        errors += word_errors(ref, _normalise(text))
        words += len(ref)
    print(f"asr model={model.name} samples={len(rows)} wer_pct={100 * errors / max(words, 1):.1f} "
          f"rtf={cpu / max(audio, 1e-9):.3f}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 and 8 speakers, 10 s windows")
    args = parser.parse_args()
    sizes, window = ([1, 8], 10.0) if args.quick else ([1, 8, 32], 20.0)
    raise_priority(os.getpid(), NICE)  # the speakers and the watcher; the server is raised when started
    real_model = os.environ.pop("HOINGHI_VOSK_MODEL", None)
    model_dir = write_tiny_model(Path(tempfile.mkdtemp(prefix="hoinghi-tiny-model-")))
    payloads = opus_cycle()
    try:
        for n in sizes:
            await one_size(n, window, model_dir, payloads)
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)
    if real_model:
        data = Path(os.environ.get("HOINGHI_SPEECH_DIR", Path(__file__).resolve().parents[2] / "shared/data/speech-vi"))
        real_model_figures(Path(real_model), data)


async def one_size(n: int, window: float, model_dir: Path, payloads: list[bytes]) -> None:
    """The baseline (no model) and the measured run of one size; prints its line."""
    off = await run_size(n, window, False, model_dir, payloads)
    on = await run_size(n, window, True, model_dir, payloads)
    pipeline, pipeline_excl = await pipeline_figures(n, window, model_dir, payloads)
    base = off["cpu_s"] / off["elapsed"] * 100
    total = on["cpu_s"] / on["elapsed"] * 100
    per = (total - base) / n
    model_pct = on["model_cpu_s"] / on["elapsed"] * 100 / n
    print(f"asr speakers={n} per_speaker_core_pct={per:.2f} excl_model_pct={per - model_pct:.2f} "
          f"model_pct={model_pct:.2f} caption_p50_ms={percentile(on['shown'], 0.5):.0f} "
          f"caption_p99_ms={percentile(on['shown'], 0.99):.0f} final_p50_ms={percentile(on['finals'], 0.5):.0f} "
          f"final_p99_ms={percentile(on['finals'], 0.99):.0f} captions={len(on['shown'])}/{on['bursts']} "
          f"dropped={on['dropped']:.1f} server_core_pct={total:.1f} baseline_core_pct={base:.1f} "
          f"vs_baseline={total / max(base, 1e-9):.2f} pipeline_pct={pipeline:.2f} "
          f"pipeline_excl_model_pct={pipeline_excl:.2f} load_avg={os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
