"""Seal labels and transport documents: signed QR payloads, PDF sheets, thermal labels, ZPL.

Pure rendering: this package takes values (seal ids, label texts, signing
keys, delivery-note rows) and returns bytes or text. It imports only the
standard library, ``ledger`` value types, ``reportlab`` and ``qrcode`` —
never ``app``, a database or a web framework (tests/labels/test_purity.py).

Modules:

* :mod:`labels.payload` — the label payload format v1: build, sign, parse, verify;
* :mod:`labels.qr` — the QR matrix (qrcode; error correction Q, alphanumeric mode);
* :mod:`labels.layouts` — sheet and thermal label geometries;
* :mod:`labels.model` — the values a label or a delivery note shows;
* :mod:`labels.pdf` — label sheets and single labels as PDF (reportlab);
* :mod:`labels.zpl` — the same labels for Zebra printers;
* :mod:`labels.delivery_note` — the Lieferschein of a shipment.
"""
