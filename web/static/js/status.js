// The connection-status line and the quality bars shared by the meeting page and the TV screen.
export function bindStatus(conn, media, texts) {
  const status = document.getElementById("conn-status");
  const quality = document.getElementById("quality");
  const show = (state, label) => {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = label;
  };
  conn.addEventListener("status", (ev) => {
    const { state } = ev.detail;
    if (state === "connected") show("connected", texts.connected);
    else if (state === "failed") show("failed", texts.join_failed);
    else if (state === "reconnecting") show("reconnecting", texts.reconnecting);
    else if (state === "lobby") show("lobby", texts.in_lobby);
    else if (state === "rejected") show("failed", texts.lobby_rejected);
    else show("connecting", texts.connecting);
  });
  media.addEventListener("quality", (ev) => {
    if (!quality) return;
    const level = ev.detail;
    quality.dataset.level = level;
    const label = texts[`quality_${level}`] || texts.quality;
    quality.title = label;
    quality.setAttribute("aria-label", label);
  });
  media.addEventListener("notice", (ev) => {
    if (status && ev.detail) status.title = ev.detail;
  });
}
