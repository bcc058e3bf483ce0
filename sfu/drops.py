"""Packets the SFU refused, by reason: what a peer or a stranger sent that could not be used.

Every malformed, oversized, forged or out-of-place packet is dropped where it is found and
counted here, never raised: one bad datagram must not end a session or stall a stream. The
counts are plain integers (the forwarding path pays one dict update per dropped packet, none
for good ones); web/ exports them as a Prometheus counter. A reason is a short fixed word,
so the label set stays small.
"""

from __future__ import annotations

import logging
from collections import Counter

DROPS: Counter[str] = Counter()
"""reason -> packets dropped since start-up (``hoinghi_sfu_dropped_packets_total``)."""

log = logging.getLogger(__name__)
_logged: set[str] = set()


def drop(reason: str) -> None:
    DROPS[reason] += 1


def drop_unexpected(reason: str, error: BaseException) -> None:
    """A packet that made SFU or aiortc code fail: counted, and logged once per reason
    (a flood of the same packet must not fill the log)."""
    DROPS[reason] += 1
    if reason not in _logged:
        _logged.add(reason)
        log.warning("dropped a packet that raised %s: %s (logged once; counted as %r)",
                    type(error).__name__, error, reason, exc_info=error)
