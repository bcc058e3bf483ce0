// The transcript page: new segments appear under their agenda item while the meeting runs, and the
// secretary corrects a segment's text or speaker in place (the original stays on the server).
import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";

const texts = JSON.parse(document.getElementById("caption-texts").textContent);
const meetingId = Number(document.body.dataset.meetingId);
const canCorrect = document.body.dataset.canCorrect === "true";
const list = document.getElementById("transcript");
const clock = new Intl.DateTimeFormat("vi-VN", { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

function shown(segment) {
  if (segment.kind !== "gap") return segment.text;
  const seconds = (segment.end_s - segment.start_s).toFixed(1);
  const key = segment.text === "busy" ? "gap_busy" : "gap";
  return texts[key].replace("{seconds}", document.documentElement.lang === "vi" ? seconds.replace(".", ",") : seconds);
}

function fill(el, segment) {
  el.className = segment.kind === "gap" ? "segment gap" : "segment";
  el.id = `segment-${segment.id}`;
  el.dataset.segmentId = segment.id;
  el.dataset.startedAt = segment.started_at;
  el.replaceChildren();
  const time = document.createElement("time");
  time.dateTime = segment.started_at;
  time.title = texts.meeting_time;
  time.textContent = clock.format(new Date(segment.started_at));
  el.append(time);
  if (segment.kind !== "gap") {
    const who = document.createElement("b");
    who.className = "speaker";
    who.textContent = segment.speaker;
    el.append(who);
  }
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = shown(segment);
  el.append(text);
  const last = segment.corrections && segment.corrections[segment.corrections.length - 1];
  if (last) {
    const note = document.createElement("small");
    note.className = "corrected";
    note.title = `${texts.original}: ${segment.original_text}`;
    note.textContent = `(${texts.corrected.replace("{by}", last.by_name)})`;
    el.append(note);
  }
  addEditButton(el, segment);
}

function section(itemId) {
  const key = itemId === null || itemId === undefined ? "none" : String(itemId);
  let sec = list.querySelector(`section[data-item-id="${key}"]`);
  if (!sec) {
    sec = document.createElement("section");
    sec.className = "transcript-item";
    sec.dataset.itemId = key;
    const h = document.createElement("h2");
    h.textContent = key === "none" ? texts.no_item : "…";
    sec.append(h);
    list.append(sec);
    if (key !== "none") fetchTitle(sec, itemId);
  }
  return sec;
}

async function fetchTitle(sec, itemId) {
  // the page was rendered before this item started: reload it once to get the agenda's wording
  const response = await fetch(location.href, { credentials: "same-origin" });
  const doc = new DOMParser().parseFromString(await response.text(), "text/html");
  const h = doc.querySelector(`section[data-item-id="${itemId}"] h2`);
  if (h) sec.querySelector("h2").textContent = h.textContent;
}

function upsert(segment) {
  if (!segment || segment.meeting_id !== meetingId) return;
  const empty = document.getElementById("empty");
  if (empty) empty.remove();
  let el = document.getElementById(`segment-${segment.id}`);
  if (!el) {
    el = document.createElement("article");
    section(segment.item_id).append(el);
  }
  fill(el, segment);
}

function addEditButton(el, segment) {
  if (!canCorrect || segment.kind === "gap") return;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "edit";
  button.textContent = texts.edit;
  button.addEventListener("click", () => openEditor(el, segment));
  el.append(button);
}

function openEditor(el, segment) {
  const form = document.createElement("form");
  const speaker = document.createElement("select");
  speaker.setAttribute("aria-label", texts.speaker);
  const keep = document.createElement("option");
  keep.value = "";
  keep.textContent = segment.speaker;
  speaker.append(keep, document.getElementById("speaker-options").content.cloneNode(true));
  const text = document.createElement("textarea");
  text.setAttribute("aria-label", texts.text);
  text.value = segment.text;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = texts.save;
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = texts.cancel;
  cancel.addEventListener("click", () => fill(el, segment));
  const error = document.createElement("small");
  error.setAttribute("role", "alert");
  form.append(speaker, text, save, cancel, error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    if (text.value !== segment.text) body.text = text.value;
    if (speaker.value) body.speaker_account_id = Number(speaker.value);
    const response = await fetch(`/api/meetings/${meetingId}/transcript/${segment.id}`, {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (answer.ok) upsert(answer.segment);
    else error.textContent = `${texts.save_failed}: ${answer.message}`;
  });
  el.querySelectorAll("button.edit").forEach((b) => b.remove());
  el.append(form);
  text.focus();
}

async function start() {
  // the server-rendered segments get their edit buttons from the JSON of the same segments
  if (canCorrect) {
    const response = await fetch(`/api/meetings/${meetingId}/transcript${location.search}`, { credentials: "same-origin" });
    const answer = await response.json();
    for (const segment of answer.segments || []) {
      const el = document.getElementById(`segment-${segment.id}`);
      if (el) fill(el, segment);
    }
  }
  if (list.dataset.live !== "true") return;
  const socket = io({ transports: ["websocket", "polling"] });
  socket.on("connect", () => socket.emit("transcript_watch", { meeting_id: meetingId }));
  socket.on("caption", (caption) => { if (caption.final) upsert(caption.segment); });
  socket.on("transcript_gap", upsert);
  socket.on("transcript_corrected", (data) => upsert(data.segment));
  window.hoinghi = { socket };
}

start();
