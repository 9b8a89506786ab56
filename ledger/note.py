"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 and cosignature keys.

Behaviour follows Go's ``golang.org/x/mod/sumdb/note``, which must accept
our checkpoints: the same parsing rules, the same treatment of unknown and
duplicate signature lines, the same error texts where the vectors fix them.

Signature types supported:

* ``0x01`` Ed25519 over the note text (the log's checkpoint key);
* ``0x04`` timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature v1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from ledger.errors import MalformedNote, MalformedVerifierKey, NoteVerificationError
from ledger.keys import MessageSigner, SigningKey

SIG_ED25519 = 0x01
SIG_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "— "  # U+2014 EM DASH, space
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
COSIGNATURE_HEADER = "cosignature/v1\n"


def is_valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, signature_type: int, public_key: bytes) -> int:
    """SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([signature_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


class NoteSigner(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes: ...


class NoteVerifier(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 signs: header, time line, the checkpoint body."""
    return f"{COSIGNATURE_HEADER}time {timestamp}\n".encode("ascii") + text


@dataclass(frozen=True)
class Ed25519NoteSigner:
    """Signs notes with signature type 0x01 (the log's checkpoint key, in a file or an HSM)."""

    name: str
    key: MessageSigner

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise MalformedVerifierKey(f"invalid key name {self.name!r}")

    @property
    def key_id(self) -> int:
        return key_id(self.name, SIG_ED25519, self.key.public_key.raw_ed25519)

    def sign(self, text: bytes) -> bytes:
        return self.key.sign(text)

    def vkey(self) -> str:
        return format_vkey(self.name, SIG_ED25519, self.key.public_key.raw_ed25519)


@dataclass(frozen=True)
class CosignatureSigner:
    """Signs checkpoints as a witness: type 0x04, timestamp ‖ Ed25519 signature."""

    name: str
    key: SigningKey
    timestamp: int

    @property
    def key_id(self) -> int:
        return key_id(self.name, SIG_COSIGNATURE_V1, self.key.public_key.raw_ed25519)

    def sign(self, text: bytes) -> bytes:
        if not 0 <= self.timestamp < 2**63:
            raise MalformedNote("cosignature timestamp out of range")
        return struct.pack(">Q", self.timestamp) + self.key.sign(cosignature_message(text, self.timestamp))

    def vkey(self) -> str:
        return format_vkey(self.name, SIG_COSIGNATURE_V1, self.key.public_key.raw_ed25519)


@dataclass(frozen=True)
class Ed25519Verifier:
    name: str
    key_id: int
    public_key: bytes
    signature_type: int = SIG_ED25519

    def _key(self) -> ed25519.Ed25519PublicKey:
        return ed25519.Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if self.signature_type == SIG_COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                return False
            timestamp = struct.unpack(">Q", signature[:8])[0]
            if timestamp >= 2**63:
                return False
            message, signature = cosignature_message(text, timestamp), signature[8:]
        else:
            message = text
        try:
            self._key().verify(signature, message)
        except _CryptoInvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        return format_vkey(self.name, self.signature_type, self.public_key)


def format_vkey(name: str, signature_type: int, public_key: bytes) -> str:
    """``<name>+<hex8 key id>+<base64(type ‖ public key)>``."""
    ident = key_id(name, signature_type, public_key)
    material = base64.b64encode(bytes([signature_type]) + public_key).decode("ascii")
    return f"{name}+{ident:08x}+{material}"


def parse_vkey(vkey: str) -> Ed25519Verifier:
    """Parse a verifier key string; split on the first two '+' only."""
    name, sep1, rest = vkey.partition("+")
    hex_id, sep2, material_b64 = rest.partition("+")
    if not sep1 or not sep2 or not is_valid_key_name(name):
        raise MalformedVerifierKey("verifier key must be <name>+<hex8>+<base64 key>")
    if len(hex_id) != 8 or hex_id.strip("0123456789abcdefABCDEF"):
        raise MalformedVerifierKey("verifier key id must be 8 hex digits")
    try:
        material = base64.b64decode(material_b64, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedVerifierKey("verifier key material is not base64") from None
    if base64.b64encode(material).decode("ascii") != material_b64:
        raise MalformedVerifierKey("verifier key material is not canonical base64")
    if len(material) < 1:
        raise MalformedVerifierKey("verifier key material is empty")
    signature_type, public_key = material[0], material[1:]
    if signature_type not in (SIG_ED25519, SIG_COSIGNATURE_V1):
        raise MalformedVerifierKey(f"unknown verifier key algorithm 0x{signature_type:02x}")
    if len(public_key) != 32:
        raise MalformedVerifierKey("Ed25519 verifier key must be 32 bytes")
    declared = int(hex_id, 16)
    if declared != key_id(name, signature_type, public_key):
        raise MalformedVerifierKey("verifier key id does not match name and key")
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        raise MalformedVerifierKey("invalid Ed25519 public key") from None
    return Ed25519Verifier(name, declared, public_key, signature_type)


class VerifierList:
    """A set of trusted verifiers, looked up by (name, key id)."""

    def __init__(self, verifiers: Iterable[NoteVerifier]) -> None:
        self._verifiers = list(verifiers)

    def lookup(self, name: str, ident: int) -> NoteVerifier:
        matches = [v for v in self._verifiers if v.name == name and v.key_id == ident]
        if not matches:
            raise UnknownVerifier(f"unknown key {name}+{ident:08x}")
        if len(matches) > 1:
            # A key listed twice is ambiguous even if both entries are
            # identical: Go's note.VerifierList treats both cases alike.
            raise NoteVerificationError(f"ambiguous key {name}+{ident:08x}")
        return matches[0]


class UnknownVerifier(NoteVerificationError):
    code = "verify.note.unknown_key"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: int
    signature: bytes  # without the 4-byte key id

    def line(self) -> str:
        blob = struct.pack(">I", self.key_id) + self.signature
        return f"{SIGNATURE_PREFIX}{self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True)
class OpenedNote:
    """A note with at least one verified signature. ``unverified`` lines are from unknown keys."""

    text: str
    verified: tuple[NoteSignature, ...]
    unverified: tuple[NoteSignature, ...]


def _check_text(data: bytes) -> str:
    if len(data) > MAX_NOTE_BYTES:
        raise MalformedNote("malformed note (too large)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNote("malformed note (not UTF-8)") from None
    for ch in text:
        if ch < " " and ch != "\n":
            raise MalformedNote("malformed note (control character)")
    return text


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end in a newline) with every signer."""
    if not text.endswith("\n"):
        raise MalformedNote("malformed note (text must end in newline)")
    _check_text(text.encode("utf-8"))
    lines = []
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise MalformedNote(f"malformed note (invalid key name {signer.name!r})")
        lines.append(NoteSignature(signer.name, signer.key_id, signer.sign(text.encode("utf-8"))).line())
    return text + "\n" + "".join(lines)


def _split(note: str) -> tuple[str, str]:
    cut = note.rfind("\n\n")
    if cut < 0:
        raise MalformedNote("malformed note (no signature block)")
    text, signatures = note[: cut + 1], note[cut + 2 :]
    if not signatures or not signatures.endswith("\n"):
        raise MalformedNote("malformed note (signature block must end in newline)")
    return text, signatures


def parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNote("malformed note (signature line must start with an em dash)")
    name, space, b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not space or not is_valid_key_name(name) or not b64:
        raise MalformedNote("malformed note (bad signature line)")
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedNote("malformed note (signature is not base64)") from None
    # Python also accepts padding after a complete quantum ("abcd="); Go's
    # StdEncoding, which format §10.2 follows, does not: exactly the padded length.
    if len(b64) != 4 * ((len(blob) + 2) // 3):
        raise MalformedNote("malformed note (signature is not base64)")
    if len(blob) < 5:
        raise MalformedNote("malformed note (signature too short)")
    return NoteSignature(name, struct.unpack(">I", blob[:4])[0], blob[4:])


def open_note(data: bytes, verifiers: VerifierList) -> OpenedNote:
    """Open a signed note: verify every signature from a known key.

    Steps, after Go's ``note.Open``:

    1. The note is UTF-8 without control characters other than newline.
    2. Text and signatures split at the last blank line.
    3. Each signature line parses; more than 100 lines is malformed.
    4. Lines from unknown keys are kept aside (identical ones once) and never
       fail the note; a key listed twice is ambiguous and fails it.
    5. Each known key's signature must verify; repeats are dropped.
    6. At least one known key must have signed.
    """
    # Step 1.
    note = _check_text(data)
    # Step 2.
    text, block = _split(note)
    lines = block[:-1].split("\n")
    # Step 3.
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNote("malformed note (more than 100 signatures)")
    parsed = [parse_signature_line(line) for line in lines]
    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    seen_known: set[tuple[str, int]] = set()
    seen_unknown: set[NoteSignature] = set()
    text_bytes = text.encode("utf-8")
    for signature in parsed:
        # Step 4.
        try:
            verifier = verifiers.lookup(signature.name, signature.key_id)
        except UnknownVerifier:
            if signature not in seen_unknown:
                seen_unknown.add(signature)
                unverified.append(signature)
            continue
        # Step 5.
        if (signature.name, signature.key_id) in seen_known:
            continue
        seen_known.add((signature.name, signature.key_id))
        if not verifier.verify(text_bytes, signature.signature):
            raise NoteVerificationError(f"invalid signature for key {signature.name}+{signature.key_id:08x}")
        verified.append(signature)
    # Step 6.
    if not verified:
        raise NoteVerificationError("note has no verifiable signatures")
    return OpenedNote(text, tuple(verified), tuple(unverified))
