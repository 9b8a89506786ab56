"""C2SP signed notes against the golang.org/x/mod/sumdb/note vectors (signed-note.json)."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import MalformedNote, MalformedVerifierKey, NoteVerificationError
from ledger.keys import Algorithm, SigningKey
from ledger.note import (
    MAX_SIGNATURES,
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    CosignatureSigner,
    Ed25519NoteSigner,
    Ed25519Verifier,
    NoteSignature,
    UnknownVerifier,
    VerifierList,
    format_vkey,
    key_id,
    open_note,
    parse_signature_line,
    parse_vkey,
    sign_note,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parent.parent / "vectors" / "signed-note.json").read_text(encoding="utf-8")
)
KEYS: dict[str, str] = VECTORS["keys"]
OPEN = VECTORS["open"]
TEXT: str = OPEN["text"]


def seed_from_go_skey(skey: str) -> bytes:
    """``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``: the base64 after the 4th '+'."""
    fields = skey.split("+", 4)
    assert fields[:2] == ["PRIVATE", "KEY"]
    material = base64.b64decode(fields[4])
    assert material[0] == SIG_ED25519
    assert len(material) == 33
    return material[1:]


def signer_from_go_skey(skey: str) -> Ed25519NoteSigner:
    name = skey.split("+")[2]
    return Ed25519NoteSigner(name, SigningKey.generate(Algorithm.ED25519, seed_from_go_skey(skey)))


def verifiers(names: list[str]) -> VerifierList:
    return VerifierList([parse_vkey(KEYS[name]) for name in names])


def assert_error_text(exc: BaseException, expected: str) -> None:
    text = str(exc)
    assert text == expected or text.startswith(expected), (text, expected)


# --------------------------------------------------------------------------
# Signing.


def test_sign_reproduces_the_expected_note_byte_for_byte() -> None:
    case = VECTORS["sign"]
    signer = signer_from_go_skey(case["skey"])
    assert signer.vkey() == KEYS["peter_vkey"]
    assert signer.key_id == 0xC74F20A3
    note = sign_note(case["text"], [signer])
    assert note == case["expected_note"]
    assert note.encode("utf-8") == case["expected_note"].encode("utf-8")
    assert note == TEXT + "\n" + OPEN["peter_sig_line"]


@pytest.mark.parametrize("case", VECTORS["sign"]["errors"], ids=lambda c: repr(c["text"]))
def test_sign_errors(case: dict[str, str]) -> None:
    signer = signer_from_go_skey(VECTORS["sign"]["skey"])
    with pytest.raises(MalformedNote) as caught:
        sign_note(case["text"], [signer])
    assert_error_text(caught.value, case["error"])


@pytest.mark.parametrize(
    "text",
    [*VECTORS["go_sumdb_tree_note_format"]["record_format"]["invalid_texts"][:2], "hello\x01world\n"],
    ids=["empty", "no-final-newline", "control-character"],
)
def test_sign_refuses_text_that_is_not_a_note(text: str) -> None:
    signer = signer_from_go_skey(VECTORS["sign"]["skey"])
    with pytest.raises(MalformedNote) as caught:
        sign_note(text, [signer])
    assert_error_text(caught.value, "malformed note")


def test_sign_refuses_a_signer_with_an_invalid_name() -> None:
    key = SigningKey.generate(Algorithm.ED25519, bytes(32))
    with pytest.raises(MalformedVerifierKey):
        Ed25519NoteSigner("bad name", key)
    with pytest.raises(MalformedVerifierKey):
        Ed25519NoteSigner("bad+name", key)
    with pytest.raises(MalformedNote):
        sign_note(TEXT, [CosignatureSigner("bad name", key, 1)])


def test_signed_notes_open_with_every_signer() -> None:
    peter = signer_from_go_skey(VECTORS["sign"]["skey"])
    other = Ed25519NoteSigner("example.org/other", SigningKey.generate(Algorithm.ED25519, b"\x07" * 32))
    note = sign_note("a\n\nb with a blank line inside\n", [peter, other])
    opened = open_note(note.encode(), VerifierList([parse_vkey(peter.vkey()), parse_vkey(other.vkey())]))
    assert opened.text == "a\n\nb with a blank line inside\n"
    assert [s.name for s in opened.verified] == [peter.name, other.name]
    assert opened.unverified == ()


# --------------------------------------------------------------------------
# Opening.


def _open_case_note(case: dict[str, Any]) -> bytes:
    if "note" in case:
        note: str = case["note"]
        return note.encode("utf-8")
    if "note_hex" in case:
        return bytes.fromhex(case["note_hex"])
    assert case["note_desc"] == "text + blank line + peter_sig_line repeated 101 times"
    sig_line: str = OPEN["peter_sig_line"]
    return (TEXT + "\n" + sig_line * 101).encode("utf-8")


def _case_id(case: dict[str, Any]) -> str:
    expect = case["expect"]
    if "error" in expect:
        return f"error:{expect['error']}"
    return (
        "verified:" + ",".join(expect["verified"]) + "/unverified:" + str(len(expect.get("unverified", [])))
    )


@pytest.mark.parametrize("case", OPEN["cases"], ids=[_case_id(c) for c in OPEN["cases"]])
def test_open_cases(case: dict[str, Any]) -> None:
    note = _open_case_note(case)
    known = verifiers(case.get("verifiers", ["peter_vkey"]))
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises((MalformedNote, NoteVerificationError)) as caught:
            open_note(note, known)
        assert_error_text(caught.value, expect["error"])
        return
    opened = open_note(note, known)
    assert [s.name for s in opened.verified] == expect["verified"]
    if "unverified" in expect:
        assert [s.name for s in opened.unverified] == [n.split(" ")[0] for n in expect["unverified"]]
    assert opened.text == TEXT


def test_open_error_classes() -> None:
    note = (TEXT + "\n" + OPEN["peter_sig_line"] * 101).encode()
    with pytest.raises(MalformedNote):
        open_note(note, verifiers(["peter_vkey"]))
    exactly_100 = (TEXT + "\n" + OPEN["peter_sig_line"] * MAX_SIGNATURES).encode()
    opened = open_note(exactly_100, verifiers(["peter_vkey"]))
    assert [s.name for s in opened.verified] == ["PeterNeumann"]
    both = (TEXT + "\n" + OPEN["peter_sig_line"] + OPEN["enoch_sig_line"]).encode()
    with pytest.raises(NoteVerificationError) as caught:
        open_note(both, verifiers([]))
    assert type(caught.value) is NoteVerificationError
    assert str(caught.value) == "note has no verifiable signatures"


def test_open_rejects_changed_text() -> None:
    note = VECTORS["sign"]["expected_note"].replace("cryptography", "Cryptography").encode()
    with pytest.raises(NoteVerificationError) as caught:
        open_note(note, verifiers(["peter_vkey"]))
    assert str(caught.value) == "invalid signature for key PeterNeumann+c74f20a3"


def test_open_rejects_a_known_key_with_a_signature_of_another_text() -> None:
    peter = signer_from_go_skey(VECTORS["sign"]["skey"])
    line = sign_note("other text\n", [peter]).split("\n\n", 1)[1]
    with pytest.raises(NoteVerificationError, match="invalid signature for key PeterNeumann"):
        open_note((TEXT + "\n" + line).encode(), verifiers(["peter_vkey"]))


@pytest.mark.parametrize("case", OPEN["malformed_notes"], ids=[c["desc"] for c in OPEN["malformed_notes"]])
def test_malformed_notes(case: dict[str, str]) -> None:
    with pytest.raises(MalformedNote) as caught:
        open_note(bytes.fromhex(case["note_hex"]), verifiers(["peter_vkey"]))
    assert_error_text(caught.value, case["expect"])


_SIG_B64 = OPEN["peter_sig_line"].split(" ")[2].strip()


@pytest.mark.parametrize(
    "block",
    [
        f"- PeterNeumann {_SIG_B64}\n",  # ASCII hyphen instead of an em dash
        f"— PeterNeumann{_SIG_B64}\n",  # no space before the signature
        "— PeterNeumann \n",  # empty signature
        "— PeterNeumann !!!!\n",  # not base64
        f"— PeterNeumann {_SIG_B64[:-1]}\n",  # bad padding
        f"— PeterNeumann {base64.b64encode(b'1234').decode()}\n",  # shorter than id + 1 byte
        f"— Peter+Neumann {_SIG_B64}\n",  # '+' in the key name
        f"— {_SIG_B64}\n",  # no name
        f"— PeterNeumann {_SIG_B64}\n\n",  # blank line inside the signature block
    ],
    ids=[
        "hyphen",
        "no-space",
        "empty-signature",
        "not-base64",
        "bad-padding",
        "too-short",
        "plus-in-name",
        "no-name",
        "trailing-blank-line",
    ],
)
def test_malformed_signature_lines(block: str) -> None:
    with pytest.raises(MalformedNote) as caught:
        open_note((TEXT + "\n" + block).encode(), verifiers(["peter_vkey"]))
    assert_error_text(caught.value, "malformed note")


def test_note_larger_than_one_mebibyte_is_malformed() -> None:
    note = ("x" * (1 << 20) + "\n\n" + OPEN["peter_sig_line"]).encode()
    with pytest.raises(MalformedNote, match="too large"):
        open_note(note, verifiers(["peter_vkey"]))


@pytest.mark.parametrize("extra", ["=", "=="])
def test_padding_after_a_complete_quantum_is_malformed(extra: str) -> None:
    """Go's StdEncoding (format §10.2) refuses "abcd="; Python's decoder alone would accept it."""
    line = NoteSignature("n", 1, b"\x07" * 65).line().removesuffix("\n")  # 69 bytes: no padding
    assert parse_signature_line(line).signature == b"\x07" * 65
    with pytest.raises(MalformedNote, match="not base64"):
        parse_signature_line(line + extra)


def test_signature_line_round_trip() -> None:
    parsed = parse_signature_line(OPEN["peter_sig_line"].removesuffix("\n"))
    assert parsed.name == "PeterNeumann"
    assert parsed.key_id == 0xC74F20A3
    assert len(parsed.signature) == 64
    assert parsed.line() == OPEN["peter_sig_line"]
    assert NoteSignature("n", 1, b"\x00" * 64).line().startswith("— n AAAAAQ")


# --------------------------------------------------------------------------
# Verifier keys and lists.


@pytest.mark.parametrize(
    "lookup",
    OPEN["verifier_list_lookups"],
    ids=[f"{c['name']}+{c['key_id']}" for c in OPEN["verifier_list_lookups"]],
)
def test_verifier_list_lookups(lookup: dict[str, Any]) -> None:
    known = verifiers(lookup["verifiers"])
    ident = int(lookup["key_id"], 16)
    if lookup["expect"] == "peter":
        found = known.lookup(lookup["name"], ident)
        assert isinstance(found, Ed25519Verifier)
        assert found.vkey() == KEYS["peter_vkey"]
        return
    expected_class = UnknownVerifier if lookup["expect"].startswith("unknown") else NoteVerificationError
    with pytest.raises(expected_class) as caught:
        known.lookup(lookup["name"], ident)
    assert type(caught.value) is expected_class
    assert_error_text(caught.value, lookup["expect"])


def test_c2sp_spec_example_verifies() -> None:
    example = VECTORS["c2sp_example"]
    assert example["expect"] == "verifies"
    opened = open_note(example["note"].encode(), VerifierList([parse_vkey(example["vkey"])]))
    assert opened.text == "This is an example message.\n"
    assert [(s.name, s.key_id) for s in opened.verified] == [("example.com/foo", 0x530D903A)]
    assert example["vkey"] == KEYS["c2sp_example_vkey"]


def test_sum_golang_org_vkey_parses() -> None:
    vkey = KEYS["sum_golang_org_vkey"]
    assert vkey.count("+") > 2  # its base64 part holds '+' itself
    verifier = parse_vkey(vkey)
    assert verifier.name == "sum.golang.org"
    assert verifier.key_id == 0x033DE0AE
    assert verifier.signature_type == SIG_ED25519
    assert len(verifier.public_key) == 32
    assert verifier.vkey() == vkey


@pytest.mark.parametrize("name", ["peter_vkey", "enoch_vkey", "sum_golang_org_vkey", "c2sp_example_vkey"])
def test_vkeys_round_trip_and_key_ids_match(name: str) -> None:
    vkey = KEYS[name]
    verifier = parse_vkey(vkey)
    assert format_vkey(verifier.name, SIG_ED25519, verifier.public_key) == vkey
    assert f"{key_id(verifier.name, SIG_ED25519, verifier.public_key):08x}" == vkey.split("+")[1]


@pytest.mark.parametrize(
    "vkey",
    [item["vkey"] for item in VECTORS["invalid_vkeys"] if "vkey" in item]
    + [KEYS["peter_skey_go_format"], "", "+", "++", "PeterNeumann+c74f20a3+", "PeterNeumann++ARpc"],
    ids=[
        "wrong-key-length",
        "unknown-algorithm",
        "go-private-key",
        "empty",
        "plus",
        "plus-plus",
        "no-key",
        "no-id",
    ],
)
def test_invalid_vkeys_are_rejected(vkey: str) -> None:
    with pytest.raises(MalformedVerifierKey):
        parse_vkey(vkey)


def test_vkey_with_a_wrong_key_id_is_rejected() -> None:
    name, ident, material = KEYS["peter_vkey"].split("+", 2)
    wrong = f"{(int(ident, 16) ^ 1):08x}"
    with pytest.raises(MalformedVerifierKey, match="key id"):
        parse_vkey(f"{name}+{wrong}+{material}")
    with pytest.raises(MalformedVerifierKey):
        parse_vkey(f"Other+{ident}+{material}")


def test_every_proper_substring_of_peter_vkey_is_rejected() -> None:
    assert any("every proper substring" in item.get("rule", "") for item in VECTORS["invalid_vkeys"])
    vkey = KEYS["peter_vkey"]
    accepted = []
    tried = 0
    for start in range(len(vkey)):
        for end in range(start + 1, len(vkey) + 1):
            if (start, end) == (0, len(vkey)):
                continue
            tried += 1
            try:
                parse_vkey(vkey[start:end])
            except MalformedVerifierKey:
                continue
            accepted.append(vkey[start:end])
    assert tried == len(vkey) * (len(vkey) + 1) // 2 - 1
    assert accepted == []


def test_every_peter_vkey_with_one_byte_incremented_is_rejected() -> None:
    vkey = KEYS["peter_vkey"].encode("ascii")
    accepted = []
    for position in range(len(vkey)):
        variant = bytearray(vkey)
        variant[position] += 1
        try:
            parse_vkey(variant.decode("ascii"))
        except MalformedVerifierKey:
            continue
        accepted.append(position)
    assert accepted == []


def test_cosignature_verifier_rejects_signatures_of_the_wrong_shape() -> None:
    key = SigningKey.generate(Algorithm.ED25519, b"\x09" * 32)
    signer = CosignatureSigner("witness.example/w", key, 1_700_000_000)
    verifier = parse_vkey(signer.vkey())
    assert verifier.signature_type == SIG_COSIGNATURE_V1
    signature = signer.sign(TEXT.encode())
    assert struct.unpack(">Q", signature[:8])[0] == 1_700_000_000
    assert verifier.verify(TEXT.encode(), signature)
    assert not verifier.verify(TEXT.encode(), signature[:-1])
    assert not verifier.verify(TEXT.encode(), b"\xff" * 8 + signature[8:])  # timestamp ≥ 2^63
    assert not verifier.verify(TEXT.encode() + b"x\n", signature)
    # The same key as a plain Ed25519 note key has another key id: no confusion.
    plain = Ed25519NoteSigner("witness.example/w", key)
    assert plain.key_id != signer.key_id
    with pytest.raises(MalformedNote):
        sign_note(TEXT, [CosignatureSigner("witness.example/w", key, 2**63)])
