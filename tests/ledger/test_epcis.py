"""The pure EPCIS 2.0 mapper: entries in, GS1-schema-valid JSON-LD events out.

Every test validates against the ratified GS1 EPCIS 2.0 JSON schema with
format checking on (``tests/epcis_schema.py``); the official GS1 examples
pass the same validator, and deliberately broken documents fail it, so the
validator is known to be both working and strict.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.custody.ids import seal_id
from ledger.entry import Entry, encode_entry
from ledger.envelope import sign_envelope
from ledger.epcis import (
    EPCIS_CONTEXT,
    KCL_NAMESPACE,
    CheckpointRef,
    entry_event,
    epcis_document,
    error_declaration_event,
    event_id,
    map_entries,
    subject_uri,
)
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from ledger.kinds import REGISTRY
from ledger.statement import new_statement
from ledger.trust import TRUST_KINDS
from tests.epcis_schema import EXAMPLES, cbv_words, errors, object_event_members

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
KEY = SigningKey.generate(Algorithm.ED25519, bytes(range(64)))
COSIGNER = SigningKey.generate(Algorithm.ED25519, bytes(range(1, 65)))
PARTIES = {KEY.keyid: "party:WH-ESSEN-01", COSIGNER.keyid: "party:CARRIER-01"}
CONNECTOR = "connector:SECUNET:2200069772"
SEALS = [seal_id("KA", 1), seal_id("KA", 2)]


class Log:
    """Entries built in memory (no admission: the mapper only reads bytes)."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    def add(
        self,
        kind: str,
        data: dict[str, Any],
        *,
        subject: str = CONNECTOR,
        by: str = "party:WH-ESSEN-01",
        place: str | None = None,
        keys: list[SigningKey] | None = None,
    ) -> Entry:
        index = len(self.entries)
        statement = new_statement(
            kind=kind,
            subject=subject,
            by=by,
            data=data,
            at=T0 + timedelta(minutes=index),
            nonce=index.to_bytes(16, "big"),
            place=place,
        )
        raw = encode_entry(
            index=index,
            prev=None,
            recorded_at=T0 + timedelta(minutes=index, seconds=2),
            envelope=sign_envelope(statement.to_bytes(), keys or [KEY]),
        )
        entry = Entry.parse(raw)
        self.entries.append(entry)
        return entry

    def by_index(self, index: int) -> Entry:
        return self.entries[index]


def document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return epcis_document(
        events,
        creation_date="2026-11-28T12:00:00.000Z",
        checkpoint=CheckpointRef("test.custody.local/ledger", 7, "ab" * 32),
    )


def assert_valid(events: list[dict[str, Any]]) -> dict[str, Any]:
    doc = document(events)
    assert errors(doc) == []
    return doc


def inspection(results: dict[str, str], observed: list[str] | None = None) -> dict[str, Any]:
    return {
        "expected": SEALS,
        "observed": SEALS if observed is None else observed,
        "results": [{"seal": s, "result": r} for s, r in results.items()],
        "checklist": "VVTT-2026",
    }


# --------------------------------------------------------------------------
# The validator itself: official examples pass, broken documents fail.


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_official_gs1_examples_validate_with_the_same_validator(example: Path) -> None:
    assert errors(json.loads(example.read_text(encoding="utf-8"))) == []


def test_the_validator_rejects_what_format_checking_must_catch() -> None:
    log = Log()
    event = entry_event(log.add("stored", {"location": "location:WH-ESSEN-01"}))
    assert event is not None
    good = assert_valid([event])
    cases: dict[str, Any] = {
        "eventTime": "2026-11-28 10:00",  # not RFC 3339
        "recordTime": "2026-13-01T00:00:00Z",  # no 13th month
        "bizStep": "sealing",  # neither a CBV word nor a URI
        "disposition": "sealed",
        "eventID": "not a uri",
        "sealNumber": "KA0000001X",  # an extension member without a namespace prefix
        "eventTimeZoneOffset": "Z",
    }
    for member, value in cases.items():
        broken = copy.deepcopy(good)
        broken["epcisBody"]["eventList"][0][member] = value
        assert errors(broken), f"{member}={value!r} passed the schema"
    missing = copy.deepcopy(good)
    del missing["epcisBody"]["eventList"][0]["eventTimeZoneOffset"]
    assert errors(missing)


# --------------------------------------------------------------------------
# The mapping of each kind.


def test_every_custody_kind_maps_to_cbv_words_and_trust_kinds_have_no_mapping() -> None:
    steps, dispositions = cbv_words("bizStep"), cbv_words("disposition")
    trust = {spec.name for spec in TRUST_KINDS}
    mapped = [spec for spec in REGISTRY if spec.name not in trust]
    assert len(mapped) >= 31
    for spec in mapped:
        assert spec.epcis is not None, spec.name
        assert spec.epcis.event_type == "ObjectEvent"
        assert spec.epcis.action in ("ADD", "OBSERVE", "DELETE")
        assert spec.epcis.biz_step is None or spec.epcis.biz_step in steps, spec.name
        assert spec.epcis.disposition is None or spec.epcis.disposition in dispositions, spec.name
    for name in trust:
        assert REGISTRY.get(name).epcis is None


def test_trust_kinds_are_not_exported() -> None:
    log = Log()
    entry = log.add(
        "party.registered", {"name": "Lager Essen"}, subject="party:WH-ESSEN-01", by="party:ADMIN-01"
    )
    assert entry_event(entry) is None
    assert map_entries(log.entries, log.by_index) == []


def test_a_shipment_carries_source_destination_delivery_note_and_the_kcl_members() -> None:
    log = Log()
    entry = log.add(
        "shipped",
        {
            "destination": "location:PRAXIS-ESSEN-0001",
            "to": "party:CARRIER-01",
            "delivery_note": "LS 2026/0042 Müller",
            "carton_seal": SEALS[0],
        },
        place="location:WH-ESSEN-01",
    )
    event = entry_event(entry, PARTIES)
    assert event is not None
    assert event["type"] == "ObjectEvent"
    assert event["action"] == "OBSERVE"
    assert (event["bizStep"], event["disposition"]) == ("shipping", "in_transit")
    assert event["eventTime"] == entry.statement.at
    assert event["eventTimeZoneOffset"] == "+00:00"
    assert event["recordTime"] == entry.recorded_at
    assert event["epcList"] == [subject_uri(CONNECTOR), f"urn:kcl:seal:{SEALS[0]}"]
    assert event["readPoint"] == {"id": "urn:kcl:location:WH-ESSEN-01"}
    assert "bizLocation" not in event  # in transit: no business location
    assert event["sourceList"] == [
        {"type": "possessing_party", "source": "urn:kcl:party:WH-ESSEN-01"},
        {"type": "location", "source": "urn:kcl:location:WH-ESSEN-01"},
    ]
    assert event["destinationList"] == [
        {"type": "possessing_party", "destination": "urn:kcl:party:CARRIER-01"},
        {"type": "location", "destination": "urn:kcl:location:PRAXIS-ESSEN-0001"},
    ]
    assert event["bizTransactionList"] == [
        {"type": "desadv", "bizTransaction": "urn:kcl:delivery-note:LS%202026%2F0042%20M%C3%BCller"}
    ]
    assert event["kcl:entryIndex"] == 0
    assert event["kcl:leafHash"] == entry.leaf_hash.hex()
    assert event["kcl:kind"] == "shipped"
    assert event["kcl:by"] == "party:WH-ESSEN-01"
    assert event["kcl:signers"] == ["party:WH-ESSEN-01"]
    assert event["kcl:keyIds"] == [KEY.keyid]
    assert "kcl:data" not in event  # every field found an EPCIS home
    assert_valid([event])


def test_event_ids_are_rfc6920_names_of_the_leaf_hash() -> None:
    log = Log()
    entry = log.add("stored", {"location": "location:WH-ESSEN-01", "bin": "R3-F2"})
    event = entry_event(entry)
    assert event is not None
    prefix = "ni:///sha-256;"
    assert event["eventID"] == event_id(entry.leaf_hash)
    assert event["eventID"].startswith(prefix)
    value = event["eventID"][len(prefix) :]
    assert "=" not in value
    assert "?" not in value
    assert base64.urlsafe_b64decode(value + "=") == entry.leaf_hash
    assert event["bizLocation"] == {"id": "urn:kcl:location:WH-ESSEN-01"}
    assert event["kcl:data"] == {"bin": "R3-F2"}
    with pytest.raises(InvalidInput):
        event_id(b"short")


@pytest.mark.parametrize(
    ("results", "observed", "disposition"),
    [
        ({SEALS[0]: "intact", SEALS[1]: "intact"}, None, "conformant"),
        ({SEALS[0]: "intact", SEALS[1]: "torn"}, None, "non_conformant"),
        ({SEALS[0]: "intact", SEALS[1]: "missing"}, [SEALS[0]], "non_conformant"),
    ],
)
def test_a_seal_inspection_takes_its_disposition_from_the_results(
    results: dict[str, str], observed: list[str] | None, disposition: str
) -> None:
    log = Log()
    event = entry_event(
        log.add("seal.inspected", inspection(results, observed), place="location:WH-ESSEN-01")
    )
    assert event is not None
    assert event["bizStep"] == "inspecting"
    assert event["disposition"] == disposition
    assert event["epcList"] == [subject_uri(CONNECTOR), *(f"urn:kcl:seal:{s}" for s in SEALS)]
    assert event["kcl:data"]["results"] == inspection(results, observed)["results"]
    assert_valid([event])


def test_a_seal_batch_lists_every_seal_and_a_handover_names_both_parties() -> None:
    log = Log()
    batch = log.add(
        "seal.received",
        {"series": "KA", "first": 1, "count": 5, "supplier": "Plombenwerk", "lot": "L-7"},
        subject=f"seal:{seal_id('KA', 1)}",
    )
    handover = log.add(
        "custody.transferred",
        {"to": "party:CARRIER-01", "seals": SEALS},
        keys=[KEY, COSIGNER],
        place="location:WH-ESSEN-01",
    )
    received, transferred = map_entries(log.entries, log.by_index, PARTIES)
    assert (received["action"], received["bizStep"], received["disposition"]) == (
        "ADD",
        "receiving",
        "available",
    )
    assert received["epcList"] == [f"urn:kcl:seal:{seal_id('KA', n)}" for n in range(1, 6)]
    assert received["kcl:data"] == {"lot": "L-7", "supplier": "Plombenwerk"}
    assert received["kcl:entryIndex"] == batch.index
    assert transferred["kcl:signers"] == ["party:CARRIER-01", "party:WH-ESSEN-01"]
    assert transferred["destinationList"] == [
        {"type": "possessing_party", "destination": "urn:kcl:party:CARRIER-01"}
    ]
    assert transferred["kcl:leafHash"] == handover.leaf_hash.hex()
    assert_valid([received, transferred])


def test_unknown_signing_keys_are_named_by_key_id() -> None:
    log = Log()
    event = entry_event(log.add("lost", {"circumstances": "parcel never arrived"}), {})
    assert event is not None
    assert event["kcl:signers"] == [f"key:{KEY.keyid}"]
    assert (event["bizStep"], event["disposition"]) == ("other", "unknown")


def test_only_kcl_prefixed_members_extend_the_events_and_the_context_declares_them() -> None:
    log = Log()
    log.add("connector.commissioned", {
        "vendor": "SECUNET", "serial": "2200069772", "product_code": "KONN-2", "hw_version": "2.0",
        "fw_version": "5.1.0", "production_date": "2026-11-01", "certification_id": "BSI-K-1",
        "smck": [{"iccsn": "80276883110000000001", "not_after": "2031-11-01T00:00:00Z"}],
    }, by="party:MFR-01")  # fmt: skip
    log.add("seal.applied", {"seals": SEALS}, by="party:MFR-01", place="location:FACTORY")
    log.add("destroyed", {"method": "shredded", "witness": "party:AUDIT-01"}, place="location:WH-ESSEN-01")
    events = map_entries(log.entries, log.by_index, PARTIES)
    doc = assert_valid(events)
    assert doc["@context"][0] == EPCIS_CONTEXT
    assert doc["@context"][1]["kcl"] == KCL_NAMESPACE
    assert doc["kcl:checkpoint"] == {"origin": "test.custody.local/ledger", "size": 7, "root": "ab" * 32}
    standard = object_event_members()
    for event in events:
        extensions = set(event) - standard
        assert extensions, "every event carries kcl members"
        assert all(name.startswith("kcl:") for name in extensions), extensions
    commissioned, applied, destroyed = events
    assert commissioned["kcl:data"]["smck"][0]["iccsn"] == "80276883110000000001"
    assert applied["bizLocation"] == {"id": "urn:kcl:location:FACTORY"}
    assert (destroyed["action"], destroyed["disposition"]) == ("DELETE", "destroyed")
    assert "bizLocation" not in destroyed


# --------------------------------------------------------------------------
# Corrections become error declarations on the corrected event.


def test_a_correction_re_emits_the_corrected_event_with_an_error_declaration() -> None:
    log = Log()
    wrong = log.add("stored", {"location": "location:WH-BOCHUM-02"})
    log.add("seal.inspected", inspection({SEALS[0]: "intact", SEALS[1]: "intact"}))
    correction = log.add(
        "correction",
        {
            "corrects": wrong.index,
            "leaf_hash": wrong.leaf_hash.hex(),
            "reason": "incorrect_data",
            "explanation": "stored in Essen, not Bochum",
        },
        by="party:AUDIT-01",
        keys=[COSIGNER],
    )
    events = map_entries(log.entries, log.by_index, PARTIES)
    assert len(events) == 3
    original, _, declared = events
    assert declared["eventID"] == original["eventID"] == event_id(wrong.leaf_hash)
    assert_valid(events)
    members = list(declared)
    assert members[members.index("errorDeclaration") - 1] == "eventID"  # EPCIS member order
    declared = dict(declared)
    declaration = declared.pop("errorDeclaration")
    assert declaration == {
        "declarationTime": correction.statement.at,
        "reason": "incorrect_data",
        "kcl:declarationID": event_id(correction.leaf_hash),
        "kcl:entryIndex": correction.index,
        "kcl:leafHash": correction.leaf_hash.hex(),
        "kcl:by": "party:AUDIT-01",
        "kcl:signers": ["party:CARRIER-01"],
        "kcl:keyIds": [COSIGNER.keyid],
        "kcl:explanation": "stored in Essen, not Bochum",
    }
    # Everything else is the original event; only the record time is the correction's.
    assert declared.pop("recordTime") == correction.recorded_at
    assert {k: v for k, v in original.items() if k != "recordTime"} == declared


def test_a_correction_must_reference_the_corrected_entry_exactly() -> None:
    log = Log()
    first = log.add("stored", {"location": "location:WH-ESSEN-01"})
    other = log.add("stored", {"location": "location:WH-ESSEN-01"})
    correction = log.add(
        "correction",
        {"corrects": first.index, "leaf_hash": other.leaf_hash.hex(), "reason": "did_not_occur",
         "explanation": "double scan"},
    )  # fmt: skip
    with pytest.raises(InvalidInput, match="does not reference"):
        error_declaration_event(correction, first)
    with pytest.raises(InvalidInput, match="not a correction"):
        error_declaration_event(first, other)
    assert entry_event(correction) is None
