"""libopus through ctypes: decode Opus packets straight to 16 kHz mono PCM, count their samples.

Shared by the SFU's audio tap (it counts a batch's seconds and can decode for a consumer that
wants PCM) and the recognition process (transcription/worker.py decodes each microphone's
packets there, so no decoding runs in the process that forwards media). Knows nothing else.

Asking libopus for 16 kHz mono decodes natively at that rate: no 48 kHz stereo frame, no
resampler and no per-packet Python object; about half the cost of PyAV's decode-then-resample
(docs/transcription.md). ctypes releases the GIL around each call.
"""
from __future__ import annotations

import ctypes
import ctypes.util

OPUS_RATE = 48000  # the RTP clock of Opus, whatever the encoder's rate
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # what libopus decodes to natively
MAX_FRAME_S = 0.12  # the longest Opus packet


def _libopus() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus")
    if name is None:
        raise RuntimeError("libopus not found (Debian package libopus0)")
    lib = ctypes.CDLL(name)
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_void_p,
                                ctypes.c_int, ctypes.c_int]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_packet_get_nb_samples.restype = ctypes.c_int
    lib.opus_packet_get_nb_samples.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.c_int32]
    return lib


_LIB: ctypes.CDLL | None = None


def _lib() -> ctypes.CDLL:
    global _LIB
    _LIB = _LIB or _libopus()
    return _LIB


def packets_seconds(payloads: tuple[bytes, ...] | list[bytes]) -> float:
    """Audio the payloads hold, from their TOC bytes (nothing is decoded); a corrupt one counts 0."""
    lib = _lib()
    samples = (lib.opus_packet_get_nb_samples(p, len(p), OPUS_RATE) for p in payloads)
    return sum(n for n in samples if n > 0) / OPUS_RATE


class OpusDecoder:
    """One mono libopus decoder at `sample_rate`; used by one thread at a time (it keeps state)."""

    def __init__(self, sample_rate: int) -> None:
        if sample_rate not in OPUS_RATES:
            raise ValueError(f"Opus decodes to {OPUS_RATES} Hz, not {sample_rate}")
        self._lib = _lib()
        error = ctypes.c_int()
        self._state = self._lib.opus_decoder_create(sample_rate, 1, ctypes.byref(error))
        if error.value != 0 or not self._state:
            raise RuntimeError(f"opus_decoder_create failed ({error.value})")
        self._max_samples = int(sample_rate * MAX_FRAME_S)
        self._out = ctypes.create_string_buffer(self._max_samples * 2)

    def decode(self, payloads: tuple[bytes, ...] | list[bytes]) -> bytes:
        """The PCM of the payloads in order; a corrupt one is skipped."""
        room = len(payloads) * self._max_samples * 2
        if len(self._out) < room:
            self._out = ctypes.create_string_buffer(room)
        filled = 0  # bytes: each packet decodes straight after the previous one, no copy per packet
        for payload in payloads:
            samples = self._lib.opus_decode(self._state, payload, len(payload), ctypes.byref(self._out, filled),
                                            self._max_samples, 0)
            if samples > 0:
                filled += samples * 2
        return ctypes.string_at(self._out, filled)

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.opus_decoder_destroy(self._state)
            self._state = None
