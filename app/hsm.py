"""The log key in an HSM: an Ed25519 key that signs checkpoints through PKCS#11 and never leaves it.

With ``CUSTODY_HSM_MODULE`` set, the log key is the private key labelled
``CUSTODY_HSM_KEY_LABEL`` on the token labelled ``CUSTODY_HSM_TOKEN_LABEL``
(user PIN ``CUSTODY_HSM_PIN``, or a prompt), and no PEM file is read.
:class:`HsmSigningKey` signs like a :class:`ledger.keys.SigningKey` (it is a
:class:`ledger.keys.MessageSigner`), so the checkpoint signer does not know the
difference. SoftHSM2 stands in for a real HSM in the tests.

Why it is built the way it is:

* **Checked at open.** Exactly one private key must carry the label, its public
  key must be on the token, and a sign-and-verify self-test must pass: a wrong
  key, curve or mechanism fails when the process starts, not at the first append.
* **Every signature is verified before it is used.** A checkpoint is written in
  the same transaction as the entries it covers, into an append-only log: a bad
  signature from a faulty module would be there for good. Verifying costs far
  less than the HSM round trip.
* **One logged-in session per token and process.** PKCS#11 login state belongs to
  the process, not the session (``C_Logout`` on one session logs out all of them),
  so every key on a token shares one session, and signing holds its lock (a
  session is not thread-safe; the appender thread and request threads sign).
* **No PKCS#11 across fork().** A module's state (sessions, sockets to a network
  HSM, locks) is not valid in a forked child. The library is loaded only when a
  key is opened — never by importing this module — and a session opened in one
  process refuses to sign in another. ``custody serve`` checks the key in a
  short-lived subprocess (:func:`check_in_subprocess`) before it starts its
  workers; each worker opens its own session when it loads the log key.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from cryptography.hazmat.primitives.asymmetric import ed25519

from app.errors import OperationalError
from app.keyfiles import resolve_passphrase
from ledger.errors import (
    Conflict,
    InvalidInput,
    InvalidSignature,
    LedgerError,
    MalformedKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
)
from ledger.keys import Algorithm, PublicKey

if TYPE_CHECKING:
    from pkcs11 import Session

    from app.settings import Settings

#: EC_PARAMS of Ed25519: the DER OID 1.3.101.112, or (PKCS#11 3.0) the curve's name.
ED25519_PARAMS_OID = bytes.fromhex("06032b6570")
ED25519_PARAMS_NAME = b"\x13\x0cedwards25519"
#: What the self-test signs; domain-separated so it can never pass for a checkpoint.
SELF_TEST_MESSAGE = b"konnektor-custody-ledger/hsm-self-test\n"
#: Seconds `custody serve` waits for its key check (a network HSM may be slow to log in).
CHECK_TIMEOUT_SECONDS = 120


class HsmError(OperationalError):
    """The HSM or its module failed: not loadable, device error, PIN locked, bad signature."""

    code = "operational.hsm"


class HsmModuleMissing(InvalidInput):
    code = "input.hsm.module"


class HsmTokenMissing(InvalidInput):
    code = "input.hsm.token"


class HsmKeyMissing(InvalidInput):
    """No key, several keys, or no public key under the configured label."""

    code = "input.hsm.key"


class HsmKeyExists(Conflict):
    code = "conflict.hsm_key_exists"


# --------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class HsmConfig:
    module: Path
    token_label: str
    key_label: str
    pin: str = field(repr=False)

    @property
    def uri(self) -> str:
        return pkcs11_uri(self.token_label, self.key_label)

    def environment(self) -> dict[str, str]:
        """The settings that make a new process open this key (the PIN included)."""
        return {
            "CUSTODY_HSM_MODULE": str(self.module),
            "CUSTODY_HSM_TOKEN_LABEL": self.token_label,
            "CUSTODY_HSM_KEY_LABEL": self.key_label,
            "CUSTODY_HSM_PIN": self.pin,
        }


def pkcs11_uri(token_label: str, key_label: str) -> str:
    """The key as an RFC 7512 PKCS#11 URI (what `custody init` reports as the log key)."""
    return f"pkcs11:token={quote(token_label, safe='')};object={quote(key_label, safe='')};type=private"


def config_from_settings(settings: Settings) -> HsmConfig:
    """The HSM settings, the PIN from ``CUSTODY_HSM_PIN`` or a prompt at a terminal."""
    if settings.hsm_module is None:
        raise InvalidInput("no HSM configured: set CUSTODY_HSM_MODULE to the PKCS#11 module's path")
    if not settings.hsm_token_label:
        raise InvalidInput("CUSTODY_HSM_MODULE is set but CUSTODY_HSM_TOKEN_LABEL is not: name the token")
    if not settings.hsm_key_label:
        raise InvalidInput("CUSTODY_HSM_KEY_LABEL is empty: name the log key on the token")
    secret = settings.hsm_pin
    pin = resolve_passphrase(
        secret.get_secret_value() if secret else None,
        f"user of HSM token {settings.hsm_token_label!r}",
        "CUSTODY_HSM_PIN",
        noun="PIN",
    )
    return HsmConfig(
        settings.hsm_module, settings.hsm_token_label, settings.hsm_key_label, pin.decode("utf-8")
    )


# --------------------------------------------------------------------------
# The library, and one logged-in session per token and process


def _describe(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc).strip()
    return f"{name}: {text}" if text and text != name else name


def _translate(exc: Exception, config: HsmConfig, doing: str) -> LedgerError:
    """A PKCS#11 exception as one of ours, worded for the operator."""
    from pkcs11 import exceptions as p11

    token = config.token_label
    if isinstance(exc, (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange)):
        return WrongPassphrase(f"wrong user PIN for HSM token {token!r} (CUSTODY_HSM_PIN)")
    if isinstance(exc, p11.PinLocked):
        return HsmError(f"the user PIN of HSM token {token!r} is locked: its security officer must reset it")
    if isinstance(exc, p11.PinExpired):
        return HsmError(f"the user PIN of HSM token {token!r} has expired: set a new one")
    if isinstance(exc, p11.UserPinNotInitialized):
        return HsmError(f"HSM token {token!r} has no user PIN yet: its security officer must set one")
    if isinstance(exc, p11.MultipleTokensReturned):
        return HsmTokenMissing(f"several HSM tokens are labelled {token!r}: give each a unique label")
    return HsmError(f"HSM token {token!r}: {doing} failed: {_describe(exc)}")


def _library(module: Path) -> Any:
    if not module.is_file():
        raise HsmModuleMissing(f"PKCS#11 module {module} does not exist (CUSTODY_HSM_MODULE)")
    import pkcs11

    try:
        return pkcs11.lib(str(module))
    except pkcs11.PKCS11Error as exc:
        raise HsmError(f"cannot load PKCS#11 module {module}: {_describe(exc)}") from None


class _TokenSession:
    """The process's logged-in session on one token; its lock serialises every use."""

    def __init__(self, session: Session, pin: str) -> None:
        self.session = session
        self.pin = pin
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.closed = False

    def close(self) -> None:
        # Only in the process that opened it: in a forked child the handle is the parent's.
        if not self.closed and self.pid == os.getpid():
            self.closed = True
            # Already gone (device removed, logged out elsewhere): nothing left to undo.
            with contextlib.suppress(Exception):
                self.session.close()  # C_Logout + C_CloseSession


_SESSIONS: dict[tuple[str, str], _TokenSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _token_session(config: HsmConfig, *, rw: bool = False, fresh: bool = False) -> _TokenSession:
    """The logged-in session for ``config``'s token, opened (and the PIN tried) if needed.

    A different PIN than the one the open session logged in with is always tried on the
    token (after logging the old session out), so a wrong PIN is never let through by a
    session someone else opened. ``fresh`` drops the current session first (after a
    session error, or for a read-write session).
    """
    key = (str(config.module.resolve()), config.token_label)
    with _SESSIONS_LOCK:
        current = _SESSIONS.get(key)
        if current is not None and current.pid != os.getpid():
            raise HsmError(
                "a PKCS#11 session from the parent process cannot be used after fork(): "
                "open the HSM key in the process that signs"
            )
        reusable = (
            current is not None
            and not current.closed
            and not fresh
            and (current.session.rw or not rw)
            and hmac.compare_digest(current.pin.encode(), config.pin.encode())
        )
        if reusable:
            assert current is not None
            return current
        if current is not None:
            del _SESSIONS[key]
            with current.lock:
                current.close()
        lib = _library(config.module)
        from pkcs11 import PKCS11Error
        from pkcs11 import exceptions as p11

        try:
            token = lib.get_token(token_label=config.token_label)
        except p11.NoSuchToken:
            try:
                labels = sorted(t.label for t in lib.get_tokens() if t.label)
            except PKCS11Error:
                labels = []
            known = ", ".join(repr(label) for label in labels) or "none"
            raise HsmTokenMissing(
                f"no HSM token labelled {config.token_label!r} in {config.module} (tokens: {known})"
            ) from None
        except PKCS11Error as exc:
            raise _translate(exc, config, "finding the token") from None
        try:
            session = token.open(rw=rw, user_pin=config.pin)
        except PKCS11Error as exc:
            raise _translate(exc, config, "logging in") from None
        opened = _TokenSession(session, config.pin)
        _SESSIONS[key] = opened
        return opened


def _session_lost(exc: Exception) -> bool:
    """Errors after which a new session (and login) may succeed: the HSM restarted, a
    network HSM reconnected, another session of this process logged out."""
    from pkcs11 import exceptions as p11

    return isinstance(
        exc,
        (
            p11.SessionHandleInvalid,
            p11.SessionClosed,
            p11.UserNotLoggedIn,
            p11.DeviceRemoved,
            p11.TokenNotPresent,
            p11.ObjectHandleInvalid,
            p11.KeyHandleInvalid,
        ),
    )


# --------------------------------------------------------------------------
# Keys


def _raw_public_key(point: bytes) -> bytes:
    """CKA_EC_POINT of an Ed25519 key: a DER OCTET STRING (04 20 ‖ key), or the 32 bytes bare."""
    if len(point) == 34 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == 32:
        return point
    raise UnsupportedAlgorithm(f"the public key on the token is not an Ed25519 point ({len(point)} bytes)")


def _attribute(obj: Any, attribute: Any) -> Any:
    """An attribute's value, or None where the token does not have or show it."""
    from pkcs11 import PKCS11Error

    try:
        return obj[attribute]
    except PKCS11Error:
        return None


@dataclass(frozen=True)
class _Found:
    private: Any  # pkcs11's PrivateKey (its stubs lack the sign() of its mixin)
    public_key: PublicKey


def _find_key(session: Session, config: HsmConfig) -> _Found:
    from pkcs11 import Attribute, KeyType, ObjectClass

    where = f"HSM token {config.token_label!r}"
    privates = list(
        session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: config.key_label})
    )
    if not privates:
        raise HsmKeyMissing(
            f"no private key labelled {config.key_label!r} on {where}: "
            "create one with `custody hsm generate` (or `custody hsm import`)"
        )
    if len(privates) > 1:
        raise HsmKeyMissing(
            f"{len(privates)} private keys are labelled {config.key_label!r} on {where}: "
            "the label must name exactly one key"
        )
    private: Any = privates[0]
    key_type = _attribute(private, Attribute.KEY_TYPE)
    if key_type != KeyType.EC_EDWARDS:
        raise UnsupportedAlgorithm(
            f"the key labelled {config.key_label!r} on {where} is not an Ed25519 key "
            f"(key type {getattr(key_type, 'name', key_type)}); checkpoints are signed with Ed25519"
        )
    params = _attribute(private, Attribute.EC_PARAMS)
    if params is not None and bytes(params) not in (ED25519_PARAMS_OID, ED25519_PARAMS_NAME):
        raise UnsupportedAlgorithm(
            f"the key labelled {config.key_label!r} on {where} is on another Edwards curve than "
            "Ed25519 (Ed448?); checkpoints are signed with Ed25519"
        )
    # The public half: the object with the private key's CKA_ID (the standard pairing),
    # else the one with its label.
    query: dict[Any, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
    key_id = _attribute(private, Attribute.ID)
    if key_id:
        query[Attribute.ID] = bytes(key_id)
    else:
        query[Attribute.LABEL] = config.key_label
    publics: list[Any] = list(session.get_objects(query))
    if len(publics) > 1:
        publics = [p for p in publics if _attribute(p, Attribute.LABEL) == config.key_label]
    if len(publics) != 1:
        raise HsmKeyMissing(
            f"{'no' if not publics else len(publics)} public key(s) for the key labelled "
            f"{config.key_label!r} on {where}: the token must hold exactly one public key with its ID"
        )
    point = _attribute(publics[0], Attribute.EC_POINT)
    if point is None:
        raise HsmKeyMissing(f"the public key labelled {config.key_label!r} on {where} has no EC point")
    try:
        raw = _raw_public_key(bytes(point))
        public = PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(raw))
    except ValueError as exc:
        raise MalformedKey(f"the public key labelled {config.key_label!r} on {where}: {exc}") from None
    return _Found(private, public)


T = TypeVar("T")


class HsmSigningKey:
    """The log key on a PKCS#11 token: signs there (Ed25519), verifies what it got back.

    Opening it logs in (once per token and process), finds exactly one key pair under
    the label and runs a sign-and-verify self-test. Safe to share between threads.
    """

    def __init__(self, config: HsmConfig) -> None:
        self._config = config
        self._token = _token_session(config)
        self._found = self._locked(lambda token: _find_key(token.session, config))
        self.public_key = self._found.public_key
        # Sign once now: a key that cannot sign with CKM_EDDSA, or whose public half on
        # the token is another key's, stops the process here, not at the first append.
        self.sign(SELF_TEST_MESSAGE + os.urandom(16))

    @property
    def algorithm(self) -> Algorithm:
        return Algorithm.ED25519

    @property
    def keyid(self) -> str:
        return self.public_key.keyid

    @property
    def config(self) -> HsmConfig:
        return self._config

    def sign(self, message: bytes) -> bytes:
        from pkcs11 import Mechanism

        signature: bytes = self._locked(
            lambda _: bytes(self._found.private.sign(message, mechanism=Mechanism.EDDSA))
        )
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            raise HsmError(
                f"HSM token {self._config.token_label!r}: the signature of key "
                f"{self._config.key_label!r} does not verify under its public key"
            ) from None
        return signature

    def attributes(self) -> dict[str, bool | None]:
        """The private key's protection, as the token reports it (None: not shown)."""
        from pkcs11 import Attribute

        names = {
            "sensitive": Attribute.SENSITIVE,
            "extractable": Attribute.EXTRACTABLE,
            "always_sensitive": Attribute.ALWAYS_SENSITIVE,
            "never_extractable": Attribute.NEVER_EXTRACTABLE,
            "local": Attribute.LOCAL,
        }

        def read(_: _TokenSession) -> dict[str, bool | None]:
            values = {name: _attribute(self._found.private, attr) for name, attr in names.items()}
            return {name: None if value is None else bool(value) for name, value in values.items()}

        return self._locked(read)

    def identity(self) -> dict[str, str]:
        """What names the key on its HSM: the token's serial number and the key's CKA_ID (hex)."""
        from pkcs11 import Attribute

        def read(token: _TokenSession) -> dict[str, str]:
            serial = token.session.token.serial
            key_id = _attribute(self._found.private, Attribute.ID)
            return {
                "token_serial": serial.decode("ascii", "replace").strip()
                if isinstance(serial, bytes)
                else str(serial),
                "key_id": bytes(key_id).hex() if key_id else "",
            }

        return self._locked(read)

    def _locked(self, operation: Callable[[_TokenSession], T]) -> T:
        """Run ``operation`` under the session's lock; once more on a new session if it was lost."""
        from pkcs11 import PKCS11Error

        token = self._token
        try:
            with token.lock:
                if token.closed:
                    raise _Reopen
                if token.pid != os.getpid():
                    raise HsmError(
                        "the HSM log key was opened in another process: PKCS#11 sessions do not "
                        "survive fork(), each process must open its own"
                    )
                return operation(token)
        except _Reopen:
            pass
        except PKCS11Error as exc:
            if not _session_lost(exc):
                raise _translate(exc, self._config, "using the key") from None
        opened = hasattr(self, "public_key")
        try:
            return self._reopened(operation, fresh=not token.closed)
        except (InvalidInput, Conflict) as exc:
            if not opened:
                raise
            # The configuration worked when this process started: whatever fails now
            # (key deleted, PIN changed, token gone) is the environment's doing, and a
            # client whose append it stops is told "unavailable", not "bad request".
            raise HsmError(f"reopening the HSM log key failed: {exc.message}") from None

    def _reopened(self, operation: Callable[[_TokenSession], T], *, fresh: bool) -> T:
        from pkcs11 import PKCS11Error

        # A new session, and the key found again under its label: it must be the same key,
        # or checkpoints would silently be signed by another one.
        token = _token_session(self._config, fresh=fresh)
        self._token = token
        with token.lock:
            try:
                found = _find_key(token.session, self._config)
                if hasattr(self, "public_key") and found.public_key != self.public_key:
                    raise HsmError(
                        f"HSM token {self._config.token_label!r}: the key labelled "
                        f"{self._config.key_label!r} changed while this process was running"
                    )
                self._found = found
                return operation(token)
            except PKCS11Error as exc:
                raise _translate(exc, self._config, "using the key") from None

    def __repr__(self) -> str:
        return f"HsmSigningKey({self._config.uri}, {self.keyid[:16]}…)"


class _Reopen(Exception):
    """The shared session was closed by another key (a PIN change): open a new one."""


def open_log_key(settings: Settings) -> HsmSigningKey:
    return HsmSigningKey(config_from_settings(settings))


def close_sessions() -> None:
    """Log out of every token this process opened (short-lived commands, tests)."""
    with _SESSIONS_LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for token in sessions:
        with token.lock:
            token.close()


# --------------------------------------------------------------------------
# Creating the key on the token


def _rw_session(config: HsmConfig) -> _TokenSession:
    token = _token_session(config, rw=True)
    if not token.session.rw:
        token = _token_session(config, rw=True, fresh=True)
    return token


@contextlib.contextmanager
def _creating(config: HsmConfig, doing: str) -> Iterator[Session]:
    """A read-write session, under its lock, for putting a new key under the configured label.

    Refuses a label that is already taken; a PKCS#11 failure inside becomes our error.
    """
    from pkcs11 import PKCS11Error

    token = _rw_session(config)
    with token.lock:
        _refuse_existing_label(token.session, config)
        try:
            yield token.session
        except PKCS11Error as exc:
            raise _translate(exc, config, doing) from None


def _refuse_existing_label(session: Session, config: HsmConfig) -> None:
    from pkcs11 import Attribute

    existing = list(session.get_objects({Attribute.LABEL: config.key_label}))
    if existing:
        raise HsmKeyExists(
            f"HSM token {config.token_label!r} already holds {len(existing)} object(s) labelled "
            f"{config.key_label!r}; refusing to create another key under that label"
        )


def _private_template() -> dict[Any, Any]:
    from pkcs11 import Attribute

    # On the token, private to the logged-in user, never readable (SENSITIVE) nor
    # wrappable out (EXTRACTABLE false; a token never lets either be undone), and good for
    # signing only.
    return {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }


def _public_template() -> dict[Any, Any]:
    from pkcs11 import Attribute

    return {Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.VERIFY: True}


def _confirm_protected(session: Session, config: HsmConfig, objects: list[Any]) -> None:
    """Undo the creation if the token did not honour SENSITIVE / not EXTRACTABLE."""
    from pkcs11 import Attribute, ObjectClass

    private = next(o for o in objects if _attribute(o, Attribute.CLASS) == ObjectClass.PRIVATE_KEY)
    if (
        _attribute(private, Attribute.SENSITIVE) is True
        and _attribute(private, Attribute.EXTRACTABLE) is False
    ):
        return
    for obj in objects:
        obj.destroy()
    raise HsmError(
        f"HSM token {config.token_label!r} did not keep the new key sensitive and non-extractable; "
        "it was deleted again"
    )


def generate_key(config: HsmConfig) -> HsmSigningKey:
    """Generate the log key pair on the token (Ed25519, sensitive, never extractable)."""
    from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag

    with _creating(config, "generating the key") as session:
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ED25519_PARAMS_OID}, local=True
        )
        public, private = params.generate_keypair(
            store=True,
            label=config.key_label,
            id=os.urandom(16),
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template=_public_template(),
            private_template=_private_template(),
        )
        _confirm_protected(session, config, [public, private])
    return HsmSigningKey(config)


def import_key(config: HsmConfig, seed: bytes) -> HsmSigningKey:
    """Put an existing Ed25519 key (its 32-byte seed) on the token, sensitive and non-extractable.

    For moving a ledger's log key from its PEM file into an HSM: the vkey stays the same.
    The token records that the key was not generated there (CKA_LOCAL false).
    """
    from pkcs11 import Attribute, KeyType, ObjectClass, PKCS11Error

    if len(seed) != 32:
        raise MalformedKey("an Ed25519 private key is 32 bytes")
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    key_id = os.urandom(16)
    common = {
        Attribute.KEY_TYPE: KeyType.EC_EDWARDS,
        Attribute.EC_PARAMS: ED25519_PARAMS_OID,
        Attribute.LABEL: config.key_label,
        Attribute.ID: key_id,
    }
    with _creating(config, "importing the key") as session:
        private = session.create_object(
            {**common, **_private_template(), Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.VALUE: seed}
        )
        try:
            public = session.create_object(
                {
                    **common,
                    **_public_template(),
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.EC_POINT: b"\x04\x20" + raw,
                }
            )
        except PKCS11Error:
            private.destroy()  # no half-imported key pair left behind
            raise
        _confirm_protected(session, config, [public, private])
    return HsmSigningKey(config)


# --------------------------------------------------------------------------
# The check `custody serve` runs before it starts its workers


_RELAYED: dict[str, type[LedgerError]] = {
    cls.code: cls
    for cls in (
        HsmError,
        HsmModuleMissing,
        HsmTokenMissing,
        HsmKeyMissing,
        WrongPassphrase,
        UnsupportedAlgorithm,
        MalformedKey,
        InvalidInput,
        OperationalError,
    )
}


def check_in_subprocess(config: HsmConfig) -> PublicKey:
    """Open the key (self-test included) in a short-lived process; its public key, or its error.

    The caller then forks or spawns server workers: none of them, nor the caller, may hold
    an initialised PKCS#11 library from before (see the module docstring).
    """
    env = {**os.environ, **config.environment()}
    try:
        # Our own interpreter and module, no shell; -P: never a module of the working
        # directory (it would otherwise come first on sys.path, and see the PIN).
        proc = subprocess.run(
            [sys.executable, "-P", "-m", "app.hsm"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise HsmError(f"the HSM did not answer within {CHECK_TIMEOUT_SECONDS} s") from None
    lines = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        stderr = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = stderr[-1] if stderr else f"exit status {proc.returncode}"
        raise HsmError(f"checking the HSM log key failed: {detail}") from None
    if "error" in answer:
        error = answer["error"]
        raise _RELAYED.get(error["code"], HsmError)(error["message"])
    return PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(answer["public_key"])))


def _check_main() -> int:
    """``python -m app.hsm``: open the configured key; one JSON line on stdout."""
    from app.settings import load_settings

    try:
        key = open_log_key(load_settings())
        answer: dict[str, Any] = {"public_key": base64.b64encode(key.public_key.raw_ed25519).decode()}
        close_sessions()
    except LedgerError as exc:
        answer = {"error": {"code": exc.code, "message": exc.message}}
    print(json.dumps(answer))
    return 0 if "public_key" in answer else 1


if __name__ == "__main__":
    sys.exit(_check_main())
