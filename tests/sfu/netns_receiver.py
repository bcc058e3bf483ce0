"""A subscriber on another host (run inside a network namespace by tests/sfu/test_weak_links.py).

Line protocol on stdin/stdout, JSON: it reads ``{"offer": SDP}`` and prints ``{"answer": SDP}``;
from then on it prints, twice a second, what it decodes: ``{"frames": N, "width": W}`` (frames
decoded so far, width of the latest). Exits when its input closes.
"""
from __future__ import annotations

import asyncio
import json
import sys

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


async def main() -> None:
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    seen = {"frames": 0, "width": 0}

    async def consume(track) -> None:
        try:
            while True:
                frame = await track.recv()
                seen["frames"] += 1
                seen["width"] = frame.width
        except MediaStreamError:
            pass

    pc.on("track", lambda track: asyncio.ensure_future(consume(track)) if track.kind == "video" else None)
    line = await loop.run_in_executor(None, sys.stdin.readline)
    await pc.setRemoteDescription(RTCSessionDescription(json.loads(line)["offer"], "offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    print(json.dumps({"answer": pc.localDescription.sdp}), flush=True)
    closed = loop.run_in_executor(None, sys.stdin.read)
    while not closed.done():
        print(json.dumps(seen), flush=True)
        await asyncio.wait([closed], timeout=0.5)
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
