"""Active-speaker hysteresis and loudest-N on RFC 6464 levels (0 loud … 127 silent)."""

from sfu.speaker import SpeakerDetector


def feed(d: SpeakerDetector, levels: dict[str, int], seconds: float, start: float) -> float:
    t = start
    while t < start + seconds:
        for key, level in levels.items():
            if d.add(key, level, t):
                d.evaluate(t)
        t += 0.02
    return t


def test_speaker_needs_to_be_louder_for_a_while_before_the_switch():
    d = SpeakerDetector()
    t = feed(d, {"a": 20, "b": 127}, 1.0, 0.0)
    assert d.current == "a"
    t = feed(d, {"a": 20, "b": 17}, 2.0, t)  # 3 dB louder: not enough
    assert d.current == "a"
    t = feed(d, {"a": 20, "b": 5}, 0.12, t)  # a short burst: held back
    assert d.current == "a"
    t = feed(d, {"a": 20, "b": 5}, 1.5, t)
    assert d.current == "b"
    assert d.recent == ["b", "a"]


def test_silence_keeps_the_last_speaker_and_anyone_talking_takes_over():
    d = SpeakerDetector()
    t = feed(d, {"a": 20, "b": 127}, 1.0, 0.0)
    t = feed(d, {"a": 127, "b": 127}, 2.0, t)
    assert d.current == "a"
    feed(d, {"a": 127, "b": 40}, 2.0, t)
    assert d.current == "b"


def test_loudest_always_includes_the_speaker_and_remove_forgets():
    d = SpeakerDetector()
    t = feed(d, {"a": 10, "b": 127, "c": 127}, 1.0, 0.0)
    feed(d, {"a": 127, "b": 30, "c": 35}, 0.1, t)  # not long enough to switch
    assert d.current == "a"
    assert d.loudest(1) == ["a"]
    assert set(d.loudest(2)) == {"a", "b"}
    assert d.remove("a") and d.current is None and "a" not in d.loudest(3)
