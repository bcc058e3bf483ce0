// One Socket.IO connection per page; joins the meeting on every (re)connection, without a click.
import { io } from "/static/vendor/socket.io/socket.io.esm.min.js";

export function pageTexts() {
  const el = document.getElementById("texts");
  return el ? JSON.parse(el.textContent) : {};
}

export class AckError extends Error {
  constructor(event, ack) {
    super(`${event}: ${(ack && (ack.message || ack.error)) || "no answer"}`);
    this.code = ack ? ack.error : "timeout";
  }
}

// Emit with an acknowledgement; resolve with the ack or throw AckError.
export async function call(socket, event, payload = {}, timeoutMs = 15000) {
  let ack;
  try {
    ack = await socket.timeout(timeoutMs).emitWithAck(event, payload);
  } catch (_) {
    throw new AckError(event, null);
  }
  if (!ack || ack.ok !== true) throw new AckError(event, ack);
  return ack;
}

const RETRY_JOIN_MS = 3000;

// Events: "joined" (detail: join ack), "left" (detail: reason), "status" (detail: state string).
export class MeetingConnection extends EventTarget {
  constructor(meetingId, joinFields = {}) {
    super();
    this.meetingId = meetingId;
    this.joinFields = joinFields; // e.g. {console: true} for a bridge point's console
    this.joined = false;
    this.wanted = true; // false after the user leaves on purpose
    this.me = null;
    this.joinAck = null;
    this._retry = null;
    this.socket = io({
      autoConnect: false,
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
      randomizationFactor: 0.3,
    });
    this.socket.on("connect", () => this._join());
    this.socket.on("disconnect", (reason) => {
      this._setJoined(false, reason);
      this._status("reconnecting");
      // the server closed this connection on purpose (e.g. restart): come back anyway
      if (reason === "io server disconnect" && this.wanted) setTimeout(() => this.socket.connect(), 1000);
    });
    this.socket.on("connect_error", (err) => {
      this._status("reconnecting");
      // A refused login (session expired, token revoked) will not heal by retrying: go to the login page.
      // (At most one reload a minute, in case the page loads but the socket is still refused.)
      const last = Number(sessionStorage.getItem("hoinghi.reloaded") || 0);
      if (err && err.message === "unauthorized" && Date.now() - last > 60000) {
        sessionStorage.setItem("hoinghi.reloaded", String(Date.now()));
        window.location.reload();
      } else if (!this.socket.active) setTimeout(() => this.socket.connect(), 5000);
    });
    this.socket.on("lobby_admitted", (msg) => { if (msg && msg.meeting_id === this.meetingId) this._join(); });
    this.socket.on("lobby_rejected", (msg) => {
      if (msg && msg.meeting_id === this.meetingId) { this.wanted = false; this._status("rejected"); }
    });
    this.roster = new Map(); // peer_id -> roster entry, kept current between joins
    // Joins and leaves, coalesced by the server: `joined` and `left` never name the same peer.
    this.socket.on("participants", (msg) => {
      if (!msg || msg.meeting_id !== this.meetingId) return;
      for (const gone of msg.left || []) {
        this.roster.delete(gone.peer_id);
        // our own peer removed from the meeting by someone else (e.g. another tab took over)
        if (this.me && gone.peer_id === this.me.peer_id) this._setJoined(false, "removed");
      }
      for (const entry of msg.joined || []) if (entry && entry.peer_id) this.roster.set(entry.peer_id, entry);
    });
  }

  start() {
    this.wanted = true;
    if (this.socket.connected) this._join();
    else this.socket.connect();
  }

  async leave() {
    this.wanted = false;
    clearTimeout(this._retry);
    if (this.joined) {
      try { await call(this.socket, "leave_meeting", {}); } catch (_) { /* leaving anyway */ }
    }
    this._setJoined(false, "left");
  }

  async _join() {
    clearTimeout(this._retry);
    if (!this.wanted || !this.socket.connected) return;
    this._status("connecting");
    try {
      const ack = await call(this.socket, "join_meeting", { ...this.joinFields, meeting_id: this.meetingId });
      this.me = ack.me;
      this.joinAck = ack;
      this.roster = new Map((ack.roster || []).map((entry) => [entry.peer_id, entry]));
      this._setJoined(true, ack);
      this._status("connected");
    } catch (err) {
      if (err.code === "in_lobby") {
        // uninvited: wait in the lobby until the chair or the secretary admits (lobby_admitted) or rejects
        this._status("lobby", err);
        return;
      }
      this._status("failed", err);
      // e.g. the server is still starting, or the meeting is not open yet: keep trying
      if (this.wanted && err.code !== "forbidden") this._retry = setTimeout(() => this._join(), RETRY_JOIN_MS);
    }
  }

  _setJoined(joined, detail) {
    const was = this.joined;
    this.joined = joined;
    if (joined) this.dispatchEvent(new CustomEvent("joined", { detail }));
    else if (was) this.dispatchEvent(new CustomEvent("left", { detail }));
  }

  _status(state, error) {
    this.dispatchEvent(new CustomEvent("status", { detail: { state, error } }));
  }
}
