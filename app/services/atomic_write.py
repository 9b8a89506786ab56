"""Writing an output file all at once: a reader sees the old file, the new one, or none."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from app.errors import OperationalError
from ledger.errors import InvalidInput


class OutputNotWritable(OperationalError):
    code = "operational.output_file"


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path``'s new content into; it replaces ``path`` when the block ends.

    The content goes to a temporary file in the same directory (so the rename is atomic),
    is flushed to disk, and renamed over ``path`` only if the block finishes; on any
    failure, the temporary file is removed and the exception propagates — a failed export
    or print never leaves a partial file, and never a success without one.
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
        with os.fdopen(handle, "w+b") as file:
            yield file
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


def write_atomic(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole or not at all (see :func:`atomic_output`)."""
    with atomic_output(path) as file:
        file.write(data)
    return Path(path)
