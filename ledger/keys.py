"""Signing and verification keys: Ed25519, ECDSA P-256 and brainpoolP256r1.

A key is identified by ``keyid`` = lowercase hex SHA-256 of its DER
SubjectPublicKeyInfo, so the id commits to the algorithm and the curve as
well as to the point. ECDSA signatures are DER-encoded ASN.1 and signing is
deterministic (RFC 6979), so vectors reproduce byte for byte.

Randomness is a parameter: :meth:`SigningKey.generate` takes the entropy,
it never reads a random source itself.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Protocol

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ledger.errors import (
    InvalidSignature,
    MalformedKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
)


class Algorithm(StrEnum):
    ED25519 = "ed25519"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
    ECDSA_BP256R1_SHA256 = "ecdsa-brainpoolp256r1-sha256"


_CURVES: dict[Algorithm, type[ec.EllipticCurve]] = {
    Algorithm.ECDSA_P256_SHA256: ec.SECP256R1,
    Algorithm.ECDSA_BP256R1_SHA256: ec.BrainpoolP256R1,
}
_CURVE_ORDERS: dict[Algorithm, int] = {
    Algorithm.ECDSA_P256_SHA256: int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16),
    Algorithm.ECDSA_BP256R1_SHA256: int(
        "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7", 16
    ),
}
_DETERMINISTIC_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_ECDSA = ec.ECDSA(hashes.SHA256())

PublicKeyObject = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
PrivateKeyObject = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def keyid_of(spki_der: bytes) -> str:
    """The key id: lowercase hex SHA-256 of the SubjectPublicKeyInfo DER."""
    return hashlib.sha256(spki_der).hexdigest()


def _algorithm_of(key: PublicKeyObject) -> Algorithm:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return Algorithm.ED25519
    if isinstance(key, ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return Algorithm.ECDSA_P256_SHA256
        if isinstance(key.curve, ec.BrainpoolP256R1):
            return Algorithm.ECDSA_BP256R1_SHA256
        raise UnsupportedAlgorithm(f"unsupported elliptic curve {key.curve.name}")
    raise UnsupportedAlgorithm(f"unsupported key type {type(key).__name__}")


class PublicKey:
    """A verification key with its algorithm and key id."""

    __slots__ = ("_key", "algorithm", "keyid", "spki_der")

    def __init__(self, key: PublicKeyObject) -> None:
        self._key = key
        self.algorithm = _algorithm_of(key)
        self.spki_der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.keyid = keyid_of(self.spki_der)

    @classmethod
    def from_spki_der(cls, der: bytes) -> PublicKey:
        try:
            key = serialization.load_der_public_key(der)
        except (ValueError, _CryptoUnsupportedAlgorithm) as exc:
            raise MalformedKey(f"not a DER SubjectPublicKeyInfo: {exc}") from None
        if not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
            raise UnsupportedAlgorithm(f"unsupported key type {type(key).__name__}")
        public = cls(key)
        if public.spki_der != der:
            # Compressed points or other alternative encodings would give the
            # same key two ids; we accept only the canonical DER.
            raise MalformedKey("SubjectPublicKeyInfo is not in canonical (uncompressed) DER form")
        return public

    @classmethod
    def from_pem(cls, pem: bytes) -> PublicKey:
        try:
            key = serialization.load_pem_public_key(pem)
        except (ValueError, _CryptoUnsupportedAlgorithm) as exc:
            raise MalformedKey(f"not a PEM public key: {exc}") from None
        if not isinstance(key, (ed25519.Ed25519PublicKey, ec.EllipticCurvePublicKey)):
            raise UnsupportedAlgorithm(f"unsupported key type {type(key).__name__}")
        return cls(key)

    @property
    def raw_ed25519(self) -> bytes:
        """The 32-byte Ed25519 public key (only for Ed25519 keys)."""
        if not isinstance(self._key, ed25519.Ed25519PublicKey):
            raise UnsupportedAlgorithm("not an Ed25519 key")
        return self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def to_pem(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, message: bytes) -> None:
        """Return nothing if ``signature`` is valid over ``message``; raise otherwise.

        ECDSA signatures must be strict DER with a low S: (r, s) and
        (r, n − s) both verify, and accepting both would let anyone relaying
        an envelope change its bytes without a key.
        """
        try:
            if isinstance(self._key, ed25519.Ed25519PublicKey):
                self._key.verify(signature, message)
            else:
                _require_canonical_ecdsa(signature, self.algorithm)
                self._key.verify(signature, message, _ECDSA)
        except (_CryptoInvalidSignature, ValueError):
            raise InvalidSignature(f"signature does not verify under key {self.keyid[:16]}…") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.spki_der == self.spki_der

    def __hash__(self) -> int:
        return hash(self.spki_der)

    def __repr__(self) -> str:
        return f"PublicKey({self.algorithm.value}, {self.keyid[:16]}…)"


def _is_decrypt_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "decrypt" in text or "password" in text


def _fails_like_a_wrong_passphrase(pem: bytes) -> bool:
    """True if other passphrases fail on ``pem`` with a decryption error.

    PBES2 has no integrity check: about one wrong passphrase in 256 decrypts
    to valid padding and then garbage DER, which ``cryptography`` reports like
    a corrupt file. An intact file fails probe passphrases with a decryption
    error, so that tells a wrong passphrase from a damaged file.
    """
    for probe in (b"\x00probe-1", b"\x00probe-2", b"\x00probe-3", b"\x00probe-4"):
        try:
            serialization.load_pem_private_key(pem, password=probe)
        except ValueError as exc:
            if _is_decrypt_error(exc):
                return True
        except (TypeError, _CryptoUnsupportedAlgorithm):
            return False
    return False


class MessageSigner(Protocol):
    """What signs with a private key it may not show: a :class:`SigningKey` in memory, or a key
    that never leaves a hardware module (the log key in an HSM, ``app.hsm``)."""

    @property
    def public_key(self) -> PublicKey: ...

    def sign(self, message: bytes) -> bytes: ...


class SigningKey:
    """A private key. Keep it in memory only as long as needed."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: PrivateKeyObject) -> None:
        self._key = key
        self.public_key = PublicKey(key.public_key())

    @classmethod
    def generate(cls, algorithm: Algorithm, entropy: bytes) -> SigningKey:
        """Derive a key from ``entropy`` (at least 32 unpredictable bytes)."""
        if len(entropy) < 32:
            raise MalformedKey("key generation needs at least 32 bytes of entropy")
        algorithm = Algorithm(algorithm)
        if algorithm is Algorithm.ED25519:
            return cls(ed25519.Ed25519PrivateKey.from_private_bytes(entropy[:32]))
        # Reduce 512 bits modulo the group order: the bias is below 2^-250.
        order = _CURVE_ORDERS[algorithm]
        scalar = int.from_bytes(hashlib.sha512(entropy).digest(), "big") % (order - 1) + 1
        return cls(ec.derive_private_key(scalar, _CURVES[algorithm]()))

    @classmethod
    def from_encrypted_pem(cls, pem: bytes, passphrase: bytes) -> SigningKey:
        """Load an encrypted PKCS#8 PEM; a wrong passphrase raises WrongPassphrase."""
        if b"ENCRYPTED PRIVATE KEY" not in pem:
            raise MalformedKey("key file is not an encrypted PKCS#8 PEM")
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except ValueError as exc:
            if _is_decrypt_error(exc) or _fails_like_a_wrong_passphrase(pem):
                raise WrongPassphrase("wrong passphrase for the key file") from None
            raise MalformedKey(f"unreadable key file: {exc}") from None
        except (TypeError, _CryptoUnsupportedAlgorithm) as exc:
            raise MalformedKey(f"unreadable key file: {exc}") from None
        if not isinstance(key, (ed25519.Ed25519PrivateKey, ec.EllipticCurvePrivateKey)):
            raise UnsupportedAlgorithm(f"unsupported key type {type(key).__name__}")
        return cls(key)

    def to_encrypted_pem(self, passphrase: bytes) -> bytes:
        """Serialise as PKCS#8 PEM encrypted with ``passphrase`` (PBES2/AES-256)."""
        if not passphrase:
            raise WrongPassphrase("refusing to write a private key without a passphrase")
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @property
    def algorithm(self) -> Algorithm:
        return self.public_key.algorithm

    @property
    def keyid(self) -> str:
        return self.public_key.keyid

    def sign(self, message: bytes) -> bytes:
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(message)
        r, s = decode_dss_signature(self._key.sign(message, _DETERMINISTIC_ECDSA))
        return _low_s_der(r, s, self.algorithm)

    def raw_ed25519_seed(self) -> bytes:
        """The 32-byte Ed25519 private seed (only for Ed25519 keys; for HSM-less tests)."""
        if not isinstance(self._key, ed25519.Ed25519PrivateKey):
            raise UnsupportedAlgorithm("not an Ed25519 key")
        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def __repr__(self) -> str:
        return f"SigningKey({self.algorithm.value}, {self.keyid[:16]}…)"


def _low_s_der(r: int, s: int, algorithm: Algorithm) -> bytes:
    order = _CURVE_ORDERS[algorithm]
    return encode_dss_signature(r, order - s if s > order // 2 else s)


def _require_canonical_ecdsa(signature: bytes, algorithm: Algorithm) -> None:
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise InvalidSignature("ECDSA signature is not DER") from None
    if encode_dss_signature(r, s) != signature:
        raise InvalidSignature("ECDSA signature is not strict DER")
    if s > _CURVE_ORDERS[algorithm] // 2:
        raise InvalidSignature("ECDSA signature has a high S value (use the low-S form)")


def ecdsa_raw_to_der(raw: bytes, algorithm: Algorithm = Algorithm.ECDSA_P256_SHA256) -> bytes:
    """Convert a WebCrypto-style raw ``r‖s`` (64 bytes) ECDSA signature to low-S DER."""
    if len(raw) != 64:
        raise InvalidSignature(f"raw ECDSA signature must be 64 bytes, got {len(raw)}")
    if algorithm is Algorithm.ED25519:
        raise InvalidSignature("Ed25519 signatures are not converted")
    return _low_s_der(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"), algorithm)
