"""Descriptors: a subscriber session sends on one duplicated socket descriptor, whatever the
number of its down-tracks, so a meeting does not run the process out of descriptors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PUBLISHERS = 16
SUBSCRIBERS = 8  # 128 down-tracks
ROOT = Path(__file__).resolve().parents[2]


def test_more_down_tracks_than_the_descriptor_limit_allows_all_forward():
    run = subprocess.run(
        [sys.executable, "-m", "tests.sfu.descriptor_meeting", str(PUBLISHERS), str(SUBSCRIBERS)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["down_tracks"] == PUBLISHERS * SUBSCRIBERS
    # the subscribers who joined under the limit hold more down-tracks than it has room for
    assert result["down_tracks_under_limit"] > result["headroom"], result
    assert result["routes"] == SUBSCRIBERS
    assert result["drops"] == 0
    assert all(len(f) == PUBLISHERS and min(f) >= 10 for f in result["frames"]), result["frames"]
