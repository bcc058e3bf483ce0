"""A real RTSP server for the bridge tests (GStreamer's gst-rtsp-server), run with Debian's python3
(python3-gi, gir1.2-gst-rtsp-server-1.0): an IP camera or room codec on loopback.

    /usr/bin/python3 tests/bridge/rtsp_server.py PORT H264.mp4 VP8.webm

serves rtsp://127.0.0.1:PORT/h264 (the MP4's H.264, its packets as they are) and /vp8 (the
WebM's VP8 and Opus), and prints `ready` once it listens. Nothing is re-encoded here either:
what the agent receives is what the files hold.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, h264, vp8 = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = server.get_mount_points()
    for path, launch in (
        ("/h264", f"( filesrc location={h264} ! qtdemux ! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )"),
        ("/vp8", f"( filesrc location={vp8} ! matroskademux name=d d.video_0 ! queue ! rtpvp8pay name=pay0 pt=96 "
                 f"d.audio_0 ! queue ! rtpopuspay name=pay1 pt=97 )"),
    ):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on 127.0.0.1:{port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
