// Tiles: one per participant (camera + microphone) and one per shared screen.
// Layout "grid" (browser page): everyone in a grid, a pinned tile goes on the stage.
// Layout "tv" (bridge-point screen): main point and active speaker on the stage, the rest in a strip.

const FFT_SIZE = 2048;
// Inline icons: no icon font or emoji font is needed on a closed network.
const PIN_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M16 3l5 5-3 1-4 4 1 5-2 2-4-4-5 5-1-1 5-5-4-4 2-2 5 1 4-4z"/></svg>';
const MIC_OFF_ICON = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 14a3 3 0 003-3V5a3 3 0 10-6 0v6a3 3 0 003 3zm5-3a5 5 0 01-10 0H5a7 7 0 006 6.9V21h2v-3.1A7 7 0 0019 11h-2zM3.3 2.3L2 3.6l18.4 18.4 1.3-1.3z"/></svg>';

let audioContext = null;
export function sharedAudioContext() {
  if (!audioContext) audioContext = new AudioContext();
  return audioContext;
}

// Browsers may keep audio suspended until the user touches the page: retry on any input.
export function unlockAudioOnInput(extra = () => {}) {
  const unlock = () => {
    if (audioContext && audioContext.state !== "running") audioContext.resume().catch(() => {});
    for (const el of document.querySelectorAll("audio")) if (el.paused) el.play().catch(() => {});
    extra();
  };
  for (const type of ["click", "keydown", "touchstart"]) document.addEventListener(type, unlock, { capture: true });
  return unlock;
}

// Measures a track's audio energy and dominant frequency with a WebAudio analyser.
class AudioMeter {
  constructor(track) {
    const ctx = sharedAudioContext();
    this.source = ctx.createMediaStreamSource(new MediaStream([track]));
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = FFT_SIZE;
    this.source.connect(this.analyser);
    this.time = new Float32Array(FFT_SIZE);
    this.freq = new Float32Array(this.analyser.frequencyBinCount);
    this.level = 0; // RMS of the last window
    this.maxLevel = 0;
    this.energySum = 0; // sum of RMS over windows (for tests: total energy received)
    this.windows = 0;
    this.peakHz = 0;
  }

  sample() {
    this.analyser.getFloatTimeDomainData(this.time);
    let sum = 0;
    for (const v of this.time) sum += v * v;
    this.level = Math.sqrt(sum / this.time.length);
    this.maxLevel = Math.max(this.maxLevel, this.level);
    this.energySum += this.level;
    this.windows += 1;
    if (this.level > 0.005) {
      this.analyser.getFloatFrequencyData(this.freq);
      let best = 0;
      for (let i = 1; i < this.freq.length; i++) if (this.freq[i] > this.freq[best]) best = i;
      this.peakHz = (best * sharedAudioContext().sampleRate) / FFT_SIZE;
    }
    return this.level;
  }

  close() {
    try { this.source.disconnect(); } catch (_) { /* already gone */ }
  }
}

class Tile {
  constructor(manager, id, { peerId, name, source, local }) {
    this.manager = manager;
    this.id = id;
    this.peerId = peerId;
    this.source = source; // "camera" or "screen"
    this.local = local;
    this.frames = 0;
    this.videoTrack = null;
    this.audioTrack = null;
    this.meter = null;

    const t = manager.texts;
    const el = document.createElement("div");
    el.className = "tile";
    el.dataset.tile = id;
    el.dataset.peer = peerId;
    el.dataset.source = source;
    if (local) el.classList.add("local");
    el.innerHTML = `
      <video playsinline autoplay muted></video>
      <audio autoplay></audio>
      <div class="avatar" aria-hidden="true"></div>
      <div class="label"><span class="level"></span><span class="name"></span>
        <span class="mic-off" title="${t.muted}" hidden>${MIC_OFF_ICON}</span></div>
      <button type="button" class="pin" aria-pressed="false" title="${t.pin}">${PIN_ICON}</button>`;
    this.el = el;
    this.video = el.querySelector("video");
    this.audio = el.querySelector("audio");
    this.nameEl = el.querySelector(".name");
    this.levelEl = el.querySelector(".level");
    this.setName(name);
    el.querySelector(".pin").addEventListener("click", () => manager.togglePin(id));
    this._countFrames();
  }

  setName(name) {
    this.name = name;
    const t = this.manager.texts;
    let label = name;
    if (this.source === "screen") label = `${name} — ${t.screen}`;
    else if (this.local) label = `${name} (${t.you})`;
    this.nameEl.textContent = label;
    this.el.querySelector(".avatar").textContent = (name || "?").trim().charAt(0).toUpperCase();
    this.el.setAttribute("aria-label", label);
  }

  _countFrames() {
    const video = this.video;
    if (!("requestVideoFrameCallback" in HTMLVideoElement.prototype)) return;
    const onFrame = () => {
      this.frames += 1;
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }

  setVideo(track) {
    this.videoTrack = track;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    this.el.classList.toggle("has-video", !!track);
    if (track) this.video.play().catch(() => {});
  }

  setAudio(track) {
    if (this.meter) { this.meter.close(); this.meter = null; }
    this.audioTrack = track;
    if (this.local) return; // never play our own microphone back
    this.audio.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      this.audio.play().catch(() => {});
      this.meter = new AudioMeter(track);
      const sinkId = this.manager.sinkId;
      if (sinkId && this.audio.setSinkId) this.audio.setSinkId(sinkId).catch(() => {});
    }
  }

  setMuted(kind, muted) {
    if (kind === "audio") this.el.querySelector(".mic-off").hidden = !muted;
    if (kind === "video") this.el.classList.toggle("camera-off", muted);
  }

  stats() {
    const v = this.video;
    return {
      tile: this.id,
      peer_id: this.peerId,
      name: this.name,
      source: this.source,
      local: this.local,
      has_video: !!this.videoTrack,
      has_audio: !!this.audioTrack,
      frames: this.frames,
      width: v.videoWidth,
      height: v.videoHeight,
      audio_level: this.meter ? this.meter.level : 0,
      audio_max: this.meter ? this.meter.maxLevel : 0,
      audio_energy: this.meter ? this.meter.energySum : 0,
      audio_peak_hz: this.meter ? this.meter.peakHz : 0,
    };
  }

  remove() {
    if (this.meter) this.meter.close();
    this.video.srcObject = null;
    this.audio.srcObject = null;
    this.el.remove();
  }
}

export class TileManager {
  constructor({ stage, strip, texts, layout = "grid" }) {
    this.stage = stage;
    this.strip = strip;
    this.texts = texts;
    this.layout = layout;
    this.tiles = new Map();
    this.pinned = null;
    this.activeSpeaker = null;
    this.mainPeers = new Set(); // peers shown large on a TV (main bridge points)
    this.featured = null; // peer in the speaker slot of a large meeting: shown large
    this.large = false; // a large meeting: the strip holds thumbnails, the stage the speaker
    this.sinkId = "";
    this._meterTimer = setInterval(() => this._sampleAudio(), 100);
  }

  ensure(id, info) {
    let tile = this.tiles.get(id);
    if (!tile) {
      tile = new Tile(this, id, info);
      this.tiles.set(id, tile);
      this.strip.append(tile.el);
      this.arrange();
    } else if (info.name && info.name !== tile.name) {
      tile.setName(info.name);
    }
    return tile;
  }

  get(id) { return this.tiles.get(id); }

  remove(id) {
    const tile = this.tiles.get(id);
    if (!tile) return;
    tile.remove();
    this.tiles.delete(id);
    if (this.pinned === id) this.pinned = null;
    this.arrange();
  }

  removePeer(peerId) {
    for (const [id, tile] of [...this.tiles]) if (tile.peerId === peerId) this.remove(id);
  }

  clearRemote() {
    for (const [id, tile] of [...this.tiles]) if (!tile.local) this.remove(id);
  }

  togglePin(id) {
    this.pinned = this.pinned === id ? null : id;
    for (const [tid, tile] of this.tiles) {
      const button = tile.el.querySelector(".pin");
      const on = tid === this.pinned;
      button.setAttribute("aria-pressed", String(on));
      button.title = on ? this.texts.unpin : this.texts.pin;
      tile.el.classList.toggle("pinned", on);
    }
    this.arrange();
  }

  setActiveSpeaker(peerId) {
    this.activeSpeaker = peerId;
    for (const tile of this.tiles.values()) {
      tile.el.classList.toggle("speaking", !!peerId && tile.peerId === peerId && tile.source === "camera");
    }
    this.arrange();
  }

  // Which tiles go on the stage (large); the rest stay in the strip/grid.
  _stageIds() {
    const ids = [];
    const cameraOf = (peerId) => {
      for (const [id, tile] of this.tiles) if (tile.peerId === peerId && tile.source === "camera") return id;
      return null;
    };
    if (this.pinned && this.tiles.has(this.pinned)) ids.push(this.pinned);
    const screens = [...this.tiles.values()].filter((t) => t.source === "screen" && !t.local).map((t) => t.id);
    if (this.layout === "tv") {
      for (const id of screens) if (!ids.includes(id)) ids.push(id);
      for (const peerId of this.mainPeers) {
        const id = cameraOf(peerId);
        if (id && !this.tiles.get(id).local && !ids.includes(id)) ids.push(id);
      }
      const speaker = this.activeSpeaker && cameraOf(this.activeSpeaker);
      if (speaker && !this.tiles.get(speaker).local && !ids.includes(speaker)) ids.push(speaker);
      if (ids.length === 0) {
        const first = [...this.tiles.values()].find((t) => !t.local);
        if (first) ids.push(first.id);
      }
      return ids.slice(0, 2);
    }
    if (ids.length === 0 && screens.length) ids.push(screens[0]);
    const featured = this.large && this.featured && cameraOf(this.featured);
    if (featured && !ids.includes(featured) && ids.length < 2) ids.push(featured);
    return ids;
  }

  arrange() {
    const onStage = this._stageIds();
    for (const [id, tile] of this.tiles) {
      const parent = onStage.includes(id) ? this.stage : this.strip;
      if (tile.el.parentElement !== parent) parent.append(tile.el);
    }
    // keep stage order as computed
    for (const id of onStage) this.stage.append(this.tiles.get(id).el);
    document.body.classList.toggle("has-stage", onStage.length > 0);
    document.body.classList.toggle("large-meeting", this.large);
    this.stage.dataset.count = String(onStage.length);
    this.strip.dataset.count = String(this.tiles.size - onStage.length);
  }

  setSinkId(sinkId) {
    this.sinkId = sinkId;
    for (const tile of this.tiles.values()) {
      if (tile.audio.setSinkId && !tile.local) tile.audio.setSinkId(sinkId).catch(() => {});
    }
  }

  _sampleAudio() {
    for (const tile of this.tiles.values()) {
      if (!tile.meter) continue;
      const level = tile.meter.sample();
      tile.levelEl.style.setProperty("--level", String(Math.min(1, level * 8)));
    }
  }

  stats() {
    return [...this.tiles.values()].map((t) => t.stats());
  }
}
