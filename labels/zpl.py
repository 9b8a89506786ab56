"""Seal labels for Zebra printers: ZPL II at 203 and 300 dpi.

Each label is one ``^XA … ^XZ`` format: print width (``^PW``) and label
length (``^LL``) in dots, then the QR code as ``^BQN,2,<magnification>`` with
the data ``QA,<payload>`` (error correction Q, automatic mode — the
payload is upper-case, so the printer encodes it in alphanumeric mode), and
the text lines in the scalable font 0 within field blocks (``^FB``) that
keep them inside the label. The printer encodes the QR code itself, so only
the payload — not the mask — is guaranteed equal to the PDF label's.

The magnification is whole dots a module: the layout's preferred module
size rounded to dots, at least 0.5 mm (4 dots at 203 dpi, 6 at 300 dpi),
and a 4-module quiet zone inside the label on every side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from labels.layouts import LAYOUTS, MIN_MODULE_MM, Layout
from labels.model import SealLabel
from labels.qr import QUIET_ZONE, modules_for_version, version_for
from ledger.errors import InvalidInput

DPIS = (203, 300)
#: Average advance of font 0 (CG Triumvirate Bold Condensed) as a share of its height; generous.
_FONT0_ADVANCE = 0.62
#: Printable ASCII that ZPL takes literally in a field (``^`` and ``~`` are commands, ``_`` the ^FH escape).
_SAFE = frozenset(chr(code) for code in range(0x20, 0x7F)) - {"_", "^", "~"}


def dots_per_mm(dpi: int) -> float:
    return dpi / 25.4


def check_zpl(layout: Layout, dpi: int) -> None:
    """ZPL is for thermal layouts, at 203 or 300 dpi."""
    if not layout.thermal:
        thermal = ", ".join(lay.name for lay in LAYOUTS if lay.thermal)
        raise InvalidInput(f"ZPL is for thermal labels ({thermal}), not the sheet layout {layout.name}")
    if dpi not in DPIS:
        raise InvalidInput(f"ZPL resolution {dpi} dpi: one of {', '.join(map(str, DPIS))}")


@dataclass(frozen=True)
class ZplGeometry:
    """Where things go on one label, in dots."""

    width: int
    height: int
    magnification: int
    modules: int  # symbol side in modules, without the quiet zone
    qr_x: int
    qr_y: int
    text_x: int
    text_width: int

    @property
    def qr_side(self) -> int:
        return self.modules * self.magnification


def zpl_geometry(layout: Layout, dpi: int, payload_length: int) -> ZplGeometry:
    check_zpl(layout, dpi)
    per_mm = dots_per_mm(dpi)
    width, height = math.floor(layout.label_width * per_mm), math.floor(layout.label_height * per_mm)
    pad = round(layout.padding * per_mm)
    modules = modules_for_version(version_for(payload_length))
    total = modules + 2 * QUIET_ZONE
    least = math.ceil(MIN_MODULE_MM * per_mm - 1e-9)
    magnification = max(least, round(layout.module * per_mm))
    while magnification >= least and total * magnification > height - 2 * pad:
        magnification -= 1
    if magnification < least:
        raise InvalidInput(
            f"the QR code ({total} modules with its quiet zone) does not fit the {layout.title} "
            f"at {dpi} dpi with modules of at least {MIN_MODULE_MM} mm: shorten the public base URL"
        )
    side = total * magnification
    qr_x = pad + QUIET_ZONE * magnification
    qr_y = (height - side) // 2 + QUIET_ZONE * magnification
    text_x = pad + side + round(1.0 * per_mm)
    right = max(pad, round(1.5 * per_mm))
    return ZplGeometry(width, height, magnification, modules, qr_x, qr_y, text_x, width - right - text_x)


def field_text(text: str) -> str:
    """Text for ``^FH^FD``: ``_``, ``^``, ``~`` and non-ASCII as ``_XX`` hex of their UTF-8 bytes."""
    out = []
    for ch in text:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"_{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _fit(text: str, height: int, width: int, min_height: int) -> tuple[str, int]:
    """Shrink ``height`` until ``text`` fits ``width`` dots; at ``min_height`` truncate with …"""
    while height > min_height and len(text) * height * _FONT0_ADVANCE > width:
        height -= 1
    limit = max(1, int(width / (height * _FONT0_ADVANCE)))
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return text, height


def _fit_line(alternatives: tuple[str, ...], height: int, width: int, min_height: int) -> tuple[str, int]:
    for text in alternatives:
        if len(text) * height * _FONT0_ADVANCE <= width:
            return text, height
    return _fit(alternatives[-1], height, width, min_height)


def _text_field(g: ZplGeometry, y: int, size: int, text: str) -> str:
    """One line of font 0 in a one-line field block as wide as the text column."""
    return f"^FO{g.text_x},{y}^A0N,{size},{size}^FB{g.text_width},1,0,L,0^FH^FD{field_text(text)}^FS"


def zpl_label(label: SealLabel, geometry: ZplGeometry, dpi: int) -> str:
    g = geometry
    per_pt = dpi / 72
    height_mm = g.height / dots_per_mm(dpi)
    detail = round(min(9.0, max(5.5, height_mm * 0.19)) * per_pt)
    caption = round(detail * 0.85)
    ident, big = _fit(
        label.display_id, round(min(20.0, max(12.0, height_mm * 0.42)) * per_pt), g.text_width, detail
    )
    lines = [
        _fit_line(alternatives, detail, g.text_width, round(4.5 * per_pt)) for alternatives in label.lines()
    ]
    leading = round(detail * 1.25)
    block = round(caption * 1.25) + round(big * 1.15) + leading * len(lines)
    y = max(0, (g.height - block) // 2)
    fields = [
        "^XA",
        "^CI28",
        f"^PW{g.width}",
        f"^LL{g.height}",
        "^LH0,0",
        f"^FO{g.qr_x},{g.qr_y}^BQN,2,{g.magnification}^FDQA,{label.payload}^FS",
        _text_field(g, y, caption, "Siegel / Seal"),
    ]
    y += round(caption * 1.25)
    fields.append(_text_field(g, y, big, ident))
    y += round(big * 1.15)
    for text, size in lines:
        fields.append(_text_field(g, y, size, text))
        y += leading
    fields.append("^XZ")
    return "\n".join(fields) + "\n"


def render_labels_zpl(labels: Sequence[SealLabel], layout: Layout, dpi: int = 203) -> str:
    """One ZPL document with a format (``^XA … ^XZ``) per label."""
    if not labels:
        raise InvalidInput("no labels to print")
    lengths = {len(label.payload) for label in labels}
    geometries = {length: zpl_geometry(layout, dpi, length) for length in lengths}
    return "".join(zpl_label(label, geometries[len(label.payload)], dpi) for label in labels)
