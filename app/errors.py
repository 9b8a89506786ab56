"""Errors raised by the edges (storage, files), under the same root as the core's."""

from __future__ import annotations

from ledger.errors import Conflict, InvalidInput, LedgerError


class OperationalError(LedgerError):
    """The environment failed: database unreachable, a file not writable."""

    code = "operational"


class DatabaseUnavailable(OperationalError):
    code = "operational.database"


class KeyFileError(OperationalError):
    code = "operational.key_file"


class LedgerNotInitialised(InvalidInput):
    code = "input.not_initialised"


class LogKeyMismatch(InvalidInput):
    """The configured log key (file or HSM) is not the one the ledger's genesis declares."""

    code = "input.key.log_key_mismatch"


class IntegrityFailure(LedgerError):
    """Stored data contradicts itself (only possible if someone bypassed the triggers)."""

    code = "integrity"


class AppendConflict(Conflict):
    code = "conflict.append"
