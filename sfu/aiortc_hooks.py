"""Every use of aiortc (and aioice) internals, in one place. Pinned: aiortc ~= 1.16.0.

aiortc has no public API for forwarding encoded media packet by packet, so the SFU takes over
these private points (measured in docs/sfu.md, "Design" and "Benchmark"):

* **Receive.** A publisher session's ``RTCDtlsTransport._handle_rtp_data(data, arrival_ms)``
  sees each RTP packet right after SRTP decryption; once ICE has nominated a pair, the pair's
  ``StunProtocol.datagram_received`` is wrapped so that SRTP packets are decrypted
  (``RTCDtlsTransport._rx_srtp``) and handled in the socket callback itself. The SFU does the
  part of ``RTCRtpReceiver._handle_rtp_packet`` the publisher still needs (receive statistics
  for receiver reports, the REMB estimate, NACK generation) through the receiver's
  name-mangled fields, skipping depayloading, the jitter buffer and the decoder.
* **Send.** A subscriber session's packets are rewritten, protected with the DTLS transport's
  SRTP session (pylibsrtp's ``Session._srtp`` context, its ``srtp_protect`` function) and
  written to the nominated ICE pair's socket (aioice ``Connection._nominated``, asyncio's
  ``_sock``) by sfu/_rtpwrite.c, synchronously: one C call per packet fans it out to every
  steady subscriber without a task or an await each. One :class:`RtpSink` (one duplicated
  descriptor) per session and transport, shared by all its streams.
* **Sender reports.** The SFU keeps aiortc's RTP loop idle with :class:`SilentTrack`, writes
  the SR fields (NTP/RTP time from the publisher's SR, counts from the forwarding path), and
  replaces each sender's ``_run_rtcp`` (:class:`SenderReports`): one compound SR/SDES packet
  per subscriber session and interval, BYE on stop.
* **Subscriber RTCP.** ``RTCRtpSender._handle_rtcp_packet`` is replaced on the instance: PLI,
  FIR and NACK go to the SFU, receiver reports and REMB still reach aiortc for its statistics.
* **Publisher RTCP.** ``RTCRtpReceiver._handle_rtcp_packet`` is wrapped to see the publisher's
  sender reports; PLIs go out through ``RTCRtpReceiver._send_rtcp_pli``.
* **Negotiated parameters.** ``RTCRtpTransceiver._codecs`` / ``._headerExtensions``.
* **Guards.** aiortc and aioice let some hostile datagrams raise out of their receive loops:
  pylibsrtp's ``ValueError("packet is too long")`` for a datagram over 1,500 bytes (aiortc
  catches only ``pylibsrtp.Error``; anyone who can reach the ICE port can send one), a REMB
  claiming more SSRCs than it carries (``struct.error`` out of ``RtpRouter.route_rtcp``), a
  STUN attribute too short for its type (``struct.error`` out of aioice's
  ``StunProtocol.datagram_received``). Any of the first two ends the DTLS transport, so the
  session. :func:`install_guards` wraps ``RTCDtlsTransport._setup_srtp`` (the receive SRTP
  session becomes a :class:`GuardedSrtp`), ``_handle_rtcp_data``, ``_handle_rtp_data`` and
  ``StunProtocol.datagram_received`` for the whole process: what cannot be parsed or handled
  is dropped and counted in :data:`sfu.drops.DROPS`. :func:`guards_hold` probes them with
  such packets.
* **UDP port range.** aioice binds every host candidate to port 0
  (``Connection.get_component_candidates`` → ``loop.create_datagram_endpoint(local_addr=
  (address, 0))``) and offers no option. :func:`udp_port_range` wraps the running loop's
  ``create_datagram_endpoint`` so that, inside the context it opens, such binds take a port of
  the configured range; elsewhere (test peers, other code) nothing changes.

:func:`check_compatibility` probes all of these on real objects and raises
:class:`AiortcIncompatible` naming what moved; :class:`sfu.Sfu` calls it on construction and
``tests/sfu/test_aiortc_hooks.py`` runs it, so an aiortc upgrade fails loudly, not silently.
"""

from __future__ import annotations

import asyncio
import logging
import errno
import random
import struct
import time
import concurrent.futures
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import (
    RtcpPacket,
    RtpPacket,
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)
from aiortc.clock import current_ms
from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session
from pylibsrtp._binding import ffi as _ffi
from pylibsrtp._binding import lib as _srtp

from aioice.ice import StunProtocol

from . import _rtpwrite
from ._rtpwrite import RtpRoute
from .drops import drop, drop_unexpected
from .packet import RtpView

RtpHandler = Callable[[bytes, int], None]

log = logging.getLogger(__name__)
_UDP_PORTS: ContextVar[range | None] = ContextVar("sfu_udp_ports", default=None)


class AiortcIncompatible(RuntimeError):
    """The installed aiortc no longer has an internal the SFU relies on."""


class SilentTrack(MediaStreamTrack):
    """Keeps an ``RTCRtpSender`` busy doing nothing: ``recv()`` never returns.

    With no track the sender's RTP loop wakes every 20 ms; with this one it waits forever and
    the SFU writes packets to the transport itself. The track id becomes the ``msid`` track id
    in the SFU's offer, so the subscriber can tell which published track a transceiver carries.
    """

    def __init__(self, kind: str, track_id: str) -> None:
        super().__init__()
        self.kind = kind
        self._id = track_id
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def recv(self) -> Any:
        await asyncio.shield(self._never)
        raise AssertionError("unreachable")


# --- publisher side -------------------------------------------------------------------------

def intercept_rtp(dtls: RTCDtlsTransport, handler: RtpHandler) -> None:
    """Route every decrypted RTP packet arriving on ``dtls`` to
    ``handler(data, arrival_time_ms)``, synchronously, instead of aiortc's parser, router and
    receivers.

    aiortc hands each datagram through aioice's STUN parse attempt (an exception per media
    packet), a queue and the DTLS transport's task before decrypting it. Once ICE has
    nominated a pair, SRTP packets are taken straight from that pair's socket callback:
    decrypted and handled in the same event-loop step, one hop and one task wake-up fewer
    per packet. STUN, DTLS and RTCP keep aiortc's path; so does RTP that arrives before the
    shortcut is in place (the first packets)."""
    shortcut_pair: Any = None

    def install() -> None:
        nonlocal shortcut_pair
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair is shortcut_pair:
            return
        shortcut_pair = pair
        protocol = pair.protocol
        original = protocol.datagram_received

        def datagram_received(data: bytes, addr: Any) -> None:
            # RTP (not RTCP: payload types 192-223 in the second byte) on a keyed session
            srtp = dtls._rx_srtp
            if (len(data) > 12 and 127 < data[0] < 192 and not 191 < data[1] < 224
                    and srtp is not None and dtls._state is State.CONNECTED):
                try:
                    plain = srtp.unprotect(data)
                except SrtpError:  # not for this session, replayed, forged (counted)
                    return
                try:
                    handler(plain, current_ms())
                except Exception as error:
                    drop_unexpected("rtp_unhandled", error)
            else:
                original(data, addr)

        protocol.datagram_received = datagram_received

    async def slow_path(data: bytes, arrival_time_ms: int) -> None:
        try:
            handler(data, arrival_time_ms)
        except Exception as error:
            drop_unexpected("rtp_unhandled", error)
        install()

    dtls._handle_rtp_data = slow_path  # type: ignore[method-assign]


class ReceiverFeed:
    """What a publisher's ``RTCRtpReceiver`` must still do for its publisher, per packet."""

    __slots__ = ("_receiver", "_stats", "_nack", "_remb")

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        self._receiver = receiver
        self._stats: dict[int, StreamStatistics] = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
        self._nack = receiver._RTCRtpReceiver__nack_generator  # type: ignore[attr-defined]
        self._remb = receiver._RTCRtpReceiver__remote_bitrate_estimator  # type: ignore[attr-defined]

    def codecs(self) -> dict[int, RTCRtpCodecParameters]:
        """Payload type -> negotiated codec (filled once the receiver has started)."""
        return self._receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]

    def rtx_ssrcs(self) -> dict[int, int]:
        """RTX SSRC -> media SSRC, from the publisher's ``ssrc-group:FID``."""
        return self._receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]

    def feed(self, view: RtpView, clock_rate: int, arrival_ms: int) -> list[bytes]:
        """Receive statistics (for the receiver reports), REMB and NACKs for ``view``;
        returns the RTCP packets to send the publisher now (REMB, NACK), usually none."""
        stats = self._stats.get(view.ssrc)
        if stats is None:
            stats = self._stats[view.ssrc] = StreamStatistics(clock_rate)
        stats.add(view)  # type: ignore[arg-type]
        feedback: list[bytes] = []
        rtcp_ssrc = self._receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
        if self._remb is not None and view.abs_send_time is not None:
            remb = self._remb.add(
                abs_send_time=int.from_bytes(view.abs_send_time, "big"),
                arrival_time_ms=arrival_ms,
                payload_size=len(view.data) - view.payload_offset,
                ssrc=view.ssrc,
            )
            if remb is not None and rtcp_ssrc is not None:
                feedback.append(bytes(RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb))))
        if self._nack is not None and self._nack.add(view) and rtcp_ssrc is not None:
            feedback.append(bytes(RtcpRtpfbPacket(
                fmt=RTCP_RTPFB_NACK, ssrc=rtcp_ssrc, media_ssrc=view.ssrc,
                lost=sorted(self._nack.missing))))
        return feedback

    def count_retransmission(self, view: RtpView, clock_rate: int) -> None:
        """Statistics for a packet that came on the RTX SSRC (RFC 3550 counts it there)."""
        stats = self._stats.get(view.ssrc)
        if stats is None:
            stats = self._stats[view.ssrc] = StreamStatistics(clock_rate)
        stats.add(view)  # type: ignore[arg-type]

    def repaired(self, sequence_number: int) -> None:
        """Tell the NACK generator a lost packet arrived (as RTX) so it stops asking."""
        if self._nack is not None:
            self._nack.missing.discard(sequence_number)

    def pli(self, media_ssrc: int) -> bytes | None:
        """An RTCP PLI for ``media_ssrc`` from this receiver (None before negotiation)."""
        rtcp_ssrc = self._receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
        if rtcp_ssrc is None:
            return None
        return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=rtcp_ssrc, media_ssrc=media_ssrc))


def on_sender_report(receiver: RTCRtpReceiver,
                     handler: Callable[[int, int, int], None]) -> None:
    """Call ``handler(ssrc, ntp_timestamp, rtp_timestamp)`` for each SR the publisher sends
    (aiortc still records it for its own receiver reports)."""
    original = receiver._handle_rtcp_packet

    async def handle(packet: Any) -> None:
        await original(packet)
        if isinstance(packet, RtcpSrPacket):
            info = packet.sender_info
            handler(packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)

    receiver._handle_rtcp_packet = handle  # type: ignore[method-assign]


# --- subscriber side ------------------------------------------------------------------------

class RtpSink:
    """A session's own way out, past aiortc's sender: RTP through the :class:`RtpRoute` its
    streams' writers share (sfu/_rtpwrite.c: rewrite, SRTP-protect in place, ``sendto``, all
    in C), RTCP protected here; both straight to the nominated ICE pair's socket,
    synchronously. One sink per session and DTLS transport, whatever the number of streams:
    the route holds the session's one duplicated descriptor.

    No task or await per packet and subscriber: one event-loop step fans a packet out to every
    subscriber. :meth:`ready` (re)binds the route whenever aioice's pair or aiortc's session
    changes, and the route is cleared as soon as DTLS leaves the connected state, so a writer
    left in a fan-out group drops packets instead of sending on a stale route.
    """

    __slots__ = ("_dtls", "_nominated", "_pair", "_session", "_sendto", "_addr", "route")

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._nominated = dtls.transport._connection._nominated
        self._pair: Any = None
        self._session: Any = None
        self._sendto: Callable[[Any, Any], int] | None = None
        self._addr: Any = None
        self.route = RtpRoute()
        dtls.on("statechange", self._on_state)

    def ready(self) -> bool:
        """Whether the session can send now; binds :attr:`writer` to its current route."""
        if self._dtls._state is not State.CONNECTED:
            return False
        pair = self._nominated.get(1)
        session = self._dtls._tx_srtp
        if pair is not self._pair or session is not self._session:
            self._bind(pair, session)
        return self._sendto is not None

    def _bind(self, pair: Any, session: Any) -> None:
        self._pair, self._session = pair, session
        sock = getattr(pair.protocol.transport, "_sock", None) if pair is not None else None
        self._sendto = self._addr = None
        self.route.clear()
        if sock is None or session is None:
            return
        host, port = pair.remote_addr[:2]
        try:
            self.route.set(sock.fileno(), host.split("%")[0], port,
                                  int(_ffi.cast("uintptr_t", session._srtp[0])), session)
        except (OSError, ValueError) as error:
            log.warning("cannot send to %s:%s: %s", host, port, error)
            return
        self._sendto, self._addr = sock.sendto, pair.remote_addr

    def _on_state(self) -> None:
        if self._dtls._state is not State.CONNECTED:
            self.close()

    def close(self) -> None:
        """Release the route (the session's descriptor and SRTP session) now."""
        self._pair = self._session = self._sendto = self._addr = None
        self.route.clear()

    def send_rtcp(self, data: bytes) -> bool:
        if not self.ready():
            return False
        try:
            self._sendto(self._dtls._tx_srtp.protect_rtcp(data), self._addr)  # type: ignore[misc]
        except OSError:  # EAGAIN (buffer full), or the socket closed under us
            return False
        return True


def _install_srtp_protect() -> None:
    """Hand pylibsrtp's ``srtp_protect`` to the C writer, after checking its C signature
    (libsrtp 3 changed it): a mismatch would corrupt memory, so it must fail here."""
    function = _ffi.addressof(_srtp, "srtp_protect")
    found = _ffi.getctype(_ffi.typeof(function))
    if found != _SRTP_PROTECT_TYPE:
        raise AiortcIncompatible(f"pylibsrtp's srtp_protect is {found!r}, "
                                 f"sfu/_rtpwrite.c expects {_SRTP_PROTECT_TYPE!r}")
    _rtpwrite.set_protect(int(_ffi.cast("uintptr_t", function)))


_SRTP_PROTECT_TYPE = "srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)"
_install_srtp_protect()


class SenderAccess:
    """A subscriber-side ``RTCRtpSender`` seen by the SFU: its SSRC, whether aiortc started
    it, its RTCP, and the fields of the sender reports aiortc keeps sending."""

    __slots__ = ("_sender",)

    def __init__(self, sender: RTCRtpSender) -> None:
        self._sender = sender

    @property
    def ssrc(self) -> int:
        return self._sender._ssrc

    @property
    def started(self) -> bool:
        return self._sender._RTCRtpSender__started  # type: ignore[attr-defined]

    def set_stream_id(self, stream_id: str) -> None:
        """The ``msid`` stream id in the SFU's offer (same id: the browser syncs A/V)."""
        self._sender._stream_id = stream_id

    def set_report(self, ntp_timestamp: int, rtp_timestamp: int, packets: int,
                   octets: int) -> None:
        s = self._sender
        s._RTCRtpSender__ntp_timestamp = ntp_timestamp  # type: ignore[attr-defined]
        s._RTCRtpSender__rtp_timestamp = rtp_timestamp  # type: ignore[attr-defined]
        s._RTCRtpSender__packet_count = packets  # type: ignore[attr-defined]
        s._RTCRtpSender__octet_count = octets  # type: ignore[attr-defined]

    def on_feedback(self, keyframe: Callable[[], None],
                    nack: Callable[[list[int]], None],
                    loss: Callable[[float], None] | None = None,
                    remb: Callable[[int], None] | None = None) -> None:
        """PLI/FIR -> ``keyframe()``, generic NACK -> ``nack(lost)``; the rest to aiortc,
        after ``loss(fraction)`` for this sender's receiver-report block and
        ``remb(bitrate)`` for a REMB naming this sender first (once per REMB per session)."""
        sender = self._sender
        original = sender._handle_rtcp_packet

        async def handle(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
                keyframe()
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                nack(packet.lost)
            else:
                if loss is not None and isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
                    for block in packet.reports:
                        if block.ssrc == sender._ssrc:
                            loss(block.fraction_lost / 256)
                elif (remb is not None and isinstance(packet, RtcpPsfbPacket)
                      and packet.fmt == RTCP_PSFB_APP):
                    try:
                        bitrate, ssrcs = unpack_remb_fci(packet.fci)
                    except (ValueError, struct.error):
                        bitrate, ssrcs = 0, []
                    if ssrcs and ssrcs[0] == sender._ssrc:
                        remb(bitrate)
                await original(packet)

        sender._handle_rtcp_packet = handle  # type: ignore[method-assign]


class SenderReports:
    """The RTCP a subscriber session's senders owe their receiver, as one compound packet per
    interval (an SR per sender, one SDES with every CNAME) instead of aiortc's one packet per
    sender: a subscriber of twenty bridge points' audio and video gets one datagram a second,
    not forty, and the SFU pays one SRTCP protect and one ``sendto`` for them.

    :meth:`adopt` replaces the sender's ``_run_rtcp`` before aiortc starts it; the
    replacement keeps aiortc's start/stop handshake (its events) and still sends the BYE
    when the sender stops. The fields aiortc uses to compute the round-trip time from
    receiver reports (last SR and when it was sent) are kept up to date.
    """

    def __init__(self, sink_of: Callable[[RTCDtlsTransport], RtpSink]) -> None:
        """``sink_of``: the session's sink for a transport (reports share the media's route)."""
        self._senders: dict[RTCRtpSender, Callable[[], None]] = {}
        self._sink_of = sink_of
        self._sink: RtpSink | None = None
        self._task: asyncio.Task[None] | None = None

    def adopt(self, sender: RTCRtpSender, refresh: Callable[[], None]) -> None:
        """Report for ``sender`` from its start to its stop; ``refresh()`` runs before each
        report (it fills the SR fields, see :meth:`SenderAccess.set_report`)."""

        async def run_rtcp() -> None:
            sender._RTCRtpSender__rtcp_started.set()  # type: ignore[attr-defined]
            self._senders[sender] = refresh
            if self._sink is None:
                self._sink = self._sink_of(sender.transport)
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._run())
            try:
                await asyncio.get_running_loop().create_future()  # until stop() cancels
            except asyncio.CancelledError:
                pass
            finally:
                self._senders.pop(sender, None)
            await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
            sender._RTCRtpSender__rtcp_exited.set()  # type: ignore[attr-defined]

        sender._run_rtcp = run_rtcp  # type: ignore[method-assign]

    async def _run(self) -> None:
        while self._senders:
            # RFC 3550: vary the interval over [0.5, 1.5] times its nominal value (1 s)
            await asyncio.sleep(0.5 + random.random())
            if self._senders and self._sink is not None:
                self._sink.send_rtcp(self._compound())

    def _compound(self) -> bytes:
        reports, chunks = [], []
        now = time.time()
        for sender, refresh in list(self._senders.items()):
            refresh()
            ntp = sender._RTCRtpSender__ntp_timestamp  # type: ignore[attr-defined]
            reports.append(bytes(RtcpSrPacket(ssrc=sender._ssrc, sender_info=RtcpSenderInfo(
                ntp_timestamp=ntp,
                rtp_timestamp=sender._RTCRtpSender__rtp_timestamp,  # type: ignore[attr-defined]
                packet_count=sender._RTCRtpSender__packet_count & 0xFFFFFFFF,  # type: ignore[attr-defined]
                octet_count=sender._RTCRtpSender__octet_count & 0xFFFFFFFF))))  # type: ignore[attr-defined]
            sender._RTCRtpSender__lsr = (ntp >> 16) & 0xFFFFFFFF  # type: ignore[attr-defined]
            sender._RTCRtpSender__lsr_time = now  # type: ignore[attr-defined]
            cname = sender._RTCRtpSender__cname  # type: ignore[attr-defined]
            if cname is not None:
                chunks.append(RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode())]))
        sdes = bytes(RtcpSdesPacket(chunks=chunks)) if chunks else b""
        return b"".join(reports) + sdes

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


def restrict_codecs(transceiver: RTCRtpTransceiver, mime_types: list[str]) -> str | None:
    """Keep only the first of ``mime_types`` the remote offered (and its RTX) in the answer,
    so a publisher sends exactly one codec and subscribers can be offered that one. Must run
    between ``setRemoteDescription(offer)`` and ``createAnswer()``: aiortc has chosen the
    common codecs by then and ``setCodecPreferences`` would only apply to the next offer.
    Returns the chosen MIME type, None if none was offered."""
    codecs = transceiver._codecs
    for wanted in mime_types:
        primary = next((c for c in codecs if c.mimeType.lower() == wanted.lower()), None)
        if primary is not None:
            transceiver._codecs = [primary] + [
                c for c in codecs
                if c.mimeType.lower().endswith("/rtx")
                and c.parameters.get("apt") == primary.payloadType]
            return primary.mimeType
    return None


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    return list(transceiver._codecs)


def negotiated_extensions(transceiver: RTCRtpTransceiver) -> dict[str, int]:
    """Header-extension URI -> id as negotiated for this transceiver."""
    return {ext.uri: ext.id for ext in transceiver._headerExtensions}


def check_compatibility() -> None:
    """Probe every internal above on freshly made aiortc objects; raise if one is missing."""
    missing: list[str] = []

    def need(obj: object, name: str) -> None:
        if not hasattr(obj, name):
            missing.append(f"{type(obj).__name__}.{name}")

    async def probe() -> None:
        pc = RTCPeerConnection()
        try:
            transceiver = pc.addTransceiver("video", direction="sendrecv")
            receiver, sender = transceiver.receiver, transceiver.sender
            dtls = receiver.transport
            for name in ("_RTCRtpReceiver__remote_streams", "_RTCRtpReceiver__nack_generator",
                         "_RTCRtpReceiver__remote_bitrate_estimator", "_RTCRtpReceiver__codecs",
                         "_RTCRtpReceiver__rtx_ssrc", "_RTCRtpReceiver__rtcp_ssrc",
                         "_handle_rtcp_packet", "_send_rtcp_pli"):
                need(receiver, name)
            for name in ("_ssrc", "_stream_id", "_RTCRtpSender__started",
                         "_RTCRtpSender__ntp_timestamp", "_RTCRtpSender__rtp_timestamp",
                         "_RTCRtpSender__packet_count", "_RTCRtpSender__octet_count",
                         "_handle_rtcp_packet", "_run_rtcp", "_send_rtcp",
                         "_RTCRtpSender__rtcp_started", "_RTCRtpSender__rtcp_exited",
                         "_RTCRtpSender__cname", "_RTCRtpSender__lsr",
                         "_RTCRtpSender__lsr_time"):
                need(sender, name)
            for name in ("_handle_rtp_data", "_state", "_tx_srtp", "_rx_srtp", "transport",
                         "_rtp_router", "_rtp_header_extensions_map"):
                need(dtls, name)
            need(dtls.transport, "_connection")
            need(dtls.transport._connection, "_nominated")
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
            need(transport, "_sock")
            transport.close()
            session = Session(Policy(key=bytes(30), ssrc_type=Policy.SSRC_ANY_OUTBOUND))
            need(session, "_srtp")
            for name in ("_codecs", "_headerExtensions"):
                need(transceiver, name)
            nack = receiver._RTCRtpReceiver__nack_generator  # type: ignore[attr-defined]
            for name in ("add", "missing"):
                need(nack, name)
        finally:
            await pc.close()

    _run_probe(probe)
    for owner, names in ((RTCDtlsTransport, ("_setup_srtp", "_handle_rtcp_data")),
                         (StunProtocol, ("datagram_received",))):
        for name in names:
            if not hasattr(owner, name):
                missing.append(f"{owner.__name__}.{name}")
    if missing:
        raise AiortcIncompatible("aiortc internals used by sfu/ are missing: "
                                 + ", ".join(missing))


# --- guards against hostile datagrams -------------------------------------------------------

MAX_SRTP_DATAGRAM = 1500 - 144
"""pylibsrtp copies every packet into a 1,500-byte buffer (less the trailer it may add) and
raises ValueError beyond; no WebRTC peer sends datagrams that large (path MTU)."""


class GuardedSrtp:
    """A receive SRTP session that refuses instead of raising anything but ``SrtpError``
    (the one error aiortc's receive loop catches), counting what it refuses."""

    __slots__ = ("session",)

    def __init__(self, session: Session) -> None:
        self.session = session

    def unprotect(self, data: bytes) -> bytes:
        if len(data) > MAX_SRTP_DATAGRAM:
            drop("srtp_too_long")
            raise SrtpError("packet is too long")
        try:
            return self.session.unprotect(data)
        except SrtpError:
            drop("srtp_rejected")
            raise

    def unprotect_rtcp(self, data: bytes) -> bytes:
        if len(data) > MAX_SRTP_DATAGRAM:
            drop("srtcp_too_long")
            raise SrtpError("packet is too long")
        try:
            return self.session.unprotect_rtcp(data)
        except SrtpError:
            drop("srtcp_rejected")
            raise

    def __getattr__(self, name: str) -> Any:  # add_stream, remove_stream, protect...
        return getattr(self.session, name)


async def _guarded_rtcp_data(self: RTCDtlsTransport, data: bytes) -> None:
    """aiortc's ``_handle_rtcp_data`` where no compound packet, route or handler can raise."""
    try:
        packets = RtcpPacket.parse(data)
    except Exception:  # ValueError, struct.error, IndexError: malformed from the peer
        drop("rtcp_malformed")
        return
    for packet in packets:
        try:
            recipients = self._rtp_router.route_rtcp(packet)
        except Exception:  # struct.error: a REMB claiming more SSRCs than it carries
            drop("rtcp_malformed")
            continue
        for recipient in recipients:
            try:
                await recipient._handle_rtcp_packet(packet)
            except Exception as error:
                drop_unexpected("rtcp_unhandled", error)


async def _guarded_rtp_data(self: RTCDtlsTransport, data: bytes, arrival_time_ms: int) -> None:
    """aiortc's ``_handle_rtp_data`` (sessions the SFU does not intercept) likewise."""
    try:
        packet = RtpPacket.parse(data, self._rtp_header_extensions_map)
    except Exception:
        drop("rtp_malformed")
        return
    try:
        receiver = self._rtp_router.route_rtp(packet)
        if receiver is not None:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)
    except Exception as error:
        drop_unexpected("rtp_unhandled", error)


_original_setup_srtp = RTCDtlsTransport._setup_srtp
_original_stun_datagram = StunProtocol.datagram_received


def _guarded_setup_srtp(self: RTCDtlsTransport) -> None:
    _original_setup_srtp(self)
    if self._rx_srtp is not None and not isinstance(self._rx_srtp, GuardedSrtp):
        self._rx_srtp = GuardedSrtp(self._rx_srtp)


def _guarded_stun_datagram(self: StunProtocol, data: bytes, addr: Any) -> None:
    try:
        _original_stun_datagram(self, data, addr)
    except Exception:  # a STUN attribute shorter than its type needs, from anyone
        drop("stun_malformed")


def install_guards() -> None:
    """Install the guards above for the whole process (idempotent)."""
    RTCDtlsTransport._setup_srtp = _guarded_setup_srtp  # type: ignore[method-assign]
    RTCDtlsTransport._handle_rtcp_data = _guarded_rtcp_data  # type: ignore[method-assign]
    RTCDtlsTransport._handle_rtp_data = _guarded_rtp_data  # type: ignore[method-assign]
    StunProtocol.datagram_received = _guarded_stun_datagram  # type: ignore[method-assign]


HOSTILE_REMB = bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0,
                                    fci=b"REMB" + bytes([9, 0, 0, 1])))
"""A REMB whose FCI claims nine SSRCs and carries none."""


def guards_hold() -> list[str]:
    """Feed each guarded entry point a packet that raised in aiortc 1.16 / aioice; return
    the entry points that still let an exception out (empty: the guards hold)."""
    failures: list[str] = []

    async def probe() -> None:
        pc = RTCPeerConnection()
        try:
            dtls = pc.addTransceiver("video").receiver.transport
            for name, call in (
                ("RTCDtlsTransport._handle_rtcp_data", dtls._handle_rtcp_data(HOSTILE_REMB)),
                ("RTCDtlsTransport._handle_rtp_data", dtls._handle_rtp_data(b"\x90" + bytes(14), 0)),
            ):
                try:
                    await call
                except Exception:
                    failures.append(name)
            guarded = GuardedSrtp(Session(Policy(key=bytes(30), ssrc_type=Policy.SSRC_ANY_INBOUND)))
            for name, unprotect in (("GuardedSrtp.unprotect", guarded.unprotect),
                                    ("GuardedSrtp.unprotect_rtcp", guarded.unprotect_rtcp)):
                try:
                    unprotect(b"\x80" + bytes(3000))
                except SrtpError:
                    pass
                except Exception:
                    failures.append(name)
            stun = StunProtocol(dtls.transport._connection)
            try:  # a binding request whose PRIORITY attribute has 1 byte instead of 4
                stun.datagram_received(bytes.fromhex("0001000521120442") + bytes(12)
                                       + bytes.fromhex("0024000100"), ("127.0.0.1", 9))
            except Exception:
                failures.append("StunProtocol.datagram_received")
        finally:
            await pc.close()

    _run_probe(probe)
    return failures


def _run_probe(probe: Callable[[], Any]) -> None:
    """Run ``probe()`` to completion, also when called from inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(probe())
    else:  # called from inside a loop: probe in a helper thread with its own loop
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()


@contextmanager
def udp_port_range(ports: range | None) -> Iterator[None]:
    """Within this context, ICE host candidates bind to a free port of ``ports`` (firewalls
    of government networks open a fixed range). ``None`` keeps aioice's random ports."""
    if ports is not None:
        _bind_ports_on(asyncio.get_running_loop())
    token = _UDP_PORTS.set(ports)
    try:
        yield
    finally:
        _UDP_PORTS.reset(token)


def _bind_ports_on(loop: asyncio.AbstractEventLoop) -> None:
    """Wrap this loop's create_datagram_endpoint once; it obeys the context's port range."""
    if getattr(loop, "_sfu_port_range_installed", False):
        return
    original = loop.create_datagram_endpoint

    async def create_datagram_endpoint(protocol_factory, local_addr=None, **kwargs):  # type: ignore[no-untyped-def]
        ports = _UDP_PORTS.get()
        if ports is None or local_addr is None or local_addr[1] != 0:
            return await original(protocol_factory, local_addr=local_addr, **kwargs)
        start = random.randrange(len(ports))  # spread peers over the range
        for index in range(len(ports)):
            port = ports[(start + index) % len(ports)]
            try:
                return await original(protocol_factory, local_addr=(local_addr[0], port), **kwargs)
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
        message = f"no free UDP port in {ports.start}-{ports.stop - 1} on {local_addr[0]}"
        # aioice swallows bind errors (it skips the address), so say it where operators look.
        log.warning("%s: widen [network] udp_ports", message)
        raise OSError(errno.EADDRINUSE, message)

    loop.create_datagram_endpoint = create_datagram_endpoint  # type: ignore[method-assign]
    loop._sfu_port_range_installed = True  # type: ignore[attr-defined]
