"""The ledger's side of witnessing: ask witnesses to cosign, store and serve cosignatures.

``request_cosignatures`` sends each configured witness (``CUSTODY_WITNESSES``,
``<vkey>@<URL prefix>``) the latest checkpoint with a consistency proof from
the size that witness last cosigned (C2SP ``tlog-witness`` add-checkpoint),
verifies the returned cosignature against the witness's vkey and stores it in
the append-only ``cosignatures`` table. ``cosigned_checkpoint`` is the stored
checkpoint note with every stored cosignature line appended: the same signed
note, with more signature lines (verifiers ignore keys they do not know).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.services.context import LedgerContext
from app.services.webclient import PeerUnreachable, check_url, request
from app.tables import COSIGNATURES
from ledger.checkpoint import open_checkpoint, parse_checkpoint_unverified
from ledger.errors import InvalidInput, LedgerError
from ledger.note import (
    MAX_SIGNATURES,
    SIG_COSIGNATURE_V1,
    Ed25519Verifier,
    parse_signature_line,
    parse_vkey,
)
from ledger.times import format_timestamp
from ledger.witness import SIZE_CONTENT_TYPE, AddCheckpoint

WITNESS_CONTENT_TYPE = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the ledger asks for cosignatures: its vkey (type 0x04) and URL prefix."""

    vkey: str
    verifier: Ed25519Verifier
    url: str

    @property
    def name(self) -> str:
        return self.verifier.name


def parse_witness_spec(spec: str) -> WitnessEndpoint:
    """``<name>+<hex8>+<base64 key>@<http(s) URL prefix>``.

    The base64 part of a vkey never holds ``@``, so the first ``@`` after the
    second ``+`` separates vkey and URL (a key name itself may contain ``@``).
    """
    first = spec.find("+")
    second = spec.find("+", first + 1) if first >= 0 else -1
    at = spec.find("@", second + 1) if second >= 0 else -1
    if at < 0:
        raise InvalidInput(f"witness {spec!r}: expected <vkey>@<URL>")
    vkey, url = spec[:at], spec[at + 1 :]
    verifier = _witness_verifier(vkey)
    return WitnessEndpoint(vkey, verifier, check_url(url, f"URL of witness {verifier.name}"))


def _witness_verifier(vkey: str) -> Ed25519Verifier:
    try:
        verifier = parse_vkey(vkey)
    except InvalidInput as exc:
        raise InvalidInput(f"witness vkey {vkey!r}: {exc.message}") from None
    if verifier.signature_type != SIG_COSIGNATURE_V1:
        raise InvalidInput(f"witness vkey {vkey!r} is not a cosignature key (type 0x04)")
    return verifier


def configured_witnesses(ctx: LedgerContext, specs: Sequence[str] | None = None) -> list[WitnessEndpoint]:
    """The witnesses of ``specs``, else of the settings (``CUSTODY_WITNESSES``)."""
    endpoints = [parse_witness_spec(s) for s in (specs if specs is not None else ctx.settings.witnesses)]
    vkeys = [e.vkey for e in endpoints]
    if len(set(vkeys)) != len(vkeys):
        raise InvalidInput("the same witness vkey is configured twice")
    return endpoints


def witness_listing(ctx: LedgerContext) -> list[dict[str, Any]]:
    """What ``GET /log/witnesses`` shows: each configured witness's name, key id and vkey."""
    return [
        {"name": e.name, "key_id": f"{e.verifier.key_id:08x}", "vkey": e.vkey}
        for e in configured_witnesses(ctx)
    ]


# --------------------------------------------------------------------------
# Stored cosignatures


def cosignature_lines(ctx: LedgerContext, size: int) -> list[str]:
    """The stored cosignature lines for the checkpoint of ``size`` (no final LF), by witness."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(COSIGNATURES.c.line).where(COSIGNATURES.c.size == size).order_by(COSIGNATURES.c.witness)
        ).all()
    return [str(r[0]) for r in rows]


def cosigned_checkpoint(ctx: LedgerContext, size: int | None = None) -> str:
    """The checkpoint note for ``size`` (default latest) with all stored cosignature lines appended."""
    note = ctx.store.checkpoint(size)
    checkpoint = parse_checkpoint_unverified(note)
    lines = cosignature_lines(ctx, checkpoint.size)
    room = MAX_SIGNATURES - note[note.rfind("\n\n") + 2 :].count("\n")
    return note + "".join(line + "\n" for line in lines[: max(room, 0)])


def last_cosigned_size(ctx: LedgerContext, witness_vkey: str) -> int:
    """The largest size ``witness_vkey`` cosigned that this ledger stored, 0 if none."""
    with ctx.engine.connect() as conn:
        value = conn.execute(
            select(func.max(COSIGNATURES.c.size)).where(COSIGNATURES.c.witness == witness_vkey)
        ).scalar()
    return 0 if value is None else int(value)


def store_cosignature(ctx: LedgerContext, size: int, witness_vkey: str, line: str, cosigned_at: int) -> bool:
    """Insert one verified cosignature; False if one of this witness for this size is already stored."""
    row = {
        "size": size,
        "witness": witness_vkey,
        "line": line,
        "cosigned_at": cosigned_at,
        "received_at": format_timestamp(ctx.clock()),
    }
    try:
        with ctx.engine.begin() as conn:
            exists = conn.execute(
                select(COSIGNATURES.c.size).where(
                    COSIGNATURES.c.size == size, COSIGNATURES.c.witness == witness_vkey
                )
            ).first()
            if exists is not None:
                return False
            conn.execute(COSIGNATURES.insert(), row)
    except IntegrityError:
        return False  # a concurrent run stored it first
    return True


# --------------------------------------------------------------------------
# Asking witnesses


@dataclass(frozen=True)
class WitnessOutcome:
    witness: str
    url: str
    status: str  # "cosigned", "current", "refused", "unreachable"
    size: int
    old_size: int
    message: str
    http_status: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "witness": self.witness,
            "url": self.url,
            "status": self.status,
            "size": self.size,
            "old_size": self.old_size,
            "message": self.message,
            "http_status": self.http_status,
        }


def request_cosignatures(
    ctx: LedgerContext, witness_urls: Sequence[str] | None = None, *, timeout: float = 10.0
) -> list[WitnessOutcome]:
    """Ask every witness (``<vkey>@<URL>``; default: the settings) to cosign the latest checkpoint."""
    ctx.require_initialised()
    endpoints = configured_witnesses(ctx, witness_urls)
    if not endpoints:
        raise InvalidInput("no witnesses configured: set CUSTODY_WITNESSES or pass --witness <vkey>@<URL>")
    latest = ctx.store.latest_checkpoint()
    if latest is None:
        raise InvalidInput("the ledger has no checkpoint yet")
    size, note = latest
    state = ctx.store.trust_state()
    assert state.log_vkey is not None
    log_key = parse_vkey(state.log_vkey)
    return [_ask(ctx, endpoint, size, note, log_key, timeout) for endpoint in endpoints]


def _ask(
    ctx: LedgerContext,
    endpoint: WitnessEndpoint,
    size: int,
    note: str,
    log_key: Ed25519Verifier,
    timeout: float,
) -> WitnessOutcome:
    old = last_cosigned_size(ctx, endpoint.vkey)

    def outcome(status: str, message: str, http_status: int | None = None) -> WitnessOutcome:
        return WitnessOutcome(endpoint.name, endpoint.url, status, size, old, message, http_status)

    if old == size:
        return outcome("current", f"already cosigned size {size}")
    if old > size:
        return outcome(
            "refused",
            f"this ledger stored a cosignature of size {old} but its latest checkpoint is {size}: "
            "the ledger database was rolled back",
        )
    for attempt in range(2):
        proof: list[bytes] = []
        if 0 < old < size:
            proof = [bytes.fromhex(h) for h in ctx.store.consistency_proof(old, size)["proof"]]
        body = AddCheckpoint(old, tuple(proof), note.encode("utf-8")).encode()
        try:
            answer = request(
                f"{endpoint.url}/add-checkpoint",
                method="POST",
                body=body,
                content_type=WITNESS_CONTENT_TYPE,
                timeout=timeout,
            )
        except PeerUnreachable as exc:
            return outcome("unreachable", exc.message)
        if answer.status == 200:
            return _accept(ctx, endpoint, size, note, log_key, answer.body, old)
        if answer.status == 409 and answer.content_type.startswith(SIZE_CONTENT_TYPE) and attempt == 0:
            text = answer.body.decode("ascii", "replace").strip()
            if not text.isdigit():
                return outcome("refused", f"409 with a malformed size {text[:40]!r}", 409)
            witness_size = int(text)
            if witness_size > size:
                return outcome(
                    "refused",
                    f"the witness has cosigned size {witness_size} of this log, larger than the latest "
                    f"checkpoint {size}: it has seen another view of this log (fork or rollback)",
                    409,
                )
            if witness_size != old:
                # The witness knows a size this ledger did not store: resume from it.
                old = witness_size
                continue
        return outcome(
            "refused", f"HTTP {answer.status}: {answer.first_line() or 'no reason given'}", answer.status
        )
    return outcome("refused", "the witness kept answering 409", 409)


def _accept(
    ctx: LedgerContext,
    endpoint: WitnessEndpoint,
    size: int,
    note: str,
    log_key: Ed25519Verifier,
    body: bytes,
    old: int,
) -> WitnessOutcome:
    """Keep the line of ``endpoint``'s key from a 200 answer, after verifying it."""

    def refused(message: str) -> WitnessOutcome:
        return WitnessOutcome(endpoint.name, endpoint.url, "refused", size, old, message, 200)

    try:
        text = body.decode("utf-8")
        lines = [line for line in text.split("\n") if line]
        if not text.endswith("\n") or not lines:
            raise InvalidInput("the answer must be signature lines, each ending in LF")
        parsed = [parse_signature_line(line) for line in lines]
        opened = open_checkpoint((note + text).encode("utf-8"), log_key, [endpoint.verifier], 1)
    except (UnicodeDecodeError, LedgerError) as exc:
        reason = exc.message if isinstance(exc, LedgerError) else "not UTF-8"
        return refused(f"invalid cosignature from the witness: {reason}")
    ours = [
        (line, sig)
        for line, sig in zip(lines, parsed, strict=True)
        if (sig.name, sig.key_id) == (endpoint.verifier.name, endpoint.verifier.key_id)
    ]
    line = ours[0][0]
    cosigned_at = next(c.timestamp for c in opened.cosignatures)
    stored = store_cosignature(ctx, size, endpoint.vkey, line, cosigned_at)
    message = f"cosigned size {size}" + ("" if stored else " (a cosignature was already stored)")
    return WitnessOutcome(endpoint.name, endpoint.url, "cosigned", size, old, message, 200)
