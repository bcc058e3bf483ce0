// The console of a bridge point (a tablet or second window beside the TV), logged in with the
// point's token or an operator account attached to the point. It joins the point's meeting as the
// point's console (no media): control.js gives it requests to speak on behalf of someone in the
// room, the head-count and the show of hands; this file drives the room's microphone and camera on
// the TV screen (point_command / point_devices) and shows the point's own link (points_status).
import { MeetingConnection } from "./connection.js";
import { h } from "./dom.js";

const TEXT = {
  vi: {
    room: "Thiết bị phòng họp", link: "Kết nối của điểm cầu", mic: "Micrô phòng họp", camera: "Camera phòng họp",
    on: "Đang bật", off: "Đang tắt", turn_on: "Bật", turn_off: "Tắt", microphone_device: "Chọn micrô",
    camera_device: "Chọn camera", no_screen: "Màn hình TV của điểm cầu chưa kết nối: hãy mở /point trên máy tính nối với TV.",
    online: "Trực tuyến", offline: "Mất kết nối", agent: "tác tử", screen: "màn hình TV", bitrate: "Băng thông vào/ra",
    loss: "Mất gói", rtt: "Độ trễ", fps: "Khung hình/giây", waiting: "Chưa có cuộc họp nào của điểm cầu lúc này.",
    connecting: "Đang kết nối…", connected: "Đã kết nối", reconnecting: "Đang kết nối lại…", failed: "Không vào được cuộc họp",
    not_attached: "Tài khoản này chưa được gắn với điểm cầu nào (hoinghi user add … --role operator --point MÃ).",
  },
  en: {
    room: "Room devices", link: "The point's link", mic: "Room microphone", camera: "Room camera", on: "On", off: "Off",
    turn_on: "Turn on", turn_off: "Turn off", microphone_device: "Microphone", camera_device: "Camera",
    no_screen: "The point's TV screen is not connected: open /point on the PC attached to the TV.",
    online: "Online", offline: "Offline", agent: "agent", screen: "TV screen", bitrate: "Bitrate in/out", loss: "Loss",
    rtt: "Round trip", fps: "Frames/s", waiting: "The point has no meeting at the moment.", connecting: "Connecting…",
    connected: "Connected", reconnecting: "Reconnecting…", failed: "Could not join the meeting",
    not_attached: "This account is attached to no bridge point (hoinghi user add … --role operator --point ID).",
  },
};
const lang = (document.documentElement.lang || "vi").startsWith("en") ? "en" : "vi";
const t = (key) => TEXT[lang][key].normalize("NFC");
const $ = (id) => document.getElementById(id);
const POLL_MS = 10000;
const pointId = document.body.dataset.pointId;

let conn = null;
let devices = null; // the last point_devices from the TV screen
let link = null; // this point in the last points_status


const command = (payload) => conn.socket.timeout(10000).emitWithAck("point_command", payload).catch(() => null);

function renderDevices() {
  if (!devices) {
    $("room-devices").replaceChildren(h("p", { class: "hn-empty" }, t("no_screen")));
    return;
  }
  const toggle = (key, on) => h("div", { class: "console-toggle" },
    h("span", {}, t(key), ": ", h("strong", { class: on ? "on" : "off" }, on ? t("on") : t("off"))),
    h("button", { type: "button", class: on ? "danger" : "primary", id: `btn-room-${key}`,
      onclick: () => command({ command: key, on: !on }) }, on ? t("turn_off") : t("turn_on")));
  const chooser = (kind, label, selected) => {
    const options = devices.devices.filter((d) => d.kind === kind);
    if (!options.length) return null;
    return h("label", { class: "console-device" }, label, h("select", {
      onchange: (e) => command({ command: "device", kind: kind === "audioinput" ? "audio" : "video", device_id: e.target.value }),
    }, options.map((d) => h("option", { value: d.device_id, selected: d.device_id === selected }, d.label))));
  };
  $("room-devices").replaceChildren(toggle("mic", devices.mic), toggle("camera", devices.camera),
    chooser("audioinput", t("microphone_device"), devices.audio_id), chooser("videoinput", t("camera_device"), devices.video_id));
}

function renderLink() {
  const p = link;
  if (!p) { $("room-link").replaceChildren(); return; }
  const fig = (v, unit) => (v == null ? "—" : `${v}${unit}`);
  $("room-link").replaceChildren(h("p", { class: `console-link ${p.online ? "online" : "offline"}` },
    h("span", { class: "dot" }), p.online ? t("online") : t("offline"), p.client ? ` (${t(p.client)})` : ""),
  h("dl", { class: "console-figures" },
    h("dt", {}, t("bitrate")), h("dd", {}, `${fig(p.bitrate_in_kbps, "")} / ${fig(p.bitrate_out_kbps, " kbit/s")}`),
    h("dt", {}, t("loss")), h("dd", {}, fig(p.loss_pct, " %")),
    h("dt", {}, t("rtt")), h("dd", {}, fig(p.rtt_ms, " ms")),
    h("dt", {}, t("fps")), h("dd", {}, fig(p.fps, ""))));
}

async function refreshLink() {
  if (!conn || !conn.joined) return;
  const ack = await conn.socket.timeout(10000).emitWithAck("points_status", {}).catch(() => null);
  if (ack && ack.ok) { link = ack.points.find((p) => p.id === pointId) || null; renderLink(); }
}

function enter(meeting) {
  $("waiting").hidden = true;
  $("meeting-title").textContent = meeting.title;
  conn = new MeetingConnection(meeting.id, { console: true });
  window.hoinghi = { socket: conn.socket, meetingId: meeting.id, me: null, conn };
  conn.socket.on("point_devices", (d) => { if (d.meeting_id === meeting.id) { devices = d; renderDevices(); } });
  conn.socket.on("points_status", (d) => {
    if (d.meeting_id !== meeting.id) return;
    link = d.points.find((p) => p.id === pointId) || null;
    renderLink();
  });
  conn.addEventListener("status", (ev) => {
    const s = ev.detail.state;
    $("conn-status").dataset.state = s;
    $("conn-status").textContent = t(["connected", "reconnecting", "failed"].includes(s) ? s : "connecting");
  });
  conn.addEventListener("joined", (ev) => {
    window.hoinghi.me = ev.detail.me;
    document.dispatchEvent(new CustomEvent("hoinghi:joined", { detail: ev.detail }));
    command({ command: "report" }); // the TV screen answers with its devices
    refreshLink();
  });
  conn.start();
  renderDevices();
}

async function poll() {
  try {
    const response = await fetch("/api/point/meeting", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 403) { $("waiting").hidden = false; $("waiting").textContent = t("not_attached"); return; }
    if (response.status === 401) { window.location.assign("/point"); return; }
    const meeting = (await response.json()).meeting;
    if (!conn && meeting) enter(meeting);
    else if (conn && (!meeting || meeting.id !== conn.meetingId)) { window.location.reload(); return; }
    else if (!conn) { $("waiting").hidden = false; $("waiting").textContent = t("waiting"); }
  } catch (_) { /* the server is restarting: keep trying */ }
  setTimeout(poll, POLL_MS);
}

$("room-title").textContent = t("room");
$("link-title").textContent = t("link");
setInterval(refreshLink, 5000);
poll();
