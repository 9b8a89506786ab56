"""The delivery note (Lieferschein) of a shipment, as an A4 PDF.

German first, English beneath or after a slash. Page 1 carries the title,
the shipment number and date, a QR code the receiver scans to open the
handover (``<BASE URL>/H/<SHIPMENT>``), and the releasing party, the
receiving party and the destination with their addresses. Then one row per
connector — vendor, serial number, product, seal ids, state — over as many
pages as it takes, the column header repeated on each; signature fields
for both parties close the note. Every page has "Seite x von y / Page x of y".

Pagination is computed before anything is drawn, so the page count is
known on the first page. Output is byte-reproducible (:mod:`labels.pdf`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas

from labels.layouts import A4, MIN_MODULE_MM
from labels.model import DeliveryNote, NoteItem, NoteParty
from labels.pdf import FONT, FONT_BOLD, GREY, PRODUCER, draw_qr, fit_text, mm, save
from labels.qr import QUIET_ZONE, qr_symbol
from ledger.errors import InvalidInput

PAGE_W, PAGE_H = A4
MARGIN_X = 18.0
MARGIN_TOP = 15.0
FOOTER_Y = 10.0
BODY_BOTTOM = 20.0
QR_MODULE = 0.8
#: The handover QR code with its quiet zone stays within this square (mm) in the page corner.
QR_MAX_SIDE = 40.0
TABLE_W = PAGE_W - 2 * MARGIN_X
#: Columns: (German, English, width mm).
COLUMNS: tuple[tuple[str, str, float], ...] = (
    ("Pos.", "Item", 11.0),
    ("Hersteller", "Vendor", 27.0),
    ("Seriennummer", "Serial number", 40.0),
    ("Produkt", "Product", 26.0),
    ("Siegel", "Seals", 46.0),
    ("Status", "State", 24.0),
)
TABLE_HEADER_H = 9.0
ROW_PAD = 1.6
LINE_H = 3.6
SIGNATURE_H = 48.0
FIRST_PAGE_TABLE_TOP = PAGE_H - 100.0
NEXT_PAGE_TABLE_TOP = PAGE_H - 32.0
SEALS_PER_LINE = 2
BODY_SIZE = 8.0


@dataclass(frozen=True)
class _Row:
    number: int
    item: NoteItem
    seal_lines: tuple[str, ...]

    @property
    def height(self) -> float:
        return 2 * ROW_PAD + LINE_H * max(1, len(self.seal_lines))


def _rows(items: Sequence[NoteItem]) -> list[_Row]:
    rows = []
    for number, item in enumerate(items, 1):
        seals = sorted(item.seals)
        lines = tuple(
            ", ".join(seals[i : i + SEALS_PER_LINE]) for i in range(0, len(seals), SEALS_PER_LINE)
        ) or ("–",)
        rows.append(_Row(number, item, lines))
    return rows


def paginate(items: Sequence[NoteItem]) -> list[list[_Row]]:
    """Rows per page; the last page also has room for the signature fields (maybe a page of its own)."""
    pages: list[list[_Row]] = [[]]
    top = FIRST_PAGE_TABLE_TOP - TABLE_HEADER_H
    y = top
    for row in _rows(items):
        if y - row.height < BODY_BOTTOM:
            pages.append([])
            y = NEXT_PAGE_TABLE_TOP - TABLE_HEADER_H
        pages[-1].append(row)
        y -= row.height
    if y - SIGNATURE_H < BODY_BOTTOM:
        pages.append([])
    return pages


def _title(note: DeliveryNote) -> tuple[str, str]:
    return (
        ("Rücklieferschein", "Return delivery note") if note.is_return else ("Lieferschein", "Delivery note")
    )


def _text(
    canvas: Canvas, x: float, y: float, text: str, size: float, width: float, bold: bool = False
) -> None:
    font = FONT_BOLD if bold else FONT
    fitted, fitted_size = fit_text(text, font, size, min(size, 6.0), mm(width))
    canvas.setFont(font, fitted_size)
    canvas.drawString(mm(x), mm(y), fitted)


def _label(canvas: Canvas, x: float, y: float, german: str, english: str, width: float) -> None:
    canvas.setFillGray(GREY)
    _text(canvas, x, y, f"{german} / {english}", 7.0, width)
    canvas.setFillGray(0)


def _party_block(
    canvas: Canvas, x: float, y: float, width: float, heading: tuple[str, str], party: NoteParty
) -> None:
    _label(canvas, x, y, heading[0], heading[1], width)
    y -= 5.0
    if party.name:
        _text(canvas, x, y, party.name, 9.5, width, bold=True)
        y -= 4.3
    _text(canvas, x, y, party.ident, BODY_SIZE, width)
    for line in party.address[:5]:
        y -= 3.8
        _text(canvas, x, y, line, BODY_SIZE, width)


def _entries_text(entries: Sequence[int]) -> str:
    shown = ", ".join(f"#{i}" for i in entries[:8])
    return shown + (f" … ({len(entries)})" if len(entries) > 8 else "")


def handover_module(modules_with_quiet_zone: int) -> float:
    """Module size (mm) of the handover QR code: 0.8 mm, less for long URLs, never below 0.5 mm."""
    module = min(QR_MODULE, QR_MAX_SIDE / modules_with_quiet_zone)
    if module < MIN_MODULE_MM:
        raise InvalidInput("the shipment id is too long for the handover QR code on the delivery note")
    return module


def _first_page_header(canvas: Canvas, note: DeliveryNote) -> None:
    german, english = _title(note)
    top = PAGE_H - MARGIN_TOP
    canvas.setFont(FONT_BOLD, 20)
    canvas.drawString(mm(MARGIN_X), mm(top - 7.0), german)
    canvas.setFillGray(GREY)
    canvas.setFont(FONT, 10)
    canvas.drawString(mm(MARGIN_X), mm(top - 12.0), english)
    canvas.setFillGray(0)

    symbol = qr_symbol(note.handover_url, mask=None)
    module = handover_module(symbol.size_with_quiet_zone)
    side = symbol.size_with_quiet_zone * module
    qr_x, qr_y = PAGE_W - MARGIN_X - side, top - side
    quiet = QUIET_ZONE * module
    draw_qr(canvas, symbol, mm(qr_x + quiet), mm(qr_y + quiet), mm(module))
    canvas.setFillGray(GREY)
    canvas.setFont(FONT, 6.5)
    canvas.drawCentredString(mm(qr_x + side / 2), mm(qr_y - 1.5), "Übergabe öffnen / open handover")
    canvas.setFillGray(0)

    facts = (
        ("Lieferschein-Nr.", "Delivery note no.", note.shipment),
        ("Versanddatum", "Shipping date", note.shipped_on),
        ("Ledger", "Ledger", note.ledger),
        ("Einträge", "Entries", _entries_text(note.entries)),
    )
    y = top - 22.0
    text_w = qr_x - MARGIN_X - 4.0
    for german_label, english_label, value in facts:
        canvas.setFillGray(GREY)
        _text(canvas, MARGIN_X, y, f"{german_label} / {english_label}", 7.0, 48.0)
        canvas.setFillGray(0)
        _text(canvas, MARGIN_X + 50.0, y, value, 9.5, text_w - 50.0, bold=value == note.shipment)
        y -= 5.0

    column = (TABLE_W - 8.0) / 3
    y = PAGE_H - 62.0
    blocks = (
        (("Abgebende Partei", "Releasing party"), note.releasing),
        (("Annehmende Partei", "Receiving party"), note.receiving),
        (("Lieferort", "Destination"), note.destination),
    )
    for number, (heading, party) in enumerate(blocks):
        _party_block(canvas, MARGIN_X + number * (column + 4.0), y, column, heading, party)
    if note.origin is not None:
        canvas.setFillGray(GREY)
        _text(canvas, MARGIN_X, y - 30.0, f"Versandort / Shipped from: {note.origin.ident}", 7.0, TABLE_W)
        canvas.setFillGray(0)


def _next_page_header(canvas: Canvas, note: DeliveryNote) -> None:
    german, english = _title(note)
    top = PAGE_H - MARGIN_TOP
    _text(canvas, MARGIN_X, top - 6.0, f"{german} {note.shipment}", 13.0, TABLE_W, bold=True)
    canvas.setFillGray(GREY)
    _text(canvas, MARGIN_X, top - 11.0, f"{english} {note.shipment} — Fortsetzung / continued", 8.0, TABLE_W)
    canvas.setFillGray(0)


def _table_header(canvas: Canvas, top: float) -> float:
    canvas.setLineWidth(0.6)
    x = MARGIN_X
    for german, english, width in COLUMNS:
        _text(canvas, x + 1.0, top - 4.0, german, BODY_SIZE, width - 2.0, bold=True)
        canvas.setFillGray(GREY)
        _text(canvas, x + 1.0, top - 7.5, english, 6.5, width - 2.0)
        canvas.setFillGray(0)
        x += width
    y = top - TABLE_HEADER_H
    canvas.line(mm(MARGIN_X), mm(y), mm(MARGIN_X + TABLE_W), mm(y))
    return y


def _table_row(canvas: Canvas, row: _Row, top: float) -> float:
    item = row.item
    cells = (str(row.number), item.vendor, item.serial, item.product or "–", None, item.state)
    x = MARGIN_X
    baseline = top - ROW_PAD - 2.7
    for (_, _, width), value in zip(COLUMNS, cells, strict=True):
        if value is None:
            for number, line in enumerate(row.seal_lines):
                _text(canvas, x + 1.0, baseline - number * LINE_H, line, BODY_SIZE, width - 2.0)
        else:
            _text(canvas, x + 1.0, baseline, value, BODY_SIZE, width - 2.0, bold=value == item.serial)
        x += width
    bottom = top - row.height
    canvas.setLineWidth(0.25)
    canvas.setStrokeGray(0.6)
    canvas.line(mm(MARGIN_X), mm(bottom), mm(MARGIN_X + TABLE_W), mm(bottom))
    canvas.setStrokeGray(0)
    return bottom


def _signatures(canvas: Canvas, top: float, note: DeliveryNote) -> None:
    width = (TABLE_W - 10.0) / 2
    y = top - 8.0
    canvas.setFillGray(GREY)
    _text(
        canvas, MARGIN_X, y,
        "Die Übergabe wird im Ledger von beiden Parteien digital gegengezeichnet. "
        "/ Both parties countersign the handover in the ledger.",
        7.0, TABLE_W,
    )  # fmt: skip
    canvas.setFillGray(0)
    blocks = (
        ("Übergeben", "Released by", note.releasing),
        ("Übernommen", "Received by", note.receiving),
    )
    for number, (german, english, party) in enumerate(blocks):
        x = MARGIN_X + number * (width + 10.0)
        _text(canvas, x, y - 7.0, f"{german} / {english}", 9.0, width, bold=True)
        _text(canvas, x, y - 11.5, party.name or party.ident, BODY_SIZE, width)
        canvas.setLineWidth(0.5)
        for offset, (line_de, line_en) in enumerate(
            (
                ("Name in Druckschrift", "Name in capitals"),
                ("Datum, Uhrzeit", "Date, time"),
                ("Unterschrift", "Signature"),
            )
        ):
            line_y = y - 21.0 - offset * 9.0
            canvas.line(mm(x), mm(line_y), mm(x + width), mm(line_y))
            canvas.setFillGray(GREY)
            _text(canvas, x, line_y - 3.0, f"{line_de} / {line_en}", 6.5, width)
            canvas.setFillGray(0)


def _footer(canvas: Canvas, note: DeliveryNote, page: int, pages: int) -> None:
    canvas.setFillGray(GREY)
    _text(canvas, MARGIN_X, FOOTER_Y, f"{PRODUCER} · {note.ledger} · {note.shipment}", 7.0, TABLE_W - 50.0)
    canvas.setFont(FONT, 8.0)
    canvas.drawRightString(
        mm(PAGE_W - MARGIN_X), mm(FOOTER_Y), f"Seite {page} von {pages} / Page {page} of {pages}"
    )
    canvas.setFillGray(0)


def render_delivery_note(note: DeliveryNote) -> bytes:
    """The delivery note as PDF bytes."""
    if not note.items:
        raise InvalidInput(f"shipment {note.shipment} has no connectors")
    pages = paginate(note.items)
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer, pagesize=(mm(PAGE_W), mm(PAGE_H)), invariant=1, pageCompression=1, pdfVersion=(1, 4)
    )
    german, english = _title(note)
    canvas.setTitle(f"{german} / {english} {note.shipment}")
    canvas.setAuthor(PRODUCER)
    canvas.setCreator(PRODUCER)
    canvas.setProducer(PRODUCER)
    canvas.setSubject(f"{len(note.items)} connectors, {note.releasing.ident} an/to {note.receiving.ident}")
    for number, rows in enumerate(pages, 1):
        if number == 1:
            _first_page_header(canvas, note)
            top = FIRST_PAGE_TABLE_TOP
        else:
            _next_page_header(canvas, note)
            top = NEXT_PAGE_TABLE_TOP
        if rows or number == 1:
            y = _table_header(canvas, top)
            for row in rows:
                y = _table_row(canvas, row, y)
        else:
            y = top
        if number == len(pages):
            _signatures(canvas, y, note)
        _footer(canvas, note, number, len(pages))
        canvas.showPage()
    return save(canvas, buffer)
