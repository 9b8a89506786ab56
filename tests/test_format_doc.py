"""docs/format.md cannot drift, and its examples verify without our code.

Two halves:

1. The generated blocks in docs/format.md are exactly what
   ``tests/format_examples.py`` regenerates from the real ledger code.
   (Fix a failure with ``python -m tests.format_examples --write``.)
2. An *independent verifier* for the examples: it reads the blocks from the
   document text and re-checks them with hashlib, base64, json, rfc8785 and
   cryptography only — no ``ledger`` import — following the spec as an
   auditor would. Everything below the line "Independent verifier" must stay
   free of ``ledger`` imports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import unicodedata
from datetime import datetime
from typing import Any

import pytest
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from tests import format_examples

DOC_TEXT = format_examples.DOC.read_text(encoding="utf-8")

# --------------------------------------------------------------------------
# 1. The document matches the generator.


def test_every_generated_block_is_current() -> None:
    expected = format_examples.build_blocks()
    found = format_examples.extract(DOC_TEXT)
    assert sorted(found) == sorted(expected), "markers in docs/format.md differ from the generated blocks"
    stale = [key for key in expected if found[key] != expected[key]]
    assert not stale, f"stale blocks {stale}: run python -m tests.format_examples --write"
    assert format_examples.render(DOC_TEXT, expected) == DOC_TEXT


def test_generation_is_deterministic() -> None:
    assert format_examples.build_blocks() == format_examples.build_blocks()


def test_markers_are_balanced() -> None:
    opening = re.findall(r"<!-- (example|table):([A-Za-z0-9._-]+) -->", DOC_TEXT)
    closing = re.findall(r"<!-- /(example|table):([A-Za-z0-9._-]+) -->", DOC_TEXT)
    assert sorted(opening) == sorted(closing)
    assert len(opening) == len(format_examples.extract(DOC_TEXT))


def test_doc_tells_how_to_regenerate() -> None:
    header = DOC_TEXT[: DOC_TEXT.index("-->")]
    assert "python -m tests.format_examples --write" in header


def test_render_rejects_unknown_and_missing_markers() -> None:
    blocks = {"example:a": "```text\nx\n```\n"}
    with pytest.raises(ValueError, match="missing"):
        format_examples.render("no markers\n", blocks)
    with pytest.raises(ValueError, match="unknown"):
        format_examples.render("<!-- example:b -->\n<!-- /example:b -->\n", blocks)
    assert format_examples.render("<!-- example:a -->\nold\n<!-- /example:a -->", blocks) == (
        "<!-- example:a -->\n```text\nx\n```\n<!-- /example:a -->"
    )


def test_write_and_check_round_trip(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = format_examples.render(
        DOC_TEXT, {key: "```text\nstale\n```\n" for key in format_examples.extract(DOC_TEXT)}
    )
    doc = tmp_path / "format.md"
    doc.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(format_examples, "DOC", doc)
    assert format_examples.main(["--check"]) == 1
    assert format_examples.main(["--write"]) == 0
    assert doc.read_text(encoding="utf-8") == DOC_TEXT
    assert format_examples.main(["--check"]) == 0


# --------------------------------------------------------------------------
# 2. Independent verifier. No ledger imports below this line.

_EXAMPLE = re.compile(r"<!-- example:([a-z0-9-]+) -->\n```[a-z]*\n(.*?)```\n<!-- /example:\1 -->", re.S)


def _examples(doc: str) -> dict[str, str]:
    return {m[1]: m[2] for m in _EXAMPLE.finditer(doc)}


EX = _examples(DOC_TEXT)


def exact_bytes(name: str) -> bytes:
    """A block that shows bytes exactly: its content without the final line break."""
    body = EX[name]
    assert body.endswith("\n")
    return body[:-1].encode("utf-8")


def hex_block(name: str) -> bytes:
    return bytes.fromhex("".join(EX[name].split()))


def pretty_json(name: str) -> Any:
    return json.loads(EX[name])


def H(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def b64_strict(text: str) -> bytes:
    assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text), text
    assert len(text) % 4 == 0, text
    data = base64.b64decode(text, validate=True)
    assert base64.b64encode(data).decode() == text, "non-canonical base64"
    return data


def b64url_strict(text: str) -> bytes:
    assert re.fullmatch(r"[A-Za-z0-9_-]*", text), text
    assert len(text) % 4 != 1, text
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert base64.urlsafe_b64encode(data).rstrip(b"=").decode() == text
    return data


def canonical_json(raw: bytes) -> Any:
    """§3.3: strict parse, input rules, and the bytes must be the RFC 8785 form."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(set(keys)) == len(keys), f"duplicate keys {keys}"
        return dict(pairs)

    def no_float(text: str) -> Any:
        raise AssertionError(f"float {text}")

    value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_float=no_float)

    def check(v: Any, depth: int) -> None:
        assert depth <= 32
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, int):
            assert -(2**53 - 1) <= v <= 2**53 - 1
        elif isinstance(v, str):
            assert unicodedata.is_normalized("NFC", v)
        elif isinstance(v, list):
            for item in v:
                check(item, depth + 1)
        else:
            assert isinstance(v, dict)
            for key, item in v.items():
                assert unicodedata.is_normalized("NFC", key)
                check(item, depth + 1)

    check(value, 0)
    assert rfc8785.dumps(value) == raw, "not RFC 8785 canonical"
    return value


_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")


def check_timestamp(text: str, fraction_digits: int | None = None) -> None:
    match = _TIMESTAMP.fullmatch(text)
    assert match, text
    datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")  # a real date and time
    if fraction_digits is not None:
        assert len(match[1] or ".") - 1 == fraction_digits, text


def subject_patterns() -> dict[str, re.Pattern[str]]:
    """The id patterns, read from the subjects table of the document itself."""
    table = DOC_TEXT[DOC_TEXT.index("<!-- table:subjects -->") : DOC_TEXT.index("<!-- /table:subjects -->")]
    patterns = {}
    for line in table.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip().strip("`") for cell in line.strip("|").split(" | ")]
            patterns[cells[0]] = re.compile(cells[2])
    assert set(patterns) == {"connector", "seal", "party", "location", "ledger"}
    return patterns


def check_subject(subject: str, kind: str | None = None) -> None:
    subject_type, sep, ident = subject.partition(":")
    assert sep, subject
    assert subject_type in subject_patterns(), subject
    assert subject_patterns()[subject_type].fullmatch(ident), subject
    if kind is not None:
        assert subject_type == kind, subject


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(body)).encode() + b" " + body


PAYLOAD_TYPE = "application/vnd.kcl.statement.v1+json"
KEYS = pretty_json("keys")
SPKI_BY_KEYID = {k["keyid"]: bytes.fromhex(k["spki"]) for k in KEYS.values() if "keyid" in k}


def verify_dsse(envelope: dict[str, Any], spki_by_keyid: dict[str, bytes]) -> bytes:
    """§7: shape, then every signature over PAE; return the payload bytes."""
    assert set(envelope) == {"payloadType", "payload", "signatures"}
    assert envelope["payloadType"] == PAYLOAD_TYPE
    payload = b64_strict(envelope["payload"])
    signatures = envelope["signatures"]
    assert 1 <= len(signatures) <= 8
    assert len({s["keyid"] for s in signatures}) == len(signatures)
    message = pae(PAYLOAD_TYPE, payload)
    for item in signatures:
        assert set(item) == {"keyid", "sig"}
        assert re.fullmatch(r"[0-9a-f]{64}", item["keyid"])
        spki = spki_by_keyid[item["keyid"]]
        assert hashlib.sha256(spki).hexdigest() == item["keyid"]
        key = serialization.load_der_public_key(spki)
        sig = b64_strict(item["sig"])
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, message)
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            assert encode_dss_signature(*decode_dss_signature(sig)) == sig, "ECDSA signature is not DER"
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    return payload


def statement_fields(statement: dict[str, Any]) -> None:
    """§6 structure of a statement."""
    required = {"v", "kind", "subject", "at", "by", "data", "nonce"}
    assert required <= set(statement) <= required | {"place"}
    assert statement["v"] == "kcl/statement/v1"
    assert re.fullmatch(r"[a-z._]+", statement["kind"])
    check_subject(statement["subject"])
    check_subject(statement["by"], "party")
    if "place" in statement:
        check_subject(statement["place"], "location")
    check_timestamp(statement["at"])
    assert isinstance(statement["data"], dict)
    assert len(b64url_strict(statement["nonce"])) == 16


# ---- keys


def test_keys_derive_from_their_seeds_and_scalars() -> None:
    for name, info in KEYS.items():
        if info["algorithm"] == "ed25519":
            private = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(info["seed"]))
            raw = private.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            assert raw.hex() == info["public_key"], name
            if "spki" in info:
                assert info["spki"] == "302a300506032b6570032100" + info["public_key"]
        else:
            curve = {
                "ecdsa-p256-sha256": ec.SECP256R1(),
                "ecdsa-brainpoolp256r1-sha256": ec.BrainpoolP256R1(),
            }
            private_ec = ec.derive_private_key(int(info["private_scalar"], 16), curve[info["algorithm"]])
            spki = private_ec.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            assert spki.hex() == info["spki"], name
        if "keyid" in info:
            assert hashlib.sha256(bytes.fromhex(info["spki"])).hexdigest() == info["keyid"]
    # The witness is the RFC 8032 §7.1 TEST 1 key.
    assert KEYS["witness"]["public_key"] == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    # OIDs of §5: prime256v1 and brainpoolP256r1 in the SPKIs.
    assert "06082a8648ce3d030107" in KEYS["p256"]["spki"]
    assert "06092b2403030208010107" in KEYS["brainpool"]["spki"]


def note_key_id(name: str, sig_type: int, public_key: bytes) -> int:
    return int.from_bytes(H(name.encode() + b"\n" + bytes([sig_type]) + public_key)[:4], "big")


def test_note_key_ids() -> None:
    for name, sig_type in (("log", 0x01), ("witness", 0x04)):
        info = KEYS[name]
        ident = note_key_id(info["note_name"], sig_type, bytes.fromhex(info["public_key"]))
        assert f"{ident:08x}" == info["note_key_id"]


# ---- statement, PAE, envelopes


def test_statement_is_canonical_and_well_formed() -> None:
    raw = exact_bytes("statement")
    statement = canonical_json(raw)
    statement_fields(statement)
    assert hex_block("statement-hex") == raw
    assert statement["kind"] == "party.registered"
    assert statement["place"] == "location:HQ-BERLIN"
    # Non-ASCII text is literal UTF-8, not a \u escape.
    assert "Süd".encode() in raw
    assert b"\\u" not in raw


def test_pae_bytes() -> None:
    raw = exact_bytes("statement")
    assert hex_block("pae") == pae(PAYLOAD_TYPE, raw)
    assert hex_block("pae").startswith(b"DSSEv1 37 application/vnd.kcl.statement.v1+json ")
    # The prose of §7 names the two lengths.
    assert f"{len(PAYLOAD_TYPE)} is the length of the payload type, {len(raw)} that of the statement" in (
        " ".join(DOC_TEXT.split())
    )


def test_envelope_signature() -> None:
    envelope = pretty_json("envelope")
    assert verify_dsse(envelope, SPKI_BY_KEYID) == exact_bytes("statement")
    assert [s["keyid"] for s in envelope["signatures"]] == [KEYS["admin"]["keyid"]]


def test_envelope_with_three_algorithms() -> None:
    envelope = pretty_json("envelope-multi")
    assert verify_dsse(envelope, SPKI_BY_KEYID) == exact_bytes("statement")
    assert [s["keyid"] for s in envelope["signatures"]] == [
        KEYS["admin"]["keyid"],
        KEYS["p256"]["keyid"],
        KEYS["brainpool"]["keyid"],
    ]


def test_a_changed_payload_fails_the_signature() -> None:
    envelope = pretty_json("envelope")
    statement = canonical_json(exact_bytes("statement"))
    statement["data"]["roles"] = ["admin"]
    envelope["payload"] = base64.b64encode(rfc8785.dumps(statement)).decode()
    with pytest.raises(InvalidSignature):
        verify_dsse(envelope, SPKI_BY_KEYID)


# ---- entries


ENTRIES = [exact_bytes(f"entry-{i}") for i in range(3)]


def leaf_hash(entry: bytes) -> bytes:
    return H(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return H(b"\x01" + left + right)


def verify_entries(entries: list[bytes], trusted_vkey: str) -> list[str]:
    """A small verifier for the example log (§14 step 1 for the trust kinds used here)."""
    problems: list[str] = []
    heads: dict[str, bytes] = {}
    nonces: set[str] = set()
    keys: dict[str, tuple[bytes, int]] = {}  # keyid -> (spki, added_at)
    for index, raw in enumerate(entries):
        entry = canonical_json(raw)
        assert set(entry) == {"v", "index", "prev", "recorded_at", "envelope"}
        assert entry["v"] == "kcl/entry/v1"
        if entry["index"] != index:
            problems.append(f"{index}: index {entry['index']}")
        check_timestamp(entry["recorded_at"], fraction_digits=3)
        payload = b64_strict(entry["envelope"]["payload"])
        statement = canonical_json(payload)
        statement_fields(statement)
        expected_prev = heads.get(statement["subject"])
        if entry["prev"] != (expected_prev.hex() if expected_prev else None):
            problems.append(f"{index}: prev {entry['prev']}")
        heads[statement["subject"]] = leaf_hash(raw)
        if statement["nonce"] in nonces:
            problems.append(f"{index}: replayed nonce")
        nonces.add(statement["nonce"])
        data = statement["data"]
        if index == 0:
            assert statement["kind"] == "ledger.genesis"
            assert statement["subject"] == "ledger:" + data["origin"]
            assert statement["by"] == data["admin"]
            assert data["log_vkey"] == trusted_vkey
            assert data["log_vkey"].split("+", 2)[0] == data["origin"]
            spki = b64_strict(data["key"]["spki"])
            assert hashlib.sha256(spki).hexdigest() == data["key"]["keyid"]
            keys[data["key"]["keyid"]] = (spki, 0)
        else:
            assert statement["kind"] != "ledger.genesis"
        usable = {keyid: spki for keyid, (spki, added_at) in keys.items() if added_at <= index}
        try:
            verify_dsse(entry["envelope"], usable)
        except (InvalidSignature, KeyError) as exc:
            problems.append(f"{index}: signature {exc!r}")
        if statement["kind"] == "key.added":
            spki = b64_strict(data["spki"])
            assert hashlib.sha256(spki).hexdigest() == data["keyid"]
            keys[data["keyid"]] = (spki, index + 1)
    return problems


def test_entries_verify_independently() -> None:
    assert verify_entries(ENTRIES, EX["vkey"].strip()) == []


def test_entry_contents() -> None:
    entries = [canonical_json(raw) for raw in ENTRIES]
    assert [e["prev"] for e in entries] == [None, None, leaf_hash(ENTRIES[1]).hex()]
    # Entry 1 carries the envelope of §7 (canonically encoded) and the statement of §6.
    assert entries[1]["envelope"] == pretty_json("envelope")
    assert b64_strict(entries[1]["envelope"]["payload"]) == exact_bytes("statement")
    genesis = canonical_json(b64_strict(entries[0]["envelope"]["payload"]))
    assert set(genesis["data"]) == {"origin", "log_vkey", "admin", "name", "key"}
    assert genesis["data"]["key"] == {
        "keyid": KEYS["admin"]["keyid"],
        "algorithm": "ed25519",
        "spki": base64.b64encode(bytes.fromhex(KEYS["admin"]["spki"])).decode(),
    }
    added = canonical_json(b64_strict(entries[2]["envelope"]["payload"]))
    assert added["kind"] == "key.added"
    assert added["data"]["keyid"] == KEYS["warehouse"]["keyid"]


def test_verifier_catches_tampering() -> None:
    tampered = ENTRIES[1].replace(
        b'"recorded_at":"2026-11-28T10:05:01.500Z"', b'"recorded_at":"2026-11-28T10:05:02.500Z"'
    )
    assert tampered != ENTRIES[1]
    # Still a valid entry on its own, but entry 2's prev no longer links to it.
    assert verify_entries([ENTRIES[0], tampered, ENTRIES[2]], EX["vkey"].strip()) == [
        f"2: prev {leaf_hash(ENTRIES[1]).hex()}"
    ]
    # The warehouse key is usable only from the entry after its key.added.
    assert verify_entries(ENTRIES[:1] + ENTRIES[2:], EX["vkey"].strip()) != []
    with pytest.raises(AssertionError):
        verify_entries(ENTRIES, "another.example+00000000+AQ==")


# ---- tree and proofs


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes."""
    if not leaves:
        return H(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or len(leaf) != 32 or any(len(p) != 32 for p in proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old < 1 or old > new:
        return False
    if old == new:
        return not proof and old_root == new_root
    if not proof or any(len(c) != 32 for c in proof):
        return False
    if old & (old - 1) == 0:
        proof = [old_root, *proof]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


LEAVES = [leaf_hash(raw) for raw in ENTRIES]


def _named_hashes(name: str) -> dict[str, str]:
    return {line.split()[0]: line.split()[-1] for line in EX[name].splitlines()}


def test_leaf_hashes_and_roots() -> None:
    assert _named_hashes("leaf-hashes") == {f"L{i}": leaf.hex() for i, leaf in enumerate(LEAVES)}
    assert _named_hashes("tree") == {f"root({n})": mth(LEAVES[:n]).hex() for n in (1, 2, 3)}
    assert mth(LEAVES) == node_hash(node_hash(LEAVES[0], LEAVES[1]), LEAVES[2])


def test_inclusion_proof() -> None:
    proof = pretty_json("inclusion-proof")
    assert list(proof) == ["index", "size", "leaf_hash", "root", "proof"]
    elements = [bytes.fromhex(p) for p in proof["proof"]]
    assert proof["leaf_hash"] == LEAVES[proof["index"]].hex()
    assert proof["root"] == mth(LEAVES[: proof["size"]]).hex()
    assert elements == path(proof["index"], LEAVES[: proof["size"]]) == [LEAVES[0], LEAVES[2]]
    root = bytes.fromhex(proof["root"])
    leaf = bytes.fromhex(proof["leaf_hash"])
    assert verify_inclusion(proof["index"], proof["size"], leaf, elements, root)
    # A verifier that accepted these would be broken.
    assert not verify_inclusion(0, 3, leaf, elements, root)
    assert not verify_inclusion(1, 2, leaf, elements, root)
    assert not verify_inclusion(3, 3, leaf, elements, root)
    assert not verify_inclusion(1, 3, leaf, elements[:1], root)
    assert not verify_inclusion(1, 3, leaf, [*elements, LEAVES[1]], root)
    assert not verify_inclusion(1, 3, leaf, elements[::-1], root)


def test_consistency_proof() -> None:
    proof = pretty_json("consistency-proof")
    assert list(proof) == ["old_size", "old_root", "new_size", "new_root", "proof"]
    old, new = proof["old_size"], proof["new_size"]
    elements = [bytes.fromhex(p) for p in proof["proof"]]
    assert proof["old_root"] == mth(LEAVES[:old]).hex()
    assert proof["new_root"] == mth(LEAVES[:new]).hex()
    assert elements == subproof(old, LEAVES[:new], True)
    old_root, new_root = bytes.fromhex(proof["old_root"]), bytes.fromhex(proof["new_root"])
    assert verify_consistency(old, new, elements, old_root, new_root)
    assert not verify_consistency(old, new, [], old_root, new_root)
    assert not verify_consistency(old, new, elements, new_root, new_root)
    assert not verify_consistency(1, new, elements, LEAVES[0], new_root)
    # And the proof from size 1, computed here, verifies too.
    assert verify_consistency(1, 3, subproof(1, LEAVES, True), LEAVES[0], new_root)


# ---- checkpoint, vkeys, cosignature


def parse_vkey(vkey: str) -> tuple[str, int, int, bytes]:
    """§10.3: split on the first two '+'; return (name, key id, type, public key)."""
    name, hex_id, material_b64 = vkey.split("+", 2)
    material = b64_strict(material_b64)
    assert re.fullmatch(r"[0-9a-f]{8}", hex_id)
    assert len(material) == 33
    sig_type, public_key = material[0], material[1:]
    assert int(hex_id, 16) == note_key_id(name, sig_type, public_key)
    return name, int(hex_id, 16), sig_type, public_key


def open_note(
    note: str, known: dict[tuple[str, int], tuple[int, bytes]]
) -> tuple[str, list[tuple[str, bytes]]]:
    """§10.4 for the examples: return the text and the verified (name, signature) pairs."""
    assert all(ch == "\n" or ch >= " " for ch in note)
    cut = note.rindex("\n\n")
    text, block = note[: cut + 1], note[cut + 2 :]
    assert block
    assert block.endswith("\n")
    verified: list[tuple[str, bytes]] = []
    for line in block[:-1].split("\n"):
        assert line.startswith("— ")
        name, b64 = line[2:].split(" ")
        blob = b64_strict(b64)
        ident = struct.unpack(">I", blob[:4])[0]
        if (name, ident) not in known:
            continue  # unknown keys are ignored
        sig_type, public_key = known[(name, ident)]
        key = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        if sig_type == 0x01:
            key.verify(blob[4:], text.encode())
        else:
            assert sig_type == 0x04
            assert len(blob) == 4 + 8 + 64
            timestamp = struct.unpack(">Q", blob[4:12])[0]
            assert timestamp < 2**63
            key.verify(blob[12:], f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode())
        verified.append((name, blob[4:]))
    assert verified, "no verifiable signature"
    return text, verified


def test_vkeys() -> None:
    name, ident, sig_type, public_key = parse_vkey(EX["vkey"].strip())
    assert (name, f"{ident:08x}", sig_type, public_key.hex()) == (
        KEYS["log"]["note_name"],
        KEYS["log"]["note_key_id"],
        0x01,
        KEYS["log"]["public_key"],
    )
    name, ident, sig_type, public_key = parse_vkey(EX["witness-vkey"].strip())
    assert (name, f"{ident:08x}", sig_type, public_key.hex()) == (
        KEYS["witness"]["note_name"],
        KEYS["witness"]["note_key_id"],
        0x04,
        KEYS["witness"]["public_key"],
    )


def _known(*vkeys: str) -> dict[tuple[str, int], tuple[int, bytes]]:
    known = {}
    for vkey in vkeys:
        name, ident, sig_type, public_key = parse_vkey(vkey.strip())
        known[(name, ident)] = (sig_type, public_key)
    return known


def test_checkpoint() -> None:
    body = EX["checkpoint-body"]
    origin, size, root_b64 = body.split("\n")[:3]
    assert body == f"{origin}\n{size}\n{root_b64}\n"
    assert origin == KEYS["log"]["note_name"] == EX["vkey"].split("+")[0]
    assert re.fullmatch(r"0|[1-9][0-9]*", size)
    assert int(size) == len(ENTRIES)
    assert b64_strict(root_b64) == mth(LEAVES)
    text, verified = open_note(EX["checkpoint"], _known(EX["vkey"]))
    assert text == body
    assert [name for name, _ in verified] == [origin]
    # Go's signature line: em dash, space, name, space, base64(key id ‖ signature).
    assert EX["checkpoint"] == body + "\n" + f"— {origin} " + EX["checkpoint"].split(f"— {origin} ")[1]


def test_cosigned_checkpoint() -> None:
    cosigned = EX["checkpoint-cosigned"]
    assert cosigned.startswith(EX["checkpoint"])
    timestamp = int(EX["cosignature-message"].split("\n")[1].removeprefix("time "))
    assert EX["cosignature-message"] == f"cosignature/v1\ntime {timestamp}\n" + EX["checkpoint-body"]
    assert f"timestamp {timestamp} =" in DOC_TEXT
    # A verifier that trusts the witness counts its cosignature ...
    text, verified = open_note(cosigned, _known(EX["vkey"], EX["witness-vkey"]))
    assert text == EX["checkpoint-body"]
    assert [name for name, _ in verified] == [KEYS["log"]["note_name"], KEYS["witness"]["note_name"]]
    assert struct.unpack(">Q", verified[1][1][:8])[0] == timestamp
    # ... one that does not ignores the line.
    _, verified = open_note(cosigned, _known(EX["vkey"]))
    assert [name for name, _ in verified] == [KEYS["log"]["note_name"]]
    # A changed checkpoint fails both signatures.
    forged = cosigned.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(InvalidSignature):
        open_note(forged, _known(EX["vkey"], EX["witness-vkey"]))
