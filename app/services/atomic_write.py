"""Writing an output file all at once: a reader sees the old file, the new one, or none."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from app.errors import OperationalError
from ledger.errors import InvalidInput


class OutputNotWritable(OperationalError):
    code = "operational.output_file"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    The temporary file is flushed to disk and renamed over ``path``; on any
    failure it is removed, so a failed export never leaves a partial file.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InvalidInput(f"cannot write {target}: directory {directory} does not exist")
    if target.is_dir():
        raise InvalidInput(f"cannot write {target}: it is a directory")
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputNotWritable(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
