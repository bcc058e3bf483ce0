// The meeting's state on the bridge-point TV screen, in type a hall can read from its back row:
// the current agenda item, who has the floor and the time left, the queue, an open vote with its
// live count, the result with its per-point breakdown, attendance and quorum. Read-only, no mouse.
// Events: docs/protocol.md, "Meeting control". (Captions are captions.js's, at the foot of the video.)
const TEXT = {
  vi: {
    item: "Nội dung đang thảo luận", no_item: "Chưa vào nội dung", floor: "Đang phát biểu", left: "Còn lại",
    no_limit: "Không giới hạn thời gian", queue: "Đăng ký phát biểu", no_queue: "Chưa có đăng ký", more: "và {n} người khác",
    vote: "Đang biểu quyết", secret: "Bỏ phiếu kín", ballots: "Đã biểu quyết", hands: "Giơ tay", result: "Kết quả biểu quyết",
    passed: "THÔNG QUA", rejected: "KHÔNG THÔNG QUA", cancelled: "ĐÃ HỦY", yes: "Tán thành", no: "Không tán thành",
    abstain: "Không biểu quyết", required_of: "Cần {n} phiếu tán thành / {total} thành viên", present: "Có mặt", quorum: "tối thiểu", quorum_met: "Đủ số lượng",
    quorum_not_met: "Chưa đủ số lượng", browsers: "Thiết bị cá nhân", scheduled: "Cuộc họp chưa khai mạc",
    closed: "Cuộc họp đã bế mạc", by_point: "Theo điểm cầu",
  },
  en: {
    item: "Under discussion", no_item: "No item yet", floor: "Speaking", left: "Left", no_limit: "No time limit",
    queue: "Requests to speak", no_queue: "No requests", more: "and {n} more", vote: "Vote in progress",
    secret: "Secret ballot", ballots: "Voted", hands: "Hands", result: "Result of the vote", passed: "ADOPTED",
    rejected: "NOT ADOPTED", cancelled: "CANCELLED", yes: "In favour", no: "Against", abstain: "Not voting",
    required_of: "Needs {n} in favour / {total} members", present: "Present", quorum: "quorum", quorum_met: "Quorum met", quorum_not_met: "No quorum",
    browsers: "Own devices", scheduled: "The meeting has not opened yet", closed: "The meeting is closed",
    by_point: "By bridge point",
  },
};
const QUEUE_SHOWN = 4;
const RESULT_SHOWN_MS = 5 * 60 * 1000; // a result stays on screen this long after the vote closed

export class MeetingState {
  constructor(root) {
    this.root = root;
    this.lang = (document.documentElement.lang || "vi").startsWith("en") ? "en" : "vi";
    this.S = { meeting: null, agenda: null, speakers: null, attendance: null, vote: null, tally: null, result: null, resultAt: 0 };
    this.socket = null;
    this.seen = {}; // kind -> the highest seq shown (a TV screen follows one meeting)
    setInterval(() => this._tick(), 500);
  }

  // Whether a state of this kind stamped `seq` is not older than the last one shown (and remember it).
  fresh(kind, seq) {
    if (seq == null) return true;
    if (seq < (this.seen[kind] ?? -1)) return false;
    this.seen[kind] = seq;
    return true;
  }

  t(key, n) { return (TEXT[this.lang][key] || key).replace("{n}", n).normalize("NFC"); }

  // Follow a (re)joined connection: a snapshot first, then the broadcasts.
  async follow(socket) {
    if (this.socket !== socket) {
      this.socket = socket;
      const on = (name, fn) => socket.on(name, (d) => { fn(d); this.render(); });
      // A broadcast overtaken on the way by a newer one (higher audit seq) is dropped, as in control.js.
      const fresh = (kind, d) => this.fresh(kind, d.seq);
      on("meeting_state", (d) => { if (fresh("meeting", d)) this.S.meeting = d; });
      on("agenda", (d) => { if (fresh("agenda", d)) this.S.agenda = d; });
      on("speakers", (d) => { if (fresh("speakers", d)) this.S.speakers = d; });
      on("attendance", (d) => { this.S.attendance = d; });
      on("vote_opened", (d) => { if (fresh("vote", d)) { this.S.vote = d; this.S.tally = d.tally; this.S.result = null; } });
      on("vote_tally", (d) => { if (this.S.vote && d.vote_id === this.S.vote.id && fresh("vote", d)) this.S.tally = d; });
      on("vote_closed", (d) => {
        if (fresh("vote", d)) { this.S.vote = null; this.S.tally = null; this.S.result = d; this.S.resultAt = Date.now(); }
      });
    }
    try {
      const ack = await socket.timeout(15000).emitWithAck("control_state", {});
      if (!ack.ok) return;
      for (const kind of ["meeting", "agenda", "speakers"]) if (this.fresh(kind, ack.seq)) this.S[kind] = ack[kind];
      this.S.attendance = ack.attendance;
      if (this.fresh("vote", ack.seq)) Object.assign(this.S, { vote: ack.vote, tally: ack.vote ? ack.vote.tally : null });
      if (!ack.vote && ack.results.length && !this.S.result) { this.S.result = ack.results[ack.results.length - 1]; this.S.resultAt = 0; }
      this.render();
    } catch (_) { /* the connection dropped again: the next join asks again */ }
  }

  render() {
    const ballot = this._vote() || this._result();
    const queued = ((this.S.speakers && this.S.speakers.queue) || []).length > 0;
    // an empty queue gives its room to a ballot or a result
    const parts = [this._item(), this._floor(), ballot, queued || !ballot ? this._queue() : null, this._attendance()].filter(Boolean);
    this.root.replaceChildren(...parts);
    document.body.classList.add("has-state");
    this._tick();
  }

  _el(tag, cls, ...children) {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  _box(cls, title, ...body) { return this._el("section", `tv-box ${cls}`, this._el("h2", "", title), ...body); }

  _item() {
    const m = this.S.meeting;
    if (m && m.status !== "open") return this._box("tv-item", this.t(m.status === "closed" ? "closed" : "scheduled"));
    const current = this.S.agenda && this.S.agenda.items.find((i) => i.state === "current");
    return this._box("tv-item", this.t("item"), this._el("p", "tv-big", current ? current.title : this.t("no_item")),
      current && current.presenter ? this._el("p", "tv-meta", current.presenter) : null);
  }

  _floor() {
    const f = this.S.speakers && this.S.speakers.floor;
    if (!f) return null;
    const point = f.point_id && this.S.attendance ? this.S.attendance.points.find((p) => p.id === f.point_id) : null;
    const countdown = this._el("p", "tv-countdown", f.deadline_ms ? "" : this.t("no_limit"));
    if (f.deadline_ms) countdown.dataset.deadline = String(f.deadline_ms);
    return this._box("tv-floor", this.t("floor"), this._el("p", "tv-big tv-speaker", f.name),
      point && point.name !== f.name ? this._el("p", "tv-meta", point.name) : null, f.topic ? this._el("p", "tv-meta", f.topic) : null, countdown);
  }

  _queue() {
    const q = (this.S.speakers && this.S.speakers.queue) || [];
    const list = this._el("ol", "tv-queue", q.slice(0, QUEUE_SHOWN).map((r) => this._el("li", "", r.name,
      r.topic ? this._el("span", "tv-meta", ` — ${r.topic}`) : null)));
    return this._box("tv-queue-box", `${this.t("queue")} (${q.length})`, q.length ? list : this._el("p", "tv-meta", this.t("no_queue")),
      q.length > QUEUE_SHOWN ? this._el("p", "tv-meta", this.t("more", q.length - QUEUE_SHOWN)) : null);
  }

  _vote() {
    const v = this.S.vote;
    if (!v) return null;
    const tally = this.S.tally || v.tally || { ballots: 0, hands: 0, cast: 0, eligible: v.eligible };
    const counts = tally.counts && !v.secret ? this._el("p", "tv-counts",
      ["yes", "no", "abstain"].map((o) => this._el("span", `tv-opt ${o}`, `${this.t(o)} ${tally.counts[o]}`))) : null;
    return this._box("tv-vote", v.secret ? `${this.t("vote")} · ${this.t("secret")}` : this.t("vote"),
      this._el("p", "tv-big", v.title),
      this._el("p", "tv-turnout", this._el("strong", "tv-cast", String(tally.cast)), ` / ${v.total_members}`,
        this._el("span", "tv-meta", ` · ${this.t("ballots")} ${tally.ballots}${tally.hands ? ` · ${this.t("hands")} ${tally.hands}` : ""}`)),
      counts);
  }

  _result() {
    const r = this.S.result;
    if (!r || (this.S.resultAt && Date.now() - this.S.resultAt > RESULT_SHOWN_MS)) return null;
    const verdict = r.state === "cancelled" ? "cancelled" : r.passed ? "passed" : "rejected";
    const rows = r.by_point.filter((g) => g.ballots || g.hands).map((g) => this._el("tr", "",
      this._el("th", "", g.point_id ? g.name : this.t("browsers")),
      ["yes", "no", "abstain"].map((o) => this._el("td", `tv-opt ${o}`, g.counts ? String(g.counts[o]) : g.hands ? String(g.hands[o]) : "—"))));
    return this._box(`tv-result ${verdict}`, this.t("result"), this._el("p", "tv-meta", r.title),
      this._el("p", "tv-verdict", this.t(verdict)),
      this._el("p", "tv-counts", ["yes", "no", "abstain"].map((o) => this._el("span", `tv-opt ${o}`, `${this.t(o)} ${r[o]}`))),
      this._el("p", "tv-meta", this.t("required_of", r.required).replace("{total}", r.total_members)),
      rows.length ? this._el("table", "tv-breakdown", this._el("caption", "", this.t("by_point")), rows) : null);
  }

  _attendance() {
    const a = this.S.attendance;
    if (!a) return null;
    return this._box(`tv-attendance ${a.quorum_met ? "met" : "not-met"}`, this.t("present"),
      this._el("p", "tv-turnout", this._el("strong", "", String(a.present_members)), ` / ${a.members_total}`,
        this._el("span", "tv-meta", ` · ${this.t("quorum")} ${a.quorum_required}`)),
      this._el("p", "tv-quorum", a.quorum_met ? this.t("quorum_met") : this.t("quorum_not_met")));
  }

  _tick() {
    for (const el of this.root.querySelectorAll(".tv-countdown[data-deadline]")) {
      const left = Math.max(0, Math.round((parseInt(el.dataset.deadline, 10) - Date.now()) / 1000));
      el.textContent = `${this.t("left")} ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      el.classList.toggle("ending", left <= 30);
    }
  }
}
