/* hoinghi control panel: agenda, requests to speak, voting, attendance, moderation.
 *
 * Contract with the meeting page: it loads this file and control.css, has <aside id="control-panel">,
 * sets window.hoinghi = {socket, meetingId, me} and dispatches the document event "hoinghi:joined"
 * (detail: the join_meeting ack) after every successful join. Events: docs/protocol.md, "Meeting control".
 * A mute request from the chair is passed on as the document event "hoinghi:mute-requested".
 */
import { h } from "/static/js/dom.js";

(function () {
  "use strict";

  const TEXT = {
    vi: {
      meeting: "Cuộc họp", status_scheduled: "Sắp diễn ra", status_open: "Đang họp", status_closed: "Đã kết thúc",
      open_meeting: "Khai mạc", close_meeting: "Bế mạc", lock: "Khóa phòng họp", unlock: "Mở khóa phòng họp",
      locked: "Đã khóa", agenda: "Chương trình nghị sự", no_items: "Chưa có nội dung.", current: "Đang thảo luận",
      make_current: "Chuyển sang mục này", finish_item: "Kết thúc mục", add_item: "Thêm mục", title: "Tiêu đề",
      presenter: "Người trình bày", minutes: "Số phút dự kiến", remove: "Xóa", documents: "Tài liệu",
      upload: "Tải lên PDF", speakers: "Đăng ký phát biểu", request_speak: "Đăng ký phát biểu",
      topic: "Nội dung (không bắt buộc)", on_behalf: "Họ tên người phát biểu tại điểm cầu", withdraw: "Rút đăng ký",
      grant: "Mời phát biểu", deny: "Từ chối", end_turn: "Kết thúc lượt", yield_floor: "Kết thúc phát biểu",
      no_requests: "Chưa có đăng ký.", speaking: "Đang phát biểu", time_left: "Còn lại", no_limit: "Không giới hạn",
      seconds: "Thời gian (giây)", voting: "Biểu quyết", open_vote: "Mở biểu quyết", vote_title: "Nội dung biểu quyết",
      secret: "Bỏ phiếu kín", threshold: "Tỷ lệ thông qua", majority: "Quá nửa tổng số thành viên",
      two_thirds: "Hai phần ba tổng số thành viên", hand_seats: "Số người giơ tay tại điểm cầu này",
      yes: "Tán thành", no: "Không tán thành", abstain: "Không biểu quyết", voted: "Bạn đã biểu quyết.",
      close_vote: "Kết thúc biểu quyết", cancel_vote: "Hủy biểu quyết", ballots: "Đã biểu quyết",
      hands: "Giơ tay", enter_hands: "Ghi nhận kết quả giơ tay", passed: "THÔNG QUA", rejected: "KHÔNG THÔNG QUA",
      quorum: "Số thành viên tham gia tối thiểu", quorum_met: "Đủ số lượng", quorum_not_met: "Không đủ số lượng",
      required: "Cần tán thành", total_members: "Tổng số thành viên", by_point: "Theo điểm cầu",
      browsers: "Trực tuyến cá nhân", results: "Kết quả biểu quyết", not_voted: "Chưa biểu quyết",
      attendance: "Điểm danh", headcount: "Số đại biểu có mặt", report: "Báo cáo", present: "Có mặt",
      connected: "Đã kết nối", disconnected: "Mất kết nối", participants: "Người tham dự", mute: "Đề nghị tắt mic",
      remove_person: "Mời ra khỏi cuộc họp", lobby: "Phòng chờ", admit: "Cho vào", reject: "Từ chối",
      confirm_remove: "Mời người này ra khỏi cuộc họp?", mute_requested: "Chủ tọa đề nghị bạn tắt micrô.",
      removed: "Bạn đã được mời ra khỏi cuộc họp.", error: "Lỗi",
      err_forbidden: "bạn không có quyền làm việc này", err_conflict: "không thực hiện được ở trạng thái hiện tại của cuộc họp",
      err_bad_request: "dữ liệu gửi lên không hợp lệ", err_not_found: "không tìm thấy", err_timeout: "máy chủ không trả lời kịp",
      err_internal_error: "máy chủ gặp lỗi; hãy thử lại", err_in_lobby: "đang chờ chủ tọa cho vào", err_csrf_failed: "hãy tải lại trang",
      err_above_headcount: "{hands} người giơ tay, nhiều hơn số người có mặt mà điểm cầu đã báo ({headcount})",
      err_above_seats: "{hands} người giơ tay, nhiều hơn số chỗ biểu quyết giơ tay của điểm cầu ({seats})", secret_note: "Phiếu kín: không ai biết bạn chọn gì.",
      you: "bạn", speaking_now: "Đang nói", item: "Mục", participated: "Số thành viên tham gia", cancelled: "ĐÃ HỦY",
      no_votes: "Chưa có biểu quyết.", hands_by_point: "Biểu quyết giơ tay tại điểm cầu (số người)",
    },
    en: {
      meeting: "Meeting", status_scheduled: "Scheduled", status_open: "In session", status_closed: "Closed",
      open_meeting: "Open the meeting", close_meeting: "Close the meeting", lock: "Lock the meeting",
      unlock: "Unlock the meeting", locked: "Locked", agenda: "Agenda", no_items: "No items yet.",
      current: "Under discussion", make_current: "Move to this item", finish_item: "Finish item", add_item: "Add item",
      title: "Title", presenter: "Presenter", minutes: "Planned minutes", remove: "Remove", documents: "Documents",
      upload: "Upload PDF", speakers: "Requests to speak", request_speak: "Ask to speak", topic: "Topic (optional)",
      on_behalf: "Name of the speaker at this point", withdraw: "Withdraw", grant: "Give the floor", deny: "Deny",
      end_turn: "End turn", yield_floor: "Finish speaking", no_requests: "No requests.", speaking: "Speaking",
      time_left: "Time left", no_limit: "No limit", seconds: "Time (seconds)", voting: "Voting", open_vote: "Open a vote",
      vote_title: "Motion", secret: "Secret ballot", threshold: "Threshold", majority: "More than half of all members",
      two_thirds: "Two thirds of all members", hand_seats: "Show-of-hands seats at this point", yes: "In favour",
      no: "Against", abstain: "Not voting", voted: "Your ballot was counted.", close_vote: "Close the vote",
      cancel_vote: "Cancel the vote", ballots: "Ballots", hands: "Hands", enter_hands: "Record the show of hands",
      passed: "ADOPTED", rejected: "NOT ADOPTED", quorum: "Quorum", quorum_met: "Quorum met",
      quorum_not_met: "No quorum", required: "Needed in favour", total_members: "Total members",
      by_point: "By bridge point", browsers: "Own devices", results: "Results", not_voted: "Did not vote",
      attendance: "Attendance", headcount: "Delegates present", report: "Report", present: "Present",
      connected: "Connected", disconnected: "Disconnected", participants: "Participants", mute: "Ask to mute",
      remove_person: "Remove from meeting", lobby: "Lobby", admit: "Admit", reject: "Reject",
      confirm_remove: "Remove this person from the meeting?", mute_requested: "The chair asks you to mute your microphone.",
      removed: "You have been removed from the meeting.", error: "Error",
      err_forbidden: "you are not allowed to do this", err_conflict: "not possible in the meeting's current state",
      err_bad_request: "the request is not valid", err_not_found: "not found", err_timeout: "the server did not answer in time",
      err_internal_error: "the server failed; please try again", err_in_lobby: "waiting for the chair to let you in", err_csrf_failed: "reload the page",
      err_above_headcount: "{hands} hands, more than the head-count the point reported ({headcount})",
      err_above_seats: "{hands} hands, more than the point's show-of-hands seats ({seats})",
      secret_note: "Secret ballot: nobody can tell what you chose.", you: "you", speaking_now: "Speaking now", item: "Item",
      participated: "Members taking part", cancelled: "CANCELLED", no_votes: "No votes yet.",
      hands_by_point: "Show of hands at bridge points (people)",
    },
  };
  const lang = (document.documentElement.lang || "vi").startsWith("en") ? "en" : "vi";
  const t = (key) => (TEXT[lang][key] || key).normalize("NFC");
  // A refusal in the reader's language from its code; the server's own sentence is English, for logs.
  // (`{name}` in a text is the ack's params.name: the limit that was exceeded)
  const refusal = (ack) => (TEXT[lang][`err_${ack.error}`]
    ? t(`err_${ack.error}`).replace(/\{(\w+)\}/g, (all, name) => String((ack.params || {})[name] ?? all))
    : `${t("err_bad_request")} (${ack.error})`);

  const S = {
    capacity: null, key: null, meeting: null, agenda: null, speakers: null, attendance: null,
    vote: null, tally: null, results: [], lobby: [], roster: new Map(), voted: false, error: "",
  };
  let socket = null;
  let panel = null;
  let countdownTimer = null;
  let pressing = false; // a mouse button or finger is down on the panel: redraw after the click
  let pending = false; // a redraw was put off
  let pressTimer = null;

  // What the user has typed or chosen, by field key: the panel is redrawn on every broadcast,
  // and a redraw must neither lose a half-typed form nor move the focus.
  const drafts = {};
  function field(tag, key, attrs, ...children) {
    const el = h(tag, { ...attrs, "data-k": key }, ...children);
    const checkbox = el.type === "checkbox";
    if (key in drafts) { if (checkbox) el.checked = drafts[key]; else el.value = drafts[key]; }
    el.addEventListener(checkbox || tag === "select" ? "change" : "input", () => {
      drafts[key] = checkbox ? el.checked : el.value;
    });
    return el;
  }
  const forget = (...keys) => { for (const k of keys) delete drafts[k]; };

  function call(event, payload) {
    return new Promise((resolve) => {
      socket.timeout(15000).emit(event, payload || {}, (err, ack) => {
        if (err) ack = { ok: false, error: "timeout", message: String(err) };
        if (!ack.ok) { S.error = `${t("error")}: ${refusal(ack)}`; render(); }
        else if (S.error) { S.error = ""; render(); }
        resolve(ack);
      });
    });
  }

  const is = (...caps) => caps.includes(S.capacity);
  const button = (label, onclick, cls) => h("button", { type: "button", class: cls || "", onclick }, label);

  function section(title, ...body) {
    return h("section", { class: "hn-section" }, h("h3", {}, title), ...body);
  }

  function renderMeeting() {
    const m = S.meeting;
    if (!m) return null;
    const controls = [];
    if (is("chair", "secretary") && m.status === "scheduled") controls.push(button(t("open_meeting"), () => call("meeting_open")));
    if (is("chair") && m.status === "open") controls.push(button(t("close_meeting"), () => call("meeting_close"), "danger"));
    if (is("chair") && m.status !== "closed") {
      controls.push(button(m.locked ? t("unlock") : t("lock"), () => call("meeting_lock", { locked: !m.locked })));
    }
    return h("div", { class: "hn-status" },
      h("span", { class: `hn-badge status-${m.status}` }, t("status_" + m.status)),
      m.locked ? h("span", { class: "hn-badge locked" }, t("locked")) : null, ...controls);
  }

  function renderAgenda() {
    const a = S.agenda;
    const items = a && a.items.length ? h("ol", { class: "hn-agenda" }, a.items.map((item) => {
      const actions = [];
      if (is("chair") && S.meeting && S.meeting.status === "open") {
        if (item.state === "current") actions.push(button(t("finish_item"), () => call("agenda_set_current", { item_id: null })));
        else actions.push(button(t("make_current"), () => call("agenda_set_current", { item_id: item.id })));
      }
      const editable = is("chair", "secretary") && S.meeting && S.meeting.status !== "closed"; // the server agrees
      if (editable && item.state === "pending") {
        actions.push(button(t("remove"), () => call("agenda_remove", { item_id: item.id }), "subtle"));
      }
      if (editable && item.state !== "done") actions.push(uploadButton(item));
      return h("li", { class: `state-${item.state}` },
        h("div", { class: "hn-item-title" }, item.title, item.state === "current" ? h("em", {}, ` — ${t("current")}`) : null),
        item.presenter || item.planned_minutes ? h("div", { class: "hn-meta" },
          [item.presenter, item.planned_minutes ? `${item.planned_minutes}′` : null].filter(Boolean).join(" · ")) : null,
        item.documents.length ? h("ul", { class: "hn-docs" }, item.documents.map((d) =>
          h("li", {}, h("a", { href: d.url, target: "_blank", rel: "noopener", title: `SHA-256 ${d.sha256}` }, d.filename)))) : null,
        actions.length ? h("div", { class: "hn-actions" }, actions) : null);
    })) : h("p", { class: "hn-empty" }, t("no_items"));
    let form = null;
    if (is("chair", "secretary") && S.meeting && S.meeting.status !== "closed") {
      const title = field("input", "agenda.title", { placeholder: t("title"), "aria-label": t("title"), maxlength: "500", required: true });
      const presenter = field("input", "agenda.presenter", { placeholder: t("presenter"), "aria-label": t("presenter"), maxlength: "200" });
      const minutes = field("input", "agenda.minutes", { type: "number", min: "1", max: "1440", placeholder: t("minutes"), "aria-label": t("minutes") });
      form = h("form", { class: "hn-form hn-agenda-form", onsubmit: async (e) => {
        e.preventDefault();
        const payload = { title: title.value, presenter: presenter.value };
        if (minutes.value) payload.planned_minutes = parseInt(minutes.value, 10);
        if ((await call("agenda_add", payload)).ok) { forget("agenda.title", "agenda.presenter", "agenda.minutes"); render(); }
      } }, title, presenter, minutes, h("button", { type: "submit", class: "primary" }, t("add_item")));
    }
    return section(t("agenda"), items, form);
  }

  function csrfToken() {  // web/csrf.py: a multipart POST carries the session's token
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function uploadButton(item) {
    const input = h("input", { type: "file", accept: "application/pdf", hidden: true, onchange: async () => {
      if (!input.files.length) return;
      const body = new FormData();
      body.append("file", input.files[0]);
      const response = await fetch(`/api/meetings/${window.hoinghi.meetingId}/agenda/${item.id}/documents`,
        { method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken() } });
      const result = await response.json().catch(() => ({ ok: false, message: response.statusText }));
      if (!result.ok) { S.error = `${t("error")}: ${refusal(result)}`; render(); }
    } });
    return h("label", { class: "hn-upload" }, input, button(t("upload"), () => input.click(), "subtle"));
  }

  function fmtLeft(deadline) {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }

  function renderSpeakers() {
    const sp = S.speakers || { queue: [], floor: null };
    const parts = [];
    if (sp.floor) {
      const f = sp.floor;
      const mine = f.requester === S.key;
      parts.push(h("div", { class: "hn-floor" + (mine ? " mine" : "") },
        h("strong", {}, `${t("speaking")}: ${f.name}`), f.topic ? h("div", { class: "hn-meta" }, f.topic) : null,
        h("div", { class: "hn-countdown", "data-deadline": f.deadline_ms || "" },
          f.deadline_ms ? `${t("time_left")} ${fmtLeft(f.deadline_ms)}` : t("no_limit")),
        is("chair") || mine ? button(mine ? t("yield_floor") : t("end_turn"), () => call("speak_end", { request_id: f.id })) : null));
    }
    if (sp.queue.length) {
      const pointName = (id) => ((S.attendance && S.attendance.points.find((p) => p.id === id)) || { name: id }).name;
      parts.push(h("ol", { class: "hn-queue" }, sp.queue.map((r) => h("li", {},
        h("span", {}, r.name, r.requester === S.key ? ` (${t("you")})` : ""),
        r.point_id && r.requester === `point:${r.point_id}` && r.name !== pointName(r.point_id)
          ? h("span", { class: "hn-meta hn-at-point" }, ` · ${pointName(r.point_id)}`) : null,
        r.topic ? h("span", { class: "hn-meta" }, ` — ${r.topic}`) : null,
        h("span", { class: "hn-actions" },
          is("chair") ? grantControls(r) : null,
          r.requester === S.key ? button(t("withdraw"), () => call("speak_withdraw", { request_id: r.id }), "subtle") : null)))));
    } else if (!sp.floor) parts.push(h("p", { class: "hn-empty" }, t("no_requests")));
    const waiting = sp.queue.some((r) => r.requester === S.key) || (sp.floor && sp.floor.requester === S.key);
    if ((is("point") || (is("delegate") && !waiting)) && S.meeting && S.meeting.status === "open") {
      const topic = field("input", "speak.topic", { placeholder: t("topic"), "aria-label": t("topic"), maxlength: "500" });
      const name = is("point") ? field("input", "speak.name", { placeholder: t("on_behalf"), "aria-label": t("on_behalf"), maxlength: "200" }) : null;
      parts.push(h("form", { class: "hn-form hn-speak-form", onsubmit: async (e) => {
        e.preventDefault();
        const payload = { topic: topic.value };
        if (name && name.value.trim()) payload.on_behalf_of = name.value;
        if ((await call("speak_request", payload)).ok) { forget("speak.topic", "speak.name"); render(); }
      } }, name, topic, h("button", { type: "submit", class: "primary" }, t("request_speak"))));
    }
    return section(t("speakers"), parts);
  }

  function grantControls(r) {
    const seconds = field("input", `grant.${r.id}`, { type: "number", min: "0", max: "3600", value: "300", class: "hn-seconds", title: t("seconds"), "aria-label": t("seconds") });
    return [seconds,
      button(t("grant"), () => call("speak_grant", { request_id: r.id, time_limit_s: parseInt(seconds.value || "0", 10) }), "primary"),
      button(t("deny"), () => call("speak_deny", { request_id: r.id }), "subtle")];
  }

  function tallyLine(tally, vote) {
    const parts = [`${t("ballots")}: ${tally.ballots}/${tally.eligible}`];
    if (tally.hands) parts.push(`${t("hands")}: ${tally.hands}`);
    if (tally.counts && !vote.secret) {
      for (const o of ["yes", "no", "abstain"]) parts.push(`${t(o)}: ${tally.counts[o]}`);
    }
    return h("div", { class: "hn-tally" }, parts.join(" · "));
  }

  function renderVote() {
    const parts = [];
    const v = S.vote;
    if (v) {
      parts.push(h("div", { class: "hn-vote-title" }, v.title, v.secret ? h("span", { class: "hn-badge" }, t("secret")) : null));
      parts.push(h("div", { class: "hn-meta" },
        `${t(v.threshold)} · ${t("total_members")}: ${v.total_members} · ${t("required")}: ${v.required} · ${t("quorum")}: ${v.quorum}`));
      if (S.tally) parts.push(tallyLine(S.tally, v));
      if (v.you_may_vote && !S.voted) {
        parts.push(h("div", { class: "hn-ballot", role: "group", "aria-label": t("voting") },
          ["yes", "no", "abstain"].map((o) => button(t(o), async (e) => {
            e.target.closest(".hn-ballot").querySelectorAll("button").forEach((b) => { b.disabled = true; });
            const ack = await call("vote_cast", { vote_id: v.id, choice: o });
            if (ack.ok || ack.error === "conflict") { S.voted = true; }
            render();
          }, `choice-${o}`))));
        if (v.secret) parts.push(h("p", { class: "hn-meta" }, t("secret_note")));
      } else if (S.voted) parts.push(h("p", { class: "hn-voted" }, t("voted")));
      const seats = S.key && S.key.startsWith("point:") ? (v.hand_seats || {})[S.key.slice(6)] : 0;
      if (is("point") && seats) {
        const inputs = Object.fromEntries(["yes", "no", "abstain"].map((o) =>
          [o, field("input", `hands.${v.id}.${o}`, { type: "number", min: "0", max: String(seats), value: "0", title: t(o) })]));
        parts.push(h("form", { class: "hn-form", onsubmit: (e) => {
          e.preventDefault();
          const counts = Object.fromEntries(Object.entries(inputs).map(([o, i]) => [o, parseInt(i.value || "0", 10)]));
          call("vote_hands", { vote_id: v.id, counts });
        } }, h("div", { class: "hn-meta" }, `${t("hand_seats")}: ${seats}`),
          ...["yes", "no", "abstain"].map((o) => h("label", {}, t(o), " ", inputs[o])),
          h("button", { type: "submit" }, t("enter_hands"))));
      }
      if (is("chair")) {
        parts.push(h("div", { class: "hn-actions" },
          button(t("close_vote"), () => call("vote_close", { vote_id: v.id }), "primary"),
          button(t("cancel_vote"), () => call("vote_cancel", { vote_id: v.id }), "subtle")));
      }
    } else if (is("chair") && S.meeting && S.meeting.status === "open") {
      // the vote is on the current agenda item (the server's default): its title is the default motion
      const current = S.agenda && S.agenda.items.find((i) => i.state === "current");
      const title = field("input", "vote.title", { placeholder: t("vote_title"), "aria-label": t("vote_title"), maxlength: "500", required: true });
      if (current && !("vote.title" in drafts)) title.value = current.title;
      const secret = field("input", "vote.secret", { type: "checkbox" });
      const threshold = field("select", "vote.threshold", { "aria-label": t("threshold") }, h("option", { value: "majority" }, t("majority")),
        h("option", { value: "two_thirds" }, t("two_thirds")));
      // a show of hands per bridge point: seats counted in the room by its operator (default: its head-count)
      const points = (S.attendance && S.attendance.points) || [];
      const seats = Object.fromEntries(points.map((p) => {
        const input = field("input", `vote.seats.${p.id}`, { type: "number", min: "0", max: "10000", class: "hn-seconds",
          "aria-label": `${t("hand_seats")}: ${p.name}`, "data-point": p.id });
        if (!(`vote.seats.${p.id}` in drafts) && p.headcount) input.value = String(p.headcount);
        return [p.id, input];
      }));
      const handsBox = points.length ? h("details", { class: "hn-hands-setup" }, h("summary", {}, t("hands_by_point")),
        points.map((p) => h("label", { class: "hn-seat" }, h("span", {}, p.name), seats[p.id]))) : null;
      if (handsBox) {  // opened stays opened across redraws (the panel is redrawn on every broadcast)
        handsBox.open = drafts["vote.hands_open"] === true;
        handsBox.addEventListener("toggle", () => { drafts["vote.hands_open"] = handsBox.open; });
      }
      parts.push(h("form", { class: "hn-form hn-vote-form", onsubmit: async (e) => {
        e.preventDefault();
        const hand_seats = {};
        for (const [id, input] of Object.entries(seats)) if (parseInt(input.value || "0", 10) > 0) hand_seats[id] = parseInt(input.value, 10);
        const ack = await call("vote_open", { title: title.value, secret: secret.checked, threshold: threshold.value, hand_seats });
        if (ack.ok) { forget("vote.title", "vote.secret", "vote.threshold", ...points.map((p) => `vote.seats.${p.id}`)); render(); }
      } }, current ? h("div", { class: "hn-meta hn-vote-item" }, `${t("item")}: ${current.title}`) : null,
        title, h("label", { class: "hn-check" }, secret, " ", t("secret")), threshold, handsBox,
        h("button", { type: "submit", class: "primary" }, t("open_vote"))));
    }
    if (!parts.length && !S.results.length) parts.push(h("p", { class: "hn-empty" }, t("no_votes")));
    if (S.results.length) parts.push(h("div", { class: "hn-results" }, h("h4", {}, t("results")), S.results.slice().reverse().map(renderResult)));
    return section(t("voting"), parts);
  }

  function renderResult(r) {
    // by bridge point: ballots from devices, the show of hands, and per option what is known
    // (an open vote: ballots + hands; a secret vote: only the hands, counted in the room)
    const OPTIONS = ["yes", "no", "abstain"];
    const anyHands = r.by_point.some((g) => g.hand_seats || g.hands);
    const perOption = !r.secret || anyHands;
    const sum = (c) => (c ? c.yes + c.no + c.abstain : 0);
    const rows = r.by_point.map((g) => h("tr", {},
      h("th", { scope: "row" }, g.point_id ? g.name : t("browsers")),
      h("td", {}, `${g.ballots}/${g.eligible}`),
      anyHands ? h("td", {}, g.hand_seats ? `${sum(g.hands)}/${g.hand_seats}` : "—") : null,
      perOption ? OPTIONS.map((o) => h("td", {}, r.secret ? (g.hands ? String(g.hands[o]) : "—") : String(g.counts ? g.counts[o] : 0))) : null));
    const state = r.state === "cancelled" ? t("cancelled") : r.passed ? t("passed") : t("rejected");
    return h("details", { class: "hn-result" + (r.state === "cancelled" ? " cancelled" : r.passed ? " passed" : " rejected"), open: true },
      h("summary", {}, `${r.title}: `, h("strong", {}, state)),
      h("div", { class: "hn-counts" }, `${t("yes")} ${r.yes} · ${t("no")} ${r.no} · ${t("abstain")} ${r.abstain} · ${t("total_members")} ${r.total_members} · ${t("required")} ${r.required}`),
      h("div", { class: "hn-meta" }, `${t("participated")}: ${r.participated} · ${t("quorum")}: ${r.quorum} · ${r.quorum_met ? t("quorum_met") : t("quorum_not_met")}`),
      h("table", { class: "hn-breakdown" }, h("caption", {}, t("by_point")),
        h("tr", {}, h("th", {}, ""), h("th", { scope: "col" }, t("ballots")), anyHands ? h("th", { scope: "col" }, t("hands")) : null,
          perOption ? OPTIONS.map((o) => h("th", { scope: "col" }, t(o))) : null), rows),
      r.names ? h("div", { class: "hn-names" }, ["yes", "no", "abstain"].map((o) =>
        r.names[o].length ? h("div", {}, h("strong", {}, `${t(o)}: `), r.names[o].join(", ")) : null),
        r.not_voted && r.not_voted.length ? h("div", {}, h("strong", {}, `${t("not_voted")}: `), r.not_voted.join(", ")) : null) : null);
  }

  function renderAttendance() {
    const a = S.attendance;
    if (!a) return null;
    const parts = [h("div", { class: "hn-quorum " + (a.quorum_met ? "met" : "not-met") },
      `${t("present")}: ${a.present_members}/${a.members_total} · ${t("quorum")}: ${a.quorum_required} · `,
      h("strong", {}, a.quorum_met ? t("quorum_met") : t("quorum_not_met")))];
    parts.push(h("ul", { class: "hn-points" }, a.points.map((p) => h("li", { class: p.connected ? "online" : "offline" },
      h("span", { class: "dot", title: p.connected ? t("connected") : t("disconnected") }), p.name,
      p.headcount != null ? h("span", { class: "hn-meta" }, ` — ${t("headcount")}: ${p.headcount}`) : null))));
    if (is("point") && S.meeting && S.meeting.status !== "closed") {
      const n = field("input", "headcount", { type: "number", min: "0", max: "10000", placeholder: t("headcount"), "aria-label": t("headcount") });
      parts.push(h("form", { class: "hn-form", onsubmit: (e) => {
        e.preventDefault();
        if (n.value !== "") call("headcount_report", { headcount: parseInt(n.value, 10) });
      } }, n, h("button", { type: "submit" }, t("report"))));
    }
    return section(t("attendance"), parts);
  }

  // Everyone connected, points included (in a large meeting most have no tile), the one the SFU
  // hears as active speaker marked; the chair's moderation buttons beside each name.
  function renderPeople() {
    const parts = [];
    if (is("chair", "secretary") && S.lobby.length) {
      parts.push(h("h4", {}, t("lobby")));
      parts.push(h("ul", { class: "hn-lobby" }, S.lobby.map((g) => h("li", {}, g.name,
        button(t("admit"), () => call("lobby_admit", { peer_id: g.peer_id }), "primary"),
        button(t("reject"), () => call("lobby_reject", { peer_id: g.peer_id }), "subtle")))));
    }
    const people = new Map(); // one line per person or point, however many connections
    for (const e of S.roster.values()) if (!people.has(e.key)) people.set(e.key, e);
    const speaking = S.roster.get(S.activeSpeaker);
    if (S.lobby.length && people.size) parts.push(h("h4", {}, t("participants")));
    parts.push(h("ul", { class: "hn-people" }, [...people.values()].map((e) => {
      const now = !!speaking && speaking.key === e.key;
      return h("li", { class: now ? "speaking" : null, "data-key": e.key },
        h("span", { class: "hn-speaking-dot", title: now ? t("speaking_now") : "", "aria-label": now ? t("speaking_now") : null }),
        h("span", {}, e.name, e.key === S.key ? ` (${t("you")})` : ""),
        is("chair") && e.key !== S.key ? h("span", { class: "hn-actions" },
          button(t("mute"), () => call("moderate_mute", { target: e.key }), "subtle"),
          e.role === "chair" ? null : button(t("remove_person"), () => {
            if (window.confirm(t("confirm_remove"))) call("moderate_remove", { target: e.key });
          }, "danger")) : null);
    })));
    return section(`${t("participants")} (${people.size})`, parts);
  }

  function render() {
    if (!panel) return;
    const active = panel.contains(document.activeElement) ? document.activeElement : null;
    // a click in progress: the button under the pointer must still be there on release
    if (pressing) { pending = true; return; }
    pending = false;
    const key = active && active.dataset.k;
    let selection = null;
    try { if (key && active.selectionStart != null) selection = [active.selectionStart, active.selectionEnd]; } catch (_) { /* number inputs */ }
    // (replaceChildren, like append, would turn a null into the text "null": keep only nodes)
    panel.replaceChildren(...[
      S.error ? h("div", { class: "hn-error", role: "alert" }, S.error) : null,
      renderMeeting(), renderAgenda(), renderSpeakers(), renderVote(), renderAttendance(), renderPeople(),
    ].filter(Boolean));
    if (key) {
      const again = panel.querySelector(`[data-k="${CSS.escape(key)}"]`);
      if (again) {
        again.focus({ preventScroll: true });
        try { if (selection) again.setSelectionRange(...selection); } catch (_) { /* not a text field */ }
      }
    }
  }

  function released() {
    if (!pressing) return;
    clearTimeout(pressTimer);
    setTimeout(() => { pressing = false; if (pending) render(); }, 0); // after the click has been handled
  }

  function tick() {
    if (!panel) return;
    for (const el of panel.querySelectorAll(".hn-countdown[data-deadline]")) {
      const d = parseInt(el.dataset.deadline, 10);
      if (d) { el.textContent = `${t("time_left")} ${fmtLeft(d)}`; el.classList.toggle("ending", d - Date.now() < 30000); }
    }
  }

  function toast(text) {
    const el = h("div", { class: "hn-toast", role: "status" }, text);
    document.body.append(el);
    setTimeout(() => el.remove(), 6000);
  }

  // A state broadcast carries the audit sequence it reflects (seq); one overtaken on the way by
  // a newer one is dropped, so two quick changes never leave the older on screen. The vote's
  // events (opened, tally, closed) share one sequence; the snapshot counts for every kind.
  let seen = {};
  function fresh(kind, seq) {
    if (seq == null) return true;
    if (seq < (seen[kind] ?? -1)) return false;
    seen[kind] = seq;
    return true;
  }

  async function refresh() {
    const ack = await call("control_state");
    if (!ack.ok) return;
    S.capacity = ack.me.capacity; S.key = ack.me.key;
    if (fresh("meeting", ack.seq)) S.meeting = ack.meeting;
    if (fresh("agenda", ack.seq)) S.agenda = ack.agenda;
    if (fresh("speakers", ack.seq)) S.speakers = ack.speakers;
    S.attendance = ack.attendance; S.lobby = ack.lobby || [];
    if (fresh("vote", ack.seq)) {
      S.results = ack.results;
      S.vote = ack.vote; S.tally = ack.vote ? ack.vote.tally : null; S.voted = !!(ack.vote && ack.vote.you_voted);
    }
    render();
  }

  function bind(sock) {
    if (socket === sock) return;
    socket = sock;
    const on = (name, fn) => sock.on(name, (data) => { fn(data); render(); });
    on("meeting_state", (d) => { if (fresh("meeting", d.seq)) S.meeting = d; });
    on("agenda", (d) => { if (fresh("agenda", d.seq)) S.agenda = d; });
    on("speakers", (d) => { if (fresh("speakers", d.seq)) S.speakers = d; });
    on("attendance", (d) => { S.attendance = d; });
    on("vote_opened", (d) => {
      if (!fresh("vote", d.seq)) return;
      const me = S.key && S.key.startsWith("account:") ? parseInt(S.key.slice(8), 10) : null;
      S.vote = { ...d, you_may_vote: me != null && d.voters.includes(me), you_voted: false };
      S.tally = d.tally; S.voted = false;
    });
    on("vote_tally", (d) => { if (S.vote && d.vote_id === S.vote.id && fresh("vote", d.seq)) S.tally = d; });
    on("vote_closed", (d) => {
      if (!fresh("vote", d.seq)) return;
      S.results = S.results.filter((r) => r.vote_id !== d.vote_id).concat([d]); S.vote = null; S.tally = null;
    });
    on("lobby", (d) => { S.lobby = d.waiting; });
    on("participants", (d) => {
      for (const e of d.left) S.roster.delete(e.peer_id);
      for (const e of d.joined) S.roster.set(e.peer_id, e);
    });
    sock.on("mute_requested", () => {
      toast(t("mute_requested"));
      document.dispatchEvent(new CustomEvent("hoinghi:mute-requested"));
    });
    sock.on("removed", () => { toast(t("removed")); document.dispatchEvent(new CustomEvent("hoinghi:removed")); });
  }

  document.addEventListener("hoinghi:active-speaker", (event) => { S.activeSpeaker = event.detail.peer_id; render(); });

  document.addEventListener("hoinghi:joined", (event) => {
    const hn = window.hoinghi;
    panel = document.getElementById("control-panel");
    if (!hn || !hn.socket || !panel) return;
    if (!panel.classList.contains("hn-control")) {
      panel.classList.add("hn-control");
      panel.addEventListener("pointerdown", () => {
        pressing = true;
        clearTimeout(pressTimer);
        pressTimer = setTimeout(() => { pressing = true; released(); }, 5000); // a release we never saw
      });
      document.addEventListener("pointerup", released, true);
      document.addEventListener("pointercancel", released, true);
    }
    bind(hn.socket);
    if (S.meetingId !== hn.meetingId) { seen = {}; S.meetingId = hn.meetingId; } // sequences are per meeting
    S.roster = new Map(((event.detail && event.detail.roster) || []).map((e) => [e.peer_id, e]));
    refresh();
    if (!countdownTimer) countdownTimer = setInterval(tick, 500);
  });
})();
