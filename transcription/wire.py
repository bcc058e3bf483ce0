"""The messages between the media server and its recognition process (transcription/worker.py).

Each message is a tuple, pickled, behind a 4-byte big-endian length, over the child's stdin
(server -> worker) and stdout (worker -> server). Both ends are this package's code, started
by the server itself, so pickle carries the results' dataclasses as they are.

Server -> worker: ("pcm", source, pcm, seconds, time_s), ("opus", source, payloads, seconds,
time_s), ("free", source) (finish its utterance and free its recogniser), ("forget", source).
Worker -> server: ("ready", workers), ("heard", source, Heard), ("freed", source, Utterance |
None), ("behind", source, time_s, seconds), ("failed", source), each with the worker's libvosk
CPU seconds so far as its last element (but "ready").
"""
from __future__ import annotations

import pickle
import struct
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # far above any message (a 100 ms batch is ~1 kB): a larger length is a broken stream


class BrokenStream(Exception):
    """The other end sent something that is not a frame of this protocol."""


def frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def frame_length(header: bytes) -> int:
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise BrokenStream(f"frame of {length} bytes announced (at most {MAX_FRAME})")
    return length


def message(body: bytes) -> tuple[Any, ...]:
    loaded = pickle.loads(body)
    if not isinstance(loaded, tuple) or not loaded or not isinstance(loaded[0], str):
        raise BrokenStream(f"not a message: {type(loaded).__name__}")
    return loaded


def read_message(stream: BinaryIO) -> tuple[Any, ...] | None:
    """The next message of a blocking stream; None at its end."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length = frame_length(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return message(body)
