"""The agent's low camera layer (bridge/layers.py) with real libvpx: its size, its frame rate,
and its key frames (on request, not whenever the source had one)."""
from __future__ import annotations

import fractions

import av
import pytest
from av.video.frame import PictureType

from bridge.layers import LowEncoder, Thinning

CLOCK = fractions.Fraction(1, 90000)


def _frame(width: int, height: int, n: int, fps: int, intra: bool = False) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(((i + 7 * n) % 251) for i in range(plane.buffer_size)))
    frame.pts, frame.time_base = n * 90000 // fps, CLOCK
    frame.pict_type = PictureType.I if intra else PictureType.NONE
    return frame


@pytest.mark.parametrize("fps, kept", [(60, 30), (30, 30), (25, 25), (15, 15)])
def test_the_low_layer_keeps_the_camera_rate_up_to_30_fps(fps: int, kept: int) -> None:
    thinning = Thinning(30)
    frames = [_frame(16, 16, n, fps) for n in range(fps * 2)]  # two seconds
    assert sum(thinning.keep(f) for f in frames) == 2 * kept


@pytest.mark.parametrize("size, low", [((960, 540), (320, 180)), ((480, 270), (160, 90)),
                                       ((1920, 1080), (320, 180)), ((1280, 720), (320, 180))])
def test_the_low_layer_is_a_third_of_the_camera_and_at_most_320_wide(size: tuple[int, int],
                                                                     low: tuple[int, int]) -> None:
    encoder = LowEncoder()
    packets = [encoder.encode(_frame(*size, n, 25)) for n in range(3)]
    decoder = av.CodecContext.create("vp8", "r")
    frames = [f for p in packets if p is not None for f in decoder.decode(p)]
    assert frames and (frames[-1].width, frames[-1].height) == low


def test_key_frames_come_on_request_and_not_from_the_sources_intra_frames() -> None:
    encoder = LowEncoder()
    # an all-intra source (an IP camera's MJPEG-like stream, decoded): its frames say I
    packets = [encoder.encode(_frame(480, 270, n, 30, intra=True)) for n in range(10)]
    keys = [p.is_keyframe for p in packets if p is not None]
    assert keys[0] and not any(keys[1:]), keys  # only the first (and the periodic ones, after 1 s)
    asked = encoder.encode(_frame(480, 270, 10, 30), key_frame=True)
    assert asked is not None and asked.is_keyframe
