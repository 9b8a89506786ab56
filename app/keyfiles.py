"""Private key files: encrypted PKCS#8 PEM, mode 0600, written atomically.

Private keys never reach the server: a CLI user signs with a key file on
their own machine, and the log key file is read by the process that signs
checkpoints. Files are created with O_EXCL so an existing key is never
overwritten by accident.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.errors import KeyFileError
from app.settings import Settings
from ledger.errors import Conflict, InvalidInput, WrongPassphrase
from ledger.keys import SigningKey


class KeyFileMissing(InvalidInput):
    code = "input.key_file_missing"


class KeyFileExists(Conflict):
    code = "conflict.key_file_exists"


def write_key_file(path: Path, key: SigningKey, passphrase: bytes) -> None:
    """Write ``key`` encrypted to a new file ``path`` (0600); refuse to overwrite."""
    pem = key.to_encrypted_pem(passphrase)
    if path.exists():
        raise KeyFileExists(f"{path} already exists; refusing to overwrite a key file")
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() fails if the target exists, unlike rename(): never clobber a key.
        os.link(temp, path)
    except FileExistsError:
        raise KeyFileExists(f"{path} already exists; refusing to overwrite a key file") from None
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {path}: {exc.strerror}") from None
    finally:
        # The temporary name never outlives the call, written or not.
        temp.unlink(missing_ok=True)


def read_key_file(path: Path, passphrase: bytes) -> SigningKey:
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise KeyFileMissing(f"key file {path} does not exist") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from None
    try:
        return SigningKey.from_encrypted_pem(pem, passphrase)
    except WrongPassphrase:
        raise WrongPassphrase(f"wrong passphrase for key file {path}") from None


def resolve_passphrase(
    value: str | None, what: str, env_name: str, *, confirm: bool = False, noun: str = "passphrase"
) -> bytes:
    """The passphrase (or PIN: ``noun``) from the environment, or a prompt when a person is at a terminal."""
    if value:
        return value.encode("utf-8")
    if not sys.stdin.isatty():
        raise InvalidInput(f"no {noun} for the {what}: set {env_name} or run at a terminal")
    import getpass

    first = getpass.getpass(f"{noun[:1].upper()}{noun[1:]} for the {what}: ")
    if confirm and getpass.getpass(f"Repeat {noun}: ") != first:
        raise InvalidInput(f"{noun}s do not match")
    if not first:
        raise InvalidInput(f"an empty {noun} is not allowed")
    return first.encode("utf-8")


def log_key_passphrase(settings: Settings, *, confirm: bool = False) -> bytes:
    """The log key file's passphrase: ``CUSTODY_LOG_KEY_PASSPHRASE``, or a prompt at a terminal."""
    secret = settings.log_key_passphrase
    return resolve_passphrase(
        secret.get_secret_value() if secret else None,
        "log key",
        "CUSTODY_LOG_KEY_PASSPHRASE",
        confirm=confirm,
    )
