"""Health figures of a session from aiortc's getStats(): bitrates, loss, round-trip time, frame rate."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass
class HealthMeter:
    """Turns the cumulative counters of getStats() into rates between two reports."""

    _last_at: float = field(default_factory=time.monotonic)
    _last: dict[str, float] = field(default_factory=dict)

    def _delta(self, key: str, value: float) -> float:
        previous = self._last.get(key, value)
        self._last[key] = value
        return max(0.0, value - previous)

    def figures(self, reports: Iterable[Any], frames: int, media: bool) -> dict[str, Any]:
        """The `point_health` payload (docs/protocol.md) from the reports of both connections.

        Loss is the worse of what we lose on the way in (inbound packetsLost) and what the
        SFU reports losing of ours (remote-inbound fractionLost); RTT comes from the latter.
        """
        now = time.monotonic()
        seconds = max(0.001, now - self._last_at)
        self._last_at = now
        sent = received = got = lost = 0.0
        remote_loss: list[float] = []
        rtts: list[float] = []
        for report in reports:
            for stat in report.values():
                kind = getattr(stat, "type", "")
                if kind == "transport":  # aiortc counts bytes per transport, not per stream
                    sent += self._delta(f"out:{stat.id}", stat.bytesSent)
                    received += self._delta(f"in:{stat.id}", stat.bytesReceived)
                elif kind == "inbound-rtp":
                    got += self._delta(f"got:{stat.id}", stat.packetsReceived)
                    lost += self._delta(f"lost:{stat.id}", max(0, stat.packetsLost))
                elif kind == "remote-inbound-rtp":
                    if stat.roundTripTime:
                        rtts.append(stat.roundTripTime * 1000)
                    remote_loss.append(stat.fractionLost * 100)
        loss_in = 100 * lost / (got + lost) if got + lost else 0.0
        return {
            "client": "agent", "media": media,
            "bitrate_in_kbps": round(received * 8 / 1000 / seconds, 1),
            "bitrate_out_kbps": round(sent * 8 / 1000 / seconds, 1),
            "loss_pct": round(min(100.0, max([loss_in, *remote_loss])), 1),
            "rtt_ms": round(max(rtts), 1) if rtts else 0.0,
            "fps": round(min(240.0, frames / seconds), 1),
        }
