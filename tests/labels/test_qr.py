"""The QR matrix: qrcode's own, with level Q and one alphanumeric segment.

Labels compute the data codewords with a table-driven encoder (qrcode's
polynomial class costs most of a label's time) and let qrcode place them:
both must give exactly what qrcode alone gives.
"""

from __future__ import annotations

import base64
import random
import re

import pytest
import qrcode
from qrcode import util as qr_util

from labels.qr import (
    ERROR_CORRECTION,
    LABEL_MASK,
    QR_ALPHANUMERIC,
    alphanumeric_codewords,
    qr_symbol,
    version_for,
)
from ledger.errors import InvalidInput

ALPHABET = "".join(sorted(QR_ALPHANUMERIC))


def _payload(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(length))


def _reference(payload: str, version: int, mask: int | None) -> list[str]:
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION, border=0, mask_pattern=mask)
    code.add_data(qr_util.QRData(payload, mode=qr_util.MODE_ALPHA_NUM))
    code.make(fit=False)
    return ["".join("1" if m else "0" for m in row) for row in code.modules]


@pytest.mark.parametrize("version", [*range(1, 16), 20, 30, 40])
def test_codewords_equal_qrcodes_at_every_version(version: int) -> None:
    rng = random.Random(version)
    fitting = [n for n in range(1, 2421) if version_for(n) == version]  # 2420: version 40 at level Q
    # The first and last length of each version: qrcode agrees on where versions change.
    probe = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=0)
    probe.add_data(qr_util.QRData("0" * fitting[-1], mode=qr_util.MODE_ALPHA_NUM))
    probe.best_fit()
    assert probe.version == version
    for length in {fitting[0], fitting[len(fitting) // 2], fitting[-1]}:
        payload = _payload(rng, length)
        expected = qr_util.create_data(
            version, ERROR_CORRECTION, [qr_util.QRData(payload, mode=qr_util.MODE_ALPHA_NUM)]
        )
        assert alphanumeric_codewords(payload, version) == expected


@pytest.mark.parametrize("seed", range(12))
def test_symbols_equal_qrcodes_own(seed: int) -> None:
    rng = random.Random(seed)
    payload = "HTTP://127.0.0.1:8000/S/KC00012375/" + "".join(
        rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(103)
    )
    symbol = qr_symbol(payload)
    assert symbol.version == 8
    assert list(symbol.rows) == _reference(payload, 8, LABEL_MASK)
    # One-off symbols keep qrcode's full (ISO) mask selection.
    assert list(qr_symbol(payload, mask=None).rows) == _reference(payload, 8, None)


@pytest.mark.parametrize("version", range(1, 11))
def test_placement_equals_qrcodes_for_every_mask(version: int) -> None:
    """Labels place the data bits themselves in qrcode's template: bit for bit qrcode's symbol."""
    rng = random.Random(100 + version)
    lengths = [n for n in range(1, 400) if version_for(n) == version]
    for mask in range(8):
        payload = _payload(rng, rng.choice(lengths))
        assert list(qr_symbol(payload, mask=mask).rows) == _reference(payload, version, mask), (version, mask)


def test_payloads_outside_the_alphanumeric_set_are_refused() -> None:
    with pytest.raises(InvalidInput, match="alphanumeric"):
        qr_symbol("http://lower.case")
    with pytest.raises(InvalidInput):
        qr_symbol("")


@pytest.mark.parametrize("seed", range(5))
def test_the_pdf_image_mask_has_one_bit_for_each_module(seed: int) -> None:
    from labels.pdf import qr_inline_image

    rng = random.Random(seed)
    symbol = qr_symbol(_payload(rng, rng.randrange(1, 300)))
    size = symbol.size
    match = re.fullmatch(
        rf"BI /W {size} /H {size} /IM true /I false /D \[1 0\] /F /A85 ID (\S+)~> EI",
        qr_inline_image(symbol),
    )
    assert match is not None
    samples = base64.a85decode(match[1])
    width = (size + 7) // 8
    assert len(samples) == width * size
    rows = [samples[i * width : (i + 1) * width] for i in range(size)]
    # Row by row from the top, the most significant bit first; the padding bits are 0.
    bits = [format(int.from_bytes(row, "big"), f"0{8 * width}b") for row in rows]
    assert [b[:size] for b in bits] == list(symbol.rows)
    assert all(set(b[size:]) <= {"0"} for b in bits)


def test_the_fixed_label_mask_is_never_far_from_the_best() -> None:
    """ISO/IEC 18004's penalty score (qrcode's ``lost_point``) of mask 0 against the best of all
    eight, on label payloads: the fixed mask is a small price, never a pathological symbol."""
    rng = random.Random(2026)
    ratios = []
    for number in range(40):
        signature = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(103))
        payload = f"HTTP://127.0.0.1:8000/S/KC{number:07d}X/{signature}"
        scores = [
            qr_util.lost_point([[c == "1" for c in row] for row in qr_symbol(payload, mask=mask).rows])
            for mask in range(8)
        ]
        ratios.append(scores[LABEL_MASK] / min(scores))
    assert max(ratios) <= 1.5
    assert sum(ratios) / len(ratios) <= 1.15
