"""SDP touch-ups for servers behind NAT: announce the public address next to the host address.

aioice gathers host candidates from the machine's interfaces only. Behind a 1:1 NAT (a DMZ
host or a cloud VM's elastic address) the ports are kept, so the same port on the announced
public address reaches the same socket: we add one candidate per UDP host candidate with the
public address, at a slightly lower priority. Browsers try both; aioice answers checks that
arrive on the socket whatever address the browser used.
"""
from __future__ import annotations

import ipaddress
import socket


def resolve_public_address(address: str | None) -> str | None:
    """An IP literal as is; a host name resolved once (browsers accept no names in candidates)."""
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        pass
    infos = socket.getaddrinfo(address, None, type=socket.SOCK_DGRAM)
    return str(infos[0][4][0])


def announce_public_address(sdp: str, public_ip: str | None) -> str:
    if not public_ip:
        return sdp
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out: list[str] = []
    for line in sdp.split(newline):
        out.append(line)
        if not line.startswith("a=candidate:"):
            continue
        parts = line[len("a=candidate:"):].split()
        # foundation component transport priority address port "typ" type ...
        if len(parts) < 8 or parts[2].lower() != "udp" or parts[7] != "host" or parts[4] == public_ip:
            continue
        extra = [parts[0] + "9", parts[1], parts[2], str(max(1, int(parts[3]) - 1)), public_ip, parts[5], "typ", "host"]
        out.append("a=candidate:" + " ".join(extra))
    return newline.join(out)
