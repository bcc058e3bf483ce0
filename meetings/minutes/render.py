"""The minutes as an A4 PDF in the Decree 30/2020 layout (reportlab, bundled Liberation Serif).

Measures (docs/minutes.md): margins top/bottom 20 mm, left 30 mm, right 15 mm; quốc hiệu 12 pt
bold capitals, tiêu ngữ 13 pt bold with a rule under it, body 14 pt with a 1.27 cm first-line
indent and 6 pt between paragraphs; page numbers centred at the top from page 2; tables split
between rows and repeat their header. The signature spaces are measured while drawing so the
signing step can put each visible signature exactly there. CPU-heavy: call it in an executor.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table as RLTable,
    TableStyle,
)

from meetings.minutes.document import MinutesDocument, Table, nfc

FONT_DIR = Path(__file__).with_name("fonts")
FONT = "LiberationSerif"
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}
BODY_PT = 14
SIGNATURE_SPACE = 28 * mm  # room for the visible signature between the title and the name


def register_fonts() -> None:
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    for suffix, style in (("", "Regular"), ("-Bold", "Bold"), ("-Italic", "Italic"), ("-BoldItalic", "BoldItalic")):
        pdfmetrics.registerFont(TTFont(FONT + suffix, str(FONT_DIR / f"LiberationSerif-{style}.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT + "-Bold", italic=FONT + "-Italic",
                                  boldItalic=FONT + "-BoldItalic")


def _style(name: str, size: float = BODY_PT, font: str = FONT, align: int = TA_JUSTIFY, **extra: float) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=font, fontSize=size, leading=size * 1.25, alignment=align, **extra)


STYLES = {
    "agency_parent": _style("agency_parent", 13, align=TA_CENTER),
    "agency": _style("agency", 13, FONT + "-Bold", TA_CENTER),
    "number": _style("number", 13, align=TA_CENTER, spaceBefore=6),
    "motto_top": _style("motto_top", 12, FONT + "-Bold", TA_CENTER),
    "motto": _style("motto", 13, FONT + "-Bold", TA_CENTER),
    "date": _style("date", 13, FONT + "-Italic", TA_CENTER, spaceBefore=6),
    "title": _style("title", 14, FONT + "-Bold", TA_CENTER, spaceBefore=18),
    "subtitle": _style("subtitle", 14, FONT + "-Bold", TA_CENTER, spaceAfter=12),
    "body": _style("body", firstLineIndent=1.27 * cm, spaceBefore=6),
    "heading": _style("heading", font=FONT + "-Bold", firstLineIndent=1.27 * cm, spaceBefore=6),
    "caption": _style("caption", 12, FONT + "-Italic", TA_LEFT, spaceBefore=6, spaceAfter=3),
    "cell": _style("cell", 12, align=TA_LEFT),
    "cell_head": _style("cell_head", 12, FONT + "-Bold", TA_CENTER),
    "sign_title": _style("sign_title", 14, FONT + "-Bold", TA_CENTER),
    "sign_hint": _style("sign_hint", 12, FONT + "-Italic", TA_CENTER),
    "sign_name": _style("sign_name", 14, FONT + "-Bold", TA_CENTER),
    "recipients_head": _style("recipients_head", 12, FONT + "-BoldItalic", TA_LEFT),
    "recipients": _style("recipients", 11, align=TA_LEFT),
}


def _p(text: str, style: str) -> Paragraph:
    return Paragraph(escape(nfc(text)).replace("\n", "<br/>"), STYLES[style])


@dataclass(frozen=True)
class Box:
    """Where a signature goes: page index (0-based) and PDF points (x1, y1, x2, y2)."""

    page: int
    x1: float
    y1: float
    x2: float
    y2: float

    def as_list(self) -> list[float]:
        return [self.page, self.x1, self.y1, self.x2, self.y2]


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    boxes: dict[str, Box]  # role (secretary, chair, seal) -> where its signature goes


class SignatureSpace(Flowable):
    """Empty space for a signature that remembers where it was drawn."""

    def __init__(self, role: str, width: float, height: float, found: dict[str, Box]) -> None:
        super().__init__()
        self.role, self.width, self.height, self._found = role, width, height, found

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        x1, y1 = canvas.absolutePosition(0, 0)
        self._found[self.role] = Box(canvas.getPageNumber() - 1, x1, y1, x1 + self.width, y1 + self.height)


class _Rule(Flowable):
    """The short line under the agency name and under the tiêu ngữ."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 2

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self._available = available_width
        return available_width, self.height

    def draw(self) -> None:
        start = (self._available - self.width) / 2
        self.canv.setLineWidth(0.6)
        self.canv.line(start, 1, start + self.width, 1)


def _header(doc: MinutesDocument, width: float) -> RLTable:
    left_w = width * 0.40
    left = [_p(doc.parent_agency.upper(), "agency_parent")] if doc.parent_agency else []
    left += [_p(doc.agency.upper(), "agency"), _Rule(left_w * 0.35), _p(doc.number, "number")]
    motto = "Độc lập - Tự do - Hạnh phúc"
    right = [
        _p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "motto_top"), _p(motto, "motto"),
        _Rule(pdfmetrics.stringWidth(motto, FONT + "-Bold", 13)), _p(doc.place_date, "date"),
    ]
    table = RLTable([[left, right]], colWidths=[left_w, width - left_w])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ]))
    return table


def _cell(text: str, width: float) -> str | Paragraph:
    """A plain string when it fits on one line (drawn directly, far cheaper than a Paragraph:
    a 3-hour meeting has thousands of cells), else a Paragraph that wraps."""
    text = nfc(text)
    if pdfmetrics.stringWidth(text, FONT, 12) <= width - 8:
        return text
    return _p(text, "cell")


def _table(table: Table, width: float) -> list[Flowable]:
    unit = width / sum(table.weights)
    widths = [w * unit for w in table.weights]
    data = [[_p(h, "cell_head") for h in table.header]]
    data += [[_cell(c, w) for c, w in zip(row, widths)] for row in table.rows]
    grid = RLTable(data, colWidths=widths, repeatRows=1, splitByRow=1)
    grid.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("FONT", (0, 1), (-1, -1), FONT, 12), ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return [CondPageBreak(3 * cm), _p(table.caption, "caption"), grid]


def _signatures(doc: MinutesDocument, width: float, found: dict[str, Box]) -> Flowable:
    """THƯ KÝ left, CHỦ TỌA right; one row per line so the two names stay level."""
    col = width / 2
    signers = (("secretary", doc.secretary, "(Chữ ký)"),
               ("chair", doc.chair, "(Chữ ký của người có thẩm quyền, dấu (nếu có))"))
    rows = [
        [_p(line.title, "sign_title") for _, line, _ in signers],
        [_p(hint, "sign_hint") for _, _, hint in signers],
        [SignatureSpace(role, col - 12, SIGNATURE_SPACE, found) for role, _, _ in signers],
        [_p(line.name, "sign_name") for _, line, _ in signers],
    ]
    table = RLTable(rows, colWidths=[col, col])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("TOPPADDING", (0, 0), (-1, -1), 0), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return table


def _recipients(doc: MinutesDocument) -> list[Flowable]:
    lines = [f"- {r}" for r in doc.recipients] + [f"- {doc.archive}"]
    return [Spacer(1, 12), _p("Nơi nhận:", "recipients_head"), _p("\n".join(lines), "recipients")]


def story(doc: MinutesDocument, width: float, found: dict[str, Box]) -> list[Flowable]:
    flow: list[Flowable] = [_header(doc, width), _p("BIÊN BẢN", "title"), _p(doc.title, "subtitle")]
    content_started = False
    for section in doc.sections:
        if section.key.startswith("item:") or section.key == "other":
            if not content_started:
                flow.append(_p("Nội dung (theo diễn biến cuộc họp):", "heading"))
                content_started = True
        if section.heading:
            flow.append(_p(section.heading, "heading"))
        flow += [_p(text, "body") for text in section.paragraphs()]
        for table in section.tables:
            flow += _table(table, width)
    # The closing line goes with the signatures: a last page holding only signatures is avoided.
    flow.append(KeepTogether([_p(doc.end_line, "body"), Spacer(1, 12), _signatures(doc, width, found)]
                             + _recipients(doc)))
    return flow


def _page_number(canvas, _doc) -> None:  # type: ignore[no-untyped-def]
    canvas.saveState()
    canvas.setFont(FONT, 13)
    canvas.drawCentredString(A4[0] / 2 + (MARGINS_MM["left"] - MARGINS_MM["right"]) * mm / 2,
                             A4[1] - 12 * mm, str(canvas.getPageNumber()))
    canvas.restoreState()


def render(doc: MinutesDocument, *, author: str = "hoinghi", on_page: Callable[[int], None] | None = None) -> Rendered:
    """The PDF of `doc`; `on_page(n)` reports progress for long minutes."""
    register_fonts()
    buffer = io.BytesIO()
    found: dict[str, Box] = {}
    pages = [0]

    def later(canvas, template) -> None:  # type: ignore[no-untyped-def]
        _page_number(canvas, template)
        count(canvas, template)

    def count(canvas, _template) -> None:  # type: ignore[no-untyped-def]
        pages[0] = canvas.getPageNumber()
        if on_page:
            on_page(pages[0])

    template = SimpleDocTemplate(
        buffer, pagesize=A4, topMargin=MARGINS_MM["top"] * mm, bottomMargin=MARGINS_MM["bottom"] * mm,
        leftMargin=MARGINS_MM["left"] * mm, rightMargin=MARGINS_MM["right"] * mm,
        title=nfc(f"Biên bản: {doc.title}"), author=nfc(author), lang="vi-VN", invariant=1,
    )
    template.build(story(doc, template.width, found), onFirstPage=count, onLaterPages=later)
    return Rendered(buffer.getvalue(), pages[0], found)
