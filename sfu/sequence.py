"""Which packets of a published track belong to its stream (RFC 3550, appendix A.1).

A publisher's track is one RTP stream: one SSRC, sequence numbers that advance by one. A
packet far from that stream (another SSRC on the track's payload type, a sequence number
thousands away, an RTX repair of a packet the stream never had) is either garbage or the
first packet of a restarted stream. Forwarding it as it is would move every subscriber's
stream there: the SFU's writers would take it as their newest packet and the subscribers'
SRTP replay windows would then refuse the real stream for thousands of packets. So such a
packet is held on probation: it is dropped, and only when the next packet follows it in
sequence (same SSRC, number + 1) does the track restart on the new stream, every
down-track resynchronising (new offsets, next key frame) instead of being gated.
"""

from __future__ import annotations

from enum import Enum

MAX_DROPOUT = 3000  # packets ahead still taken as the same stream (RFC 3550 A.1)
MAX_MISORDER = 100  # packets behind still taken as reordered (RFC 3550 A.1)


class Verdict(Enum):
    ACCEPT = "accept"
    DROP = "drop"
    RESTART = "restart"  # a new stream begins with this packet: resynchronise, then accept


class StreamSequence:
    """The stream one published track currently carries, and the candidate replacing it."""

    __slots__ = ("ssrc", "max_seq", "_candidate")

    def __init__(self, ssrc: int | None = None) -> None:
        """``ssrc``: the one the offer announced, if it did (a stray packet then cannot
        become the stream by arriving first)."""
        self.ssrc = ssrc
        self.max_seq: int | None = None
        self._candidate: tuple[int, int] | None = None  # (SSRC, expected next sequence)

    def check(self, ssrc: int, seq: int) -> Verdict:
        if self.max_seq is None and self.ssrc in (None, ssrc):
            self.ssrc, self.max_seq = ssrc, seq
            return Verdict.ACCEPT
        if ssrc == self.ssrc and self.max_seq is not None:
            delta = (seq - self.max_seq) & 0xFFFF
            if delta < MAX_DROPOUT:
                self.max_seq = seq
                return Verdict.ACCEPT
            if delta >= 0x10000 - MAX_MISORDER:  # a little late: reordered on the way
                return Verdict.ACCEPT
        if self._candidate == (ssrc, seq):
            self.ssrc, self.max_seq, self._candidate = ssrc, seq, None
            return Verdict.RESTART
        self._candidate = (ssrc, (seq + 1) & 0xFFFF)
        return Verdict.DROP

    def recent(self, seq: int, window: int) -> bool:
        """Whether ``seq`` is one of the stream's last ``window`` packets (an RTX repair
        can only be of those: older ones are out of every history)."""
        return self.max_seq is not None and ((self.max_seq - seq) & 0xFFFF) < window
