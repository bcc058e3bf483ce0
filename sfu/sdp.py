"""The few facts the SFU reads from a publisher's offer, per m-section.

aiortc parses SDP too, but keeps SSRC groups and directions per transceiver internals; the
SFU needs them before the transceivers exist (to map SSRCs and RTX streams to tracks and to
see which tracks the client stopped sending), so it reads them from the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SDP_BYTES = 64 * 1024
"""aiortc's SDP parser is super-linear (1 MiB blocks the event loop ~3 s); a browser's offer
with three m-sections is ~6 KB, its answer to forty subscribed tracks ~30 KB."""
MAX_PUBLISH_SECTIONS = 16  # camera, microphone, screen, and their replacements


class SdpRefused(ValueError):
    """A session description the SFU will not hand to aiortc: what is wrong, in words."""


def check_description(sdp: str, *, max_sections: int) -> None:
    """Refuse, before any parsing, what aiortc would choke on or fail on obscurely: too big,
    not UTF-8 text, too many m-sections, media without a DTLS fingerprint or ICE
    credentials (aiortc would fail later with an internal error, or not at all)."""
    try:
        size = len(sdp.encode("utf-8"))
    except UnicodeEncodeError:
        raise SdpRefused("not UTF-8 text (lone surrogate)") from None
    if size > MAX_SDP_BYTES:
        raise SdpRefused(f"{size} bytes, more than {MAX_SDP_BYTES}")
    if "\x00" in sdp:
        raise SdpRefused("contains a NUL character")
    if not sdp.startswith("v=0"):
        raise SdpRefused("does not start with v=0")
    session_fingerprint = False
    sections: list[list[str]] = []
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            sections.append([])
            if len(sections) > max_sections:
                raise SdpRefused(f"more than {max_sections} m-sections")
        elif sections:
            sections[-1].append(line)
        elif line.startswith("a=fingerprint:"):
            session_fingerprint = True
    if not sections:
        raise SdpRefused("no m-section")
    for index, lines in enumerate(sections):
        if not session_fingerprint and not any(x.startswith("a=fingerprint:") for x in lines):
            raise SdpRefused(f"m-section {index}: no a=fingerprint (DTLS is required)")


@dataclass
class MediaSection:
    kind: str
    mid: str = ""
    direction: str = "sendrecv"
    port: int = 9
    ssrcs: list[int] = field(default_factory=list)
    rtx: dict[int, int] = field(default_factory=dict)  # RTX SSRC -> media SSRC
    msid_track: str | None = None

    @property
    def sending(self) -> bool:
        """Does the offerer send media in this section?"""
        return self.port != 0 and self.direction in ("sendonly", "sendrecv")


def media_sections(sdp: str) -> list[MediaSection]:
    sections: list[MediaSection] = []
    current: MediaSection | None = None
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            current = MediaSection(kind=parts[0], port=int(parts[1]) if len(parts) > 1 else 9)
            sections.append(current)
        elif current is None or not line.startswith("a="):
            continue
        elif line.startswith("a=mid:"):
            current.mid = line[6:]
        elif line[2:] in ("sendonly", "recvonly", "sendrecv", "inactive"):
            current.direction = line[2:]
        elif line.startswith("a=msid:"):
            parts = line[7:].split()
            if len(parts) > 1:
                current.msid_track = parts[1]
        elif line.startswith("a=ssrc-group:FID "):
            ids = [int(x) for x in line[17:].split()]
            if len(ids) == 2:
                current.rtx[ids[1]] = ids[0]
        elif line.startswith("a=ssrc:"):
            ssrc = int(line[7:].split()[0])
            if ssrc not in current.ssrcs:
                current.ssrcs.append(ssrc)
    for section in sections:
        section.ssrcs = [s for s in section.ssrcs if s not in section.rtx]
    return sections
