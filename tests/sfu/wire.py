"""A real SRTP link on loopback for unit tests of the forwarding path: what an RtpWriter
sends goes through a UDP socket and is unprotected with the matching pylibsrtp session, so a
test sees exactly the bytes a subscriber would decrypt. No aiortc session is involved."""

from __future__ import annotations

import os
import socket

from pylibsrtp import Error, Policy, Session
from pylibsrtp._binding import ffi

from sfu._rtpwrite import RtpRoute, RtpWriter


def srtp_address(session: Session) -> int:
    return int(ffi.cast("uintptr_t", session._srtp[0]))


class Wire:
    """Sender socket + receiver socket + two SRTP sessions sharing one key."""

    def __init__(self) -> None:
        key = os.urandom(30)
        tx = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND)
        tx.allow_repeat_tx = True  # NACKs resend a sequence number
        self.tx = Session(tx)
        self._rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
        # a retransmission is a replay to the first session; a second one reads those
        self._rx_repeats = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
        self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.bind(("127.0.0.1", 0))
        self.receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.receiver.setblocking(False)
        self.sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sender.bind(("127.0.0.1", 0))
        self.received: list[bytes] = []

    def route(self, writer: RtpWriter) -> None:
        route = RtpRoute()
        route.set(self.sender.fileno(), "127.0.0.1", self.receiver.getsockname()[1],
                  srtp_address(self.tx), self.tx)
        writer.route = route

    def drain(self) -> list[bytes]:
        """Everything that arrived so far, decrypted, in arrival order."""
        while True:
            try:
                data = self.receiver.recv(2048)
            except BlockingIOError:
                return self.received
            try:
                self.received.append(self._rx.unprotect(data))
            except Error:
                self.received.append(self._rx_repeats.unprotect(data))

    def close(self) -> None:
        self.receiver.close()
        self.sender.close()


class WireSink:
    """Stands in for a DownTrack's RtpSink (which needs a connected aiortc session): routes
    the down-track's writer over a :class:`Wire`."""

    def __init__(self, wire: Wire, writer: RtpWriter) -> None:
        wire.route(writer)
        self.route = writer.route

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        self.route.clear()
