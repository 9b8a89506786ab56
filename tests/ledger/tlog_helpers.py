"""A tiny in-memory log that signs real checkpoints, for the witness and monitor tests."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import MemoryTree, hash_leaf
from ledger.note import Ed25519NoteSigner, Ed25519Verifier, parse_vkey
from ledger.witness import WitnessKey

ORIGIN = "test.example/log"


def key_from(label: str) -> SigningKey:
    """A deterministic Ed25519 key derived from a label (test keys only)."""
    return SigningKey.generate(Algorithm.ED25519, hashlib.sha256(label.encode()).digest())


def witness_key(name: str = "witness.example/w1", label: str = "witness-1") -> WitnessKey:
    return WitnessKey(name, key_from(label))


def witness_verifier(witness: WitnessKey) -> Ed25519Verifier:
    return parse_vkey(witness.vkey())


@dataclass
class MemLog:
    """A log of ``leaf-<tag>-<i>`` leaves with a real log key; ``fork`` shares the key and a prefix."""

    origin: str = ORIGIN
    key_label: str = "log-key"
    tag: str = "main"
    tree: MemoryTree = field(default_factory=MemoryTree)

    @property
    def signer(self) -> Ed25519NoteSigner:
        return Ed25519NoteSigner(self.origin, key_from(self.key_label))

    @property
    def vkey(self) -> Ed25519Verifier:
        return parse_vkey(self.signer.vkey())

    def grow(self, n: int) -> MemLog:
        start = self.tree.size
        for i in range(start, start + n):
            self.tree.append(hash_leaf(f"leaf-{self.tag}-{i}".encode()))
        return self

    def fork(self, tag: str) -> MemLog:
        """Same origin and key, same leaves so far; later leaves differ."""
        other = MemLog(self.origin, self.key_label, tag)
        for i in range(self.tree.size):
            other.tree.append(self.tree.fetch([(0, i)])[(0, i)])
        return other

    def root(self, size: int | None = None) -> bytes:
        return self.tree.root(size)

    def checkpoint(self, size: int | None = None) -> bytes:
        size = self.tree.size if size is None else size
        body = Checkpoint(self.origin, size, self.tree.root(size))
        return sign_checkpoint(body, [self.signer]).encode("utf-8")

    def proof(self, old: int, new: int | None = None) -> tuple[bytes, ...]:
        return tuple(self.tree.consistency_proof(old, new))


def flip_signature_bit(note: str | bytes) -> bytes:
    """``note`` with one bit of its last signature flipped, still well-formed base64.

    Flipping a bit of the base64 *text* instead can make an invalid character ('+' ^ 1 is
    '*', 'A' ^ 1 is '@'): a malformed note, not a bad signature, so with a random key the
    outcome would be left to chance.
    """
    text = note.decode("utf-8") if isinstance(note, bytes) else note
    body, _, line = text.rstrip("\n").rpartition("\n")
    dash, name, encoded = line.split(" ")
    raw = bytearray(base64.b64decode(encoded, validate=True))
    raw[-1] ^= 0x01  # the signature's last byte (after the 4-byte key hash)
    return f"{body}\n{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n".encode()
