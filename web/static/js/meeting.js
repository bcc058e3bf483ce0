// The meeting page of a person in a browser.
import { MeetingConnection, pageTexts } from "./connection.js";
import { MediaSession, followConnection } from "./media.js";
import { TileManager, unlockAudioOnInput } from "./tiles.js";
import { bindStatus } from "./status.js";

const texts = pageTexts();
const meetingId = Number(document.body.dataset.meetingId);
const conn = new MeetingConnection(meetingId);
const tiles = new TileManager({ stage: document.getElementById("stage"), strip: document.getElementById("tiles"), texts, layout: "grid" });
const media = new MediaSession(conn, tiles, { texts });

// Contract with the control panel (web/static/control.js): see docs/protocol.md.
window.hoinghi = { socket: conn.socket, meetingId, me: null, media, tiles, conn, stats: () => media.stats() };

bindStatus(conn, media, texts);
unlockAudioOnInput();

const $ = (id) => document.getElementById(id);

function setToggle(button, on) {
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? button.dataset.on : button.dataset.off;
}

$("btn-mic").addEventListener("click", () => {
  const on = $("btn-mic").getAttribute("aria-pressed") !== "true";
  media.setMic(on);
  setToggle($("btn-mic"), on);
});
$("btn-cam").addEventListener("click", () => {
  const on = $("btn-cam").getAttribute("aria-pressed") !== "true";
  media.setCam(on);
  setToggle($("btn-cam"), on);
});
$("btn-share").addEventListener("click", async () => {
  try {
    if (media.screen) await media.stopScreenShare();
    else await media.startScreenShare();
  } catch (err) {
    console.warn("screen share", err);
  }
});
media.addEventListener("screen", (ev) => setToggle($("btn-share"), ev.detail));
media.addEventListener("forwarding", (ev) => {
  if (ev.detail.kind === "audio") setToggle($("btn-mic"), ev.detail.enabled && media.micOn);
});
if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) $("btn-share").hidden = true;

$("btn-leave").addEventListener("click", async () => {
  await media.leave();
  await conn.leave();
  $("left-screen").hidden = false;
});
$("btn-rejoin").addEventListener("click", () => {
  $("left-screen").hidden = true;
  conn.start();
});

async function fillDevices() {
  const devices = await media.listDevices();
  const fill = (select, kind, current) => {
    const options = devices.filter((d) => d.kind === kind);
    select.replaceChildren();
    const def = new Option(texts.default_device, "");
    select.append(def);
    options.forEach((d, i) => {
      if (!d.deviceId || d.deviceId === "default") return;
      select.append(new Option(d.label || `${kind} ${i + 1}`, d.deviceId));
    });
    select.value = current || "";
    select.closest("label").hidden = options.length === 0;
  };
  fill($("sel-mic"), "audioinput", media.micId);
  fill($("sel-cam"), "videoinput", media.camId);
  fill($("sel-out"), "audiooutput", localStorage.getItem("hoinghi.out") || "");
  if (!("setSinkId" in HTMLMediaElement.prototype)) $("sel-out").closest("label").hidden = true;
}
$("sel-mic").addEventListener("change", (ev) => media.useDevice("audio", ev.target.value).catch((e) => console.warn(e)));
$("sel-cam").addEventListener("change", (ev) => media.useDevice("video", ev.target.value).catch((e) => console.warn(e)));
$("sel-out").addEventListener("change", (ev) => {
  localStorage.setItem("hoinghi.out", ev.target.value);
  tiles.setSinkId(ev.target.value);
});
navigator.mediaDevices && navigator.mediaDevices.addEventListener("devicechange", fillDevices);

followConnection(conn, media);

// From the control panel (control.js): the chair asks us to mute; the chair removed us.
document.addEventListener("hoinghi:mute-requested", () => {
  media.setMic(false);
  setToggle($("btn-mic"), false);
});
document.addEventListener("hoinghi:removed", async () => {
  await media.leave();
  await conn.leave();
  $("left-screen").hidden = false;
});

(async () => {
  await media.openDevices();
  await fillDevices();
  tiles.setSinkId(localStorage.getItem("hoinghi.out") || "");
  conn.start();
})();
