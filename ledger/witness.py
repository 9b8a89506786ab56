"""A witness's decision (C2SP ``tlog-witness`` / ``tlog-cosignature`` v1), without I/O.

A witness keeps, per log origin, the size and root of the latest checkpoint
it cosigned. It cosigns a new checkpoint only if the log proves the new
tree extends that one, so two witnessed checkpoints of one log can never
disagree. Everything here is pure: the caller hands in the stored state,
the request, the trusted log keys, the witness key and the current time,
and persists the returned record *before* it answers (see
``docs/format.md`` §11.2).

Refusals follow c2sp.org/tlog-witness; each error carries the HTTP
``status`` the protocol prescribes:

====  ==========================================================  ====================================
400   malformed request; old size larger than the checkpoint size  :class:`WitnessRequestMalformed`
403   no signature of a trusted log key verifies                   :class:`CheckpointSignatureRefused`
404   unknown log origin                                           :class:`UnknownLog`
409   old size is not the latest cosigned size (body: that size)   :class:`StaleOldSize`
409   … and the checkpoint is smaller than that size               :class:`RollbackRefused`
409   same size as the latest cosigned, different root             :class:`ForkRefused`
422   consistency proof does not verify                            :class:`ConsistencyRefused`
====  ==========================================================  ====================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint_unverified
from ledger.encoding import b64decode, b64encode
from ledger.errors import (
    Conflict,
    ConsistencyProofError,
    InvalidInput,
    LedgerError,
    NoteVerificationError,
    VerificationError,
)
from ledger.keys import SigningKey
from ledger.merkle import HASH_SIZE, verify_consistency
from ledger.note import (
    SIG_COSIGNATURE_V1,
    CosignatureSigner,
    Ed25519Verifier,
    NoteSignature,
    is_valid_key_name,
)

#: At most this many consistency proof lines (tlog-witness).
MAX_PROOF_LINES = 63
#: Largest request body a witness reads: a note of at most 1 MiB plus the proof.
MAX_REQUEST_BYTES = (1 << 20) + 8192
STATE_VERSION = "kcl/witness-state/v1"
#: Content type of a 409 answer: the latest cosigned size, decimal, LF.
SIZE_CONTENT_TYPE = "text/x.tlog.size"


# --------------------------------------------------------------------------
# Refusals


class WitnessRequestMalformed(InvalidInput):
    code = "input.witness.request"
    status: ClassVar[int] = 400


class UnknownLog(InvalidInput):
    code = "input.witness.unknown_log"
    status: ClassVar[int] = 404


class CheckpointSignatureRefused(NoteVerificationError):
    code = "verify.witness.signature"
    status: ClassVar[int] = 403


class _SizedRefusal(LedgerError):
    """A 409 refusal: the body is the latest cosigned size."""

    status: ClassVar[int] = 409

    def __init__(self, message: str, current_size: int) -> None:
        super().__init__(message)
        self.current_size = current_size


class StaleOldSize(_SizedRefusal, Conflict):
    code = "conflict.witness.old_size"


class RollbackRefused(_SizedRefusal, VerificationError):
    code = "verify.witness.rollback"


class ForkRefused(_SizedRefusal, VerificationError):
    code = "verify.witness.fork"


class ConsistencyRefused(ConsistencyProofError):
    code = "verify.witness.consistency"
    status: ClassVar[int] = 422


WITNESS_REFUSALS: tuple[type[LedgerError], ...] = (
    WitnessRequestMalformed,
    UnknownLog,
    CheckpointSignatureRefused,
    StaleOldSize,
    RollbackRefused,
    ForkRefused,
    ConsistencyRefused,
)


# --------------------------------------------------------------------------
# The add-checkpoint request


@dataclass(frozen=True)
class AddCheckpoint:
    """``old <size>`` LF, proof lines (base64), an empty line, the checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}", *(b64encode(p) for p in self.proof)]
        return ("".join(line + "\n" for line in lines) + "\n").encode("ascii") + self.checkpoint


def _decimal(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text[0] == "0") or len(text) > 20:
        raise WitnessRequestMalformed(f"{what} {text!r} is not a decimal number without leading zeros")
    value = int(text)
    if value >= 2**64:
        raise WitnessRequestMalformed(f"{what} does not fit in 64 bits")
    return value


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse an add-checkpoint body; anything off is a 400."""
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessRequestMalformed("request body is too large")
    cut = body.find(b"\n\n")
    if cut < 0:
        raise WitnessRequestMalformed("request needs an old size line, proof lines, an empty line, a note")
    try:
        head = body[:cut].decode("ascii")
    except UnicodeDecodeError:
        raise WitnessRequestMalformed("old size and proof lines must be ASCII") from None
    first, *proof_lines = head.split("\n")
    keyword, space, size_text = first.partition(" ")
    if keyword != "old" or not space:
        raise WitnessRequestMalformed("the first line must be 'old <size>'")
    old_size = _decimal(size_text, "old size")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessRequestMalformed(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for number, line in enumerate(proof_lines, start=1):
        try:
            element = b64decode(line, f"proof line {number}")
        except InvalidInput as exc:
            raise WitnessRequestMalformed(exc.message) from None
        if len(element) != HASH_SIZE:
            raise WitnessRequestMalformed(f"proof line {number} is not a {HASH_SIZE}-byte hash")
        proof.append(element)
    return AddCheckpoint(old_size, tuple(proof), body[cut + 2 :])


# --------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class WitnessRecord:
    """The latest checkpoint a witness cosigned for one origin."""

    origin: str
    size: int
    root: bytes
    timestamp: int  # when it cosigned (POSIX seconds)
    checkpoint: str = ""  # the note as submitted (for the operator; not needed to decide)

    def as_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": b64encode(self.root),
            "cosigned_at": self.timestamp,
            "checkpoint": self.checkpoint,
        }


@dataclass(frozen=True)
class WitnessState:
    """Everything a witness remembers: its own vkey and one record per log origin."""

    witness_vkey: str
    logs: Mapping[str, WitnessRecord]

    def size_of(self, origin: str) -> int:
        record = self.logs.get(origin)
        return 0 if record is None else record.size

    def with_record(self, record: WitnessRecord) -> WitnessState:
        return WitnessState(self.witness_vkey, {**self.logs, record.origin: record})

    def to_json(self) -> str:
        body = {
            "v": STATE_VERSION,
            "witness": self.witness_vkey,
            "logs": {origin: self.logs[origin].as_dict() for origin in sorted(self.logs)},
        }
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WitnessState:
        """Parse a state file strictly; a damaged state must never read as 'nothing cosigned'."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"witness state is not JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("v") != STATE_VERSION:
            raise InvalidInput(f"witness state must be a {STATE_VERSION} object")
        vkey, logs = data.get("witness"), data.get("logs")
        if not isinstance(vkey, str) or not isinstance(logs, dict):
            raise InvalidInput("witness state needs 'witness' (vkey) and 'logs' (object)")
        records = {}
        for origin, raw in logs.items():
            if not isinstance(raw, dict):
                raise InvalidInput(f"witness state: log {origin!r} is not an object")
            size, root, timestamp = raw.get("size"), raw.get("root"), raw.get("cosigned_at")
            checkpoint = raw.get("checkpoint", "")
            if (
                not isinstance(size, int)
                or isinstance(size, bool)
                or not 0 < size < 2**64
                or not isinstance(timestamp, int)
                or isinstance(timestamp, bool)
                or not isinstance(checkpoint, str)
            ):
                raise InvalidInput(f"witness state: log {origin!r} has a bad size, time or checkpoint")
            root_bytes = b64decode(root, f"witness state root of {origin!r}")
            if len(root_bytes) != HASH_SIZE:
                raise InvalidInput(f"witness state: root of {origin!r} is not {HASH_SIZE} bytes")
            records[origin] = WitnessRecord(origin, size, root_bytes, timestamp, checkpoint)
        return cls(vkey, records)


# --------------------------------------------------------------------------
# The decision


@dataclass(frozen=True)
class WitnessKey:
    """The witness's own identity: key name and Ed25519 signing key (type 0x04)."""

    name: str
    key: SigningKey

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise InvalidInput(f"invalid witness key name {self.name!r}")

    def vkey(self) -> str:
        return CosignatureSigner(self.name, self.key, 0).vkey()


@dataclass(frozen=True)
class Cosigned:
    """A cosignature to return, and the record to persist BEFORE returning it."""

    record: WitnessRecord
    checkpoint: Checkpoint
    signature: NoteSignature

    @property
    def lines(self) -> str:
        """The response body: one note signature line per witness key (here: one)."""
        return self.signature.line()


def add_checkpoint(
    state: WitnessState,
    request: AddCheckpoint,
    logs: Sequence[Ed25519Verifier],
    witness: WitnessKey,
    now: int,
) -> Cosigned:
    """Decide an add-checkpoint request; return the cosignature or raise a refusal.

    1. The checkpoint body parses (else 400) and its origin is a log this
       witness follows (else 404).
    2. A trusted key of that log signed it (else 403); other lines are ignored.
    3. ``old`` is at most the checkpoint size (else 400).
    4. ``old`` equals the size this witness last cosigned for the origin, 0 if
       none (else 409 with that size; a rollback if the checkpoint is smaller).
    5. ``old`` = 0: the proof is empty (first checkpoint, trusted as is).
       ``old`` = size: the roots are equal (else 409, a fork) and the proof empty.
       Otherwise the consistency proof from the recorded root verifies (else 422).
    6. Cosign at ``now`` with a tlog-cosignature/v1 (type 0x04) signature.
    """
    if not 0 <= now < 2**63:
        raise InvalidInput("cosignature time out of range")
    # Step 1.
    try:
        claimed = parse_checkpoint_unverified(request.checkpoint.decode("utf-8"))
    except (UnicodeDecodeError, InvalidInput) as exc:
        reason = exc.message if isinstance(exc, InvalidInput) else "not UTF-8"
        raise WitnessRequestMalformed(f"checkpoint is malformed: {reason}") from None
    keys = [k for k in logs if k.name == claimed.origin and k.signature_type != SIG_COSIGNATURE_V1]
    if not keys:
        raise UnknownLog(f"this witness does not follow a log with origin {claimed.origin!r}")
    # Step 2.
    opened = None
    failures = []
    for key in keys:
        try:
            opened = open_checkpoint(request.checkpoint, key)
            break
        except NoteVerificationError as exc:
            failures.append(exc.message)
        except InvalidInput as exc:
            raise WitnessRequestMalformed(f"checkpoint is malformed: {exc.message}") from None
    if opened is None:
        raise CheckpointSignatureRefused(
            f"checkpoint of {claimed.origin} is not validly signed by a trusted log key: "
            + "; ".join(failures)
        )
    checkpoint = opened.checkpoint
    origin, size = checkpoint.origin, checkpoint.size
    if size < 1:
        raise WitnessRequestMalformed("an empty tree (size 0) is never cosigned")
    # Step 3.
    if request.old_size > size:
        raise WitnessRequestMalformed(
            f"old size {request.old_size} is larger than the checkpoint size {size}"
        )
    # Step 4.
    previous = state.logs.get(origin)
    current = 0 if previous is None else previous.size
    if request.old_size != current:
        if size < current:
            raise RollbackRefused(
                f"rollback: checkpoint size {size} of {origin} is smaller than the size {current} "
                f"this witness already cosigned; it never cosigns a smaller tree",
                current,
            )
        raise StaleOldSize(
            f"old size {request.old_size} is not the latest size this witness cosigned for {origin} "
            f"({current}); retry with old {current}",
            current,
        )
    # Step 5.
    if previous is None:
        if request.proof:
            raise WitnessRequestMalformed("the consistency proof must be empty when the old size is 0")
    elif request.old_size == size:
        if checkpoint.root != previous.root:
            raise ForkRefused(
                f"fork: checkpoint of {origin} at size {size} has root {b64encode(checkpoint.root)}, "
                f"but this witness cosigned root {b64encode(previous.root)} at that size",
                current,
            )
        if request.proof:
            raise ConsistencyRefused("equal old and new sizes need an empty consistency proof")
    else:
        try:
            verify_consistency(previous.size, size, request.proof, previous.root, checkpoint.root)
        except ConsistencyProofError as exc:
            raise ConsistencyRefused(
                f"consistency proof from size {previous.size} to {size} of {origin} does not verify "
                f"against the root this witness cosigned: {exc.message}"
            ) from None
    # Step 6.
    signer = CosignatureSigner(witness.name, witness.key, now)
    note = opened.note
    text = note[: note.rfind("\n\n") + 1].encode("utf-8")  # the note text, exactly as signed
    signature = NoteSignature(witness.name, signer.key_id, signer.sign(text))
    record = WitnessRecord(origin, size, checkpoint.root, now, note)
    return Cosigned(record, checkpoint, signature)
