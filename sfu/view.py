"""What one subscriber sees and hears in a large meeting: a fixed set of *slots*, each a
down-track whose source the SFU switches without renegotiation.

A subscriber subscribes to pseudo track ids instead of every publisher's tracks:
:data:`ACTIVE_SPEAKER` (the speaker's camera, large), ``thumbnail-0`` … (other cameras, small,
their low layer) and ``loudest-0`` … (the loudest microphones). Its peer connection then has
the same few m-sections whether the meeting has 5 points or 120, and the SFU forwards to it
only what those slots carry: the forwarding work grows with the number of subscribers, not
with its square. Which publisher fills which slot is decided here, with two rules that keep
the picture calm: a source that stays wanted keeps its slot, and a slot changes only when a
wanted source has none.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

ACTIVE_SPEAKER = "active-speaker"
"""Pseudo track id: one video that follows the active speaker's camera (switching source
without renegotiation)."""

THUMBNAIL_PREFIX = "thumbnail-"
LOUDEST_PREFIX = "loudest-"


def thumbnail_slot(index: int) -> str:
    """Pseudo track id of the ``index``-th thumbnail: a camera other than the speaker's,
    chosen by the subscriber's pinned peers, then recent speakers, then order of joining."""
    return f"{THUMBNAIL_PREFIX}{index}"


def loudest_slot(index: int) -> str:
    """Pseudo track id of the ``index``-th loudest microphone (the speaker always among them)."""
    return f"{LOUDEST_PREFIX}{index}"


def slot_index(track_id: str) -> int:
    """The number of a thumbnail or loudest slot (0 for the speaker)."""
    return int(track_id.rsplit("-", 1)[1]) if slot_kind(track_id) in ("thumbnail", "loudest") else 0


def slot_kind(track_id: str) -> str | None:
    """'speaker', 'thumbnail' or 'loudest' for a slot id, None for a real track id."""
    if track_id == ACTIVE_SPEAKER:
        return "speaker"
    for prefix, kind in ((THUMBNAIL_PREFIX, "thumbnail"), (LOUDEST_PREFIX, "loudest")):
        if track_id.startswith(prefix) and track_id[len(prefix):].isdigit():
            return kind
    return None


def assign(current: Sequence[K | None], wanted: Sequence[K], *, keep_unwanted: bool) -> list[K | None]:
    """New holders for slots holding ``current``: every slot whose holder is still wanted
    keeps it; wanted ones without a slot take free slots, then slots of unwanted holders.
    ``wanted`` is in priority order and may be longer than the slots. With
    ``keep_unwanted`` a holder no longer wanted stays until a wanted one needs its slot
    (microphones: the last speakers stay audible); without, its slot empties."""
    slots = len(current)
    chosen = list(dict.fromkeys(wanted))[:slots]
    result: list[K | None] = [h if h in chosen else None for h in current]
    if keep_unwanted:
        result = [h if h is not None else c for h, c in zip(result, current)]
        reserved = [h for h in result if h is not None and h not in chosen]  # may give way
    missing = [k for k in chosen if k not in result]
    for key in missing:
        if None in result:
            result[result.index(None)] = key
        elif keep_unwanted:
            result[result.index(reserved.pop(0))] = key
    return result
