"""Export bundles, layout v1 (docs/format.md §15): members, lines, proofs, completeness.

A bundle is ``log.vkey``, ``checkpoint``, ``entries.jsonl`` and, for a
partial export, ``proofs.jsonl``. This module is the pure part: it checks
member names, splits member bytes into lines, reads an entry together with
its inclusion proof (:func:`prepare_bundle_entry`, which may run in a worker
process), moves prepared entries between processes (:func:`to_wire`,
:func:`from_wire`), and says which entries a partial export must carry
(:func:`needed_parties`, :func:`carried_seals`). Reading zips and
directories is :mod:`app.services.bundle_verify`'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ledger import canonical
from ledger.checkpoint import Checkpoint
from ledger.encoding import hex_decode
from ledger.envelope import PAYLOAD_TYPE, Envelope, Signature
from ledger.errors import Finding, InclusionProofError, InvalidInput, LedgerError
from ledger.ids import check_subject
from ledger.merkle import HASH_SIZE, root_from_inclusion_proof
from ledger.note import MAX_NOTE_BYTES
from ledger.statement import Statement
from ledger.verify import KeyCache, PreparedEntry, prepare_entry

VKEY = "log.vkey"
CHECKPOINT = "checkpoint"
ENTRIES = "entries.jsonl"
PROOFS = "proofs.jsonl"
#: Every member of a v1 bundle, in the order an exporter writes them.
MEMBERS = (VKEY, CHECKPOINT, ENTRIES, PROOFS)
REQUIRED = frozenset({VKEY, CHECKPOINT, ENTRIES})

#: Largest member sizes a verifier reads (entries and proofs are streamed).
MAX_VKEY_BYTES = 4096
MAX_CHECKPOINT_BYTES = MAX_NOTE_BYTES
#: Largest line of entries.jsonl (an entry) or proofs.jsonl (a proof) a verifier accepts.
MAX_ENTRY_LINE = 1 << 20
MAX_PROOF_LINE = 1 << 16

_PROOF_FIELDS = frozenset({"index", "size", "leaf_hash", "root", "proof"})


class BundleError(InvalidInput):
    """The bundle cannot be read as a bundle at all (unusable input, exit 2)."""

    code = "input.bundle"


# --------------------------------------------------------------------------
# Members


def member_problem(name: str) -> str | None:
    """Why ``name`` is not a plain top-level member name (None if it is one)."""
    if not name:
        return "empty member name"
    if "\x00" in name or any(ord(c) < 0x20 for c in name):
        return f"member name {name!r} contains control characters"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"absolute member path {name!r}"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return f"member path {name!r} leaves the bundle (..)"
    if "\\" in name or len(parts) > 1:
        return f"member {name!r} is not at the top level of the bundle"
    return None


@dataclass(frozen=True)
class Layout:
    """The members of a bundle that passed :func:`check_members`."""

    partial: bool


def check_members(names: Iterable[str]) -> Layout:
    """Exactly the v1 members, each once, with plain names; raise :class:`BundleError` otherwise."""
    seen: set[str] = set()
    for name in names:
        problem = member_problem(name)
        if problem is not None:
            raise BundleError(f"hostile bundle: {problem}")
        if name in seen:
            raise BundleError(f"bundle member {name!r} appears twice")
        seen.add(name)
        if name not in MEMBERS:
            raise BundleError(
                f"unexpected bundle member {name!r} (a v1 bundle holds only {', '.join(MEMBERS)})"
            )
    missing = sorted(REQUIRED - seen)
    if missing:
        raise BundleError(f"bundle lacks {', '.join(missing)}")
    return Layout(partial=PROOFS in seen)


def read_vkey(data: bytes) -> str:
    """The text of a ``log.vkey`` member: one line ending in LF."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError("log.vkey is not UTF-8") from None
    if not text.endswith("\n") or "\n" in text[:-1] or "\r" in text or not text[:-1]:
        raise BundleError("log.vkey must be one line ending in LF")
    return text[:-1]


# --------------------------------------------------------------------------
# Lines


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a JSON-lines member: its bytes without LF, or what is wrong with it."""

    number: int
    data: bytes
    problem: str | None = None


def split_lines(blocks: Iterable[bytes], max_line: int) -> Iterator[Line]:
    """Split a member's bytes (in blocks of any size) into LF-terminated lines.

    Problems are reported on the line, never raised: an empty line, a line
    longer than ``max_line`` (its bytes are dropped, memory stays bounded),
    and a last line without its LF (kept: it may still be a valid entry).
    """
    number = 0
    pending: list[bytes] = []
    pending_size = 0
    overlong = False
    for block in blocks:
        start = 0
        while True:
            cut = block.find(b"\n", start)
            if cut < 0:
                rest = block[start:]
                if rest and not overlong:
                    if pending_size + len(rest) > max_line:
                        overlong, pending, pending_size = True, [], 0
                    else:
                        pending.append(rest)
                        pending_size += len(rest)
                break
            number += 1
            if overlong:
                yield Line(number, b"", f"line {number} is longer than {max_line} bytes")
            else:
                piece = block[start:cut]
                data = b"".join((*pending, piece)) if pending else piece
                if len(data) > max_line:
                    yield Line(number, b"", f"line {number} is longer than {max_line} bytes")
                elif not data:
                    yield Line(number, b"", f"line {number} is empty")
                else:
                    yield Line(number, data)
            pending, pending_size, overlong = [], 0, False
            start = cut + 1
    if pending or overlong:
        number += 1
        if overlong:
            yield Line(number, b"", f"line {number} is longer than {max_line} bytes")
        else:
            yield Line(number, b"".join(pending), f"line {number} does not end in LF (truncated?)")


# --------------------------------------------------------------------------
# Inclusion proofs


@dataclass(frozen=True, slots=True)
class ProofLine:
    index: int
    size: int
    leaf_hash: bytes
    root: bytes
    path: tuple[bytes, ...]


def parse_proof_line(line: bytes) -> ProofLine:
    """A line of ``proofs.jsonl``: the inclusion-proof JSON of §9.3, strictly."""
    value = canonical.loads_strict(line)
    if not isinstance(value, Mapping) or set(value) != _PROOF_FIELDS:
        raise BundleError(f"an inclusion proof has exactly the fields {', '.join(sorted(_PROOF_FIELDS))}")
    index, size, path = value["index"], value["size"], value["proof"]
    for name, number in (("index", index), ("size", size)):
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise BundleError(f"inclusion proof {name} must be a non-negative integer")
    if not isinstance(path, list) or len(path) > 64:
        raise BundleError("inclusion proof path must be a list of at most 64 hashes")
    return ProofLine(
        index,
        size,
        hex_decode(value["leaf_hash"], "leaf_hash", HASH_SIZE),
        hex_decode(value["root"], "root", HASH_SIZE),
        tuple(hex_decode(p, "proof", HASH_SIZE) for p in path),
    )


def proof_line_bytes(proof: Mapping[str, Any]) -> bytes:
    """How an exporter writes one proof: canonical JSON of the §9.3 shape, then LF."""
    return canonical.encode({k: proof[k] for k in _PROOF_FIELDS}) + b"\n"


def check_proof(
    line: bytes | None, index: int | None, leaf: bytes, anchor: Checkpoint | None
) -> tuple[int | None, list[Finding]]:
    """Check an entry's inclusion proof; return the index the proof names and the findings.

    ``index`` is the index the entry claims (None if it is unreadable);
    ``leaf`` is the leaf hash of its bytes as they are. The proof must be
    for that index and leaf, against the checkpoint's size and root, and
    its path must lead from the leaf to that root.
    """
    if line is None:
        return None, [Finding(index, "proof.missing", "no inclusion proof for this entry in proofs.jsonl")]
    try:
        proof = parse_proof_line(line)
    except LedgerError as exc:
        return None, [
            Finding(index, "proof.malformed", "the inclusion proof is unreadable", "§9.3 JSON", exc.message)
        ]
    at = proof.index if index is None else index
    findings = []
    if index is not None and proof.index != index:
        findings.append(
            Finding(at, "proof.index", "the proof is for another index", str(index), str(proof.index))
        )
    if proof.leaf_hash != leaf:
        findings.append(
            Finding(
                at,
                "proof.leaf_hash",
                "the entry bytes do not hash to the proof's leaf",
                leaf.hex(),
                proof.leaf_hash.hex(),
            )
        )
    size, root = (anchor.size, anchor.root) if anchor is not None else (proof.size, proof.root)
    if proof.size != size:
        findings.append(
            Finding(
                at, "proof.size", "the proof is not for the checkpoint's size", str(size), str(proof.size)
            )
        )
    if proof.root != root:
        findings.append(
            Finding(
                at, "proof.root", "the proof is not for the checkpoint's root", root.hex(), proof.root.hex()
            )
        )
    try:
        computed = root_from_inclusion_proof(leaf, at, size, proof.path)
    except InclusionProofError as exc:
        findings.append(
            Finding(
                at, "proof.inclusion", "the entry is not included in the checkpoint", root.hex(), exc.message
            )
        )
    else:
        if computed != root:
            findings.append(
                Finding(
                    at,
                    "proof.inclusion",
                    "the entry is not included in the checkpoint",
                    root.hex(),
                    computed.hex(),
                )
            )
    return proof.index, findings


def prepare_bundle_entry(
    raw: bytes,
    proof_line: bytes | None,
    anchor: Checkpoint | None,
    *,
    partial: bool,
    keys: KeyCache | None = None,
) -> PreparedEntry:
    """Read one line of ``entries.jsonl`` (and of ``proofs.jsonl``) as far as no state is needed.

    Strict parsing, the kind's schema, the signatures by keys in ``keys``
    and, for a partial bundle, the inclusion proof: everything the replay
    in :class:`ledger.verify.LogVerifier` does not need to do itself.
    """
    prepared = prepare_entry(raw, validate=True, keys=keys)
    if partial:
        claimed = prepared.index if prepared.statement is not None else None
        position, findings = check_proof(proof_line, claimed, prepared.leaf, anchor)
        prepared.position = position
        prepared.proof_checked = True
        prepared.proof_findings = tuple(findings)
    return prepared


# --------------------------------------------------------------------------
# Between processes: a prepared entry as plain tuples of str, bytes, int, bool,
# None and dict — several times faster to serialise than the dataclasses it is
# made of, and within what ``marshal`` handles.

Wire = tuple[Any, ...]


def to_wire(p: PreparedEntry) -> Wire:
    s, e = p.statement, p.envelope
    body = None
    if s is not None and e is not None:
        body = (
            p.index,
            p.prev,
            p.recorded_at,
            e.payload,
            tuple((sig.keyid, sig.sig) for sig in e.signatures),
            s.kind,
            s.subject,
            s.at,
            s.by,
            s.data,
            s.nonce,
            s.place,
        )
    findings = tuple((f.index, f.code, f.message, f.expected, f.found) for f in p.proof_findings)
    return (
        p.leaf,
        body,
        p.error,
        p.rejected,
        p.validated,
        p.signatures,
        p.position,
        p.proof_checked,
        findings,
    )


def from_wire(w: Wire) -> PreparedEntry:
    leaf, body, error, rejected, validated, signatures, position, proof_checked, raw_findings = w
    proof_findings = tuple(Finding(*f) for f in raw_findings)
    if body is None:
        return PreparedEntry(
            leaf,
            error=error,
            position=position,
            proof_checked=proof_checked,
            proof_findings=proof_findings,
        )
    index, prev, recorded_at, payload, sigs, kind, subject, at, by, data, nonce, place = body
    return PreparedEntry(
        leaf,
        index,
        prev,
        recorded_at,
        Envelope(PAYLOAD_TYPE, payload, tuple(Signature(k, v) for k, v in sigs)),
        Statement(kind, subject, at, by, data, nonce, place),
        error,
        rejected,
        validated,
        signatures,
        position,
        proof_checked,
        proof_findings,
    )


# --------------------------------------------------------------------------
# What a partial export must contain (docs/format.md §15)


def _party_strings(value: Any, out: set[str]) -> None:
    if isinstance(value, str):
        if value.startswith("party:"):
            try:
                check_subject(value, "party", "party")
            except LedgerError:
                return
            out.add(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            _party_strings(item, out)
    elif isinstance(value, list):
        for item in value:
            _party_strings(item, out)


def needed_parties(statement: Statement) -> set[str]:
    """The parties a statement names: its author and every ``party:`` value in its data.

    Signers are added by the exporter from the keys (a key belongs to one
    party). Replay reads the trust state of all of them: keys, roles, and
    for the counterparty of a two-party kind, an override auditor or a
    destruction witness, their roles at that index.
    """
    found = {statement.by}
    _party_strings(statement.data, found)
    return found


def carried_seals(statement: Statement) -> set[str]:
    """Seal ids a connector entry puts on or takes off its housing."""
    if statement.subject_type != "connector" or statement.kind not in ("seal.applied", "seal.removed"):
        return set()
    seals = statement.data.get("seals")
    return {s for s in seals if isinstance(s, str)} if isinstance(seals, list) else set()
