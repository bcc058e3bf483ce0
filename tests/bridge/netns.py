"""A bridge point as a separate host: a network namespace joined to this one by a veth pair.

Every name starts with ``prefix`` (`hn12`, the bridge tests; `hn13`, the weak-link tests) and
everything is removed on exit. The link is cut with
iptables DROP rules *inside* the namespace (the host's own rules are never touched).
"""
from __future__ import annotations

import os
import secrets
import subprocess
from dataclasses import dataclass, field


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def available() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    try:
        subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.CalledProcessError) as error:
        return f"ip netns does not work here: {error}"
    return None


@dataclass
class PointHost:
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: 16 + secrets.randbelow(200))
    prefix: str = "hn12"

    @property
    def namespace(self) -> str:
        return f"{self.prefix}-{self.suffix}"

    @property
    def host_if(self) -> str:
        return f"{self.prefix}h{self.suffix}"

    @property
    def inner_if(self) -> str:
        return f"{self.prefix}n{self.suffix}"

    @property
    def network(self) -> str:
        return f"10.2{self.prefix[-2:]}.{self.subnet}"  # 10.212.x for hn12, 10.213.x for hn13

    @property
    def server_address(self) -> str:
        """This host's end of the link: where the point reaches the server."""
        return f"{self.network}.1"

    def __enter__(self) -> "PointHost":
        inner = self.inner_if
        try:
            _ip("netns", "add", self.namespace)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", inner)
            _ip("link", "set", inner, "netns", self.namespace)
            _ip("addr", "add", f"{self.server_address}/30", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            _ip("-n", self.namespace, "addr", "add", f"{self.network}.2/30", "dev", inner)
            _ip("-n", self.namespace, "link", "set", inner, "up")
            _ip("-n", self.namespace, "link", "set", "lo", "up")
        except BaseException:
            self.__exit__()
            raise
        return self

    def run(self, command: list[str], **popen: object) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.namespace, *command], **popen)  # type: ignore[call-overload]

    def cut(self, cut: bool) -> None:
        """Drop (True) or let through again (False) everything the point sends and receives."""
        action = "-I" if cut else "-D"
        for chain in ("INPUT", "OUTPUT"):
            subprocess.run(["ip", "netns", "exec", self.namespace, "iptables", action, chain, *(["1"] if cut else []), "-j", "DROP"],
                           check=True, capture_output=True, timeout=20)

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True, timeout=20)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=20)  # if it outlived the namespace
