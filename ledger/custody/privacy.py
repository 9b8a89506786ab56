"""Practice identifiers enter the chain only as salted digests.

The clear BSNR and Telematik-ID live in erasable master data together with a
random per-practice salt. Without the salt the digest cannot be linked back
to the practice by guessing (BSNRs are only nine digits), so erasing the
master-data row severs the link while every entry still verifies.
"""

from __future__ import annotations

import hashlib

from ledger import canonical
from ledger.errors import InvalidData

PRACTICE_DIGEST_DOMAIN = b"kcl/practice/v1\x00"
SALT_BYTES = 16


def practice_digest(salt: bytes, bsnr: str, telematik_id: str) -> str:
    """hex SHA-256(domain ‖ salt ‖ canonical JSON {"bsnr", "telematik_id"})."""
    if len(salt) != SALT_BYTES:
        raise InvalidData(f"practice salt must be {SALT_BYTES} bytes")
    if not (bsnr.isdigit() and len(bsnr) == 9):
        raise InvalidData("BSNR must be nine digits")
    if not telematik_id or len(telematik_id) > 128:
        raise InvalidData("Telematik-ID must be 1–128 characters")
    body = canonical.encode({"bsnr": bsnr, "telematik_id": telematik_id})
    return hashlib.sha256(PRACTICE_DIGEST_DOMAIN + salt + body).hexdigest()
