"""Small state files (witness, monitor): atomic replacement and an exclusive lock.

``write_atomically`` writes a temporary file in the same directory, fsyncs
it, renames it over the target and fsyncs the directory: after a crash the
file holds either the old or the new content, never a mix or nothing.
``StateLock`` holds ``<file>.lock`` with ``flock`` so that two processes
never work from the same state file at once.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from app.errors import OperationalError
from ledger.errors import InvalidInput


class StateFileError(OperationalError):
    code = "operational.state_file"


class StateFileInUse(OperationalError):
    code = "operational.state_file_in_use"


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    temp = directory / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            data = text.encode("utf-8")
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise StateFileError(f"cannot write state file {path}: {exc.strerror or exc}") from None
    finally:
        temp.unlink(missing_ok=True)


def read_state_text(path: Path) -> str | None:
    """The file's text, or None if it does not exist; unreadable or non-UTF-8 is bad input."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InvalidInput(f"state file {path} is a directory") from None
    except OSError as exc:
        raise StateFileError(f"cannot read state file {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"state file {path} is not UTF-8 text") from None


class StateLock:
    """An exclusive, non-blocking ``flock`` on ``<path>.lock`` for as long as it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateFileError(f"cannot open lock file {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateFileInUse(
                f"state file {self.path.with_suffix('')} is in use by another process (lock {self.path})"
            ) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
