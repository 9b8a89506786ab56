"""C2SP checkpoints and witness cosignatures (derived-checkpoint-cosignature-proof.json)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import (
    Checkpoint,
    Cosignature,
    open_checkpoint,
    parse_checkpoint_unverified,
    sign_checkpoint,
)
from ledger.errors import (
    ConsistencyProofError,
    InclusionProofError,
    MalformedCheckpoint,
    NoteVerificationError,
)
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion
from ledger.note import (
    SIG_COSIGNATURE_V1,
    SIG_ED25519,
    CosignatureSigner,
    Ed25519NoteSigner,
    cosignature_message,
    parse_vkey,
    sign_note,
)

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors"
V = json.loads((VECTORS_DIR / "derived-checkpoint-cosignature-proof.json").read_text(encoding="utf-8"))
TREE8 = json.loads((VECTORS_DIR / "rfc6962-tree8.json").read_text())
ROOT8 = bytes.fromhex(TREE8["root_by_tree_size"]["8"])


def _seed_from_go_skey(skey: str) -> bytes:
    material = base64.b64decode(skey.split("+", 4)[4])
    assert material[0] == SIG_ED25519
    return material[1:]


LOG_KEY = SigningKey.generate(Algorithm.ED25519, _seed_from_go_skey(V["log_skey_go_format"]))
LOG_SIGNER = Ed25519NoteSigner(V["origin"], LOG_KEY)
WITNESS_KEY = SigningKey.generate(Algorithm.ED25519, bytes.fromhex(V["witness_seed_hex"]))
WITNESS_SIGNER = CosignatureSigner(V["witness_name"], WITNESS_KEY, V["cosignature_timestamp"])
LOG_VKEY = parse_vkey(V["log_vkey"])
WITNESS_VKEY = parse_vkey(V["witness_vkey"])


# --------------------------------------------------------------------------
# Signing reproduces the vectors.


def test_keys_match_the_vector() -> None:
    assert V["log_skey_go_format"].split("+")[2] == V["origin"]
    assert LOG_KEY.public_key.raw_ed25519.hex() == V["log_public_key_hex"]
    assert f"{LOG_SIGNER.key_id:08x}" == V["log_key_id_hex"]
    assert LOG_SIGNER.vkey() == V["log_vkey"]
    assert WITNESS_KEY.public_key.raw_ed25519.hex() == V["witness_public_key_hex"]
    assert f"{WITNESS_SIGNER.key_id:08x}" == V["witness_key_id_hex"]
    assert WITNESS_SIGNER.vkey() == V["witness_vkey"]
    assert WITNESS_VKEY.signature_type == SIG_COSIGNATURE_V1
    assert LOG_VKEY.signature_type == SIG_ED25519


def test_checkpoint_body_parses_and_round_trips() -> None:
    checkpoint = Checkpoint.parse(V["checkpoint_body"])
    assert checkpoint == Checkpoint(V["origin"], 8, ROOT8)
    assert checkpoint.body() == V["checkpoint_body"]


def test_resigning_the_body_with_the_log_key_reproduces_the_signed_checkpoint() -> None:
    checkpoint = Checkpoint.parse(V["checkpoint_body"])
    signed = sign_checkpoint(checkpoint, [LOG_SIGNER])
    assert signed == V["checkpoint_signed"]
    assert LOG_KEY.sign(V["checkpoint_body"].encode()).hex() == V["log_signature_hex"]


def test_witness_cosignature_reproduces_the_cosigned_checkpoint() -> None:
    body = V["checkpoint_body"].encode()
    message = cosignature_message(body, V["cosignature_timestamp"])
    assert message == V["cosignature_signed_message"].encode()
    signature = WITNESS_SIGNER.sign(body)
    assert signature[:8] == V["cosignature_timestamp"].to_bytes(8, "big")
    assert signature[8:].hex() == V["cosignature_signature_hex"]
    signed = sign_checkpoint(Checkpoint.parse(V["checkpoint_body"]), [LOG_SIGNER, WITNESS_SIGNER])
    assert signed == V["checkpoint_cosigned"]


# --------------------------------------------------------------------------
# Opening.

COSIGNATURE = Cosignature(V["witness_name"], int(V["witness_key_id_hex"], 16), V["cosignature_timestamp"])


@pytest.mark.parametrize("required", [0, 1, 2])
@pytest.mark.parametrize("with_witness", [False, True], ids=["log-key-only", "with-witness"])
def test_open_checkpoint_with_and_without_the_witness(with_witness: bool, required: int) -> None:
    note = V["checkpoint_cosigned"].encode()
    witnesses = [WITNESS_VKEY] if with_witness else []
    trusted = 1 if with_witness else 0
    if required > trusted:
        with pytest.raises(NoteVerificationError) as caught:
            open_checkpoint(note, LOG_VKEY, witnesses, required_cosignatures=required)
        assert str(caught.value) == f"checkpoint has {trusted} trusted cosignature(s), {required} required"
        return
    opened = open_checkpoint(note, LOG_VKEY, witnesses, required_cosignatures=required)
    assert opened.checkpoint == Checkpoint(V["origin"], 8, ROOT8)
    assert opened.note == V["checkpoint_cosigned"]
    if with_witness:
        assert opened.cosignatures == (COSIGNATURE,)
        assert opened.unverified == ()
    else:
        assert opened.cosignatures == ()
        assert [s.name for s in opened.unverified] == [V["witness_name"]]


def test_open_checkpoint_signed_by_the_log_key_only() -> None:
    opened = open_checkpoint(V["checkpoint_signed"].encode(), LOG_VKEY, [WITNESS_VKEY])
    assert opened.cosignatures == ()
    assert opened.checkpoint.size == 8
    with pytest.raises(NoteVerificationError):
        open_checkpoint(V["checkpoint_signed"].encode(), LOG_VKEY, [WITNESS_VKEY], required_cosignatures=1)


NEGATIVE = {case["desc"]: case for case in V["negative_cases"]}


def test_there_are_three_negative_cases() -> None:
    assert len(V["negative_cases"]) == 3


def test_negative_size_changed_fails_both_signatures() -> None:
    case = next(c for c in V["negative_cases"] if c["desc"].startswith("tree size line changed"))
    note = case["note"].encode()
    for witnesses in ([], [WITNESS_VKEY]):
        with pytest.raises(NoteVerificationError) as caught:
            open_checkpoint(note, LOG_VKEY, witnesses)
        assert str(caught.value) == "invalid signature for key example.com/test-log+1b542240"
    # The cosignature alone fails too: a witness-only trust list finds no log signature.
    with pytest.raises(NoteVerificationError) as caught:
        open_checkpoint(note, WITNESS_VKEY, [])
    assert str(caught.value) == "invalid signature for key witness.example.com/w1+7e6f4aaa"


def test_negative_cosignature_timestamp_changed() -> None:
    case = next(c for c in V["negative_cases"] if c["desc"].startswith("cosignature timestamp"))
    note = case["note"].encode()
    # Log signature verifies (the witness line is unknown and ignored) ...
    opened = open_checkpoint(note, LOG_VKEY, [])
    assert opened.checkpoint.size == 8
    assert len(opened.unverified) == 1
    # ... but a verifier that trusts the witness must reject its cosignature.
    with pytest.raises(NoteVerificationError) as caught:
        open_checkpoint(note, LOG_VKEY, [WITNESS_VKEY])
    assert str(caught.value) == "invalid signature for key witness.example.com/w1+7e6f4aaa"


def test_negative_only_the_log_key_is_trusted() -> None:
    case = next(c for c in V["negative_cases"] if c["desc"].startswith("Only the log key is trusted"))
    assert case["trusted"] == ["log_vkey"]
    opened = open_checkpoint(case["note"].encode(), parse_vkey(V[case["trusted"][0]]))
    assert [s.name for s in opened.unverified] == [V["witness_name"]]
    assert opened.cosignatures == ()


def test_a_witness_signature_alone_is_not_enough() -> None:
    body = V["checkpoint_body"]
    note = sign_note(body, [WITNESS_SIGNER]).encode()
    with pytest.raises(NoteVerificationError, match="not signed by the log key"):
        open_checkpoint(note, LOG_VKEY, [WITNESS_VKEY])


def test_origin_must_be_the_log_key_name() -> None:
    note = sign_checkpoint(Checkpoint("example.com/other-log", 8, ROOT8), [LOG_SIGNER]).encode()
    with pytest.raises(NoteVerificationError, match="origin"):
        open_checkpoint(note, LOG_VKEY)


def test_a_signed_note_that_is_not_a_checkpoint_is_malformed() -> None:
    note = sign_note(f"{V['origin']}\n08\n{base64.b64encode(ROOT8).decode()}\n", [LOG_SIGNER]).encode()
    with pytest.raises(MalformedCheckpoint):
        open_checkpoint(note, LOG_VKEY)


# --------------------------------------------------------------------------
# Proofs that come with the checkpoint.


@pytest.mark.parametrize("item", V["consistency_to_8"], ids=lambda item: f"{item['size1']}->8")
def test_consistency_to_8_verifies(item: dict[str, Any]) -> None:
    proof = [base64.b64decode(x) for x in item["proof"]]
    root1 = base64.b64decode(item["root1"])
    root2 = base64.b64decode(item["root2"])
    assert root2 == ROOT8
    assert root1 == bytes.fromhex(TREE8["root_by_tree_size"][str(item["size1"])])
    assert verify_consistency(item["size1"], item["size2"], proof, root1, root2) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
    with pytest.raises(ConsistencyProofError):
        verify_consistency(item["size1"], item["size2"], proof, root2, root1)


def _parse_tlog_proof(text: str) -> tuple[int, list[bytes], str]:
    header, rest = text.split("\n\n", 1)
    lines = header.split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    label, index = lines[1].split(" ")
    assert label == "index"
    return int(index), [base64.b64decode(line, validate=True) for line in lines[2:]], rest


def test_tlog_proof_inclusion_verifies() -> None:
    index, proof, note = _parse_tlog_proof(V["tlog_proof"])
    assert index == V["tlog_proof_leaf_index"] == 2
    leaf = hash_leaf(bytes.fromhex(V["tlog_proof_leaf_input_hex"]))
    assert leaf.hex() == V["tlog_proof_leaf_hash_hex"]
    assert note == V["checkpoint_cosigned"]
    opened = open_checkpoint(note.encode(), LOG_VKEY, [WITNESS_VKEY], required_cosignatures=1)
    checkpoint = opened.checkpoint
    assert verify_inclusion(leaf, index, checkpoint.size, proof, checkpoint.root) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
    with pytest.raises(InclusionProofError):
        verify_inclusion(leaf, index + 1, checkpoint.size, proof, checkpoint.root)
    with pytest.raises(InclusionProofError):
        verify_inclusion(hash_leaf(b"\x11"), index, checkpoint.size, proof, checkpoint.root)


# --------------------------------------------------------------------------
# Checkpoint.parse.

ROOT_B64 = base64.b64encode(ROOT8).decode()


def test_parse_accepts_extension_lines_and_size_zero() -> None:
    body = f"{V['origin']}\n0\n{ROOT_B64}\next one\next two\n"
    checkpoint = Checkpoint.parse(body)
    assert checkpoint.size == 0
    assert checkpoint.extensions == ("ext one", "ext two")
    assert checkpoint.body() == body
    big = Checkpoint.parse(f"{V['origin']}\n{2**64 - 1}\n{ROOT_B64}\n")
    assert big.size == 2**64 - 1


@pytest.mark.parametrize(
    "body",
    [
        f"example.com/test-log\n08\n{ROOT_B64}\n",
        f"example.com/test-log\n00\n{ROOT_B64}\n",
        "example.com/test-log\n8\n",
        "example.com/test-log\n",
        "",
        f"example.com/test-log\n8\n{ROOT_B64}",
        f"example.com/test-log\n8\n{ROOT_B64[:-1]}\n",
        f"example.com/test-log\n8\n{ROOT_B64.replace('+', '-')}\n",
        f"example.com/test-log\n8\n{base64.b64encode(ROOT8[:31]).decode()}\n",
        f"example.com/test-log\n8\n{base64.b64encode(ROOT8 + b'x').decode()}\n",
        f"example.com/test-log\n8\n{ROOT_B64}\n\n",
        f"example.com/test-log\n8\n{ROOT_B64}\next\n\n",
        f"example.com/test-log\n-8\n{ROOT_B64}\n",
        f"example.com/test-log\n+8\n{ROOT_B64}\n",
        f"example.com/test-log\n 8\n{ROOT_B64}\n",
        f"example.com/test-log\n0x8\n{ROOT_B64}\n",
        f"example.com/test-log\n\u0668\n{ROOT_B64}\n",
        f"example.com/test-log\n{2**64}\n{ROOT_B64}\n",
        f"example.com/test-log\n{'9' * 5000}\n{ROOT_B64}\n",
        f"example.com test-log\n8\n{ROOT_B64}\n",
        f"example.com+test-log\n8\n{ROOT_B64}\n",
        f"\n8\n{ROOT_B64}\n",
    ],
    ids=[
        "leading-zero",
        "double-zero",
        "missing-root-line",
        "missing-size-line",
        "empty",
        "no-final-newline",
        "bad-base64-padding",
        "base64url-root",
        "31-byte-root",
        "33-byte-root",
        "empty-extension-line",
        "empty-extension-after-extension",
        "negative-size",
        "plus-size",
        "space-size",
        "hex-size",
        "arabic-indic-digit",
        "size-2^64",
        "size-5000-digits",
        "space-in-origin",
        "plus-in-origin",
        "empty-origin",
    ],
)
def test_parse_rejections(body: str) -> None:
    with pytest.raises(MalformedCheckpoint):
        Checkpoint.parse(body)


def test_parse_checkpoint_unverified() -> None:
    assert parse_checkpoint_unverified(V["checkpoint_signed"]) == Checkpoint(V["origin"], 8, ROOT8)
    assert parse_checkpoint_unverified(V["checkpoint_cosigned"]) == Checkpoint(V["origin"], 8, ROOT8)
    # No signature is checked: a negative case still parses, with its (wrong) size.
    tampered = next(c for c in V["negative_cases"] if c["desc"].startswith("tree size line changed"))
    assert parse_checkpoint_unverified(tampered["note"]).size == 9
    with pytest.raises(MalformedCheckpoint, match="not a signed note"):
        parse_checkpoint_unverified(V["checkpoint_body"])
    with pytest.raises(MalformedCheckpoint):
        parse_checkpoint_unverified(f"example.com/test-log\n08\n{ROOT_B64}\n\n— x AAAA\n")
