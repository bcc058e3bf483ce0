// The dashboard of bridge points for the chair, the secretary and admins (docs/protocol.md,
// "Bridge points"): every invited point with online/offline, last seen, link figures, head-count
// and whether a browser screen or an agent runs it, live; a point offline for more than 10 s
// stands out; the meeting's outages below, as the minutes will list them.
import { h } from "./dom.js";

const TEXT = {
  vi: {
    title: "Điểm cầu", point: "Điểm cầu", state: "Trạng thái", online: "Trực tuyến", offline: "Mất kết nối",
    never: "Chưa kết nối", client: "Thiết bị", agent: "Tác tử", screen: "Trình duyệt", seen: "Lần cuối",
    bitrate: "Vào/ra (kbit/s)", loss: "Mất gói", rtt: "Trễ (ms)", fps: "Hình/giây", headcount: "Có mặt",
    outages: "Lịch sử mất kết nối", no_outages: "Chưa có lần mất kết nối nào.", ago: "{n} giây trước", since: "từ {n} giây",
    until: "đến", open: "đang mất", close: "Đóng",
  },
  en: {
    title: "Bridge points", point: "Point", state: "State", online: "Online", offline: "Offline", never: "Never connected",
    client: "Device", agent: "Agent", screen: "Browser", seen: "Last seen", bitrate: "In/out (kbit/s)", loss: "Loss",
    rtt: "RTT (ms)", fps: "Frames/s", headcount: "Present", outages: "Outage history", no_outages: "No outages yet.",
    ago: "{n} s ago", since: "for {n} s", until: "to", open: "ongoing", close: "Close",
  },
};
const DASHBOARD = ["chair", "secretary", "admin"];
const STANDS_OUT_AFTER_S = 10;
const lang = (document.documentElement.lang || "vi").startsWith("en") ? "en" : "vi";
const t = (key, n) => TEXT[lang][key].replace("{n}", n).normalize("NFC");

let status = null;
let skew = 0; // server clock - our clock, ms
let socket = null;


const time = (iso) => new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "vi-VN");

function render() {
  const root = document.getElementById("points-dashboard");
  if (!root || !status) return;
  const now = Date.now() + skew;
  const fig = (v) => (v == null ? "—" : String(v));
  const rows = status.points.map((p) => {
    const offlineFor = p.online ? 0 : Math.round((now - (p.offline_since ? Date.parse(p.offline_since) : p.last_seen_ms || now)) / 1000);
    const standsOut = !p.online && (p.last_seen_ms != null) && offlineFor > STANDS_OUT_AFTER_S;
    const state = p.online ? t("online") : p.last_seen_ms == null ? t("never") : `${t("offline")} ${t("since", offlineFor)}`;
    return h("tr", { class: `${p.online ? "online" : "offline"}${standsOut ? " stands-out" : ""}`, "data-point": p.id },
      h("th", { scope: "row" }, h("span", { class: "dot" }), p.name),
      h("td", { class: "state" }, state),
      h("td", {}, p.client ? t(p.client) : "—"),
      h("td", {}, p.last_seen_ms ? t("ago", Math.max(0, Math.round((now - p.last_seen_ms) / 1000))) : "—"),
      h("td", { class: "num" }, p.online ? `${fig(p.bitrate_in_kbps)} / ${fig(p.bitrate_out_kbps)}` : "—"),
      h("td", { class: "num" }, p.online ? `${fig(p.loss_pct)} %` : "—"),
      h("td", { class: "num" }, p.online ? fig(p.rtt_ms) : "—"),
      h("td", { class: "num" }, p.online ? fig(p.fps) : "—"),
      h("td", { class: "num" }, fig(p.headcount)));
  });
  const head = ["point", "state", "client", "seen", "bitrate", "loss", "rtt", "fps", "headcount"].map((k) => h("th", { scope: "col" }, t(k)));
  const outages = status.outages.length ? h("ol", { class: "outages" }, status.outages.map((o) => h("li", {},
    h("strong", {}, o.name), ` ${time(o.started_at)} ${t("until")} ${o.ended_at ? time(o.ended_at) : t("open")}`,
    o.duration_s != null ? ` (${o.duration_s} s)` : ""))) : h("p", { class: "hn-empty" }, t("no_outages"));
  root.replaceChildren(
    h("div", { class: "points-head" }, h("h2", {}, t("title")),
      h("button", { type: "button", class: "subtle", onclick: () => { root.hidden = true; } }, t("close"))),
    h("table", { class: "points-table" }, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)),
    h("h3", {}, t("outages")), outages);
  const badge = document.getElementById("points-toggle");
  if (badge) {
    const off = status.points.filter((p) => !p.online).length;
    badge.textContent = `${t("title")} ${status.points.length - off}/${status.points.length}`;
    badge.classList.toggle("alert", status.points.some((p) => !p.online && p.last_seen_ms != null));
  }
}

function take(data) {
  status = data;
  skew = data.server_ms - Date.now();
  render();
}

document.addEventListener("hoinghi:joined", async (event) => {
  const hn = window.hoinghi;
  const me = event.detail && event.detail.me;
  if (!hn || !hn.socket || !me || !DASHBOARD.includes(me.role)) return;
  const toggle = document.getElementById("points-toggle");
  const root = document.getElementById("points-dashboard");
  if (!toggle || !root) return;
  toggle.hidden = false;
  if (!toggle.dataset.bound) {
    toggle.dataset.bound = "1";
    toggle.addEventListener("click", () => { root.hidden = !root.hidden; render(); });
    setInterval(render, 1000);
  }
  if (socket !== hn.socket) {
    socket = hn.socket;
    socket.on("points_status", (d) => { if (d.meeting_id === hn.meetingId) take(d); });
  }
  const ack = await socket.timeout(10000).emitWithAck("points_status", {}).catch(() => null);
  if (ack && ack.ok) take(ack);
});
