"""Draft the minutes from the record (pure functions): Mẫu 1.9 of Decree 30/2020, in order of events.

Times print in Vietnam's time (+07:00, no daylight saving). A speaking turn's summary is the
start of what the transcript recorded for it; the secretary edits it into reported speech.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from meetings.minutes.document import MinutesDocument, Section, SignerLine, Table, nfc
from meetings.minutes.record import ItemRecord, MeetingRecord, Person, Segment, TurnRecord, VoteRecord, turn_segments

VIETNAM = timezone(timedelta(hours=7), "+07:00")
SUMMARY_WORDS = 80
LEVELS = {"province": "Tỉnh", "district": "Huyện (cũ)", "commune": "Xã"}
MISSING = "…………"


def local(at: datetime) -> datetime:
    return at.astimezone(VIETNAM)


def clock(at: datetime) -> str:
    """'08 giờ 05, ngày 01 tháng 12 năm 2026'."""
    t = local(at)
    return f"{t:%H} giờ {t:%M}, ngày {t:%d} tháng {t:%m} năm {t:%Y}"


def date_line(place: str, at: datetime) -> str:
    t = local(at)
    return f"{place}, ngày {t:%d} tháng {t:%m} năm {t:%Y}"


def place_name(province: str) -> str:
    """'Tỉnh Quảng Ninh' -> 'Quảng Ninh' (the date line names the place without its level)."""
    return re.sub(r"^(Tỉnh|Thành phố|TP\.?)\s+", "", province.strip()) or MISSING


def agency_abbreviation(agency: str) -> str:
    upper = agency.upper()
    for full, short in (("ỦY BAN NHÂN DÂN", "UBND"), ("HỘI ĐỒNG NHÂN DÂN", "HĐND"), ("SỞ ", "S")):
        if upper.startswith(full):
            return short
    return "".join(word[0] for word in upper.split()[:4]) or "…"


def summarise(texts: Sequence[str], max_words: int = SUMMARY_WORDS) -> str:
    words = " ".join(texts).split()
    if not words:
        return ""
    clipped = words[:max_words]
    text = " ".join(clipped)
    text = text[0].upper() + text[1:]
    if len(words) > max_words:
        return text + " …"
    return text if text[-1] in ".!?…" else text + "."


def who(p: Person, extra: str = "") -> str:
    parts = [p.name] + [x for x in (p.position, extra) if x]
    return ", ".join(parts)


def turn_paragraph(turn: TurnRecord, segments: Sequence[Segment]) -> str:
    summary = summarise([s.text for s in turn_segments(turn, segments)])
    speaker = who(turn.speaker, turn.point_name)
    topic = f" về {turn.topic}" if turn.topic else ""
    if summary:
        return f"- Đồng chí {speaker} phát biểu{topic}: {summary}"
    return f"- Đồng chí {speaker} phát biểu{topic}."


def vote_paragraph(vote: VoteRecord) -> str:
    r = vote.result
    total = r["total_members"]
    form = "bỏ phiếu kín" if r["secret"] else "biểu quyết công khai"
    outcome = "THÔNG QUA" if r["passed"] else "KHÔNG THÔNG QUA"
    why = "" if r["quorum_met"] else f" (không đủ số thành viên tham gia: {r['participated']}/{r['quorum']})"
    share = f"{100 * r['yes'] / total:.2f}".replace(".", ",")
    return (
        f"- Biểu quyết “{r['title']}” ({form}): tán thành {r['yes']}/{total} thành viên ({share}%), "
        f"không tán thành {r['no']}, không biểu quyết {r['abstain']}; {r['participated']} thành viên tham gia. "
        f"Kết quả: {outcome}{why}."
    )


def vote_table(vote: VoteRecord) -> Table:
    r = vote.result
    rows: list[list[str]] = []
    for g in r["by_point"]:
        name = g["name"] or "Từ máy tính cá nhân"
        counts = g.get("counts")
        hands = g["hands"]
        if counts is not None:
            cells = [str(counts[o]) for o in ("yes", "no", "abstain")]
        elif hands is not None:  # secret ballot: only a point's show of hands is public
            cells = [str(hands[o]) for o in ("yes", "no", "abstain")]
        else:
            cells = ["—", "—", "—"]
        form = []
        if g["eligible"]:
            form.append(f"thiết bị {g['ballots']}/{g['eligible']}")
        if g["hand_seats"]:
            form.append(f"giơ tay {sum(hands.values()) if hands else 0}/{g['hand_seats']}")
        rows.append([name, *cells, ", ".join(form)])
    rows.append(["Tổng cộng", str(r["yes"]), str(r["no"]), str(r["abstain"]), f"{r['participated']}/{r['total_members']}"])
    return Table(
        caption=f"Kết quả biểu quyết: {r['title']}",
        header=["Điểm cầu", "Tán thành", "Không tán thành", "Không biểu quyết", "Hình thức / tham gia"],
        rows=rows, weights=[3.2, 1.1, 1.3, 1.3, 1.9],
    )


def attendance_table(record: MeetingRecord) -> Table:
    rows = [
        [str(n), p.name, LEVELS.get(p.level, p.level), "Chính" if p.role == "main" else "Cuối",
         "Có" if p.connected or p.headcount is not None else "Không",
         MISSING if p.headcount is None else str(p.headcount)]
        for n, p in enumerate(record.points, start=1)
    ]
    return Table(
        caption="Điểm cầu và số người có mặt",
        header=["STT", "Điểm cầu", "Cấp", "Loại", "Kết nối", "Số người có mặt"],
        rows=rows, weights=[0.9, 4.0, 1.3, 1.0, 1.0, 1.3],
    )


def _names(people: Sequence[Person]) -> str:
    return "; ".join(who(p) for p in people) + "."


def participants_text(record: MeetingRecord) -> str:
    in_rooms = sum(p.headcount or 0 for p in record.points)
    in_person = len(record.present) + record.chair_in_person
    present = min(record.members_total, in_rooms + in_person)
    paragraphs = [
        f"Chủ trì (chủ tọa): Đồng chí {who(record.chair) or MISSING}.",
        f"Thư ký (người ghi biên bản): Đồng chí {who(record.secretary) or MISSING}.",
        f"Tổng số thành viên: {record.members_total}; có mặt: {present} (tại các điểm cầu: {in_rooms}, "
        f"trực tuyến từ máy tính cá nhân: {in_person}); vắng mặt: {record.members_total - present}.",
    ]
    if record.present:
        paragraphs.append("Thành viên dự họp từ máy tính cá nhân: " + _names(record.present))
    if record.absent:
        paragraphs.append("Thành viên vắng mặt: " + _names(record.absent))
    for point in record.points:
        seated = record.at_points.get(point.id)
        if seated:
            paragraphs.append(f"Đại biểu tại {point.name}: " + _names(seated))
    return "\n\n".join(paragraphs)


def place_text(record: MeetingRecord) -> str:
    main = [p.name for p in record.points if p.role == "main"]
    ends = [p.name for p in record.points if p.role != "main"]
    where = record.location or "; ".join(main) or MISSING
    if main and record.location:
        where += f" ({'; '.join(main)})"
    if not ends:
        return f"Địa điểm: {where}."
    return f"Địa điểm: {where}; kết nối trực tuyến với {len(ends)} điểm cầu: {'; '.join(ends)}."


def item_section(n: int, item: ItemRecord, segments: Sequence[Segment]) -> Section:
    events: list[tuple[datetime, str]] = [(t.start, turn_paragraph(t, segments)) for t in item.turns]
    events += [(v.opened_at, vote_paragraph(v)) for v in item.votes]
    events.sort(key=lambda e: e[0])
    paragraphs = [f"- {item.presenter} trình bày." ] if item.presenter else []
    paragraphs += [text for _, text in events]
    paragraphs.append(f"Kết luận của chủ tọa: {item.conclusion or MISSING}")
    return Section(
        key=f"item:{item.id}", heading=f"{n}. {item.title}", text="\n\n".join(paragraphs),
        tables=[vote_table(v) for v in item.votes],
    )


def draft(record: MeetingRecord, segments: Sequence[Segment] = (), number: str | None = None) -> MinutesDocument:
    """The first version of the minutes; every later version is an edit of one before."""
    start = record.start or record.scheduled_start
    end = record.end
    sections = [
        Section("time", "", f"Thời gian bắt đầu: {clock(start)}."),
        Section("place", "", place_text(record)),
        Section("participants", "Thành phần tham dự:", participants_text(record), [attendance_table(record)]),
    ]
    sections += [item_section(n, item, segments) for n, item in enumerate(record.items, start=1)]
    if record.votes_outside_items:
        sections.append(Section(
            "other", f"{len(record.items) + 1}. Các nội dung khác",
            "\n\n".join(vote_paragraph(v) for v in record.votes_outside_items),
            [vote_table(v) for v in record.votes_outside_items],
        ))
    doc = MinutesDocument(
        parent_agency="",
        agency=record.agency.upper(),
        number=number or f"Số: {MISSING}/BB-{agency_abbreviation(record.agency)}",
        place_date=date_line(place_name(record.province), start),
        title=record.title,
        sections=sections,
        end_line=f"Cuộc họp kết thúc vào {clock(end) if end else MISSING}./.",
        secretary=SignerLine("THƯ KÝ", record.secretary.name, record.secretary.position),
        chair=SignerLine("CHỦ TỌA", record.chair.name, record.chair.position),
        recipients=["Các thành viên dự họp;"],
        archive="Lưu: VT, hồ sơ cuộc họp.",
    )
    return normalised(doc)


def normalised(doc: MinutesDocument) -> MinutesDocument:
    """Every string NFC (the record may hold decomposed text typed on some keyboards)."""
    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return nfc(value)
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    return MinutesDocument.from_json(walk(doc.to_json()))
