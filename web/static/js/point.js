// The bridge-point TV screen: no mouse, no clicks. It finds the point's current meeting, joins,
// publishes the room's camera and microphones, and rejoins by itself after any failure.
import { MeetingConnection, pageTexts } from "./connection.js";
import { MediaSession, followConnection } from "./media.js";
import { TileManager, unlockAudioOnInput } from "./tiles.js";
import { bindStatus } from "./status.js";
import { MeetingState } from "./tvstate.js";
import { obeyConsole, reportHealth } from "./health.js";

const texts = pageTexts();
const POLL_MS = 10000;
const $ = (id) => document.getElementById(id);
const tiles = new TileManager({ stage: $("stage"), strip: $("tiles"), texts, layout: "tv" });
const state = new MeetingState($("tv-state"));
window.hoinghi = { socket: null, meetingId: null, me: null, tiles, media: null, stats: () => (media ? media.stats() : { tiles: tiles.stats() }) };

let conn = null;
let media = null;
let local = null;

async function currentMeeting() {
  const response = await fetch("/api/point/meeting", { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401 || response.status === 403) {
    window.location.reload(); // the token was revoked: show the login form
    return null;
  }
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.json();
}

function showWaiting(waiting) {
  $("waiting").hidden = !waiting;
  document.body.classList.toggle("waiting", waiting);
}

async function enter(meeting) {
  showWaiting(false);
  $("meeting-title").textContent = meeting.title;
  conn = new MeetingConnection(meeting.id);
  media = new MediaSession(conn, tiles, { texts });
  if (local) media.local = local;
  else local = await media.openDevices();
  Object.assign(window.hoinghi, { socket: conn.socket, meetingId: meeting.id, media, conn });
  bindStatus(conn, media, texts);
  followConnection(conn, media);
  conn.addEventListener("joined", () => state.follow(conn.socket));
  reportHealth(conn, media);
  obeyConsole(conn, media);
  conn.socket.on("mute_requested", () => media.setMic(false));
  document.addEventListener("hoinghi:mute-requested", () => media.setMic(false));
  conn.addEventListener("status", (ev) => {
    // not (or no longer) invited, or the meeting closed: go back to waiting for the next one
    if (ev.detail.state === "failed" && ev.detail.error && ["forbidden", "conflict", "not_found"].includes(ev.detail.error.code)) {
      window.location.reload();
    }
  });
  conn.start();
}

async function poll() {
  try {
    const answer = await currentMeeting();
    const meeting = answer && answer.meeting;
    if (!conn && meeting) await enter(meeting);
    else if (conn && (!meeting || meeting.id !== conn.meetingId)) {
      window.location.reload(); // another meeting started, or this one closed
      return;
    } else if (!conn) showWaiting(true);
  } catch (err) {
    // the server is restarting or the network is down: keep trying
    if (!conn) showWaiting(true);
  }
  setTimeout(poll, POLL_MS);
}

function tick() {
  const now = new Date();
  $("clock").textContent = now.toLocaleTimeString(document.documentElement.lang === "en" ? "en-GB" : "vi-VN", { hour: "2-digit", minute: "2-digit" });
}
setInterval(tick, 10000);
tick();

// A remote control or keyboard may still be there: M toggles the microphone, F full screen.
document.addEventListener("keydown", (ev) => {
  if (ev.key === "m" || ev.key === "M") {
    if (media) media.setMic(!media.micOn);
  } else if (ev.key === "f" || ev.key === "F") {
    if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
    else document.exitFullscreen().catch(() => {});
  }
});
unlockAudioOnInput(() => {
  if (!document.fullscreenElement) document.documentElement.requestFullscreen().catch(() => {});
});

poll();
