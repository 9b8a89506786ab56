"""docs/format.md, Appendix A: the worked example is what the code produces, and it verifies with
only ``base64`` and ``cryptography`` (no ``labels`` or ``ledger`` in the independent check)."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

DOC = Path(__file__).resolve().parents[2] / "docs" / "format.md"
TEXT = DOC.read_text(encoding="utf-8")


def appendix() -> str:
    start = TEXT.index("## Appendix A. Seal label payload (v1)")
    return TEXT[start:]


def example() -> dict[str, str]:
    section = appendix()
    block = section[section.index("### A.7 Worked example") :]
    body = block[block.index("```text\n") + 8 : block.index("\n```", block.index("```text\n"))]
    values = {}
    for line in body.splitlines():
        match = re.fullmatch(r"(\S.*?)\s{2,}(\S+)", line)
        assert match is not None, line
        values[match[1]] = match[2]
    return values


def test_the_example_verifies_independently() -> None:
    values = example()
    payload = values["payload"]
    # Parse from the right (A.1).
    signature_text = payload[-103:]
    assert payload[-104] == "/"
    seal = payload[-114:-104]
    assert payload[-117:-114] == "/S/"
    base = payload[:-117]
    assert (base, seal) == (values["base url"], values["seal id"])
    signature = base64.b32decode(signature_text + "=")
    assert base64.b32encode(signature).decode().rstrip("=") == signature_text
    assert signature.hex() == values["signature (hex)"]
    message = f"kcl/label/v1\n{base}\n{seal}\n".encode("ascii")
    assert message.hex() == values["message (hex)"]
    # The vkey: name+hex8+base64(0x01 ‖ key), key id = SHA-256(name ‖ LF ‖ 0x01 ‖ key)[:4].
    name, key_id, material = values["vkey"].split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == 0x01
    assert raw[1:].hex() == values["public key (hex)"]
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_id
    ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signature, message)
    # The seed is what the text says it is.
    assert values["seed (hex)"] == hashlib.sha256(b"kcl/label/v1 example key").hexdigest()
    assert len(payload) == 144
    assert set(payload) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def test_the_example_is_what_the_code_produces() -> None:
    from labels.payload import handover_url, label_key_name, label_vkey, sign_label, verify_payload
    from labels.qr import version_for
    from ledger.custody.ids import seal_id
    from ledger.keys import Algorithm, SigningKey

    values = example()
    key = SigningKey.generate(Algorithm.ED25519, bytes.fromhex(values["seed (hex)"]))
    vkey = label_vkey(label_key_name("custody.example.org/ledger"), key)
    payload = sign_label("https://custody.example.org", seal_id("KC", 1237), key)
    assert vkey == values["vkey"]
    assert payload.text == values["payload"]
    assert payload.message.hex() == values["message (hex)"]
    assert (
        verify_payload(values["payload"], [values["vkey"]], "https://custody.example.org/").seal_id
        == (values["seal id"])
    )
    assert version_for(len(payload.text)) == 8
    assert handover_url("https://custody.example.org", "LS-2026/0042") == values["handover QR"]


@pytest.mark.parametrize("position", [30, 120, 143])
def test_the_example_altered_does_not_verify(position: int) -> None:
    from labels.payload import LabelRejected, verify_payload

    values = example()
    payload = values["payload"]
    altered = payload[:position] + ("A" if payload[position] != "A" else "B") + payload[position + 1 :]
    with pytest.raises(LabelRejected):
        verify_payload(altered, [values["vkey"]])
