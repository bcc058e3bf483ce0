"""The transcript as files: WebVTT captions, plain text by agenda item, and JSON."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from web.captions.texts import TEXTS
from meetings.localtime import local


def _clock(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def segment_text(segment: dict[str, Any], lang: str) -> str:
    """What a segment says; a gap is worded from its reason and length."""
    if segment["kind"] != "gap":
        return segment["text"]
    key = "gap_busy" if segment["text"] == "busy" else "gap"
    seconds = f"{segment['end_s'] - segment['start_s']:.1f}"
    return TEXTS[lang][key].format(seconds=seconds.replace(".", ",") if lang == "vi" else seconds)


def item_titles(agenda: dict[str, Any], lang: str) -> dict[int | None, str]:
    titles: dict[int | None, str] = {None: TEXTS[lang]["no_item"]}
    for item in agenda["items"]:
        titles[item["id"]] = TEXTS[lang]["item"].format(n=item["position"], title=item["title"])
    return titles


def grouped(segments: list[dict[str, Any]], agenda: dict[str, Any]) -> list[tuple[int | None, list[dict[str, Any]]]]:
    """Segments by agenda item in agenda order; those outside any item first."""
    order = [None] + [item["id"] for item in agenda["items"]]
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for segment in segments:
        groups.setdefault(segment["item_id"] if segment["item_id"] in order else None, []).append(segment)
    return [(item_id, groups[item_id]) for item_id in order if item_id in groups]


def webvtt(segments: list[dict[str, Any]]) -> str:
    """Cues on meeting time, each with its speaker as a voice span."""
    lines = ["WEBVTT", ""]
    for n, segment in enumerate(s for s in segments if s["kind"] == "speech"):
        speaker = segment["speaker"].replace(">", "").replace("&", "&amp;").replace("<", "&lt;")
        text = segment["text"].replace("&", "&amp;").replace("<", "&lt;").replace("-->", "->")
        end = max(segment["end_s"], segment["start_s"] + 0.001)
        lines += [str(n + 1), f"{_clock(segment['start_s'])} --> {_clock(end)}", f"<v {speaker}>{text}", ""]
    return "\n".join(lines)


def plain_text(title: str, segments: list[dict[str, Any]], agenda: dict[str, Any], lang: str) -> str:
    titles = item_titles(agenda, lang)
    out = [title, ""]
    for item_id, rows in grouped(segments, agenda):
        out += [titles[item_id], ""]
        for segment in rows:
            at = local(datetime.fromisoformat(segment["started_at"]))
            who = "" if segment["kind"] == "gap" else f"{segment['speaker']}: "
            out.append(f"[{at:%H:%M:%S}] {who}{segment_text(segment, lang)}")
        out.append("")
    return "\n".join(out)


def as_json(meeting: dict[str, Any], segments: list[dict[str, Any]], agenda: dict[str, Any]) -> str:
    return json.dumps({"meeting": meeting, "agenda": agenda["items"], "segments": segments}, ensure_ascii=False, indent=1)
