"""PulseAudio for real: a private daemon with a null sink (the room's sound card), a tone played into it
with paplay, the agent's `pulse:SINK.monitor` source hearing it, and `--audio-out pulse:SINK` playing
the meeting's mix into it (read back with parec)."""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from bridge.outputs import AudioMixer, _recorder
from bridge.sources import Sources
from tests.sfu.clients import ToneTrack

SINK = "hn12room"


@pytest.fixture
def pulse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if shutil.which("pulseaudio") is None or shutil.which("paplay") is None:
        pytest.skip("PulseAudio is not installed (scripts/lib.sh TEST_PACKAGES: pulseaudio)")
    socket = tmp_path / "pulse.sock"
    daemon = subprocess.Popen(
        ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes",
         "-L", f"module-native-protocol-unix socket={socket} auth-anonymous=1", "-L", f"module-null-sink sink_name={SINK}"],
        env=dict(os.environ, HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path)), stderr=subprocess.DEVNULL)
    monkeypatch.setenv("PULSE_SERVER", f"unix:{socket}")
    try:
        for _ in range(100):
            if subprocess.run(["pactl", "info"], capture_output=True).returncode == 0:
                break
            assert daemon.poll() is None, "pulseaudio did not start"
            subprocess.run(["sleep", "0.1"])
        yield SINK
    finally:
        daemon.terminate()
        daemon.wait(10)


async def test_a_pulse_source_hears_the_room_and_pulse_output_plays_the_meeting(pulse: str) -> None:
    tone = subprocess.Popen(f"sox -n -r 48000 -c 2 -t wav - synth 30 sine 440 | paplay --device={pulse}", shell=True)
    sources = Sources("none", f"pulse:{pulse}.monitor")
    try:
        sources.open()
        track = sources.audio.track()
        samples = [(await asyncio.wait_for(track.recv(), 10)).to_ndarray() for _ in range(100)]
    finally:
        sources.close()
        tone.terminate()
        tone.wait(10)
    heard = np.concatenate([s.reshape(-1) for s in samples[-50:]]).astype(np.float64)
    assert np.abs(heard).max() > 3000, "the source heard nothing from the null sink"

    mixer = AudioMixer()
    mixer.add("delegate", ToneTrack(0.5))
    recorder = _recorder(f"pulse:{pulse}")
    recorder.addTrack(mixer)
    parec = subprocess.Popen(["parec", f"--device={pulse}.monitor", "--format=s16le", "--rate=48000", "--channels=1"],
                             stdout=subprocess.PIPE)
    await recorder.start()
    try:
        read = await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(None, parec.stdout.read, 48000 * 2 * 2), 30)
    finally:
        await recorder.stop()
        mixer.clear()
        parec.terminate()
        parec.wait(10)
    played = np.frombuffer(read, dtype=np.int16)
    assert np.abs(played[-24000:]).max() > 3000, "nothing of the meeting reached the sink"
