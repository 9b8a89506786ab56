"""Every layout rendered, rasterised (pypdfium2) at 300 and 150 dpi, and every QR code decoded
(zxing-cpp): the payloads, level Q, and where each symbol landed on the sheet; every module
rasterised pure black or white (the image mask is not smoothed); 1,000 labels ≤ 2 MB in every
layout.

Also: ZPL structure and payloads, byte-reproducible output, and refusals of bad input.
No mocks: real reportlab output, a real PDF rasteriser, a real QR decoder.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import replace

import pytest

from labels.delivery_note import paginate, render_delivery_note
from labels.layouts import (
    LAYOUTS,
    MIN_MODULE_MM,
    Box,
    Layout,
    StartPositionOutOfRange,
    UnknownLayout,
    layout_named,
    placements,
)
from labels.model import DeliveryNote, NoteItem, NoteParty, SealLabel
from labels.payload import handover_url, label_vkey, sign_label, verify_payload
from labels.pdf import qr_placement, render_labels_pdf
from labels.qr import QUIET_ZONE, qr_symbol
from labels.zpl import DPIS, dots_per_mm, render_labels_zpl, zpl_geometry
from ledger.custody.ids import seal_id
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from tests.labels.raster import decode, page_sizes_mm, page_texts, rasterise

BASE = "http://127.0.0.1:8000"
KEY = SigningKey.generate(Algorithm.ED25519, random.Random(11).randbytes(32))
VKEY = label_vkey("test.custody.local/ledger/labels", KEY)
SHEETS = [layout for layout in LAYOUTS if not layout.thermal]
THERMAL = [layout for layout in LAYOUTS if layout.thermal]


def make_labels(count: int, first: int = 1) -> list[SealLabel]:
    out = []
    for number in range(first, first + count):
        ident = seal_id("KC", number)
        out.append(
            SealLabel(
                seal_id=ident,
                payload=sign_label(BASE, ident, KEY).text,
                issued_by="WH-ESSEN-01",
                issued_to="TECH-01" if number % 3 else None,
                issued_on="2026-11-28",
                entry_index=1000 + number,
                entry_hash=f"{number:08x}" * 8,
                connector=f"SECUNET SN{number:08d}" if number % 2 else None,
            )
        )
    return out


# --------------------------------------------------------------------------
# Geometry as data.


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_every_label_box_lies_inside_its_sheet_and_boxes_do_not_overlap(layout: Layout) -> None:
    boxes = [layout.label_box(position) for position in range(1, layout.positions + 1)]
    assert all(layout.page.contains(box) for box in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert (
                a.right <= b.x + 1e-6 or b.right <= a.x + 1e-6 or a.top <= b.y + 1e-6 or b.top <= a.y + 1e-6
            )
    assert (boxes[0].width, boxes[0].height) == (layout.label_width, layout.label_height)


@pytest.mark.parametrize(
    ("name", "size", "grid"),
    [
        ("zweckform-3474", (70.0, 37.0), (3, 8)),
        ("herma-4464", (70.0, 37.0), (3, 8)),
        ("avery-l7163", (99.1, 38.1), (2, 7)),
        ("avery-l7160", (63.5, 38.1), (3, 7)),
        ("thermal-62x29", (62.0, 29.0), (1, 1)),
        ("thermal-4x2in", (101.6, 50.8), (1, 1)),
    ],
)
def test_layouts_match_the_manufacturers_sizes(
    name: str, size: tuple[float, float], grid: tuple[int, int]
) -> None:
    layout = layout_named(name)
    assert (layout.label_width, layout.label_height) == size
    assert (layout.columns, layout.rows) == grid
    if not layout.thermal:
        assert (layout.page_width, layout.page_height) == (210.0, 297.0)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_the_qr_code_with_its_quiet_zone_fits_each_label_at_half_a_millimetre_or_more(layout: Layout) -> None:
    symbol = qr_symbol(make_labels(1)[0].payload)
    for position in range(1, layout.positions + 1):
        box = layout.label_box(position)
        placement = qr_placement(layout, box, symbol)
        assert placement.module >= MIN_MODULE_MM
        assert placement.box.width == pytest.approx(symbol.size_with_quiet_zone * placement.module)
        assert box.contains(placement.box)
        # The quiet zone is 4 modules of the label on every side of the symbol.
        inner = placement.symbol_box
        assert inner.x - box.x >= QUIET_ZONE * placement.module - 1e-9
        assert box.right - inner.right >= QUIET_ZONE * placement.module - 1e-9


# --------------------------------------------------------------------------
# Render, rasterise, decode.


def _expected_pages(layout: Layout, labels: list[SealLabel], start: int) -> dict[int, list[tuple[str, Box]]]:
    pages: dict[int, list[tuple[str, Box]]] = {}
    for label, (page, box) in zip(labels, placements(layout, len(labels), start), strict=True):
        pages.setdefault(page, []).append((label.payload, box))
    return pages


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_every_label_decodes_at_300_and_150_dpi_with_level_q_where_it_belongs(layout: Layout) -> None:
    start = 1 if layout.thermal else 3
    count = 3 if layout.thermal else layout.positions + 2  # spills onto a second sheet
    labels = make_labels(count, first=40)
    pdf = render_labels_pdf(labels, layout, start)
    expected = _expected_pages(layout, labels, start)
    sizes = page_sizes_mm(pdf)
    assert len(sizes) == len(expected)
    assert all(size == pytest.approx((layout.page_width, layout.page_height), abs=0.01) for size in sizes)
    symbol = qr_symbol(labels[0].payload)
    for dpi in (300, 150):
        mm_per_px = 25.4 / dpi
        for page, image in enumerate(rasterise(pdf, dpi)):
            barcodes = decode(image)
            assert Counter(b.text for b in barcodes) == Counter(p for p, _ in expected[page]), (
                layout.name,
                dpi,
            )
            boxes = dict(expected[page])
            for barcode in barcodes:
                assert barcode.ec_level == "Q"
                extra = barcode.extra
                assert isinstance(extra, dict)
                assert extra["Version"] == str(symbol.version)
                assert barcode.text == barcode.text.upper()
                # Where the symbol landed, in mm from the page's bottom left.
                position = barcode.position
                left = position.top_left.x * mm_per_px
                right = (position.top_right.x + 1) * mm_per_px
                top = layout.page_height - position.top_left.y * mm_per_px
                bottom = layout.page_height - (position.bottom_left.y + 1) * mm_per_px
                label_box = boxes[barcode.text]
                placement = qr_placement(layout, label_box, symbol)
                slack = 3 * mm_per_px  # the decoder's corners are within a pixel or two
                assert label_box.x + QUIET_ZONE * placement.module - slack <= left
                assert right <= label_box.right + slack
                assert label_box.y + QUIET_ZONE * placement.module - slack <= bottom
                assert top <= label_box.top - QUIET_ZONE * placement.module + slack
                measured_module = (right - left) / symbol.size
                assert measured_module == pytest.approx(placement.module, abs=4 * mm_per_px / symbol.size)
                assert measured_module >= MIN_MODULE_MM - 4 * mm_per_px / symbol.size
                verify_payload(barcode.text, [VKEY], BASE)


def test_each_qr_code_is_one_inline_image_mask() -> None:
    labels = make_labels(3)
    pdf = render_labels_pdf(labels, layout_named("3474"))
    content = zlib_streams(pdf)
    # No image objects, no page resources: the samples sit in the content stream.
    assert b"/Subtype /Image" not in pdf
    assert b"/XObject" not in pdf
    assert content.count(b" /IM true /I false ") == len(labels)
    assert b" re\n" not in content


def zlib_streams(pdf: bytes) -> bytes:
    import zlib

    return b"".join(zlib.decompress(s) for s in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
@pytest.mark.parametrize("dpi", [300, 150])
def test_every_module_rasterises_pure_black_or_white(layout: Layout, dpi: int) -> None:
    """The image mask is not smoothed: each module's centre pixel is exactly 0 or 255."""
    label = make_labels(1, first=7)[0]
    image = rasterise(render_labels_pdf([label], layout), dpi)[0]
    symbol = qr_symbol(label.payload)
    inner = qr_placement(layout, layout.label_box(1), symbol).symbol_box
    module = inner.width / symbol.size
    px = dpi / 25.4
    for row in range(symbol.size):
        y = int((layout.page_height - inner.top + (row + 0.5) * module) * px)
        pixels = [
            image.getpixel((int((inner.x + (col + 0.5) * module) * px), y)) for col in range(symbol.size)
        ]
        assert "".join("1" if v == 0 else "0" if v == 255 else "?" for v in pixels) == symbol.rows[row]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_a_thousand_labels_stay_under_two_megabytes(layout: Layout) -> None:
    assert len(render_labels_pdf(make_labels(1000), layout)) <= 2_000_000


# --------------------------------------------------------------------------
# Reproducible output.


def test_the_same_input_gives_the_same_bytes() -> None:
    labels = make_labels(30)
    for layout in LAYOUTS:
        assert render_labels_pdf(labels, layout) == render_labels_pdf(list(labels), layout), layout.name
    for layout in THERMAL:
        for dpi in DPIS:
            assert render_labels_zpl(labels, layout, dpi) == render_labels_zpl(labels, layout, dpi)
    note = delivery(40)
    assert render_delivery_note(note) == render_delivery_note(replace(note))
    # ... and different input gives different bytes.
    assert render_labels_pdf(labels, LAYOUTS[0]) != render_labels_pdf(labels[1:], LAYOUTS[0])


# --------------------------------------------------------------------------
# ZPL.

_FORMAT = re.compile(r"\^XA\n(.*?)\^XZ\n", re.S)
_FIELD = re.compile(r"\^FO(\d+),(\d+)(.*?)\^FS")


@pytest.mark.parametrize("layout", THERMAL, ids=lambda layout: layout.name)
@pytest.mark.parametrize("dpi", DPIS)
def test_zpl_structure_positions_and_payloads(layout: Layout, dpi: int) -> None:
    labels = make_labels(5, first=70)
    zpl = render_labels_zpl(labels, layout, dpi)
    formats = _FORMAT.findall(zpl)
    assert len(formats) == len(labels)
    assert "".join(f"^XA\n{body}^XZ\n" for body in formats) == zpl  # nothing outside ^XA … ^XZ
    per_mm = dots_per_mm(dpi)
    for label, body in zip(labels, formats, strict=True):
        width = int(re.search(r"\^PW(\d+)", body)[1])  # type: ignore[index]
        height = int(re.search(r"\^LL(\d+)", body)[1])  # type: ignore[index]
        assert width <= layout.label_width * per_mm
        assert height <= layout.label_height * per_mm
        fields = _FIELD.findall(body)
        assert len(fields) >= 5
        qr = [f for f in fields if "^BQN" in f[2]]
        assert len(qr) == 1
        x, y, rest = int(qr[0][0]), int(qr[0][1]), qr[0][2]
        match = re.fullmatch(r"\^BQN,2,(\d+)\^FDQA,(.*)", rest)
        assert match is not None
        magnification, payload = int(match[1]), match[2]
        assert payload == label.payload  # the PDF label's payload, byte for byte
        modules = qr_symbol(payload).size
        assert magnification / per_mm >= MIN_MODULE_MM
        quiet = QUIET_ZONE * magnification
        assert x - quiet >= 0
        assert y - quiet >= 0
        assert x + modules * magnification + quiet <= width
        assert y + modules * magnification + quiet <= height
        for fx, fy, content in fields:
            assert 0 <= int(fx) < width
            assert 0 <= int(fy) < height
            block = re.search(r"\^FB(\d+),", content)
            if block is not None:
                assert int(fx) + int(block[1]) <= width
                size = int(re.search(r"\^A0N,(\d+)", content)[1])  # type: ignore[index]
                assert int(fy) + size <= height
                assert int(fx) >= x + modules * magnification + quiet  # text never over the QR code


def test_zpl_magnification_gives_half_a_millimetre_modules() -> None:
    length = len(make_labels(1)[0].payload)
    small = layout_named("62x29")
    assert zpl_geometry(small, 203, length).magnification == 4  # 0.500 mm
    assert zpl_geometry(small, 300, length).magnification == 6  # 0.508 mm
    large = layout_named("4x2in")
    assert zpl_geometry(large, 203, length).magnification == 6
    assert zpl_geometry(large, 300, length).magnification == 9


def test_zpl_text_is_escaped() -> None:
    label = replace(make_labels(1)[0], issued_by="A^B~C_D", connector="Ü")
    zpl = render_labels_zpl([label], layout_named("4x2in"))
    assert "A_5EB_7EC_5FD" in zpl
    assert "_C3_9C" in zpl
    assert zpl.count("^XA") == 1
    assert zpl.count("^XZ") == 1


def test_zpl_refuses_sheet_layouts_and_other_resolutions() -> None:
    with pytest.raises(InvalidInput, match="thermal"):
        render_labels_zpl(make_labels(1), layout_named("3474"))
    with pytest.raises(InvalidInput, match="dpi"):
        render_labels_zpl(make_labels(1), layout_named("62x29"), 600)


# --------------------------------------------------------------------------
# Bad input.


def test_unknown_layout_empty_batch_and_start_past_the_sheet() -> None:
    with pytest.raises(UnknownLayout, match="zweckform-3474"):
        layout_named("avery-9999")
    with pytest.raises(InvalidInput, match="no labels"):
        render_labels_pdf([], layout_named("3474"))
    with pytest.raises(StartPositionOutOfRange, match="1–24"):
        render_labels_pdf(make_labels(1), layout_named("3474"), start=25)
    with pytest.raises(StartPositionOutOfRange):
        render_labels_pdf(make_labels(1), layout_named("l7163"), start=0)
    with pytest.raises(StartPositionOutOfRange, match="single label"):
        render_labels_pdf(make_labels(1), layout_named("62x29"), start=2)


def test_start_position_fills_a_part_used_sheet() -> None:
    layout = layout_named("3474")
    slots = placements(layout, 3, start=23)
    assert [page for page, _ in slots] == [0, 0, 1]
    assert slots[0][1] == layout.label_box(23)
    assert slots[2][1] == layout.label_box(1)


# --------------------------------------------------------------------------
# Delivery note.


def delivery(count: int) -> DeliveryNote:
    items = tuple(
        NoteItem(
            "SECUNET",
            f"SN{n:08d}",
            "KOCOC-3.0",
            (seal_id("KC", 2 * n), seal_id("KC", 2 * n + 1)),
            "IN_TRANSIT",
        )
        for n in range(1, count + 1)
    )
    return DeliveryNote(
        shipment="LS-4711",
        kind="shipped",
        shipped_on="2026-11-28",
        releasing=NoteParty("WH-ESSEN-01", "Warenlager Essen Süd"),
        receiving=NoteParty("CARRIER-01", "Sicherheitslogistik GmbH"),
        destination=NoteParty("PRAXIS-1", "Praxis Dr. Beispiel", ("Hauptstraße 1", "45127 Essen")),
        origin=NoteParty("WH-ESSEN-01"),
        items=items,
        handover_url=handover_url(BASE, "LS-4711"),
        ledger="test.custody.local/ledger",
        entries=tuple(range(100, 100 + count)),
    )


@pytest.mark.parametrize("count", [1, 12, 90])
def test_delivery_note_pages_rows_and_handover_qr(count: int) -> None:
    note = delivery(count)
    pdf = render_delivery_note(note)
    texts = page_texts(pdf)
    pages = len(texts)
    assert pages == len(paginate(note.items))
    if count == 90:
        assert pages >= 3
    for number, text in enumerate(texts, 1):
        assert f"Seite {number} von {pages}" in text
        assert f"Page {number} of {pages}" in text
        assert (
            "Seriennummer" in text or number == pages
        )  # the table header repeats (a last page may hold only signatures)
    joined = "\n".join(texts)
    for item in note.items:
        assert joined.count(item.serial) == 1  # every connector exactly once
        for seal in item.seals:
            assert seal in joined
    assert "Lieferschein" in texts[0]
    assert "Delivery note" in texts[0]
    assert "WH-ESSEN-01" in texts[0]
    assert "CARRIER-01" in texts[0]
    assert "Hauptstraße 1" in texts[0]
    assert "Unterschrift" in texts[-1]
    assert "Signature" in texts[-1]
    first = rasterise(pdf, 150)[0]
    codes = decode(first)
    assert [c.text for c in codes] == ["HTTP://127.0.0.1:8000/H/LS-4711"]
    assert codes[0].ec_level == "Q"


def test_delivery_note_without_connectors_is_refused() -> None:
    with pytest.raises(InvalidInput):
        render_delivery_note(replace(delivery(1), items=()))
