"""C2SP checkpoints (c2sp.org/tlog-checkpoint): origin, size, root — signed.

The body is three lines, optionally followed by extension lines::

    <origin>\\n<decimal size>\\n<base64 root>\\n

It is published as a signed note by the log key (type 0x01) and may carry
any number of witness cosignatures (type 0x04).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.encoding import b64decode, b64encode
from ledger.errors import InvalidInput, MalformedCheckpoint, NoteVerificationError
from ledger.ids import check_origin
from ledger.merkle import HASH_SIZE
from ledger.note import (
    SIG_COSIGNATURE_V1,
    Ed25519Verifier,
    NoteSignature,
    NoteSigner,
    VerifierList,
    open_note,
    sign_note,
)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), b64encode(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise MalformedCheckpoint("checkpoint body must end in a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpoint("checkpoint needs origin, size and root lines")
        origin, size_text, root_text, *extensions = lines
        try:
            check_origin(origin)
        except InvalidInput as exc:
            raise MalformedCheckpoint(str(exc)) from None
        if not size_text.isdigit() or not size_text.isascii() or (size_text != "0" and size_text[0] == "0"):
            raise MalformedCheckpoint(f"checkpoint size {size_text!r} is not a decimal number")
        # A uint64, as in Go; the length check first keeps int() from its digit limit.
        if len(size_text) > 20 or int(size_text) >= 2**64:
            raise MalformedCheckpoint("checkpoint size does not fit in 64 bits")
        try:
            root = b64decode(root_text, "checkpoint root")
        except InvalidInput as exc:
            raise MalformedCheckpoint(str(exc)) from None
        if len(root) != HASH_SIZE:
            raise MalformedCheckpoint("checkpoint root must be 32 bytes")
        if any(not line for line in extensions):
            raise MalformedCheckpoint("checkpoint extension lines must not be empty")
        return cls(origin, int(size_text), root, tuple(extensions))


def parse_checkpoint_unverified(note: str) -> Checkpoint:
    """The body of a checkpoint note WITHOUT checking any signature.

    For display and lookups of notes we signed and stored ourselves; anything
    received from elsewhere goes through :func:`open_checkpoint`.
    """
    cut = note.rfind("\n\n")
    if cut < 0:
        raise MalformedCheckpoint("not a signed note")
    return Checkpoint.parse(note[: cut + 1])


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[NoteSigner]) -> str:
    return sign_note(checkpoint.body(), signers)


@dataclass(frozen=True)
class Cosignature:
    name: str
    key_id: int
    timestamp: int


@dataclass(frozen=True)
class OpenedCheckpoint:
    checkpoint: Checkpoint
    note: str
    cosignatures: tuple[Cosignature, ...]
    unverified: tuple[NoteSignature, ...]


def open_checkpoint(
    note: bytes,
    log_key: Ed25519Verifier,
    witnesses: Sequence[Ed25519Verifier] = (),
    required_cosignatures: int = 0,
) -> OpenedCheckpoint:
    """Verify a checkpoint note; return its parsed body and verified cosignatures.

    1. Open the note against the log key and the trusted witnesses.
    2. The log key itself must have signed (a witness alone is not enough).
    3. The body parses and its origin is the log key's name.
    4. At least ``required_cosignatures`` distinct trusted witnesses cosigned.
    """
    # Step 1.
    opened = open_note(note, VerifierList([log_key, *witnesses]))
    # Step 2.
    if not any(s.name == log_key.name and s.key_id == log_key.key_id for s in opened.verified):
        raise NoteVerificationError(f"checkpoint is not signed by the log key {log_key.name}")
    # Step 3.
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != log_key.name:
        raise NoteVerificationError(
            f"checkpoint origin {checkpoint.origin!r} is not the log key's name {log_key.name!r}"
        )
    # Step 4.
    cosignatures = tuple(
        Cosignature(s.name, s.key_id, int.from_bytes(s.signature[:8], "big"))
        for s in opened.verified
        for w in witnesses
        if w.signature_type == SIG_COSIGNATURE_V1 and (s.name, s.key_id) == (w.name, w.key_id)
    )
    if len(cosignatures) < required_cosignatures:
        raise NoteVerificationError(
            f"checkpoint has {len(cosignatures)} trusted cosignature(s), {required_cosignatures} required"
        )
    return OpenedCheckpoint(checkpoint, note.decode("utf-8"), cosignatures, opened.unverified)
