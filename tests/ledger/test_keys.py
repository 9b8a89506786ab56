"""Signing keys: Ed25519, ECDSA P-256 and brainpoolP256r1 with SHA-256."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ledger.errors import (
    InvalidSignature,
    MalformedKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
)
from ledger.keys import Algorithm, PublicKey, SigningKey, ecdsa_raw_to_der, keyid_of

ALGORITHMS = list(Algorithm)
ECDSA = [Algorithm.ECDSA_P256_SHA256, Algorithm.ECDSA_BP256R1_SHA256]
ENTROPY = bytes(range(64))
MESSAGE = b"DSSEv1 5 hello 5 world"


def key_for(algorithm: Algorithm, entropy: bytes = ENTROPY) -> SigningKey:
    return SigningKey.generate(algorithm, entropy)


def test_algorithm_names() -> None:
    assert [a.value for a in Algorithm] == ["ed25519", "ecdsa-p256-sha256", "ecdsa-brainpoolp256r1-sha256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_and_verify(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    assert key.algorithm is algorithm
    assert key.public_key.algorithm is algorithm
    signature = key.sign(MESSAGE)
    assert key.public_key.verify(signature, MESSAGE) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_keyid_is_sha256_of_the_spki_der(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    spki = key.public_key.spki_der
    assert spki.startswith(b"\x30")
    assert key.keyid == hashlib.sha256(spki).hexdigest() == keyid_of(spki)
    assert len(key.keyid) == 64
    assert key.keyid == key.keyid.lower()
    # The DER is the standard SubjectPublicKeyInfo as cryptography writes it.
    loaded = serialization.load_der_public_key(spki)
    assert (
        loaded.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        == spki
    )
    assert PublicKey.from_spki_der(spki) == key.public_key
    assert PublicKey.from_pem(key.public_key.to_pem()).keyid == key.keyid


def test_keyids_differ_across_algorithms_for_the_same_entropy() -> None:
    assert len({key_for(a).keyid for a in ALGORITHMS}) == 3


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generation_from_fixed_entropy_is_reproducible(algorithm: Algorithm) -> None:
    first, second = key_for(algorithm), key_for(algorithm)
    assert first.keyid == second.keyid
    assert key_for(algorithm, b"\xff" + ENTROPY[1:]).keyid != first.keyid
    assert SigningKey.generate(algorithm.value, ENTROPY).keyid == first.keyid  # type: ignore[arg-type]


def test_ed25519_generation_uses_the_first_32_bytes_as_seed() -> None:
    key = key_for(Algorithm.ED25519)
    assert key.raw_ed25519_seed() == ENTROPY[:32]
    reference = ed25519.Ed25519PrivateKey.from_private_bytes(ENTROPY[:32])
    assert key.sign(MESSAGE) == reference.sign(MESSAGE)
    assert key.public_key.raw_ed25519 == reference.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generation_needs_32_bytes_of_entropy(algorithm: Algorithm) -> None:
    with pytest.raises(MalformedKey):
        SigningKey.generate(algorithm, bytes(31))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signatures_are_deterministic(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    assert key.sign(MESSAGE) == key.sign(MESSAGE) == key_for(algorithm).sign(MESSAGE)
    assert key.sign(MESSAGE) != key.sign(MESSAGE + b"!")


ORDERS = {
    Algorithm.ECDSA_P256_SHA256: 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    Algorithm.ECDSA_BP256R1_SHA256: int(
        "A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7", 16
    ),
}


@pytest.mark.parametrize("algorithm", ECDSA)
def test_ecdsa_signatures_are_strict_low_s_der(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    order = ORDERS[algorithm]
    for n in range(8):
        message = MESSAGE + bytes([n])
        r, s = decode_dss_signature(key.sign(message))
        assert 0 < r < order
        assert 0 < s <= order // 2
        assert encode_dss_signature(r, s) == key.sign(message)
        # (r, n − s) is the same signature to the curve, but not in our byte form.
        with pytest.raises(InvalidSignature):
            key.public_key.verify(encode_dss_signature(r, order - s), message)


@pytest.mark.parametrize("algorithm", ECDSA)
def test_randomised_ecdsa_signatures_verify_once_made_low_s(algorithm: Algorithm) -> None:
    # A signature made without RFC 6979 (as a browser makes it) verifies too.
    key = key_for(algorithm)
    private = key._key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    order = ORDERS[algorithm]
    for _ in range(6):
        r, s = decode_dss_signature(private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())))
        low, high = min(s, order - s), max(s, order - s)
        assert key.public_key.verify(encode_dss_signature(r, low), MESSAGE) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
        with pytest.raises(InvalidSignature):
            key.public_key.verify(encode_dss_signature(r, high), MESSAGE)


@pytest.mark.parametrize("algorithm", ECDSA)
def test_non_strict_der_is_rejected(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    der = key.sign(MESSAGE)
    # SEQUENCE { INTEGER r, INTEGER s } with a superfluous leading zero in s.
    r, s = decode_dss_signature(der)
    r_bytes = encode_dss_signature(r, s)[2 : 2 + 2 + der[3]]
    s_body = b"\x00" + s.to_bytes((s.bit_length() + 8) // 8, "big")
    padded = r_bytes + b"\x02" + bytes([len(s_body)]) + s_body
    loose = b"\x30" + bytes([len(padded)]) + padded
    assert loose != der
    with pytest.raises(InvalidSignature):
        key.public_key.verify(loose, MESSAGE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(der + b"\x00", MESSAGE)


@pytest.mark.parametrize("algorithm", ECDSA)
def test_ecdsa_raw_to_der_interop(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    der = key.sign(MESSAGE)
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # WebCrypto's r‖s
    assert ecdsa_raw_to_der(raw, algorithm) == der
    assert key.public_key.verify(ecdsa_raw_to_der(raw, algorithm), MESSAGE) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
    # WebCrypto may hand over the high-S twin: it is brought to the low-S form.
    high = r.to_bytes(32, "big") + (ORDERS[algorithm] - s).to_bytes(32, "big")
    assert ecdsa_raw_to_der(high, algorithm) == der
    # The raw form itself is not DER and does not verify.
    with pytest.raises(InvalidSignature):
        key.public_key.verify(raw, MESSAGE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(ecdsa_raw_to_der(raw[32:] + raw[:32], algorithm), MESSAGE)
    with pytest.raises(InvalidSignature):
        ecdsa_raw_to_der(raw, Algorithm.ED25519)


@pytest.mark.parametrize("length", [0, 63, 65, 128])
def test_ecdsa_raw_to_der_needs_64_bytes(length: int) -> None:
    with pytest.raises(InvalidSignature):
        ecdsa_raw_to_der(bytes(length))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_tampered_message_or_signature_is_rejected(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    signature = key.sign(MESSAGE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(signature, MESSAGE + b"x")
    with pytest.raises(InvalidSignature):
        key.public_key.verify(signature, MESSAGE[:-1])
    for position in (0, len(signature) // 2, len(signature) - 1):
        tampered = bytearray(signature)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidSignature):
            key.public_key.verify(bytes(tampered), MESSAGE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(b"", MESSAGE)
    with pytest.raises(InvalidSignature):
        key.public_key.verify(signature + b"\x00", MESSAGE)
    other = key_for(algorithm, b"\x01" * 64)
    with pytest.raises(InvalidSignature):
        other.public_key.verify(signature, MESSAGE)


# --------------------------------------------------------------------------
# Key files.


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_encrypted_pem_round_trip(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    pem = key.to_encrypted_pem(b"correct horse")
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = SigningKey.from_encrypted_pem(pem, b"correct horse")
    assert loaded.keyid == key.keyid
    assert loaded.algorithm is algorithm
    assert loaded.sign(MESSAGE) == key.sign(MESSAGE)


def test_a_wrong_passphrase_that_decrypts_to_valid_padding_is_still_a_wrong_passphrase() -> None:
    # PBES2 has no MAC: about one wrong passphrase in 256 yields valid CBC
    # padding and then garbage DER. Find such a file (the salt is random).
    key = key_for(Algorithm.ED25519)
    for _ in range(5000):
        pem = key.to_encrypted_pem(b"right")
        try:
            serialization.load_pem_private_key(pem, password=b"wrong")
        except ValueError as exc:
            if "decrypt" not in str(exc).lower() and "password" not in str(exc).lower():
                break
    else:
        pytest.fail("no wrong passphrase with valid padding found in 5000 files")
    with pytest.raises(WrongPassphrase):
        SigningKey.from_encrypted_pem(pem, b"wrong")
    assert SigningKey.from_encrypted_pem(pem, b"right").keyid == key.keyid


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_passphrase(algorithm: Algorithm) -> None:
    pem = key_for(algorithm).to_encrypted_pem(b"correct horse")
    for wrong in (b"battery staple", b"correct hors", b"Correct horse"):
        with pytest.raises(WrongPassphrase):
            SigningKey.from_encrypted_pem(pem, wrong)


def test_refuses_to_write_a_key_without_passphrase() -> None:
    with pytest.raises(WrongPassphrase):
        key_for(Algorithm.ED25519).to_encrypted_pem(b"")


def _unencrypted_pem(key: SigningKey) -> bytes:
    return key._key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unencrypted_pem_is_refused(algorithm: Algorithm) -> None:
    with pytest.raises(MalformedKey):
        SigningKey.from_encrypted_pem(_unencrypted_pem(key_for(algorithm)), b"anything")


@pytest.mark.parametrize(
    "pem",
    [
        b"",
        b"garbage",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nnot base64 at all\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n-----END ENCRYPTED PRIVATE KEY-----\n",
    ],
    ids=["empty", "garbage", "bad-base64", "not-pkcs8", "empty-body"],
)
def test_garbage_pem_is_malformed(pem: bytes) -> None:
    with pytest.raises(MalformedKey):
        SigningKey.from_encrypted_pem(pem, b"pw")


def test_truncated_encrypted_pem_is_malformed() -> None:
    pem = key_for(Algorithm.ECDSA_P256_SHA256).to_encrypted_pem(b"pw")
    lines = pem.splitlines(keepends=True)
    truncated = b"".join([lines[0], *lines[1:3], lines[-1]])
    with pytest.raises(MalformedKey):
        SigningKey.from_encrypted_pem(truncated, b"pw")


def test_rsa_keys_are_unsupported() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    with pytest.raises(UnsupportedAlgorithm):
        SigningKey.from_encrypted_pem(pem, b"pw")
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UnsupportedAlgorithm):
        PublicKey.from_spki_der(spki)
    assert issubclass(UnsupportedAlgorithm, MalformedKey)


def test_other_curves_are_unsupported() -> None:
    private = ec.derive_private_key(12345, ec.SECP384R1())
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UnsupportedAlgorithm):
        PublicKey.from_spki_der(spki)


# --------------------------------------------------------------------------
# SubjectPublicKeyInfo parsing.


def _der_length(length: int) -> bytes:
    assert length < 128
    return bytes([length])


def _compressed_spki(uncompressed_spki: bytes, point: bytes) -> bytes:
    """The same key as SPKI with a compressed point (built by hand; cryptography won't)."""
    assert uncompressed_spki[0] == 0x30
    assert uncompressed_spki[2] == 0x30
    algorithm_id = uncompressed_spki[2 : 4 + uncompressed_spki[3]]
    bit_string = b"\x03" + _der_length(len(point) + 1) + b"\x00" + point
    body = algorithm_id + bit_string
    return b"\x30" + _der_length(len(body)) + body


@pytest.mark.parametrize("algorithm", ECDSA)
def test_compressed_point_spki_is_rejected(algorithm: Algorithm) -> None:
    key = key_for(algorithm)
    public = serialization.load_der_public_key(key.public_key.spki_der)
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    assert len(point) == 33
    spki = _compressed_spki(key.public_key.spki_der, point)
    # It is a valid encoding of the same key ...
    reloaded = serialization.load_der_public_key(spki)
    assert reloaded.public_numbers() == public.public_numbers()  # type: ignore[union-attr]
    # ... but a second id for one key would break keyid uniqueness.
    with pytest.raises(MalformedKey, match="canonical"):
        PublicKey.from_spki_der(spki)


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30", b"\x30\x00", b"garbage", bytes(44)],
    ids=["empty", "bare-tag", "empty-sequence", "garbage", "zeros"],
)
def test_garbage_spki_is_malformed(der: bytes) -> None:
    with pytest.raises(MalformedKey):
        PublicKey.from_spki_der(der)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_spki_with_trailing_bytes_is_rejected(algorithm: Algorithm) -> None:
    with pytest.raises(MalformedKey):
        PublicKey.from_spki_der(key_for(algorithm).public_key.spki_der + b"\x00")


def test_garbage_public_pem_is_malformed() -> None:
    with pytest.raises(MalformedKey):
        PublicKey.from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_raw_ed25519_accessors_are_ed25519_only() -> None:
    key = key_for(Algorithm.ECDSA_P256_SHA256)
    with pytest.raises(UnsupportedAlgorithm):
        _ = key.public_key.raw_ed25519
    with pytest.raises(UnsupportedAlgorithm):
        key.raw_ed25519_seed()


def test_public_key_equality_and_hash() -> None:
    a, b = key_for(Algorithm.ED25519), key_for(Algorithm.ED25519)
    assert a.public_key == b.public_key
    assert hash(a.public_key) == hash(b.public_key)
    assert a.public_key != key_for(Algorithm.ED25519, b"\x02" * 32).public_key
    assert a.public_key != a.keyid
    assert "ed25519" in repr(a.public_key)
    assert "ed25519" in repr(a)
