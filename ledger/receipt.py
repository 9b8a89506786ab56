"""Offline receipts: proof that a statement is in the log, checkable with the vkey alone.

A receipt holds the entry bytes, its index, a signed checkpoint that
already covers it, and the inclusion proof of the entry in that checkpoint's
tree. Nothing else is needed: no polling, no second request, no trust in
whoever handed the receipt over.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.checkpoint import OpenedCheckpoint, open_checkpoint
from ledger.encoding import hex_decode
from ledger.entry import Entry
from ledger.errors import InclusionProofError, InvalidInput, MalformedProof
from ledger.merkle import hash_leaf, verify_inclusion
from ledger.note import Ed25519Verifier


def verify_receipt(receipt: Mapping[str, Any], log_key: Ed25519Verifier) -> Entry:
    """Return the receipted entry if the receipt holds; raise otherwise.

    1. The checkpoint is signed by the log key.
    2. The entry bytes parse, and their index is the receipt's.
    3. The leaf hash is SHA-256(0x00 ‖ entry bytes).
    4. The inclusion proof is for that index in a tree of the checkpoint's size,
       and leads from the leaf to the checkpoint's root.
    """
    try:
        note, raw_text = receipt["checkpoint"], receipt["entry"]
        proof = receipt["inclusion_proof"]
        index, leaf_hex = receipt["index"], receipt["leaf_hash"]
    except (KeyError, TypeError):
        raise MalformedProof("receipt needs checkpoint, entry, index, leaf_hash, inclusion_proof") from None
    if not isinstance(note, str) or not isinstance(raw_text, str) or not isinstance(proof, Mapping):
        raise MalformedProof("receipt fields have the wrong types")
    # Step 1.
    opened: OpenedCheckpoint = open_checkpoint(note.encode("utf-8"), log_key)
    checkpoint = opened.checkpoint
    # Step 2.
    raw = raw_text.encode("utf-8")
    entry = Entry.parse(raw)
    if entry.index != index or proof.get("index") != index:
        raise InclusionProofError(f"receipt index {index} does not match the entry ({entry.index})")
    # Step 3.
    leaf = hash_leaf(raw)
    try:
        claimed = hex_decode(leaf_hex, "leaf_hash", 32)
        path = [hex_decode(p, "proof", 32) for p in proof.get("proof", [])]
    except InvalidInput as exc:
        raise MalformedProof(str(exc)) from None
    if claimed != leaf:
        raise InclusionProofError("leaf hash does not match the entry bytes")
    # Step 4.
    if proof.get("size") != checkpoint.size:
        size = proof.get("size")
        raise InclusionProofError(f"proof is for size {size}, the checkpoint's is {checkpoint.size}")
    verify_inclusion(leaf, index, checkpoint.size, path, checkpoint.root)
    return entry
