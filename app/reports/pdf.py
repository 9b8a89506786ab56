"""Shared PDF plumbing for the auditor reports: page layout, styles, page numbers, QR codes.

Reports are reproducible: the same data gives the same bytes. ReportLab runs
in invariant mode (fixed document id) and the creation date is the report's
``as of`` time — the ledger's own clock — never the wall clock.

Text is German first with the English term after a slash
(``Übergabe / Handover``), in the standard Helvetica fonts (WinAnsi): no
font files to ship, and characters outside WinAnsi are avoided.
"""

from __future__ import annotations

import calendar
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

from ledger.times import parse_timestamp

PAGE = landscape(A4)
MARGIN = 14 * mm
PRODUCT = "Konnektor Custody Ledger"

_base = getSampleStyleSheet()
STYLES: dict[str, ParagraphStyle] = {
    "title": ParagraphStyle("kcl-title", parent=_base["Title"], fontSize=17, leading=21, alignment=TA_LEFT),
    "subtitle": ParagraphStyle("kcl-subtitle", parent=_base["Normal"], fontSize=10, leading=13,
                               textColor=colors.HexColor("#444444")),
    "h1": ParagraphStyle("kcl-h1", parent=_base["Heading2"], fontSize=13, leading=16, spaceBefore=8,
                         spaceAfter=4, keepWithNext=1),
    "body": ParagraphStyle("kcl-body", parent=_base["Normal"], fontSize=9, leading=11.5),
    "small": ParagraphStyle("kcl-small", parent=_base["Normal"], fontSize=7.5, leading=9.2),
    "cell": ParagraphStyle("kcl-cell", parent=_base["Normal"], fontSize=7, leading=8.4),
    "mono": ParagraphStyle("kcl-mono", parent=_base["Normal"], fontName="Courier", fontSize=6.6, leading=8),
    "head": ParagraphStyle("kcl-head", parent=_base["Normal"], fontName="Helvetica-Bold", fontSize=7,
                           leading=8.4),
    "verdict_ok": ParagraphStyle("kcl-ok", parent=_base["Normal"], fontName="Helvetica-Bold", fontSize=12,
                                 leading=15, textColor=colors.HexColor("#1b5e20")),
    "verdict_bad": ParagraphStyle("kcl-bad", parent=_base["Normal"], fontName="Helvetica-Bold", fontSize=12,
                                  leading=15, textColor=colors.HexColor("#b71c1c")),
}  # fmt: skip

GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9e9e9e")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eaf0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
)


def bi(german: str, english: str) -> str:
    """``German / English`` (the report's way of labelling everything)."""
    return german if german == english else f"{german} / {english}"


def text(value: object) -> str:
    """Escape for a Paragraph; keep only characters the standard fonts can show."""
    raw = "" if value is None else str(value)
    return escape(raw.encode("cp1252", "replace").decode("cp1252"))


def para(value: object, style: str = "cell") -> Paragraph:
    return Paragraph(text(value), STYLES[style])


def markup(value: str, style: str = "cell") -> Paragraph:
    """A Paragraph of trusted markup (built here, with :func:`text` around data)."""
    return Paragraph(value, STYLES[style])


def heading(german: str, english: str) -> Paragraph:
    return Paragraph(f"{text(german)} <font color='#666666' size='10'>/ {text(english)}</font>", STYLES["h1"])


def table(
    header: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    widths: Sequence[float],
    *,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A grid table with a bilingual, repeating header; cells are strings or flowables."""
    head = [Paragraph(f"{text(de)}<br/><font color='#555555'>{text(en)}</font>", STYLES["head"])
            for de, en in header]  # fmt: skip
    body = [[cell if isinstance(cell, Flowable) else para(cell) for cell in row] for row in rows]
    result = Table([head, *body], colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    result.setStyle(GRID)
    if extra:
        result.setStyle(TableStyle(list(extra)))
    return result


def facts(pairs: Sequence[tuple[str, str, object]], widths: tuple[float, float]) -> Table:
    """A two-column key/value table (``(german, english, value)``)."""
    rows = [[markup(f"<b>{text(de)}</b> / {text(en)}"), para(value, "body")] for de, en, value in pairs]
    result = Table(rows, colWidths=list(widths), hAlign="LEFT")
    result.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return result


def qr_drawing(payload: str, size: float) -> Drawing:
    """A QR code of ``payload`` as vector rectangles (one per run of dark modules), quiet zone included."""
    code = qrcode.QRCode(border=0, error_correction=ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    matrix = code.get_matrix()
    quiet = 4
    modules = len(matrix) + 2 * quiet
    unit = size / modules
    drawing = Drawing(size, size)
    drawing.add(Rect(0, 0, size, size, fillColor=colors.white, strokeColor=None))
    for row, line in enumerate(matrix):
        column = 0
        while column < len(line):
            if not line[column]:
                column += 1
                continue
            start = column
            while column < len(line) and line[column]:
                column += 1
            x = (quiet + start) * unit
            y = size - (quiet + row + 1) * unit
            drawing.add(
                Rect(
                    x,
                    y,
                    (column - start) * unit,
                    unit,
                    fillColor=colors.black,
                    strokeColor=None,
                    strokeWidth=0,
                )
            )
    return drawing


def short_time(value: str | None) -> str:
    """``2026-11-28T10:15:00Z`` → ``2026-11-28 10:15`` (UTC)."""
    if not value:
        return ""
    moment = parse_timestamp(value)
    return f"{moment:%Y-%m-%d %H:%M}"


def short_id(value: str | None) -> str:
    """Drop the subject type of party and location ids (``party:WH-1`` → ``WH-1``)."""
    if not value:
        return ""
    kind, _, ident = value.partition(":")
    return ident if kind in ("party", "location") and ident else value


def _numbered_canvas(footer: str, moment: datetime) -> type[Canvas]:
    stamp = calendar.timegm(moment.utctimetuple())

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # ReportLab is untyped
        """Defers each page so the footer can say "page n of N"; dates from ``moment``."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["invariant"] = 1
            super().__init__(*args, **kwargs)
            fixed = TimeStamp(invariant=1)
            fixed.t = stamp
            fixed.lt = moment.utctimetuple()
            fixed.YMDhms = tuple(fixed.lt)[:6]
            self._doc._timeStamp = fixed
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._footer(number, total)
                super().showPage()
            super().save()

        def _footer(self, number: int, total: int) -> None:
            self.saveState()
            self.setFont("Helvetica", 7)
            self.setFillColor(colors.HexColor("#555555"))
            width, _ = self._pagesize
            self.line(MARGIN, MARGIN - 3 * mm, width - MARGIN, MARGIN - 3 * mm)
            self.drawString(MARGIN, MARGIN - 7 * mm, text(footer))
            self.drawRightString(
                width - MARGIN, MARGIN - 7 * mm, f"Seite {number} von {total} / Page {number} of {total}"
            )
            self.restoreState()

    return NumberedCanvas


def render(
    story: Sequence[Flowable],
    *,
    title: str,
    subject: str,
    footer: str,
    as_of: str,
    pagesize: tuple[float, float] = PAGE,
) -> bytes:
    """Lay out ``story`` on numbered pages; return the PDF bytes."""
    buffer = io.BytesIO()
    moment = parse_timestamp(as_of)
    document = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        subject=subject,
        author=PRODUCT,
        creator=PRODUCT,
        invariant=1,
    )
    document.build(list(story), canvasmaker=_numbered_canvas(footer, moment))
    return buffer.getvalue()


def frame_width(pagesize: tuple[float, float] = PAGE) -> float:
    return float(pagesize[0] - 2 * MARGIN)
