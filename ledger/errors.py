"""The error tree of the ledger.

One root, :class:`LedgerError`; the first level says what the caller does
next (fix the input, satisfy a rule, retry, investigate a broken log). Every
class carries a stable ``code`` that the HTTP API and the CLI expose as-is, so
clients can branch on it. Codes are part of the public interface: never
rename one, add a new class instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class LedgerError(Exception):
    """Root of every error this project raises on purpose."""

    code: ClassVar[str] = "ledger.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------
# Invalid input: the caller must change what it sent.


class InvalidInput(LedgerError):
    code = "input.invalid"


class CanonicalJSONError(InvalidInput):
    code = "input.json"


class MalformedJSON(CanonicalJSONError):
    code = "input.json.malformed"


class TrailingData(CanonicalJSONError):
    code = "input.json.trailing_data"


class DuplicateKey(CanonicalJSONError):
    code = "input.json.duplicate_key"


class FloatNotAllowed(CanonicalJSONError):
    code = "input.json.float"


class IntegerOutOfRange(CanonicalJSONError):
    code = "input.json.integer_range"


class NotNFC(CanonicalJSONError):
    code = "input.json.not_nfc"


class UnsupportedValue(CanonicalJSONError):
    code = "input.json.unsupported_value"


class NotCanonical(CanonicalJSONError):
    code = "input.json.not_canonical"


class InvalidTimestamp(InvalidInput):
    code = "input.timestamp"


class InvalidBase64(InvalidInput):
    code = "input.base64"


class InvalidIdentifier(InvalidInput):
    code = "input.identifier"


class MalformedEnvelope(InvalidInput):
    code = "input.envelope"


class WrongPayloadType(MalformedEnvelope):
    code = "input.envelope.payload_type"


class MalformedStatement(InvalidInput):
    code = "input.statement"


class UnknownVersion(InvalidInput):
    code = "input.unknown_version"


class UnknownKind(MalformedStatement):
    code = "input.statement.unknown_kind"


class InvalidData(MalformedStatement):
    code = "input.statement.data"


class MalformedEntry(InvalidInput):
    code = "input.entry"


class MalformedKey(InvalidInput):
    code = "input.key"


class UnsupportedAlgorithm(MalformedKey):
    code = "input.key.algorithm"


class WrongPassphrase(InvalidInput):
    code = "input.key.passphrase"


class MalformedNote(InvalidInput):
    code = "input.note"


class MalformedVerifierKey(InvalidInput):
    code = "input.vkey"


class MalformedCheckpoint(InvalidInput):
    code = "input.checkpoint"


class MalformedProof(InvalidInput):
    code = "input.proof"


class NotFound(InvalidInput):
    code = "input.not_found"


# --------------------------------------------------------------------------
# Authorisation: the statement is well-formed but its signatures do not give
# the signer the right to say it at this point of the log.


class AuthorizationError(LedgerError):
    code = "auth.denied"


class InvalidSignature(AuthorizationError):
    code = "auth.signature_invalid"


class UnknownKey(AuthorizationError):
    code = "auth.key_unknown"


class KeyRevoked(AuthorizationError):
    code = "auth.key_revoked"


class SignerMismatch(AuthorizationError):
    code = "auth.signer_mismatch"


class MissingSignature(AuthorizationError):
    code = "auth.signature_missing"


class MissingRole(AuthorizationError):
    code = "auth.role_missing"


# --------------------------------------------------------------------------
# Domain rules: the statement is authentic but not allowed in this state.


class RuleViolation(LedgerError):
    """A guard rule rejected a statement; ``rule`` names it (``rule.*``)."""

    code = "rule.violation"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule = rule
        self.reason = message


# --------------------------------------------------------------------------
# Conflicts: the request collides with what is already there.


class Conflict(LedgerError):
    code = "conflict"


class ReplayedStatement(Conflict):
    code = "conflict.replayed_statement"


class LedgerExists(Conflict):
    code = "conflict.ledger_exists"


class LogBusy(Conflict):
    code = "conflict.log_busy"


# --------------------------------------------------------------------------
# Verification: something that should hold about the log does not.


class VerificationError(LedgerError):
    code = "verify.failed"


class InclusionProofError(VerificationError):
    code = "verify.inclusion_proof"


class ConsistencyProofError(VerificationError):
    code = "verify.consistency_proof"


class NoteVerificationError(VerificationError):
    code = "verify.note"


class CheckpointMismatch(VerificationError):
    code = "verify.checkpoint"


@dataclass(frozen=True)
class Finding:
    """One break found by a verifier: where, what kind, what was expected and found."""

    index: int | None
    code: str
    message: str
    expected: str | None = None
    found: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "code": self.code,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }


class VerificationFailed(VerificationError):
    """A verifier found one or more breaks; all of them are in ``findings``."""

    code = "verify.failed"

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0] if findings else None
        summary = f"{len(findings)} finding(s)"
        if first is not None:
            where = "" if first.index is None else f" at index {first.index}"
            summary += f"; first{where}: {first.message}"
        super().__init__(summary)
        self.findings = list(findings)
