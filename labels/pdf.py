"""Seal labels as PDF: A4 sheets and single thermal labels (reportlab).

The QR code is drawn as a 1-bit image mask with one sample a module
(``/ImageMask true``, ``/Interpolate false``), placed inline in the page's
content stream and stretched to the symbol's size by the transformation
matrix. Every module edge falls on the scaled sample grid, so printers and
PDF viewers fill whole modules with the current colour — sharp at any
resolution, no seams between rows. A version 8 symbol is 343 bytes of
samples (about 0.35 KB once compressed, against about 1.1 KB for a path
of rectangles, one a run of dark modules). Text uses the PDF base-14
Helvetica (not embedded). Content streams are Flate-compressed without
reportlab's ASCII85 wrapping.

Output is byte-reproducible: reportlab's ``invariant`` mode fixes the
creation date and the document id, and nothing else depends on the clock.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from reportlab import rl_config
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labels.layouts import Box, Layout, placements
from labels.model import SealLabel
from labels.qr import QUIET_ZONE, QrSymbol, qr_symbol
from ledger.errors import InvalidInput

PT_PER_MM = 72 / 25.4
PRODUCER = "Konnektor Custody Ledger"
FONT = "Helvetica"
FONT_BOLD = "Helvetica-Bold"
GREY = 0.35


def mm(value: float) -> float:
    return value * PT_PER_MM


def qr_mask(symbol: QrSymbol) -> bytes:
    """The symbol's modules as 1-bit image samples: rows from the top, 1 = dark, each row padded to a byte."""
    pad = "0" * (-symbol.size % 8)
    width = (symbol.size + 7) // 8
    return b"".join(int(row + pad, 2).to_bytes(width, "big") for row in symbol.rows)


def qr_inline_image(symbol: QrSymbol) -> str:
    """The symbol as a PDF inline image mask (``BI`` … ``EI``) in the unit square, one sample a module.

    Samples of 1 paint the current fill colour (``/D [1 0]``), 0 leaves the page
    as it is; ``/I false``: no smoothing, the renderer fills whole modules.
    The samples are ASCII85-encoded, because reportlab's content streams are
    text; the page's Flate compression takes back most of what that costs.
    reportlab's own ``drawImage``/``drawInlineImage`` draw pictures through
    PIL and have no image-mask mode, hence the operators here.
    """
    samples = base64.a85encode(qr_mask(symbol)).decode("ascii")
    return f"BI /W {symbol.size} /H {symbol.size} /IM true /I false /D [1 0] /F /A85 ID {samples}~> EI"


def draw_qr(canvas: Canvas, symbol: QrSymbol, x: float, y: float, module: float) -> None:
    """The symbol (without quiet zone) with its bottom-left corner at (x, y) pt, ``module`` pt a module."""
    side = symbol.size * module
    canvas.saveState()
    canvas.setFillGray(0)
    canvas.transform(side, 0, 0, side, x, y)
    canvas.addLiteral(qr_inline_image(symbol))
    canvas.restoreState()


def fit_text(text: str, font: str, size: float, min_size: float, width: float) -> tuple[str, float]:
    """``text`` at the largest size ≤ ``size`` that fits ``width`` pt; truncated with … at ``min_size``."""
    unit = stringWidth(text, font, 1)
    if unit * size <= width:
        return text, size
    if unit * min_size <= width:
        return text, width / unit
    while text and stringWidth(text + "…", font, min_size) > width:
        text = text[:-1]
    return text + "…", min_size


@dataclass(frozen=True)
class QrPlacement:
    """Where a label's QR code goes: the square with the quiet zone (mm) and the module size (mm)."""

    box: Box
    module: float

    @property
    def symbol_box(self) -> Box:
        """The square of the dark symbol itself, inside the quiet zone."""
        quiet = QUIET_ZONE * self.module
        return Box(
            self.box.x + quiet, self.box.y + quiet, self.box.width - 2 * quiet, self.box.height - 2 * quiet
        )


def qr_placement(layout: Layout, label: Box, symbol: QrSymbol) -> QrPlacement:
    module = layout.module_size(symbol.size_with_quiet_zone)
    side = symbol.size_with_quiet_zone * module
    return QrPlacement(Box(label.x + layout.padding, label.y + (label.height - side) / 2, side, side), module)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def fit_line(
    alternatives: Sequence[str], font: str, size: float, min_size: float, width: float
) -> tuple[str, float]:
    """The first alternative that fits ``width`` at ``size``; else the last one, shrunk or truncated."""
    for text in alternatives:
        if stringWidth(text, font, size) <= width:
            return text, size
    return fit_text(alternatives[-1], font, size, min_size, width)


def draw_label(canvas: Canvas, label: SealLabel, layout: Layout, box: Box, symbol: QrSymbol) -> QrPlacement:
    placement = qr_placement(layout, box, symbol)
    inner = placement.symbol_box
    draw_qr(canvas, symbol, mm(inner.x), mm(inner.y), mm(placement.module))

    margin = max(layout.padding, 1.5)
    left = placement.box.right + 1.0
    width = mm(box.right - margin - left)
    detail = _clamp(box.height * 0.19, 5.5, 9.0)
    caption = detail * 0.85
    big = _clamp(box.height * 0.42, 12.0, 20.0)
    lines = label.lines()
    ident, big = fit_text(label.display_id, FONT_BOLD, big, 8.0, width)
    leading = detail * 1.2
    block = caption * 1.2 + big * 1.15 + leading * len(lines)
    # One text object a label, positions rounded to 0.01 pt: compact content streams.
    x = round(mm(left), 2)
    y = mm(box.y + box.height / 2) + block / 2
    text = canvas.beginText()
    text.setFillGray(GREY)
    y -= caption
    text.setTextOrigin(x, round(y, 2))
    text.setFont(FONT, round(caption, 2))
    text.textOut("Siegel / Seal")
    text.setFillGray(0)
    y -= caption * 0.2 + big
    text.setTextOrigin(x, round(y, 2))
    text.setFont(FONT_BOLD, round(big, 2))
    text.textOut(ident)
    y -= big * 0.15
    for alternatives in lines:
        line, size = fit_line(alternatives, FONT, detail, 4.5, width)
        y -= leading
        text.setTextOrigin(x, round(y + (leading - detail), 2))
        text.setFont(FONT, round(size, 2))
        text.textOut(line)
    canvas.drawText(text)
    return placement


_SAVE_LOCK = threading.Lock()


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Flate-only content streams while saving (reportlab reads a global; ASCII85 adds 25 %).

    reportlab consults ``rl_config.useA85`` when it writes each stream, so it
    is switched off for the duration of one save, under a lock so that
    concurrent renders (API threads) never see each other's setting.
    """
    with _SAVE_LOCK:
        before = rl_config.useA85
        rl_config.useA85 = 0
        try:
            yield
        finally:
            rl_config.useA85 = before


def save(canvas: Canvas, buffer: io.BytesIO) -> bytes:
    with _binary_streams():
        canvas.save()
    return buffer.getvalue()


def new_canvas(buffer: io.BytesIO, layout: Layout, title: str, subject: str) -> Canvas:
    canvas = Canvas(
        buffer,
        pagesize=(mm(layout.page_width), mm(layout.page_height)),
        invariant=1,
        pageCompression=1,
        pdfVersion=(1, 4),
    )
    canvas.setTitle(title)
    canvas.setAuthor(PRODUCER)
    canvas.setCreator(PRODUCER)
    canvas.setProducer(PRODUCER)
    canvas.setSubject(subject)
    return canvas


def render_labels_pdf(labels: Sequence[SealLabel], layout: Layout, start: int = 1) -> bytes:
    """One PDF: the labels in order from position ``start`` of the first sheet (or one a page)."""
    if not labels:
        raise InvalidInput("no labels to print")
    slots = placements(layout, len(labels), start)
    buffer = io.BytesIO()
    canvas = new_canvas(
        buffer, layout, "Siegeletiketten / Seal labels", f"{len(labels)} seal labels, {layout.title}"
    )
    page = 0
    for label, (sheet, box) in zip(labels, slots, strict=True):
        while sheet > page:
            canvas.showPage()
            page += 1
        draw_label(canvas, label, layout, box, qr_symbol(label.payload))
    canvas.showPage()
    return save(canvas, buffer)
