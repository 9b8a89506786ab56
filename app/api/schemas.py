"""Request and response models: the OpenAPI 3.1 contract of `/api/v1`.

Shapes match the CLI's JSON output exactly (`custody log proof …`). Every
route declares its response model, so schemathesis can check each response
against the published schema.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

HEX64 = r"^[0-9a-f]{64}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InclusionProof(Strict):
    index: int = Field(ge=0)
    size: int = Field(ge=1)
    leaf_hash: str = Field(pattern=HEX64)
    root: str = Field(pattern=HEX64)
    proof: list[str]


class ConsistencyProof(Strict):
    old_size: int = Field(ge=1)
    old_root: str = Field(pattern=HEX64)
    new_size: int = Field(ge=1)
    new_root: str = Field(pattern=HEX64)
    proof: list[str]


class EntriesPage(Strict):
    start: int = Field(ge=0, description="Index of the first entry in `entries`.")
    entries: list[str] = Field(description="Entry bytes (UTF-8 JSON text), verbatim, in index order.")
    next: int | None = Field(description="`start` of the next page, or null at the end of the log.")


class SignatureIn(Strict):
    keyid: str = Field(pattern=HEX64, description="Hex SHA-256 of the signer's SubjectPublicKeyInfo DER.")
    sig: str = Field(min_length=1, max_length=400, description="Standard base64 signature over PAE.")


class EnvelopeIn(Strict):
    """A DSSE envelope carrying one signed `kcl/statement/v1` (see docs/format.md §7)."""

    payloadType: str = Field(max_length=100)
    payload: str = Field(min_length=1, max_length=64_000)
    signatures: list[SignatureIn] = Field(min_length=1, max_length=8)


class BatchIn(Strict):
    envelopes: list[EnvelopeIn] = Field(min_length=1, max_length=500)


class Receipt(Strict):
    """Offline proof of inclusion: verify with the log's vkey alone (docs/format.md)."""

    index: int = Field(ge=0)
    leaf_hash: str = Field(pattern=HEX64)
    entry: str = Field(description="The entry bytes as appended (UTF-8 JSON text).")
    checkpoint: str = Field(description="A signed checkpoint note whose tree contains the entry.")
    inclusion_proof: InclusionProof


class Receipts(Strict):
    receipts: list[Receipt]


class Me(Strict):
    party: str
    roles: list[str]
    token_id: str


class Health(Strict):
    status: str
    log_size: int


class Problem(BaseModel):
    """RFC 9457 problem details; `code` is stable and meant for programs."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    rule: str | None = None
    position: int | None = None
    errors: list[dict[str, object]] | None = None
