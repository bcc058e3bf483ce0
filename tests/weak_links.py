"""A host on a weak link, for the network tests (marker netns): a namespace joined by veth
(tests/bridge/netns.py, names starting with `hn13`), with the faults this kernel can make.

There is no netem here: random loss is an iptables `statistic` rule inside the namespace,
a bandwidth cap a `tbf` qdisc on one end of the veth pair (egress only: on the namespace's
end it caps what the host sends, its uplink; on the host's end what it receives, its
downlink). Everything lives on the pair and in the namespace and goes with them.
"""
from __future__ import annotations

import subprocess
from typing import Iterator

import pytest

from tests.bridge.netns import PointHost, available

__all__ = ["WeakHost", "available", "weak_host"]


def _run(*command: str) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=20).stdout


class WeakHost(PointHost):
    def __init__(self) -> None:
        super().__init__(prefix="hn13")

    def _in(self, *command: str) -> str:
        return _run("ip", "netns", "exec", self.namespace, *command)

    def lose(self, probability: float) -> None:
        """Drop this share of the UDP the host sends and receives, at random."""
        for chain in ("INPUT", "OUTPUT"):
            self._in("iptables", "-A", chain, "-p", "udp", "-m", "statistic", "--mode", "random",
                     "--probability", str(probability), "-j", "DROP")

    def cap_uplink(self, kbit: int) -> None:
        self._in("tc", "qdisc", "replace", "dev", self.inner_if, "root", "tbf", "rate", f"{kbit}kbit",
                 "burst", "32kbit", "latency", "300ms")

    def cap_downlink(self, kbit: int) -> None:
        _run("tc", "qdisc", "replace", "dev", self.host_if, "root", "tbf", "rate", f"{kbit}kbit",
             "burst", "32kbit", "latency", "300ms")

    def lift_downlink(self) -> None:
        _run("tc", "qdisc", "del", "dev", self.host_if, "root")

    def uplink_drops(self) -> int:
        """Packets the uplink's cap has dropped so far."""
        out = self._in("tc", "-s", "qdisc", "show", "dev", self.inner_if)
        words = out.replace("(", " ").replace(",", " ").split()
        return int(words[words.index("dropped") + 1])


@pytest.fixture
def weak_host() -> Iterator[WeakHost]:
    """A WeakHost for the test, removed after it; skipped where namespaces cannot be made."""
    reason = available()
    if reason:
        pytest.skip(reason)
    with WeakHost() as host:
        yield host
