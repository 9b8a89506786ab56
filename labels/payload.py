"""The seal label payload, format v1: what a label's QR code says, and how a scanner checks it.

A payload is one line of upper-case text, so that the whole of it encodes in
the QR code's alphanumeric mode (``0-9 A-Z``, space and ``$ % * + - . / :``)::

    <BASE URL>/S/<SEAL ID>/<SIGNATURE>

* ``BASE URL`` — the ledger's public base URL, upper-cased, without a
  trailing slash (``HTTP://127.0.0.1:8000``);
* ``SEAL ID`` — the seal id with its check character (docs/format.md §13.2);
* ``SIGNATURE`` — the Ed25519 signature (64 bytes) by the ledger's label key
  over the domain-separated message ``"kcl/label/v1\\n" ‖ BASE URL ‖ "\\n" ‖
  SEAL ID ‖ "\\n"`` (ASCII), in RFC 4648 base32 without padding: exactly 103
  characters of ``A-Z 2-7``, the three spare bits zero.

The payload is also a URL: a phone that scans it opens the seal's page.
A scanner verifies it offline with nothing but the published label verifier
key (a C2SP-style vkey ``<name>+<hex8>+<base64(0x01 ‖ key)>``). The format
is specified in docs/format.md, Appendix A.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.custody.ids import SEAL_ID, has_valid_check
from ledger.custody.scan import candidates
from ledger.errors import InvalidInput, VerificationError
from ledger.keys import Algorithm, SigningKey
from ledger.note import SIG_ED25519, Ed25519Verifier, format_vkey, is_valid_key_name, parse_vkey

LABEL_DOMAIN = "kcl/label/v1"
SEAL_PATH = "/S/"
HANDOVER_PATH = "/H/"
SIGNATURE_BYTES = 64
SIGNATURE_CHARS = 103  # ceil(64 * 8 / 5)
#: The QR code alphanumeric character set (ISO/IEC 18004 §7.4.4).
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
#: Longest base URL: keeps a payload within a version 9 QR code at level Q (189 characters).
MAX_BASE_URL = 72
_BASE_URL = re.compile(r"HTTPS?://[0-9A-Z$%*+\-.:/]+")
_BASE32 = re.compile(r"[A-Z2-7]*")
#: Characters a path segment may keep literally; anything else is percent-encoded.
_PATH_SAFE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-.:")


class MalformedLabel(InvalidInput):
    """Text that is not a well-formed v1 label payload."""

    code = "input.label"


class LabelRejected(VerificationError):
    """A label that does not verify: forged, altered, truncated or for another ledger."""

    code = "verify.label"
    #: How far verification got before it failed (the most telling reason wins).
    rank = 0


class LabelMalformed(LabelRejected):
    code = "verify.label.malformed"


class LabelSignatureInvalid(LabelRejected):
    code = "verify.label.signature"
    rank = 1


class LabelOtherLedger(LabelRejected):
    code = "verify.label.other_ledger"
    rank = 2


def normalise_base_url(url: str) -> str:
    """The base URL as labels carry it: upper case, no trailing slash, QR-alphanumeric only."""
    text = url.strip().rstrip("/").upper()
    if _BASE_URL.fullmatch(text) is None or text.endswith(("://", ":")):
        raise InvalidInput(
            f"public base URL {url!r} cannot go on a label: it must be http(s)://host[:port][/path] "
            "using only letters, digits and $ % * + - . / : (no _ ~ ? # or spaces)"
        )
    if len(text) > MAX_BASE_URL:
        raise InvalidInput(f"public base URL {url!r} is longer than {MAX_BASE_URL} characters")
    return text


def label_message(base_url: str, seal_id: str) -> bytes:
    """The bytes the label key signs (domain-separated, one field a line)."""
    return f"{LABEL_DOMAIN}\n{base_url}\n{seal_id}\n".encode("ascii")


def encode_signature(signature: bytes) -> str:
    return base64.b32encode(signature).decode("ascii").rstrip("=")


def decode_signature(text: str) -> bytes:
    """Strict base32: exactly 103 characters of A-Z2-7, spare bits zero (one encoding per signature)."""
    if _BASE32.fullmatch(text) is None:
        raise MalformedLabel("the label signature holds characters outside base32 (A-Z, 2-7)")
    if len(text) < SIGNATURE_CHARS:
        raise MalformedLabel(
            f"the label signature is truncated ({len(text)} of {SIGNATURE_CHARS} characters)"
        )
    if len(text) > SIGNATURE_CHARS:
        raise MalformedLabel(f"the label signature is too long ({len(text)} of {SIGNATURE_CHARS} characters)")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise MalformedLabel("the label signature is not base32") from None
    if len(raw) != SIGNATURE_BYTES or encode_signature(raw) != text:
        raise MalformedLabel("the label signature is not canonical base32")
    return raw


@dataclass(frozen=True)
class LabelPayload:
    base_url: str
    seal_id: str
    signature: bytes

    @property
    def text(self) -> str:
        return f"{self.base_url}{SEAL_PATH}{self.seal_id}/{encode_signature(self.signature)}"

    @property
    def message(self) -> bytes:
        return label_message(self.base_url, self.seal_id)


def _check_seal_id(seal_id: str) -> None:
    if SEAL_ID.fullmatch(seal_id) is None:
        raise MalformedLabel(f"{seal_id!r} is not a seal id (two letters, 7 digits, check character)")
    if not has_valid_check(seal_id):
        raise MalformedLabel(f"seal id {seal_id}: the check character does not match")


def sign_label(base_url: str, seal_id: str, key: SigningKey) -> LabelPayload:
    """The payload of ``seal_id``'s label, signed with the label key (Ed25519, deterministic)."""
    if key.algorithm is not Algorithm.ED25519:
        raise InvalidInput("the label key must be an Ed25519 key")
    base = normalise_base_url(base_url)
    _check_seal_id(seal_id)
    return LabelPayload(base, seal_id, key.sign(label_message(base, seal_id)))


def parse_payload(text: str) -> LabelPayload:
    """Split a payload into its fields (from the right: the base URL may hold ``/S/`` itself).

    Checks the form only; :func:`verify_payload` checks the signature.
    """
    if not text.startswith(("HTTP://", "HTTPS://")):
        raise MalformedLabel("a label payload starts with the ledger's HTTP:// or HTTPS:// URL")
    cut = text.rfind(SEAL_PATH)
    if cut < 0:
        raise MalformedLabel("no /S/<seal id> in the label payload")
    base, rest = text[:cut], text[cut + len(SEAL_PATH) :]
    seal_id, slash, signature = rest.partition("/")
    _check_seal_id(seal_id)
    if not slash or not signature:
        raise MalformedLabel(f"the label of seal {seal_id} carries no signature")
    decoded = decode_signature(signature)
    try:
        normalised = normalise_base_url(base)
    except InvalidInput as exc:
        raise MalformedLabel(exc.message) from None
    if normalised != base:
        raise MalformedLabel(f"the base URL {base!r} of the label is not in its normal form")
    return LabelPayload(base, seal_id, decoded)


def label_key_name(origin: str) -> str:
    """The name in the label key's vkey: ``<origin>/labels``."""
    name = f"{origin}/labels"
    if not is_valid_key_name(name):
        raise InvalidInput(f"origin {origin!r} cannot name a label key")
    return name


def label_vkey(name: str, key: SigningKey) -> str:
    """The published verifier key of a label key: ``<name>+<hex8>+<base64(0x01 ‖ public key)>``."""
    if key.algorithm is not Algorithm.ED25519:
        raise InvalidInput("the label key must be an Ed25519 key")
    return format_vkey(name, SIG_ED25519, key.public_key.raw_ed25519)


def _verifiers(vkeys: Iterable[str | Ed25519Verifier]) -> list[Ed25519Verifier]:
    out = []
    for vkey in vkeys:
        verifier = parse_vkey(vkey) if isinstance(vkey, str) else vkey
        if verifier.signature_type != SIG_ED25519:
            raise InvalidInput(f"{verifier.name}: a label verifier key must be of type Ed25519 (0x01)")
        out.append(verifier)
    return out


@dataclass(frozen=True)
class VerifiedLabel:
    """A label whose signature verified: what it identifies and which key signed it."""

    payload: LabelPayload
    key: str  # ``<name>+<hex8>`` of the label key
    reading: str
    repaired: bool

    @property
    def seal_id(self) -> str:
        return self.payload.seal_id


def verify_payload(
    text: str, vkeys: Sequence[str | Ed25519Verifier], expected_base: str | None = None
) -> VerifiedLabel:
    """Verify one payload exactly as given; raise :class:`LabelRejected` with the reason.

    Order: the form (:func:`parse_payload`), the signature against every
    given label key, then — if ``expected_base`` is given — that the label
    names this ledger.
    """
    verifiers = _verifiers(vkeys)
    if not verifiers:
        raise InvalidInput("no label verifier key to check the label with")
    try:
        payload = parse_payload(text)
    except MalformedLabel as exc:
        raise LabelMalformed(f"not a valid label: {exc.message}") from None
    message = payload.message
    signer = next((v for v in verifiers if v.verify(message, payload.signature)), None)
    if signer is None:
        raise LabelSignatureInvalid(
            f"forged or altered label for seal {payload.seal_id}: "
            "its signature does not verify with the published label key"
        )
    if expected_base is not None and payload.base_url != normalise_base_url(expected_base):
        raise LabelOtherLedger(
            f"label of seal {payload.seal_id} belongs to another ledger ({payload.base_url}), "
            f"not to {normalise_base_url(expected_base)}"
        )
    return VerifiedLabel(payload, f"{signer.name}+{signer.key_id:08x}", text, False)


def looks_like_label(reading: str) -> bool:
    """Whether a reading is meant as a label (a URL, or a seal path), rather than a bare id."""
    return reading.startswith("HTTP") or SEAL_PATH in reading


def verify_scanned(
    raw: str, vkeys: Sequence[str | Ed25519Verifier], expected_base: str | None = None
) -> VerifiedLabel | None:
    """Verify a raw scan, trying each reading of :func:`ledger.custody.scan.candidates`.

    A keyboard-wedge scanner on a mismatched layout garbles ``/`` and ``:``
    and swaps Y and Z; the readings undo that, and only a reading whose
    signature verifies is accepted, so a repair is confirmed, never guessed.

    Returns None when no reading looks like a label (a bare id); raises
    :class:`LabelRejected` with the most telling reason when something looks
    like a label and no reading verifies.
    """
    readings = candidates(raw)
    rejected: list[LabelRejected] = []
    for position, reading in enumerate(readings):
        if not looks_like_label(reading):
            continue
        try:
            verified = verify_payload(reading, vkeys, expected_base)
        except LabelRejected as exc:
            rejected.append(exc)
            continue
        return VerifiedLabel(verified.payload, verified.key, reading, position > 0)
    if not rejected:
        return None
    # The reading that got furthest says most (a bad signature beats "not a URL");
    # among equals, the most literal reading.
    best = max(rejected, key=lambda e: e.rank)
    raise best


def path_segment(value: str) -> str:
    """``value`` as one upper-case URL path segment inside the QR alphanumeric set.

    Upper-case letters, digits and ``$ * + - . :`` stay; every other byte of
    the UTF-8 encoding (lower-case letters too) becomes ``%XX`` — so the
    segment decodes back to exactly ``value``.
    """
    out = []
    for ch in value:
        if ch in _PATH_SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def handover_url(base_url: str, shipment: str) -> str:
    """What a delivery note's QR code opens: ``<BASE URL>/H/<shipment, percent-encoded>``."""
    if not shipment:
        raise InvalidInput("a shipment id must not be empty")
    return f"{normalise_base_url(base_url)}{HANDOVER_PATH}{path_segment(shipment)}"
