"""Request and response models: the OpenAPI 3.1 contract of `/api/v1`.

Shapes match the CLI's JSON output exactly (`custody log proof …`). Every
route declares its response model, so schemathesis can check each response
against the published schema.
"""

from __future__ import annotations

from typing import Any, Literal

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


# ---------------------------------------------------------------------------
# Resources: connectors, seals, incidents, parties, fleet, scan, handovers,
# enrolments. Status values are closed sets (Literal) so a wrong one is a 422
# and the OpenAPI document lists them; tests check they match the ledger's.

ConnectorState = Literal[
    "PRODUCED", "PERSONALISED", "SEALED", "IN_STOCK", "IN_TRANSIT", "RECEIVED", "INSTALLED",
    "IN_OPERATION", "DEREGISTERED", "REMOVED", "RETURN_TRANSIT", "RETURNED", "DECOMMISSIONED",
    "DESTROYED", "SUSPECT", "QUARANTINED", "LOST",
]  # fmt: skip
SealStatus = Literal["IN_STOCK", "ISSUED", "APPLIED", "REMOVED", "RETAINED", "DESTROYED", "VOID", "LOST"]
IncidentStatus = Literal["OPEN", "QUARANTINED", "RELEASED"]
ExpiryState = Literal["expired", "due", "ok"]
OfferStatus = Literal["pending", "accepted", "rejected"]
EnrolmentStatus = Literal["pending", "approved", "rejected"]
HEX32 = r"^[0-9a-f]{32}$"


class Page(Strict):
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next_offset: int | None = Field(description="`offset` of the next page, or null if this was the last.")


class ConnectorSummary(Strict):
    connector: str
    vendor: str
    serial: str
    state: str
    seal_status: str
    custodian: str
    location: str | None
    cert_not_after: str | None = Field(description="Earliest gSMC-K certificate expiry.")
    open_incident: str | None
    last_index: int


class ConnectorList(Page):
    items: list[ConnectorSummary]


class CertificateStatus(Strict):
    iccsn: str
    not_after: str
    days_remaining: int = Field(description="Whole days until `not_after` (negative once expired).")
    status: ExpiryState = Field(description="`expired`, `due` (within 180 days) or `ok`.")


class ExpiryStatus(Strict):
    not_after: str
    days_remaining: int
    status: ExpiryState


class IncidentOut(Strict):
    incident_id: str
    connector: str
    category: str
    status: str
    reported_by: str
    opened_index: int
    description: str
    quarantined_by: str | None
    released_by: str | None
    investigation: str | None
    closed_index: int | None


class IncidentList(Page):
    items: list[IncidentOut]


class InspectionOut(Strict):
    index: int
    by: str
    place: str | None
    at: str
    expected: list[str]
    observed: list[str]
    results: dict[str, str]
    conformant: bool


class SignerOut(Strict):
    keyid: str = Field(pattern=HEX64)
    party: str | None = Field(description="The party the key belongs to (null: unknown key).")
    valid: bool = Field(description="Verifies under a key valid for its party at the entry's index.")
    problem: str | None


class EntryVerification(Strict):
    verified: bool = Field(
        description="Every signature valid and the entry included in the latest checkpoint."
    )
    signatures_valid: bool
    included: bool = Field(description="Inclusion proof verified against the latest checkpoint's root.")
    chain_valid: bool | None = Field(description="`prev` links to the previous entry (null: not checked).")
    problems: list[str]


class VerifiedEntryOut(Strict):
    index: int
    kind: str
    subject: str
    at: str
    recorded_at: str
    by: str
    place: str | None
    data: dict[str, Any]
    leaf_hash: str = Field(pattern=HEX64, description="SHA-256(0x00 ‖ entry bytes), recomputed.")
    signers: list[SignerOut]
    verification: EntryVerification
    corrected: bool = Field(description="A later `correction` declared this entry erroneous.")
    corrected_by: int | None
    state_before: str | None
    state_after: str | None


class CheckpointRefOut(Strict):
    size: int
    root: str | None
    valid: bool = Field(description="The checkpoint's signature verifies under the log key of genesis.")
    problem: str | None


class ConnectorDetail(Strict):
    connector: str
    vendor: str
    serial: str
    product_code: str
    state: str
    custodian: str
    location: str | None
    bin: str | None
    practice: str | None = Field(description="Salted practice digest while installed.")
    firmware: str
    smck_bound: bool
    seals: list[str]
    seal_status: str
    certificates: list[CertificateStatus]
    expiry: ExpiryStatus | None = Field(description="Of the earliest-expiring card.")
    as_of: str
    open_incident: IncidentOut | None
    last_inspection: InspectionOut | None
    last_at: str | None
    verified_against: CheckpointRefOut
    all_verified: bool
    history: list[VerifiedEntryOut]


class SealSummary(Strict):
    seal_id: str
    status: str
    holder: str
    issued_to: str | None
    connector: str | None
    last_index: int


class SealList(Page):
    items: list[SealSummary]


class SealDetail(Strict):
    seal_id: str
    status: str
    holder: str
    issued_to: str | None
    connector: str | None
    received_index: int
    last_index: int
    connector_state: str | None
    verified_against: CheckpointRefOut
    all_verified: bool
    history: list[VerifiedEntryOut]


class PartyKey(Strict):
    keyid: str = Field(pattern=HEX64)
    algorithm: str
    spki: str = Field(description="Standard base64 of the DER SubjectPublicKeyInfo.")
    added_at: int = Field(description="Log index from which the key signs.")
    revoked_at: int | None = Field(description="Log index from which it no longer signs.")
    active: bool


class PartyOut(Strict):
    party: str
    name: str
    roles: list[str]
    registered_at: int
    keys: list[PartyKey]


class PartyList(Page):
    items: list[PartyOut]


class FleetConnector(Strict):
    connector: str
    state: str
    not_after: str
    expired: bool
    custodian: str
    location: str | None


class FleetMonth(Strict):
    month: str = Field(description="`YYYY-MM` of the expiry.")
    count: int
    connectors: list[FleetConnector]


class FleetExpiring(Strict):
    as_of: str
    within_days: int
    total: int
    months: list[FleetMonth]


class ScanIn(Strict):
    input: str = Field(
        min_length=1,
        max_length=2048,
        description="What the scanner typed (keyboard wedge) or the QR payload, verbatim.",
    )


class ScanOut(Strict):
    input: str
    normalised: str = Field(description="The reading after repairing the keyboard layout, upper-case.")
    kind: Literal["seal", "connector", "unknown"]
    id: str | None = Field(description="Seal id, or connector subject.")
    subject: str | None
    repaired: bool = Field(description="True if the id was read only after undoing a layout mismatch.")
    known: bool = Field(description="The ledger knows the id.")
    state: str | None = Field(description="Seal status or connector state.")
    custodian: str | None = Field(description="Holder of a seal, custodian of a connector.")
    connector: str | None
    connector_state: str | None
    expected_next: list[str] = Field(description="Statement kinds the state machine allows next.")
    from_label_url: bool
    label: LabelCheck | None = Field(
        default=None,
        description="For a scanned seal label: whether its signature verifies with the published label key.",
    )


class LabelCheck(Strict):
    verdict: Literal["genuine", "known_id", "forged", "unknown"]
    ok: bool
    reason: str
    code: str


class HandoverIn(Strict):
    to: str = Field(min_length=1, max_length=80, description="The receiving party (`party:ID` or `ID`).")
    envelopes: list[EnvelopeIn] = Field(
        min_length=1, max_length=500, description="`custody.transferred` statements signed by the releaser."
    )


class OfferConnector(Strict):
    connector: str
    seals: list[str]
    state: str


class OfferOut(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    offer_id: str = Field(pattern=HEX32)
    from_party: str = Field(alias="from")
    to: str
    status: OfferStatus
    created_at: str
    closed_at: str | None
    reason: str | None
    connectors: list[OfferConnector]
    result: dict[str, Any] | None
    envelopes: list[EnvelopeIn] = Field(
        description="The statements as offered: countersign each `payload` (DSSE PAE) to accept."
    )


class OfferList(Page):
    items: list[OfferOut]


class AcceptIn(Strict):
    signatures: list[SignatureIn] = Field(
        min_length=1,
        max_length=500,
        description="The receiver's countersignature of each statement, in order.",
    )


class RejectIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)
    incidents: list[EnvelopeIn] = Field(
        default_factory=list,
        max_length=500,
        description="`incident.reported` statements signed by the receiver (e.g. seal mismatches).",
    )


class RejectOut(Strict):
    offer: OfferOut
    receipts: list[Receipt]


class EnrolmentIn(Strict):
    spki: str = Field(
        min_length=4, max_length=1024, description="Standard base64 of the DER SubjectPublicKeyInfo."
    )
    label: str = Field(min_length=1, max_length=200, description="E.g. the device or browser.")


class KeyAddedData(Strict):
    keyid: str
    algorithm: str
    spki: str


class EnrolmentOut(Strict):
    enrolment_id: str = Field(pattern=HEX32)
    party: str
    keyid: str = Field(pattern=HEX64)
    algorithm: str
    spki: str
    label: str
    status: EnrolmentStatus
    created_at: str
    decided_at: str | None
    decided_by: str | None
    entry_index: int | None = Field(description="Index of the `key.added` entry once approved.")
    reason: str | None
    key_added_data: KeyAddedData = Field(
        description="The `data` of the `key.added` statement that approves it."
    )


class EnrolmentList(Page):
    items: list[EnrolmentOut]


class ApproveIn(Strict):
    envelope: EnvelopeIn = Field(
        description="`key.added` for this party and key, signed by the administrator."
    )


class ApproveOut(Strict):
    enrolment: EnrolmentOut
    receipts: list[Receipt]


class RejectEnrolmentIn(Strict):
    reason: str = Field(min_length=1, max_length=1000)
