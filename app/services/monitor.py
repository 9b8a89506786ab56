"""``custody audit watch``: fetch a log's checkpoint, check it against the last one seen.

The decision is :func:`ledger.monitor.observe`; this module does the HTTP
(``GET /api/v1/log/checkpoint``, ``/log/vkey``, ``/log/proof/consistency``)
and keeps the state file (JSON, written atomically):

1. no state file: record the checkpoint — trust on first use. The log's vkey
   is the one given (``--vkey``), else the one the server declares (also
   trust on first use, and reported as such);
2. later: fetch the latest checkpoint; if it grew, fetch the consistency
   proof from the recorded size; verify; record the new checkpoint.

A finding (rollback, fork, invalid proof, invalid signature, missing
cosignatures, origin changed) leaves the recorded checkpoint as it was and
appends the finding with the offending checkpoint note to ``evidence``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from app.errors import OperationalError
from app.services.statefile import StateLock, read_state_text, write_atomically
from app.services.webclient import Response, check_url, request
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.encoding import b64decode, b64encode, hex_decode
from ledger.errors import InvalidInput
from ledger.merkle import HASH_SIZE
from ledger.monitor import (
    ConsistencyEvidence,
    InvalidConsistencyProof,
    MonitorFinding,
    Seen,
    observe,
)
from ledger.note import SIG_COSIGNATURE_V1, SIG_ED25519, Ed25519Verifier, parse_vkey
from ledger.times import format_timestamp

STATE_VERSION = "kcl/monitor-state/v1"
API_PREFIX = "/api/v1"
#: Findings kept in the state file (oldest dropped first).
MAX_EVIDENCE = 50


class ServerError(OperationalError):
    """The log server answered, but not with what a log serves (5xx, 404 on the API …)."""

    code = "operational.server"


# --------------------------------------------------------------------------
# State file


@dataclass
class MonitorState:
    vkey: str
    seen: Seen
    server: str
    first_seen: str
    last_checked: str
    vkey_from_server: bool
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        body = {
            "v": STATE_VERSION,
            "vkey": self.vkey,
            "vkey_trusted_on_first_use": self.vkey_from_server,
            "origin": self.seen.origin,
            "size": self.seen.size,
            "root": b64encode(self.seen.root),
            "checkpoint": self.seen.note,
            "server": self.server,
            "first_seen": self.first_seen,
            "last_checked": self.last_checked,
            "evidence": self.evidence[-MAX_EVIDENCE:],
        }
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> MonitorState:
        def bad(why: str) -> InvalidInput:
            return InvalidInput(f"monitor state {where}: {why}")

        try:
            data = json.loads(text)
        except ValueError as exc:
            raise bad(f"not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("v") != STATE_VERSION:
            raise bad(f"not a {STATE_VERSION} object")
        try:
            vkey, origin, size = data["vkey"], data["origin"], data["size"]
            root, note, server = data["root"], data["checkpoint"], data["server"]
            first_seen, last_checked = data["first_seen"], data["last_checked"]
        except KeyError as exc:
            raise bad(f"missing {exc.args[0]!r}") from None
        evidence = data.get("evidence", [])
        if not all(isinstance(v, str) for v in (vkey, origin, root, note, server, first_seen, last_checked)):
            raise bad("vkey, origin, root, checkpoint, server and times must be strings")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size < 2**64:
            raise bad("size must be a positive integer")
        if not isinstance(evidence, list):
            raise bad("evidence must be a list")
        try:
            key = parse_vkey(vkey)
            root_bytes = b64decode(root, "root")
            recorded = parse_checkpoint_unverified(note)
        except InvalidInput as exc:
            raise bad(exc.message) from None
        if len(root_bytes) != HASH_SIZE or (recorded.origin, recorded.size, recorded.root) != (
            origin,
            size,
            root_bytes,
        ):
            raise bad("origin, size and root do not match the recorded checkpoint")
        if key.name != origin:
            raise bad(f"vkey {vkey} is not the key of origin {origin}")
        return cls(
            vkey,
            Seen(origin, size, root_bytes, note),
            server,
            first_seen,
            last_checked,
            bool(data.get("vkey_trusted_on_first_use", False)),
            evidence,
        )


# --------------------------------------------------------------------------
# Talking to the server


def api_base(server: str) -> str:
    base = check_url(server, "--server")
    return base if base.endswith(API_PREFIX) else base + API_PREFIX


def _get(url: str, timeout: float) -> Response:
    answer = request(url, timeout=timeout)
    if answer.status != 200:
        raise ServerError(f"GET {url} answered HTTP {answer.status}: {answer.first_line() or 'no body'}")
    return answer


def _fetch_proof(base: str, old: int, new: int, timeout: float) -> ConsistencyEvidence:
    url = f"{base}/log/proof/consistency?{urlencode({'old': old, 'new': new})}"
    answer = request(url, timeout=timeout)
    if answer.status >= 500:
        raise ServerError(f"GET {url} answered HTTP {answer.status}: {answer.first_line() or 'no body'}")
    if answer.status != 200:
        raise InvalidConsistencyProof(
            f"the log grew from size {old} to {new} but its server gives no consistency proof "
            f"(HTTP {answer.status}: {answer.first_line() or 'no body'})"
        )
    try:
        data = json.loads(answer.body)
        if not isinstance(data, dict):
            raise InvalidInput("not a JSON object")
        proof = data["proof"]
        if not isinstance(proof, list):
            raise InvalidInput("proof is not a list")
        old_size, new_size = data["old_size"], data["new_size"]
        if not isinstance(old_size, int) or not isinstance(new_size, int):
            raise InvalidInput("sizes are not integers")
        return ConsistencyEvidence(
            old_size,
            new_size,
            tuple(hex_decode(p, "proof element", HASH_SIZE) for p in proof),
            hex_decode(data["old_root"], "old_root", HASH_SIZE),
            hex_decode(data["new_root"], "new_root", HASH_SIZE),
        )
    except (ValueError, KeyError, InvalidInput) as exc:
        reason = exc.message if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
        raise InvalidConsistencyProof(f"the server's consistency proof is malformed: {reason}") from None


# --------------------------------------------------------------------------
# One check


@dataclass(frozen=True)
class WatchResult:
    status: str  # "first", "grew", "unchanged"
    server: str
    origin: str
    size: int
    root: bytes
    previous_size: int | None
    cosignatures: tuple[str, ...]
    vkey: str
    vkey_from_server: bool

    def message(self) -> str:
        root = b64encode(self.root)
        witnessed = f"; cosigned by {', '.join(self.cosignatures)}" if self.cosignatures else ""
        if self.status == "first":
            key = (
                " and its vkey as the server declares it (pin it with --vkey)"
                if self.vkey_from_server
                else ""
            )
            return (
                f"first check: trusting checkpoint size {self.size} root {root} of {self.origin}{key} "
                f"(trust on first use){witnessed}"
            )
        if self.status == "grew":
            return (
                f"ok: {self.origin} grew from size {self.previous_size} to {self.size}, consistent; "
                f"root {root}{witnessed}"
            )
        return f"ok: {self.origin} unchanged at size {self.size}, root {root}{witnessed}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "server": self.server,
            "origin": self.origin,
            "size": self.size,
            "root": b64encode(self.root),
            "previous_size": self.previous_size,
            "cosignatures": list(self.cosignatures),
            "vkey": self.vkey,
            "trust_on_first_use": self.status == "first",
            "vkey_from_server": self.vkey_from_server,
            "message": self.message(),
        }


def witness_keys(vkeys: Sequence[str]) -> list[Ed25519Verifier]:
    keys = []
    for vkey in vkeys:
        key = parse_vkey(vkey.strip())
        if key.signature_type != SIG_COSIGNATURE_V1:
            raise InvalidInput(f"--witness {vkey!r} is not a witness cosignature key (type 0x04)")
        keys.append(key)
    if len({(k.name, k.key_id) for k in keys}) != len(keys):
        raise InvalidInput("the same witness key is given twice")
    return keys


def watch_once(
    server: str,
    state_path: Path,
    now: datetime,
    *,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    required_cosignatures: int = 0,
    timeout: float = 10.0,
) -> WatchResult:
    """One check; raises a :class:`MonitorFinding` (exit 1) after recording it as evidence."""
    base = api_base(server)
    trusted_witnesses = witness_keys(witnesses)
    if required_cosignatures > len(trusted_witnesses):
        raise InvalidInput(
            f"--require-cosignatures {required_cosignatures} needs at least that many --witness keys "
            f"(got {len(trusted_witnesses)})"
        )
    with StateLock(state_path):
        text = read_state_text(state_path)
        state = MonitorState.from_json(text, state_path) if text is not None else None
        pinned = vkey.strip() if vkey else None
        if pinned is not None:
            key = parse_vkey(pinned)
            if key.signature_type != SIG_ED25519:
                raise InvalidInput("--vkey must be the log's checkpoint key (type 0x01)")
        if state is not None and pinned is not None and pinned != state.vkey:
            raise InvalidInput(f"--vkey {pinned} differs from the vkey {state.vkey} recorded in {state_path}")
        vkey_from_server = False
        if state is not None:
            log_vkey, vkey_from_server = state.vkey, state.vkey_from_server
        elif pinned is not None:
            log_vkey = pinned
        else:
            log_vkey = _get(f"{base}/log/vkey", timeout).body.decode("utf-8", "replace").strip()
            vkey_from_server = True
            try:
                key = parse_vkey(log_vkey)
            except InvalidInput as exc:
                raise ServerError(f"the server declares an invalid log vkey: {exc.message}") from None
            if key.signature_type != SIG_ED25519:
                raise ServerError("the server's log vkey is not a checkpoint key (type 0x01)")
        log_key = parse_vkey(log_vkey)
        note = _get(f"{base}/log/checkpoint", timeout).body
        previous = state.seen if state is not None else None
        proof = None
        stamp = format_timestamp(now)
        try:
            if previous is not None:
                claimed_size = _claimed_size(note)
                if claimed_size is not None and claimed_size > previous.size:
                    proof = _fetch_proof(base, previous.size, claimed_size, timeout)
            observation = observe(previous, note, log_key, proof, trusted_witnesses, required_cosignatures)
        except MonitorFinding as finding:
            if state is not None:
                state.evidence.append(
                    {
                        "at": stamp,
                        "server": server,
                        "code": finding.code,
                        "message": finding.message,
                        "checkpoint": finding.evidence or note.decode("utf-8", "replace"),
                    }
                )
                state.last_checked = stamp
                write_atomically(state_path, state.to_json())
            raise
        seen = observation.seen
        if state is None:
            state = MonitorState(log_vkey, seen, server, stamp, stamp, vkey_from_server)
        else:
            state.seen, state.server, state.last_checked = seen, server, stamp
        write_atomically(state_path, state.to_json())
    status = "first" if observation.first else "grew" if observation.grew else "unchanged"
    return WatchResult(
        status,
        server,
        seen.origin,
        seen.size,
        seen.root,
        previous.size if previous is not None else None,
        tuple(c.name for c in observation.opened.cosignatures),
        log_vkey,
        vkey_from_server,
    )


def _claimed_size(note: bytes) -> int | None:
    try:
        return parse_checkpoint_unverified(note.decode("utf-8")).size
    except (UnicodeDecodeError, InvalidInput):
        return None  # observe() reports it
