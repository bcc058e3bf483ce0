// WebRTC against the SFU, signalled over the meeting's Socket.IO connection (docs/protocol.md,
// "Media signalling"). Two peer connections: "publish" (we offer our sendonly tracks) and
// "subscribe" (the SFU offers what we receive). ICE is not trickled: every offer or answer is
// sent once ICE gathering is complete, with all candidates in the SDP.
//
// The camera goes out twice (aiortc has no simulcast): a high track (960x540, ~1.2 Mbit/s) and
// a low one of the same camera (1/3 the size, ~150 kbit/s), each sent only while the SFU says
// someone receives it (media:layer). A small meeting subscribes to everyone's tracks; once
// there are more others than thumbnails, the page subscribes to slots instead (docs/sfu.md,
// "Large meetings"): the speaker large, N thumbnails, the loudest microphones and every screen,
// and the SFU switches their sources without renegotiation (media:view says who is where).
import { call } from "./connection.js";

const GATHER_TIMEOUT_MS = 4000;
const FAILED_RESTART_MS = 2000; // restart media this long after a connection reports failure
const DISCONNECTED_RESTART_MS = 8000; // ... or stays "disconnected" this long
const STATS_INTERVAL_MS = 2000;
const HIGH_ENCODING = { maxBitrate: 1200000 };
const LOW_ENCODING = { scaleResolutionDownBy: 3, maxBitrate: 150000, maxFramerate: 15 };
const SPEAKER_SLOT = "active-speaker";
const isSlot = (id) => id === SPEAKER_SLOT || /^(thumbnail|loudest)-\d+$/.test(id);

// How many thumbnails this screen can show and what the speaker tile needs, by its size and
// the link's measured quality; the room's rooms.toml numbers are the upper bound.
export function viewFor(room, width, quality) {
  let thumbnails = width < 700 ? 2 : width < 1100 ? 4 : room.thumbnails;
  if (quality === "poor") thumbnails = Math.min(thumbnails, 2);
  return { thumbnails: Math.min(thumbnails, room.thumbnails), loudest: room.loudest, speakerLayer: width < 700 ? "low" : "high" };
}

function waitForGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      clearTimeout(timer);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, GATHER_TIMEOUT_MS); // e.g. an unreachable STUN server
    pc.addEventListener("icegatheringstatechange", check);
  });
}

// Runs async jobs one after another (negotiations must not interleave).
class Queue {
  constructor() { this.tail = Promise.resolve(); }
  run(job) {
    const next = this.tail.then(job, job);
    this.tail = next.catch(() => {});
    return next;
  }
}

// Start media each time the connection (re)joins its meeting, and tear it down when it leaves;
// the page's control panel hears of every join through the document event hoinghi:joined.
export function followConnection(conn, media) {
  conn.addEventListener("joined", async (ev) => {
    window.hoinghi.me = ev.detail.me;
    document.dispatchEvent(new CustomEvent("hoinghi:joined", { detail: ev.detail }));
    try {
      await media.start(ev.detail);
    } catch (err) {
      console.warn("media start failed", err);
      media._scheduleRestart("start failed", 3000);
    }
  });
  conn.addEventListener("left", () => media.teardown());
}

export class MediaSession extends EventTarget {
  constructor(conn, tiles, { texts = {}, videoConstraints = null } = {}) {
    super();
    this.conn = conn;
    this.socket = conn.socket;
    this.tiles = tiles;
    this.texts = texts;
    this.videoConstraints = videoConstraints || { width: { ideal: 960 }, height: { ideal: 540 }, frameRate: { ideal: 20, max: 30 } };
    this.meetingId = conn.meetingId;
    this.local = null; // MediaStream from the microphone and camera
    this.screen = null; // MediaStream from getDisplayMedia
    this.micId = localStorage.getItem("hoinghi.mic") || "";
    this.camId = localStorage.getItem("hoinghi.cam") || "";
    this.micOn = true;
    this.camOn = true;
    this.forwarding = { audio: true, video: true }; // false when the chair muted us on the server
    this.active = false;
    this.generation = 0; // bumps on every teardown: late answers of an old session are dropped
    this.pub = null;
    this.sub = null;
    this.tracks = new Map(); // track_id -> {track_id, peer_id, kind, source}
    this.mids = {}; // subscribe mid -> track_id
    this.subscribed = new Set();
    this.received = new Map(); // track_id (or slot id) -> MediaStreamTrack
    this.room = { thumbnails: 6, loudest: 3 }; // the meeting room's limits (media:join)
    this.slots = {}; // slot id -> {peer_id, track_id, layer} | null (media:view)
    this.slotTracks = new Map(); // slot id -> [MediaStreamTrack, tile id it is shown in]
    this.speakerLayer = "high";
    this.states = {}; // peer_id -> {audio, video}
    this.names = new Map(); // peer_id -> name
    this.mainPoints = new Set(); // principal keys of main bridge points
    this.keys = new Map(); // peer_id -> principal key
    this.queue = new Queue();
    this.quality = "unknown";
    this._restartTimer = null;
    this._lastStats = new Map();

    this.socket.on("media:tracks", (msg) => this._onTracks(msg));
    this.socket.on("media:offer", (msg) => this._onOffer(msg));
    this.socket.on("media:active_speaker", (msg) => msg.meeting_id === this.meetingId && this._activeSpeaker(msg.peer_id));
    this.socket.on("media:state", (msg) => this._onState(msg));
    this.socket.on("media:forwarding", (msg) => this._onForwarding(msg));
    this.socket.on("media:view", (msg) => this._onView(msg));
    this.socket.on("media:layer", (msg) => this._onLayer(msg));
    this.socket.on("participants", (msg) => {
      if (!msg || msg.meeting_id !== this.meetingId) return;
      for (const gone of msg.left || []) this._removePeer(gone.peer_id);
      for (const p of msg.joined || []) this._addPeer(p);
    });
    this._statsTimer = setInterval(() => this._collectStats(), STATS_INTERVAL_MS);
  }

  // ---- local devices -------------------------------------------------------------------

  async openDevices() {
    const audio = this.micId ? { deviceId: { exact: this.micId } } : true;
    const video = this.camId ? { ...this.videoConstraints, deviceId: { exact: this.camId } } : this.videoConstraints;
    for (const constraints of [{ audio, video }, { audio }, { video }, { audio: true, video: true }]) {
      try {
        this.local = await navigator.mediaDevices.getUserMedia(constraints);
        break;
      } catch (err) {
        console.warn("getUserMedia", constraints, err.name);
      }
    }
    if (!this.local) {
      this.local = new MediaStream();
      this.dispatchEvent(new CustomEvent("notice", { detail: this.texts.no_devices }));
    }
    this._applyEnabled();
    this._showSelf();
    return this.local;
  }

  micTrack() { return this.local ? this.local.getAudioTracks()[0] || null : null; }
  camTrack() { return this.local ? this.local.getVideoTracks()[0] || null : null; }

  async listDevices() {
    try { return await navigator.mediaDevices.enumerateDevices(); } catch (_) { return []; }
  }

  // Switch microphone or camera without renegotiating: replaceTrack on the same sender.
  async useDevice(kind, deviceId) {
    const constraints = kind === "audio"
      ? { audio: deviceId ? { deviceId: { exact: deviceId } } : true }
      : { video: deviceId ? { ...this.videoConstraints, deviceId: { exact: deviceId } } : this.videoConstraints };
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    const track = kind === "audio" ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
    const old = kind === "audio" ? this.micTrack() : this.camTrack();
    if (old) { this.local.removeTrack(old); old.stop(); }
    this.local.addTrack(track);
    localStorage.setItem(kind === "audio" ? "hoinghi.mic" : "hoinghi.cam", deviceId || "");
    if (kind === "audio") this.micId = deviceId; else this.camId = deviceId;
    this._applyEnabled();
    const transceiver = this.pub && this.pub[kind === "audio" ? "audioTx" : "videoTx"];
    if (transceiver) {
      await transceiver.sender.replaceTrack(track);
      if (kind === "video" && this.pub.lowTx) await this.pub.lowTx.sender.replaceTrack(track);
    } else if (this.active) await this.restart("new device");
    this._showSelf();
  }

  setMic(on) {
    this.micOn = on;
    this._applyEnabled();
    this._sendState();
  }

  setCam(on) {
    this.camOn = on;
    this._applyEnabled();
    this._sendState();
  }

  _applyEnabled() {
    const mic = this.micTrack();
    const cam = this.camTrack();
    if (mic) mic.enabled = this.micOn && this.forwarding.audio;
    if (cam) cam.enabled = this.camOn;
    const me = this.conn.me;
    if (me) {
      const tile = this.tiles.get(`${me.peer_id}:camera`);
      if (tile) { tile.setMuted("audio", !(this.micOn && this.forwarding.audio)); tile.setMuted("video", !this.camOn); }
    }
  }

  _showSelf() {
    const me = this.conn.me;
    if (!me || !this.local) return;
    const id = `${me.peer_id}:camera`;
    // a reconnection gives us a new peer id: drop the self-view of the old one
    for (const old of [...this.tiles.tiles.values()]) if (old.local && old.peerId !== me.peer_id) this.tiles.remove(old.id);
    const tile = this.tiles.ensure(id, { peerId: me.peer_id, name: me.name, source: "camera", local: true });
    if (tile.videoTrack !== this.camTrack()) tile.setVideo(this.camTrack());
    tile.setAudio(this.micTrack());
    if (this.screen) {
      const preview = this.tiles.ensure(`${me.peer_id}:screen`, { peerId: me.peer_id, name: me.name, source: "screen", local: true });
      if (!preview.videoTrack) preview.setVideo(this.screen.getVideoTracks()[0]);
    }
    this._applyEnabled();
  }

  async startScreenShare() {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10, max: 15 } }, audio: false });
    const track = stream.getVideoTracks()[0];
    this.screen = stream;
    track.addEventListener("ended", () => this.stopScreenShare());
    const me = this.conn.me;
    if (me) this.tiles.ensure(`${me.peer_id}:screen`, { peerId: me.peer_id, name: me.name, source: "screen", local: true }).setVideo(track);
    await this.queue.run(() => this._publishScreen(track));
    this.dispatchEvent(new CustomEvent("screen", { detail: true }));
  }

  async stopScreenShare() {
    if (!this.screen) return;
    for (const t of this.screen.getTracks()) t.stop();
    this.screen = null;
    for (const tile of [...this.tiles.tiles.values()]) if (tile.local && tile.source === "screen") this.tiles.remove(tile.id);
    await this.queue.run(() => this._publishScreen(null));
    this.dispatchEvent(new CustomEvent("screen", { detail: false }));
  }

  // ---- session lifecycle ---------------------------------------------------------------

  // Called after join_meeting succeeded (also after every reconnection).
  async start() {
    this.teardown();
    const generation = this.generation;
    this.active = true;
    this.names.clear();
    this.keys.clear();
    for (const p of this.conn.roster.values()) this._addPeer(p);
    this._showSelf();
    const ack = await call(this.socket, "media:join", { meeting_id: this.meetingId });
    if (generation !== this.generation) return;
    this.iceServers = ack.ice_servers || [];
    this.mainPoints = new Set(ack.main_points || []);
    if (ack.view) this.room = ack.view;
    this.states = ack.states || {};
    this._updateMainPeers();
    for (const [peerId, state] of Object.entries(this.states)) this._onState({ meeting_id: this.meetingId, peer_id: peerId, ...state });
    if (ack.active_speaker) this._activeSpeaker(ack.active_speaker);
    this.sub = this._newPc("subscribe");
    this.sub.pc.addEventListener("track", (ev) => this._onRemoteTrack(ev));
    // what is already published; later changes arrive as media:tracks
    this._onTracks({ meeting_id: this.meetingId, tracks: ack.tracks || [] });
    await this.queue.run(() => this._publish(generation));
    this._sendState();
  }

  // Drop every peer connection (on disconnect, or before starting again).
  teardown() {
    this.generation += 1;
    this.active = false;
    clearTimeout(this._restartTimer);
    for (const side of [this.pub, this.sub]) if (side) side.pc.close();
    this.pub = null;
    this.sub = null;
    this.tracks.clear();
    this.subscribed.clear();
    this.received.clear();
    this.slots = {};
    this.slotTracks.clear();
    this.mids = {};
    this.queue = new Queue();
    this.tiles.clearRemote();
    this.tiles.setActiveSpeaker(null);
    this._setQuality("unknown");
  }

  async leave() {
    if (this.active) {
      try { await call(this.socket, "media:leave", { meeting_id: this.meetingId }); } catch (_) { /* gone */ }
    }
    this.teardown();
  }

  // Start media again on the same Socket.IO connection (ICE failed, device appeared, ...).
  async restart(reason) {
    console.info("media restart:", reason);
    if (!this.conn.joined) return;
    try {
      await call(this.socket, "media:leave", { meeting_id: this.meetingId });
    } catch (_) { /* start anyway */ }
    try {
      await this.start();
    } catch (err) {
      console.warn("media restart failed", err);
      this._scheduleRestart("restart failed", 3000);
    }
  }

  _scheduleRestart(reason, delay) {
    clearTimeout(this._restartTimer);
    const generation = this.generation;
    this._restartTimer = setTimeout(() => {
      if (generation === this.generation && this.active) this.restart(reason);
    }, delay);
  }

  _newPc(role) {
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle", rtcpMuxPolicy: "require" });
    const side = { role, pc };
    const generation = this.generation;
    const watch = () => {
      if (generation !== this.generation) return;
      const state = pc.connectionState;
      if (state === "failed") this._scheduleRestart(`${role} ${state}`, FAILED_RESTART_MS);
      else if (state === "disconnected") this._scheduleRestart(`${role} ${state}`, DISCONNECTED_RESTART_MS);
      else if (state === "connected") clearTimeout(this._restartTimer);
      this.dispatchEvent(new CustomEvent("pcstate", { detail: { role, state } }));
    };
    pc.addEventListener("connectionstatechange", watch);
    return side;
  }

  // ---- publishing ----------------------------------------------------------------------

  async _publish(generation) {
    const mic = this.micTrack();
    const cam = this.camTrack();
    if (!mic && !cam && !this.screen) return; // watch-only
    const side = this._newPc("publish");
    const stream = this.local;
    if (mic) side.audioTx = side.pc.addTransceiver(mic, { direction: "sendonly", streams: [stream] });
    if (cam) {
      side.videoTx = side.pc.addTransceiver(cam, { direction: "sendonly", streams: [stream], sendEncodings: [{ ...HIGH_ENCODING }] });
      side.lowTx = side.pc.addTransceiver(cam, { direction: "sendonly", streams: [stream], sendEncodings: [{ ...LOW_ENCODING }] });
    }
    if (this.screen) {
      side.screenTx = side.pc.addTransceiver(this.screen.getVideoTracks()[0], { direction: "sendonly", streams: [this.screen] });
    }
    this.pub = side;
    await this._offerPublish(side, generation);
  }

  async _publishScreen(track) {
    const side = this.pub;
    if (!side) {
      if (track) await this._publish(this.generation);
      return;
    }
    if (track) {
      if (side.screenTx) {
        side.screenTx.direction = "sendonly";
        await side.screenTx.sender.replaceTrack(track);
      } else {
        side.screenTx = side.pc.addTransceiver(track, { direction: "sendonly", streams: [this.screen] });
      }
    } else if (side.screenTx) {
      await side.screenTx.sender.replaceTrack(null);
      side.screenTx.direction = "inactive";
    }
    await this._offerPublish(side, this.generation);
  }

  async _offerPublish(side, generation) {
    const pc = side.pc;
    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    if (generation !== this.generation) return;
    const sources = {};
    if (side.audioTx && side.audioTx.mid) sources[side.audioTx.mid] = "microphone";
    if (side.videoTx && side.videoTx.mid) sources[side.videoTx.mid] = "camera";
    if (side.lowTx && side.lowTx.mid) sources[side.lowTx.mid] = "camera-low";
    if (side.screenTx && side.screenTx.mid) sources[side.screenTx.mid] = "screen";
    const ack = await call(this.socket, "media:publish", { meeting_id: this.meetingId, sdp: pc.localDescription.sdp, sources });
    if (generation !== this.generation) return;
    await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
  }

  _sendState() {
    if (!this.active) return;
    call(this.socket, "media:state", {
      meeting_id: this.meetingId, audio: this.micOn && !!this.micTrack(), video: this.camOn && !!this.camTrack(),
    }).catch(() => {});
  }

  // The SFU says whether anyone receives one of our camera layers: send it only then.
  async _onLayer(msg) {
    if (msg.meeting_id !== this.meetingId || !this.pub) return;
    const mid = String(msg.track_id).split(":").pop();
    const transceiver = [this.pub.videoTx, this.pub.lowTx].find((t) => t && t.mid === mid);
    if (!transceiver) return;
    const params = transceiver.sender.getParameters();
    if (!params.encodings || !params.encodings.length || params.encodings[0].active === msg.needed) return;
    params.encodings[0].active = !!msg.needed;
    try { await transceiver.sender.setParameters(params); } catch (err) { console.warn("layer", err); }
  }

  _onForwarding(msg) {
    if (msg.meeting_id !== this.meetingId) return;
    this.forwarding[msg.kind] = !!msg.enabled;
    this._applyEnabled();
    this.dispatchEvent(new CustomEvent("forwarding", { detail: msg }));
  }

  // ---- subscribing ---------------------------------------------------------------------

  _onTracks(msg) {
    if (!this.active || msg.meeting_id !== this.meetingId) return;
    const me = this.conn.me && this.conn.me.peer_id;
    this.tracks = new Map(msg.tracks.map((t) => [t.track_id, t]));
    const wanted = this._wanted(msg.tracks.filter((t) => t.peer_id !== me));
    // Tiles of tracks that are gone
    for (const trackId of [...this.received.keys()]) if (!isSlot(trackId) && !this.tracks.has(trackId)) this._dropTrack(trackId);
    const same = wanted.length === this.subscribed.size && wanted.every((id) => this.subscribed.has(id));
    if (same) return;
    const generation = this.generation;
    this.queue.run(async () => {
      if (generation !== this.generation) return;
      const ack = await call(this.socket, "media:subscribe", { meeting_id: this.meetingId, track_ids: wanted });
      this.subscribed = new Set(ack.track_ids || wanted);
      // tracks left behind by a switch between everyone and slots
      for (const trackId of [...this.received.keys()]) if (!this.subscribed.has(trackId)) this._dropTrack(trackId);
      if (ack.offer) await this._answer(ack.offer, generation);
    }).catch((err) => {
      console.warn("subscribe failed", err);
      this._scheduleRestart("subscribe failed", 3000);
    });
  }

  // Everyone's tracks while the others fit in the thumbnails; slots beyond (docs/sfu.md).
  _wanted(others) {
    const view = viewFor(this.room, window.innerWidth, this.quality);
    const cameras = new Set(others.filter((t) => t.source === "camera").map((t) => t.peer_id));
    this.large = cameras.size > view.thumbnails + 1;
    this.tiles.large = this.large;
    if (!this.large) return others.filter((t) => t.layer !== "low").map((t) => t.track_id);
    if (view.speakerLayer !== this.speakerLayer) {
      this.speakerLayer = view.speakerLayer;
      call(this.socket, "media:view", { meeting_id: this.meetingId, speaker_layer: view.speakerLayer }).catch(() => {});
    }
    const slots = [SPEAKER_SLOT];
    for (let i = 0; i < view.thumbnails; i += 1) slots.push(`thumbnail-${i}`);
    for (let i = 0; i < view.loudest; i += 1) slots.push(`loudest-${i}`);
    return [...slots, ...others.filter((t) => t.source === "screen").map((t) => t.track_id)];
  }

  // Who is in which slot now: move each slot's track to the tile of its new source.
  _onView(msg) {
    if (msg.meeting_id !== this.meetingId) return;
    this.slots = msg.slots || {};
    this.tiles.featured = this.slots[SPEAKER_SLOT] ? this.slots[SPEAKER_SLOT].peer_id : null;
    for (const [slot, entry] of this.slotTracks) this._showSlot(slot, entry[0]);
    this._pruneTiles();
    this.tiles.arrange();
  }

  _showSlot(slot, track) {
    const source = this.slots[slot];
    const entry = this.slotTracks.get(slot);
    const tileId = source ? `${source.peer_id}:camera` : null;
    if (entry && entry[1] && entry[1] !== tileId) {
      const old = this.tiles.get(entry[1]);
      if (old && old.videoTrack === track) old.setVideo(null);
      if (old && old.audioTrack === track) old.setAudio(null);
    }
    this.slotTracks.set(slot, [track, tileId]);
    if (!source) return;
    const info = { track_id: source.track_id, peer_id: source.peer_id, kind: slot.startsWith("loudest-") ? "audio" : "video", source: "camera" };
    const tile = this.tiles.get(tileId);
    if (tile && (info.kind === "video" ? tile.videoTrack : tile.audioTrack) === track) return;
    this._attach(info, track);
  }

  // In a large meeting only the peers in a slot have a tile; the roster lists everyone.
  _pruneTiles() {
    if (!this.large) return;
    const shown = new Set(Object.values(this.slots).filter(Boolean).map((s) => `${s.peer_id}:camera`));
    for (const tile of [...this.tiles.tiles.values()]) {
      if (!tile.local && tile.source === "camera" && !shown.has(tile.id)) this.tiles.remove(tile.id);
    }
  }

  _onOffer(msg) {
    if (msg.meeting_id !== this.meetingId) return;
    const generation = this.generation;
    this.queue.run(() => this._answer(msg, generation)).catch((err) => {
      console.warn("answer failed", err);
      this._scheduleRestart("answer failed", 3000);
    });
  }

  async _answer(offer, generation) {
    if (generation !== this.generation || !this.sub) return;
    const pc = this.sub.pc;
    Object.assign(this.mids, offer.mids || {});
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await waitForGathering(pc);
    if (generation !== this.generation) return;
    const ack = await call(this.socket, "media:answer", { meeting_id: this.meetingId, sdp: pc.localDescription.sdp });
    // Labels may only be known once the transceivers are there: attach what arrived unlabelled.
    for (const transceiver of pc.getTransceivers()) this._label(transceiver);
    if (ack.offer) await this._answer(ack.offer, generation);
  }

  _onRemoteTrack(ev) {
    this._label(ev.transceiver);
  }

  _label(transceiver) {
    const mid = transceiver.mid;
    const trackId = mid != null ? this.mids[mid] : null;
    const track = transceiver.receiver.track;
    if (!trackId || !track) return;
    if (transceiver.currentDirection === "inactive") return;
    if (this.received.get(trackId) === track) return;
    if (isSlot(trackId)) {
      this.received.set(trackId, track);
      this._showSlot(trackId, track);
      return;
    }
    const info = this.tracks.get(trackId);
    if (!info) return;
    this.received.set(trackId, track);
    this._attach(info, track);
  }

  _tileIdOf(info) {
    return `${info.peer_id}:${info.source === "screen" ? "screen" : "camera"}`;
  }

  _attach(info, track) {
    const source = info.source === "screen" ? "screen" : "camera";
    const tile = this.tiles.ensure(this._tileIdOf(info), { peerId: info.peer_id, name: this.names.get(info.peer_id) || info.name || "", source, local: false });
    if (info.kind === "video") tile.setVideo(track);
    else tile.setAudio(track);
    const state = this.states[info.peer_id];
    if (state && source === "camera") { tile.setMuted("audio", state.audio === false); tile.setMuted("video", state.video === false); }
  }

  _dropTrack(trackId) {
    const track = this.received.get(trackId);
    this.received.delete(trackId);
    for (const tile of [...this.tiles.tiles.values()]) {
      if (tile.local) continue;
      if (tile.videoTrack === track) tile.setVideo(null);
      if (tile.audioTrack === track) tile.setAudio(null);
      if (tile.source === "screen" && !tile.videoTrack) this.tiles.remove(tile.id);
    }
  }

  // ---- roster --------------------------------------------------------------------------

  /** The tile and the participants list (control.js) follow the speaker the SFU hears. */
  _activeSpeaker(peerId) {
    this.tiles.setActiveSpeaker(peerId);
    document.dispatchEvent(new CustomEvent("hoinghi:active-speaker", { detail: { peer_id: peerId } }));
  }

  _addPeer(p) {
    if (!p || !p.peer_id) return;
    this.names.set(p.peer_id, p.name);
    this.keys.set(p.peer_id, p.key);
    const me = this.conn.me && this.conn.me.peer_id;
    // a large meeting shows tiles for the peers in its slots only
    if (p.peer_id !== me && !this.large) this.tiles.ensure(`${p.peer_id}:camera`, { peerId: p.peer_id, name: p.name, source: "camera", local: false });
    this._updateMainPeers();
  }

  _removePeer(peerId) {
    this.names.delete(peerId);
    this.keys.delete(peerId);
    this.tiles.removePeer(peerId);
    delete this.states[peerId];
    this._updateMainPeers();
  }

  _updateMainPeers() {
    this.tiles.mainPeers = new Set([...this.keys].filter(([, key]) => this.mainPoints.has(key)).map(([peerId]) => peerId));
    this.tiles.arrange();
  }

  _onState(msg) {
    if (msg.meeting_id !== this.meetingId) return;
    this.states[msg.peer_id] = { audio: msg.audio, video: msg.video };
    const tile = this.tiles.get(`${msg.peer_id}:camera`);
    if (tile && !tile.local) { tile.setMuted("audio", msg.audio === false); tile.setMuted("video", msg.video === false); }
  }

  // ---- connection quality --------------------------------------------------------------

  async _collectStats() {
    if (!this.active) return;
    let rtt = null;
    let lost = 0;
    let received = 0;
    for (const side of [this.pub, this.sub]) {
      if (!side) continue;
      let report;
      try { report = await side.pc.getStats(); } catch (_) { continue; }
      report.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded" && s.currentRoundTripTime != null) {
          rtt = Math.max(rtt || 0, s.currentRoundTripTime);
        }
        if (s.type === "inbound-rtp") {
          const prev = this._lastStats.get(s.id) || { packetsLost: 0, packetsReceived: 0 };
          lost += Math.max(0, (s.packetsLost || 0) - prev.packetsLost);
          received += Math.max(0, (s.packetsReceived || 0) - prev.packetsReceived);
          this._lastStats.set(s.id, { packetsLost: s.packetsLost || 0, packetsReceived: s.packetsReceived || 0 });
        }
        if (s.type === "remote-inbound-rtp" && s.fractionLost != null) {
          lost += s.fractionLost * 100;
          received += 100;
        }
      });
    }
    const connected = [this.pub, this.sub].filter(Boolean).some((s) => s.pc.connectionState === "connected");
    if (!connected) { this._setQuality("unknown"); return; }
    const loss = received + lost > 0 ? lost / (received + lost) : 0;
    const rttMs = rtt == null ? 0 : rtt * 1000;
    const level = loss > 0.08 || rttMs > 500 ? "poor" : loss > 0.02 || rttMs > 200 ? "fair" : "good";
    this.lastQuality = { level, loss, rtt_ms: rttMs };
    this._setQuality(level);
  }

  _setQuality(level) {
    if (level === this.quality) return;
    this.quality = level;
    this.dispatchEvent(new CustomEvent("quality", { detail: level }));
  }

  // ---- test and debugging hooks --------------------------------------------------------

  stats() {
    return {
      active: this.active,
      quality: this.quality,
      publish: this.pub ? this.pub.pc.connectionState : null,
      subscribe: this.sub ? this.sub.pc.connectionState : null,
      tracks: [...this.tracks.values()],
      received: [...this.received.keys()],
      large: !!this.large,
      slots: this.slots,
      tiles: this.tiles.stats(),
    };
  }
}
