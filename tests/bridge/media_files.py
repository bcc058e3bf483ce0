"""Media files the bridge tests make themselves with ffmpeg (no shared samples)."""
from __future__ import annotations

import subprocess
from pathlib import Path


def room_recording(path: Path, seconds: int = 10) -> Path:
    """A VP8 + Opus WebM: a test picture and a 440 Hz tone, as a room codec might send (passed through)."""
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libvpx", "-b:v", "300k", "-deadline", "realtime", "-cpu-used", "8", "-g", "15",
         "-c:a", "libopus", "-b:a", "32k", str(path)],
        check=True, timeout=120,
    )
    return path
