"""QR matrices for labels (the ``qrcode`` package): error correction Q, alphanumeric mode.

Level Q restores up to 25 % of damaged codewords — a scuffed or partly
covered label still scans. A label payload is one alphanumeric segment
(5.5 bits a character instead of 8 in byte mode), which keeps a payload of
about 140 characters within a version 8 symbol (49 × 49 modules).

**Speed.** qrcode alone needs ~2 ms a symbol (≈ 10 ms with its mask search):
its Reed–Solomon code and its data placement are general-purpose Python.
Labels take qrcode's matrix template — finder, timing and alignment
patterns, format and version information — per version and mask, and
compute the codewords (table-driven) and place them in qrcode's module
order themselves: the same symbol, bit for bit (tests/labels/test_qr.py), in
about 0.3 ms. That is what lets a batch reach the ≥ 500 labels/s target.

**Mask.** ISO/IEC 18004 lets the encoder pick any of the eight data masks;
the usual choice — encode all eight and keep the lowest penalty score —
costs eight placements and penalty evaluations. Label payloads are mostly
signature bits (random-looking), where the masks differ little: over 200
label payloads mask 0 scored on average 1.07 times the best mask's penalty
and never more than 1.26 times. Labels therefore use :data:`LABEL_MASK`.
Every symbol is still a standard QR code that any reader decodes; the tests
decode every layout rasterised at 150 and 300 dpi. One-off symbols (the
delivery note) keep qrcode's full mask selection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

import qrcode
import qrcode.base
from qrcode import constants
from qrcode import util as qr_util
from qrcode.exceptions import DataOverflowError

from ledger.errors import InvalidInput

ERROR_CORRECTION = constants.ERROR_CORRECT_Q
QUIET_ZONE = 4
LABEL_MASK = 0
MAX_VERSION = 40
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


# --------------------------------------------------------------------------
# Data codewords. ``qrcode`` computes them with a general polynomial class
# (≈ 0.6 ms a label); this table-driven encoder of one alphanumeric segment
# yields the identical codeword list (tests/labels/test_qr.py compares them
# over every version) in a fraction of that. qrcode places them in the matrix.

_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _i in range(255):
    _EXP[_i] = _value
    _LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]
_ALNUM_VALUE = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")}


@lru_cache(maxsize=64)
def _generator_logs(degree: int) -> tuple[int, ...]:
    """Logs of the coefficients (after the leading 1) of ∏ (x − α^i), i < degree."""
    poly = [1]
    for i in range(degree):
        nxt = [0] * (len(poly) + 1)
        for j, coefficient in enumerate(poly):
            nxt[j] ^= coefficient
            if coefficient:
                nxt[j + 1] ^= _EXP[_LOG[coefficient] + i]
        poly = nxt
    return tuple(_LOG[c] for c in poly[1:])


def _ec_codewords(data: list[int], degree: int) -> list[int]:
    logs = _generator_logs(degree)
    remainder = [0] * degree
    for byte in data:
        factor = byte ^ remainder[0]
        remainder = remainder[1:]
        remainder.append(0)
        if factor:
            shift = _LOG[factor]
            remainder = [r ^ _EXP[shift + g] for r, g in zip(remainder, logs, strict=True)]
    return remainder


def alphanumeric_codewords(payload: str, version: int) -> list[int]:
    """Data and error-correction codewords, interleaved, of one alphanumeric segment at level Q."""
    blocks = qrcode.base.rs_blocks(version, ERROR_CORRECTION)
    capacity = sum(block.data_count for block in blocks) * 8
    bits, length = qr_util.MODE_ALPHA_NUM, 4
    count_bits = qr_util.length_in_bits(qr_util.MODE_ALPHA_NUM, version)
    bits, length = (bits << count_bits) | len(payload), length + count_bits
    values = [_ALNUM_VALUE[ch] for ch in payload]
    for i in range(0, len(values) - 1, 2):
        bits, length = (bits << 11) | (values[i] * 45 + values[i + 1]), length + 11
    if len(values) % 2:
        bits, length = (bits << 6) | values[-1], length + 6
    if length > capacity:
        raise DataOverflowError(f"{length} bits exceed the {capacity} of version {version}")
    terminator = min(4, capacity - length)
    bits, length = bits << terminator, length + terminator
    align = -length % 8
    bits, length = bits << align, length + align
    data = list(bits.to_bytes(length // 8, "big"))
    pads = (capacity - length) // 8
    data.extend((qr_util.PAD0, qr_util.PAD1)[i % 2] for i in range(pads))
    dc_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    offset = 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        dc_blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    out: list[int] = []
    for group in (dc_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return out


@dataclass(frozen=True)
class QrSymbol:
    """A QR symbol without its quiet zone: ``rows[y][x]`` is ``"1"`` for a dark module, y from the top."""

    version: int
    rows: tuple[str, ...]

    def dark(self, x: int, y: int) -> bool:
        return self.rows[y][x] == "1"

    @property
    def size(self) -> int:
        """Modules per side without the quiet zone (4 × version + 17)."""
        return len(self.rows)

    @property
    def size_with_quiet_zone(self) -> int:
        return self.size + 2 * QUIET_ZONE


def modules_for_version(version: int) -> int:
    return 4 * version + 17


def alphanumeric_bits(length: int, version: int) -> int:
    """Bits of one alphanumeric segment of ``length`` characters: mode, count, 11 bits a pair."""
    count_bits = int(qr_util.length_in_bits(qr_util.MODE_ALPHA_NUM, version))
    return 4 + count_bits + 11 * (length // 2) + 6 * (length % 2)


def data_capacity_bits(version: int) -> int:
    return int(sum(block.data_count for block in qrcode.base.rs_blocks(version, ERROR_CORRECTION))) * 8


@lru_cache(maxsize=256)
def version_for(length: int) -> int:
    """The smallest version holding ``length`` alphanumeric characters at level Q."""
    if length < 1:
        raise InvalidInput("a QR payload must not be empty")
    for version in range(1, MAX_VERSION + 1):
        if alphanumeric_bits(length, version) <= data_capacity_bits(version):
            return version
    raise InvalidInput(f"{length} characters do not fit in any QR code at level Q")


def is_alphanumeric(text: str) -> bool:
    return bool(text) and all(ch in QR_ALPHANUMERIC for ch in text)


# --------------------------------------------------------------------------
# Placing the codewords. qrcode builds the function patterns (finders,
# timing, alignment, format and version information) of each version and
# mask: that template is taken from qrcode once and cached. The data bits
# then go into the free modules in qrcode's own order (the zigzag of
# ISO/IEC 18004 §7.7.3), masked — the same modules qrcode's ``map_data``
# sets, in a fraction of its time (tests/labels/test_qr.py compares both).


class _Template(qrcode.QRCode):  # type: ignore[misc]
    """A QRCode that stops before placing data: the free modules stay ``None``."""

    def map_data(self, data: object, mask_pattern: object) -> None:
        return None


@dataclass(frozen=True)
class _Placement:
    free: int  # data modules
    mask_bits: int  # the mask over the data modules, in placement order, first module = top bit
    rows: tuple[Callable[[str], tuple[str, ...]], ...]  # each row's characters, from the data bits


@lru_cache(maxsize=128)
def _placement(version: int, mask: int) -> _Placement:
    template = _Template(version=version, error_correction=ERROR_CORRECTION, border=0, mask_pattern=mask)
    template.data_cache = []
    template.makeImpl(False, mask)
    modules: list[list[bool | None]] = template.modules
    size = len(modules)
    order: list[tuple[int, int]] = []
    row, step = size - 1, -1
    for right in range(size - 1, 0, -2):
        col = right - 1 if right <= 6 else right  # skip the vertical timing pattern
        while True:
            for c in (col, col - 1):
                if modules[row][c] is None:
                    order.append((row, c))
            row += step
            if not 0 <= row < size:
                row -= step
                step = -step
                break
    position = {cell: i for i, cell in enumerate(order)}
    light, dark = len(order), len(order) + 1  # indexes of "0" and "1" appended to the data bits
    rows = []
    for r in range(size):
        indexes = [
            position[(r, c)] if modules[r][c] is None else (dark if modules[r][c] else light)
            for c in range(size)
        ]
        rows.append(itemgetter(*indexes))
    masked = qr_util.mask_func(mask)
    mask_bits = int("".join("1" if masked(r, c) else "0" for r, c in order), 2)
    return _Placement(len(order), mask_bits, tuple(rows))


def _place(codewords: list[int], version: int, mask: int) -> tuple[str, ...]:
    placement = _placement(version, mask)
    value = int.from_bytes(bytes(codewords), "big") << (placement.free - 8 * len(codewords))
    bits = format(value ^ placement.mask_bits, f"0{placement.free}b") + "01"
    return tuple("".join(row(bits)) for row in placement.rows)


def qr_symbol(payload: str, *, mask: int | None = LABEL_MASK) -> QrSymbol:
    """Encode ``payload`` as one alphanumeric segment at level Q; ``mask=None``: ISO mask selection."""
    if not is_alphanumeric(payload):
        bad = sorted({ch for ch in payload if ch not in QR_ALPHANUMERIC})
        raise InvalidInput(f"QR payload has characters outside the alphanumeric set: {bad!r}")
    version = version_for(len(payload))
    codewords = alphanumeric_codewords(payload, version)
    if mask is not None:
        return QrSymbol(version, _place(codewords, version, mask))
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECTION, border=0)
    code.add_data(qr_util.QRData(payload, mode=qr_util.MODE_ALPHA_NUM))
    code.data_cache = codewords
    code.make(fit=False)
    # Modules are True/False after make(): bytes() of a row is 0x00/0x01 per module.
    return QrSymbol(version, tuple(bytes(row).translate(_DIGITS).decode("ascii") for row in code.modules))


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
