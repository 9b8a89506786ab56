"""The label payload v1: what a label says, and that a scanner with only the published key
tells a genuine label from a forged, altered, truncated or foreign one."""

from __future__ import annotations

import base64
import random

import pytest

from labels.layouts import MIN_MODULE_MM, layout_named
from labels.payload import (
    LABEL_DOMAIN,
    SIGNATURE_CHARS,
    LabelMalformed,
    LabelOtherLedger,
    LabelRejected,
    LabelSignatureInvalid,
    MalformedLabel,
    handover_url,
    label_message,
    label_vkey,
    normalise_base_url,
    parse_payload,
    path_segment,
    sign_label,
    verify_payload,
    verify_scanned,
)
from labels.qr import QR_ALPHANUMERIC, QUIET_ZONE, modules_for_version, version_for
from ledger.custody.ids import seal_id
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey

BASE = "http://127.0.0.1:8000"
SEAL = seal_id("KC", 1237)


def key(seed: int) -> SigningKey:
    return SigningKey.generate(Algorithm.ED25519, random.Random(seed).randbytes(32))


LABEL_KEY = key(1)
OTHER_KEY = key(2)
VKEY = label_vkey("test.custody.local/ledger/labels", LABEL_KEY)


def genuine() -> str:
    return sign_label(BASE, SEAL, LABEL_KEY).text


def test_payload_layout_and_alphabet() -> None:
    text = genuine()
    assert text.startswith(f"HTTP://127.0.0.1:8000/S/{SEAL}/")
    signature = text.rsplit("/", 1)[1]
    assert len(signature) == SIGNATURE_CHARS
    assert set(text) <= QR_ALPHANUMERIC  # one alphanumeric QR segment
    assert text == text.upper()
    assert (
        label_message("HTTP://127.0.0.1:8000", SEAL)
        == f"{LABEL_DOMAIN}\nHTTP://127.0.0.1:8000\n{SEAL}\n".encode()
    )


def test_signing_is_deterministic_and_parses_back() -> None:
    assert genuine() == genuine()
    payload = parse_payload(genuine())
    assert (payload.base_url, payload.seal_id, len(payload.signature)) == ("HTTP://127.0.0.1:8000", SEAL, 64)
    assert payload.text == genuine()


def test_an_untouched_label_verifies_with_only_the_published_vkey() -> None:
    verified = verify_payload(genuine(), [VKEY], BASE)
    assert verified.seal_id == SEAL
    assert verified.key == "+".join(VKEY.split("+")[:2])  # <name>+<hex8>
    # Several published keys (after a rotation): any of them may have signed.
    other = label_vkey("test.custody.local/ledger/labels", OTHER_KEY)
    assert verify_payload(genuine(), [other, VKEY]).seal_id == SEAL


def _replace(text: str, position: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    current = text[position]
    return text[:position] + alphabet[(alphabet.index(current) + 1) % 32] + text[position + 1 :]


@pytest.mark.parametrize("offset", [0, 1, 50, 101])
def test_an_altered_signature_character_is_rejected(offset: int) -> None:
    text = genuine()
    position = len(text) - SIGNATURE_CHARS + offset
    with pytest.raises(LabelSignatureInvalid, match="does not verify"):
        verify_payload(_replace(text, position), [VKEY], BASE)


def test_a_label_for_another_seal_with_a_copied_signature_is_rejected() -> None:
    text = genuine().replace(SEAL, seal_id("KC", 1238))
    with pytest.raises(LabelSignatureInvalid):
        verify_payload(text, [VKEY], BASE)


def test_an_altered_seal_id_fails_its_check_character() -> None:
    text = genuine().replace(SEAL, SEAL[:5] + ("8" if SEAL[5] != "8" else "9") + SEAL[6:])
    with pytest.raises(LabelMalformed, match="check character"):
        verify_payload(text, [VKEY], BASE)


def test_a_signature_by_another_key_is_rejected() -> None:
    forged = sign_label(BASE, SEAL, OTHER_KEY).text
    with pytest.raises(LabelSignatureInvalid, match="published label key"):
        verify_payload(forged, [VKEY], BASE)


@pytest.mark.parametrize("cut", [1, 20, SIGNATURE_CHARS, SIGNATURE_CHARS + 1, SIGNATURE_CHARS + 12])
def test_a_truncated_label_is_rejected(cut: int) -> None:
    with pytest.raises(LabelMalformed) as info:
        verify_payload(genuine()[:-cut], [VKEY], BASE)
    assert any(word in info.value.message for word in ("truncated", "no signature", "not a seal id", "/S/"))


def test_a_label_of_another_ledger_is_rejected_even_when_signed_by_this_key() -> None:
    foreign = sign_label("https://custody.example.de", SEAL, LABEL_KEY).text
    assert verify_payload(foreign, [VKEY]).seal_id == SEAL  # the signature itself is fine
    with pytest.raises(LabelOtherLedger, match="another ledger"):
        verify_payload(foreign, [VKEY], BASE)


def test_an_altered_base_url_is_rejected() -> None:
    with pytest.raises(LabelSignatureInvalid):
        verify_payload(genuine().replace("8000", "8001"), [VKEY], BASE)


def test_non_canonical_base32_is_rejected() -> None:
    text = genuine()
    last = text[-1]
    # 103 base32 characters carry 515 bits: the last character's low three bits are spare.
    value = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".index(last)
    twin = text[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[value | 1 if value % 8 == 0 else value & ~7]
    assert base64.b32decode(twin[-SIGNATURE_CHARS:] + "=") == base64.b32decode(text[-SIGNATURE_CHARS:] + "=")
    assert twin != text
    with pytest.raises(LabelMalformed, match="canonical"):
        verify_payload(twin, [VKEY], BASE)


@pytest.mark.parametrize(
    "text",
    ["", "KC00012375", "HTTP://127.0.0.1:8000", "HTTP://127.0.0.1:8000/S/", "http://127.0.0.1:8000/S/x/y"],
)
def test_malformed_payloads(text: str) -> None:
    with pytest.raises(MalformedLabel):
        parse_payload(text)


def test_a_garbled_scan_is_repaired_only_when_the_signature_confirms_it() -> None:
    text = genuine()
    # A US-layout scanner typing into a German-layout computer: / → -, : → Ö, Y ↔ Z.
    garbled = "".join({"/": "-", ":": "Ö", "Y": "Z", "Z": "Y"}.get(ch, ch) for ch in text)
    verified = verify_scanned(garbled, [VKEY], BASE)
    assert verified is not None
    assert (verified.seal_id, verified.repaired, verified.reading) == (SEAL, True, text)
    assert verify_scanned(text, [VKEY], BASE).repaired is False  # type: ignore[union-attr]
    forged = "".join({"/": "-", ":": "Ö"}.get(ch, ch) for ch in sign_label(BASE, SEAL, OTHER_KEY).text)
    with pytest.raises(LabelSignatureInvalid):
        verify_scanned(forged, [VKEY], BASE)


def test_a_bare_id_is_not_a_label() -> None:
    assert verify_scanned(SEAL, [VKEY], BASE) is None
    assert verify_scanned("SECUNET:SN0001", [VKEY], BASE) is None
    with pytest.raises(LabelRejected):
        verify_scanned(f"HTTP://127.0.0.1:8000/S/{SEAL}", [VKEY], BASE)


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://127.0.0.1:8000", "HTTP://127.0.0.1:8000"),
        ("https://custody.example.de/", "HTTPS://CUSTODY.EXAMPLE.DE"),
        ("https://example.de/kcl/ledger", "HTTPS://EXAMPLE.DE/KCL/LEDGER"),
    ],
)
def test_base_urls_are_normalised(url: str, normal: str) -> None:
    assert normalise_base_url(url) == normal


@pytest.mark.parametrize("url", ["ftp://x.de", "https://x.de/a_b", "https://x.de/?q", "https://", "x.de"])
def test_base_urls_outside_the_qr_alphabet_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_base_url(url)


def test_the_default_payload_fits_the_62x29_label_at_half_a_millimetre() -> None:
    """Version 8 (49 modules + 2 × 4 quiet) at 0.5 mm is 28.5 mm: it fits the 29 mm label.
    Version 9 (61 modules with the quiet zone) would need 30.5 mm: it must be refused."""
    length = len(genuine())
    assert version_for(length) <= 8
    total = modules_for_version(version_for(length)) + 2 * QUIET_ZONE
    thermal = layout_named("thermal-62x29")
    assert total * MIN_MODULE_MM <= thermal.label_height
    assert thermal.module_size(total) >= MIN_MODULE_MM
    assert total * thermal.module_size(total) <= thermal.label_height
    # The longest base URL that keeps version 8 leaves the label usable; one more character does not.
    longest = "HTTPS://" + "A" * (157 - length + len("HTTP://127.0.0.1:8000") - 8)
    assert version_for(len(sign_label(longest, SEAL, LABEL_KEY).text)) == 8
    too_long = sign_label(longest + "B", SEAL, LABEL_KEY).text
    assert version_for(len(too_long)) == 9
    with pytest.raises(InvalidInput, match="does not fit"):
        thermal.module_size(modules_for_version(9) + 2 * QUIET_ZONE)


def test_handover_urls_stay_alphanumeric_and_reversible() -> None:
    assert handover_url(BASE, "LS-4711") == "HTTP://127.0.0.1:8000/H/LS-4711"
    assert path_segment("ls 47/11ü") == "%6C%73%2047%2F11%C3%BC"
    assert set(handover_url(BASE, "Lieferung 12/ä_x")) <= QR_ALPHANUMERIC
    from urllib.parse import unquote

    assert unquote(path_segment("Lieferung 12/ä_x")) == "Lieferung 12/ä_x"
