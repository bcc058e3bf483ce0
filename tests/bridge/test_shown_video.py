"""Which video a bridge point's screen shows full size: the speaker's camera, at its high layer."""
from __future__ import annotations

from typing import Any

from bridge.session import video_to_show


def _video(track_id: str, peer: str, layer: str = "high", source: str = "camera") -> dict[str, Any]:
    return {"track_id": track_id, "peer_id": peer, "kind": "video", "source": source, "layer": layer}


def test_the_speakers_high_layer_is_shown_even_when_its_low_layer_is_listed_first() -> None:
    tracks = [_video("b-low", "b", "low"), {"track_id": "b-mic", "peer_id": "b", "kind": "audio"},
              _video("a", "a"), _video("b-high", "b")]
    assert video_to_show(tracks, "b") == "b-high"
    assert video_to_show(tracks, None) == "a"  # nobody speaks: someone's camera, at full size


def test_a_screen_share_when_the_speaker_has_no_camera_and_a_low_layer_only_as_the_last_resort() -> None:
    assert video_to_show([_video("a-low", "a", "low"), _video("s", "c", source="screen")], "b") == "s"
    assert video_to_show([_video("a-low", "a", "low")], "a") == "a-low"
    assert video_to_show([{"track_id": "m", "peer_id": "a", "kind": "audio"}], "a") is None
