"""The minutes as data: what the secretary edits and what the PDF prints, in Mẫu 1.9 order.

Text fields are editable; tables (attendance, vote counts) come from the record and are not,
so the counts printed always equal the database. Everything is NFC-normalised on the way in
because reportlab does not position combining marks.
"""
from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MAX_TEXT = 50_000
MAX_LINE = 500
MAX_RECIPIENTS = 50

# Fields of the document header and footer the secretary may change (name -> longest length).
HEADER_FIELDS = {
    "parent_agency": MAX_LINE, "agency": MAX_LINE, "number": 100, "place_date": 200, "title": MAX_LINE,
    "end_line": MAX_LINE, "archive": 200,
}


class DocumentError(ValueError):
    """Edited minutes that cannot be accepted; the message names the field and the reason."""


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Table:
    """A table from the record: a caption, a header row, body rows (all strings), column weights."""

    caption: str
    header: list[str]
    rows: list[list[str]]
    weights: list[float]


@dataclass(frozen=True)
class Section:
    """One part of the content: 'time', 'place', 'participants', 'item:<id>', 'closing'."""

    key: str
    heading: str
    text: str  # paragraphs separated by blank lines
    tables: list[Table] = field(default_factory=list)

    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.text.replace("\r\n", "\n").split("\n\n") if p.strip()]


@dataclass(frozen=True)
class SignerLine:
    title: str  # THƯ KÝ / CHỦ TỌA
    name: str
    position: str


@dataclass(frozen=True)
class MinutesDocument:
    parent_agency: str
    agency: str
    number: str  # "Số: 12/BB-UBND"
    place_date: str  # "Quảng Ninh, ngày 01 tháng 12 năm 2026"
    title: str  # the meeting's name, under BIÊN BẢN
    sections: list[Section]
    end_line: str  # "Cuộc họp kết thúc vào … giờ …, ngày … tháng … năm …/."
    secretary: SignerLine
    chair: SignerLine
    recipients: list[str]
    archive: str  # "Lưu: VT, …"

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise DocumentError(f"sections: no section {key!r}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MinutesDocument":
        return cls(
            **{k: data[k] for k in HEADER_FIELDS},
            sections=[
                Section(key=s["key"], heading=s["heading"], text=s["text"], tables=[Table(**t) for t in s["tables"]])
                for s in data["sections"]
            ],
            secretary=SignerLine(**data["secretary"]), chair=SignerLine(**data["chair"]),
            recipients=list(data["recipients"]),
        )


def _clean(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise DocumentError(f"{where}: text expected")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise DocumentError(f"{where}: control characters are not allowed")
    value = nfc(value.strip())
    if len(value) > limit:
        raise DocumentError(f"{where}: at most {limit} characters")
    return value


def apply_edits(doc: MinutesDocument, edits: dict[str, Any]) -> MinutesDocument:
    """A new document with the secretary's edits; unknown keys and bad values raise DocumentError.

    `edits` may hold header fields, `recipients` (list of lines) and `sections` ({key: text}).
    Headings and tables are not editable: they mirror the record.
    """
    changes: dict[str, Any] = {}
    for key, value in edits.items():
        if key in HEADER_FIELDS:
            changes[key] = _clean(value, key, HEADER_FIELDS[key])
        elif key == "recipients":
            if not isinstance(value, list) or len(value) > MAX_RECIPIENTS:
                raise DocumentError(f"recipients: a list of at most {MAX_RECIPIENTS} lines")
            changes[key] = [line for n, v in enumerate(value) if (line := _clean(v, f"recipients[{n}]", MAX_LINE))]
        elif key == "sections":
            if not isinstance(value, dict):
                raise DocumentError("sections: an object {section key: text}")
            known = {s.key for s in doc.sections}
            unknown = sorted(set(value) - known)
            if unknown:
                raise DocumentError(f"sections: no section {unknown[0]!r}")
            texts = {k: _clean(v, f"sections.{k}", MAX_TEXT) for k, v in value.items()}
            changes[key] = [replace(s, text=texts[s.key]) if s.key in texts else s for s in doc.sections]
        else:
            raise DocumentError(f"{key}: not an editable field")
    return replace(doc, **changes)
