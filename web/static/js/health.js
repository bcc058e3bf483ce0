// A bridge point's screen reports its link to the dashboard every 2 s (docs/protocol.md, "Bridge points"):
// bitrates from the byte counters of both peer connections, loss and round-trip time as the
// quality indicator measures them, and the frame rate of the video it sends.
const INTERVAL_MS = 2000;

export function reportHealth(conn, media) {
  let last = null;
  const sample = async () => {
    let sent = 0, received = 0, frames = 0;
    for (const side of [media.pub, media.sub]) {
      if (!side) continue;
      try {
        (await side.pc.getStats()).forEach((s) => {
          if (s.type === "transport") { sent += s.bytesSent || 0; received += s.bytesReceived || 0; }
          if (s.type === "outbound-rtp" && s.kind === "video") frames += s.framesEncoded || 0;
        });
      } catch (_) { /* closing */ }
    }
    const now = performance.now();
    const previous = last;
    last = { now, sent, received, frames };
    if (!previous || !conn.joined) return;
    const seconds = Math.max(0.001, (now - previous.now) / 1000);
    const rate = (a, b) => Math.max(0, Math.round(((a - b) * 8) / 1000 / seconds * 10) / 10);
    const q = media.lastQuality || { loss: 0, rtt_ms: 0 };
    const pcs = [media.pub, media.sub].filter(Boolean).map((s) => s.pc.connectionState);
    const payload = {
      client: "screen", media: pcs.length > 0 && pcs.every((s) => s === "connected"),
      bitrate_in_kbps: rate(received, previous.received), bitrate_out_kbps: rate(sent, previous.sent),
      loss_pct: Math.min(100, Math.round(q.loss * 1000) / 10), rtt_ms: Math.min(60000, Math.round(q.rtt_ms)),
      fps: Math.min(240, Math.max(0, Math.round(((frames - previous.frames) / seconds) * 10) / 10)),
    };
    conn.socket.timeout(5000).emit("point_health", payload, () => {});
  };
  setInterval(sample, INTERVAL_MS);
}

// What the room's console may ask of its screen (point_command), and what the screen tells it back.
export function obeyConsole(conn, media) {
  const socket = conn.socket;
  const tell = async () => {
    const devices = (await media.listDevices())
      .filter((d) => d.kind === "audioinput" || d.kind === "videoinput")
      .slice(0, 50)
      .map((d) => ({ kind: d.kind, device_id: d.deviceId.slice(0, 200), label: (d.label || d.kind).slice(0, 200) }));
    const mic = media.micTrack(), cam = media.camTrack();
    socket.timeout(5000).emit("point_devices", {
      devices, mic: media.micOn, camera: media.camOn,
      audio_id: (mic && mic.getSettings().deviceId) || "", video_id: (cam && cam.getSettings().deviceId) || "",
    }, () => {});
  };
  socket.on("point_command", async (cmd) => {
    if (!cmd || cmd.meeting_id !== conn.meetingId) return;
    try {
      if (cmd.command === "mic") media.setMic(cmd.on);
      else if (cmd.command === "camera") media.setCam(cmd.on);
      else if (cmd.command === "device") await media.useDevice(cmd.kind, cmd.device_id);
    } finally {
      tell();
    }
  });
  conn.addEventListener("joined", () => tell());
}
