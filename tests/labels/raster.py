"""Rasterising PDFs (pypdfium2) and decoding QR codes (zxing-cpp) for the label tests."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
import zxingcpp


def rasterise(pdf: bytes, dpi: int) -> list[Any]:
    """Every page as a greyscale PIL image at ``dpi``."""
    document = pdfium.PdfDocument(pdf)
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil() for i in range(len(document))]
    finally:
        document.close()


def decode(image: Any) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))


def decoded_payloads(pdf: bytes, dpi: int = 150) -> list[list[str]]:
    """The QR payloads of each page, sorted."""
    return [sorted(b.text for b in decode(page)) for page in rasterise(pdf, dpi)]


def page_sizes_mm(pdf: bytes) -> list[tuple[float, float]]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [(p.get_width() * 25.4 / 72, p.get_height() * 25.4 / 72) for p in document]
    finally:
        document.close()


def page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for page in document:
            text_page = page.get_textpage()
            texts.append(text_page.get_text_range())
            text_page.close()
        return texts
    finally:
        document.close()
