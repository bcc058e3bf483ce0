// Live captions on the meeting page and the bridge-point TV screen. Listens for `caption` events on
// the page's Socket.IO connection (window.hoinghi.socket, set by meeting.js / point.js): one line per
// speaker, the partial text replaced as it grows, the final one kept a few seconds. Each viewer can
// switch captions off (button, or the C key on the TV screen); the choice is remembered in this browser.
const box = document.getElementById("captions");
const STORE = "hoinghi.captions";
const KEEP_MS = 6000;
const MAX_LINES = 3;
const lines = new Map(); // peer_id -> {el, timer}
let enabled = localStorage.getItem(STORE) !== "off";
let button = null;
let attached = null;

function render() {
  box.hidden = !enabled;
  if (button) {
    button.textContent = enabled ? box.dataset.on : box.dataset.off;
    button.setAttribute("aria-pressed", String(enabled));
  }
}

function toggle() {
  enabled = !enabled;
  localStorage.setItem(STORE, enabled ? "on" : "off");
  render();
}

function lineFor(peerId) {
  let line = lines.get(peerId);
  if (!line) {
    const el = document.createElement("p");
    el.className = "caption-line";
    el.dataset.peerId = peerId;
    const who = document.createElement("b");
    const text = document.createElement("span");
    el.append(who, text);
    box.append(el);
    line = { el, who, text, timer: null };
    lines.set(peerId, line);
    while (lines.size > MAX_LINES) drop(lines.keys().next().value);
  }
  return line;
}

function drop(peerId) {
  const line = lines.get(peerId);
  if (!line) return;
  clearTimeout(line.timer);
  line.el.remove();
  lines.delete(peerId);
}

function show(caption) {
  if (!caption || !caption.text) return;
  const line = lineFor(caption.peer_id);
  line.who.textContent = caption.speaker ? `${caption.speaker}: ` : "";
  line.text.textContent = caption.text;
  line.el.classList.toggle("partial", !caption.final);
  clearTimeout(line.timer);
  line.timer = setTimeout(() => drop(caption.peer_id), caption.final ? KEEP_MS : KEEP_MS * 2);
  window.hoinghi.captions.push({ ...caption, at: Date.now() });
}

function attach(socket) {
  if (attached === socket) return;
  attached = socket;
  socket.on("caption", show);
}

// Without a model there is nothing to switch: the button goes, and those who run the meeting are told why.
async function noticeIfOff() {
  const response = await fetch("/api/transcription", { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) return;
  const status = await response.json();
  if (status.enabled) return;
  if (button) button.hidden = true;
  const me = window.hoinghi && window.hoinghi.me;
  if (!me || !["secretary", "chair", "admin"].includes(me.role)) return;
  const note = document.createElement("p");
  note.className = "caption-notice";
  note.setAttribute("role", "status");
  note.textContent = status.off_reason === "bad_model" ? box.dataset.badModel : box.dataset.noModel;
  (area || box.parentElement).prepend(note); // above the videos, covering none of the chair's controls
}

function addControls() {
  const controls = document.getElementById("controls");
  if (!controls) return; // the TV screen: the C key
  button = document.createElement("button");
  button.type = "button";
  button.id = "btn-captions";
  button.className = "toggle captions-toggle";
  button.addEventListener("click", toggle);
  const link = document.createElement("a");
  link.href = `/meetings/${document.body.dataset.meetingId}/transcript`;
  link.target = "_blank";
  link.className = "transcript-link";
  link.textContent = box.dataset.transcript;
  const leave = document.getElementById("btn-leave");
  controls.insertBefore(button, leave);
  controls.insertBefore(link, leave);
}

const area = document.getElementById("stage-area"); // the meeting page: captions under the videos
if (area && !box.classList.contains("captions-tv")) area.append(box);
window.hoinghi = window.hoinghi || {};
window.hoinghi.captions = [];
addControls();
render();
document.addEventListener("keydown", (ev) => {
  if (ev.key.toLowerCase() === "c" && !ev.ctrlKey && !ev.metaKey && !(ev.target instanceof HTMLInputElement)) toggle();
});
// meeting.js and point.js create the connection; the TV screen replaces it when the meeting changes
let noticed = false;
setInterval(() => {
  const socket = window.hoinghi && window.hoinghi.socket;
  if (socket) attach(socket);
  if (!noticed && window.hoinghi && window.hoinghi.me) {
    noticed = true;
    noticeIfOff().catch(() => {});
  }
}, 250);
