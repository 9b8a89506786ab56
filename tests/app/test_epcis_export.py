"""EPCIS 2.0 export of a real ledger: the demo story plus two corrections, on SQLite.

The export must validate against the GS1 EPCIS 2.0 JSON schema with format
checking on; event ids are the entries' leaf hashes (checked against the
log); corrections appear as errorDeclarations on the corrected events; the
extension members are in the ``kcl:`` namespace; bad input writes nothing.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import queries
from app.services import custody
from app.services.epcis import export_epcis
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.entry import Entry
from ledger.epcis import KCL_NAMESPACE, event_id, seals_named
from ledger.errors import InvalidInput, NotFound
from ledger.trust import TRUST_KINDS
from tests.app.audit_ledger import AuditLedger, build_audit_ledger
from tests.app.custody_scenarios import WH, World
from tests.epcis_schema import errors, object_event_members
from tests.helpers import LedgerFixture

TRUST = {spec.name for spec in TRUST_KINDS}
#: Tests sharing the module's demo ledger run on one xdist worker (it is built once per worker).
pytestmark = pytest.mark.xdist_group("auditor-epcis")


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLedger]:
    ledger = build_audit_ledger(tmp_path_factory.mktemp("epcis"))
    yield ledger
    ledger.ctx.engine.dispose()


def load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def leaf_of(event_id_value: str) -> bytes:
    return base64.urlsafe_b64decode(event_id_value.removeprefix("ni:///sha-256;") + "=")


def test_the_whole_ledger_exports_as_a_schema_valid_epcis_document(
    audit: AuditLedger, tmp_path: Path
) -> None:
    out = tmp_path / "all.jsonld"
    result = export_epcis(audit.ctx, out=out)
    document = load(out)
    assert errors(document) == []
    events = document["epcisBody"]["eventList"]
    entries = audit.entries()
    kinds = Counter(e.statement.kind for e in entries)
    # Every entry but trust entries is exported once; a correction as the error declaration.
    expected = sum(n for kind, n in kinds.items() if kind not in TRUST)
    assert len(events) == result.events == expected
    assert result.error_declarations == kinds["correction"] == 2
    # The document names the checkpoint it was taken against.
    checkpoint = parse_checkpoint_unverified(audit.ctx.store.checkpoint())
    assert document["kcl:checkpoint"] == {
        "origin": checkpoint.origin,
        "size": checkpoint.size,
        "root": checkpoint.root.hex(),
    }
    assert result.checkpoint.size == checkpoint.size == len(entries)
    # The story is all there: every custody kind of the demo, mapped.
    exported = Counter(e["kcl:kind"] for e in events if "errorDeclaration" not in e)
    for kind in ("connector.commissioned", "seal.received", "custody.transferred", "installed", "lzv.applied",
                 "quarantined", "quarantine.released", "seal.removed", "lost",
                 "destroyed", "seal.destroyed"):  # fmt: skip
        assert exported[kind] == kinds[kind] > 0, kind


def test_event_ids_are_unique_and_equal_the_leaf_hashes_in_the_log(
    audit: AuditLedger, tmp_path: Path
) -> None:
    export_epcis(audit.ctx, out=tmp_path / "all.jsonld")
    events = load(tmp_path / "all.jsonld")["epcisBody"]["eventList"]
    originals = [e for e in events if "errorDeclaration" not in e]
    ids = [e["eventID"] for e in originals]
    assert len(set(ids)) == len(ids)
    for event in originals:
        entry = audit.entry(event["kcl:entryIndex"])
        assert event["eventID"] == event_id(entry.leaf_hash)
        assert leaf_of(event["eventID"]) == entry.leaf_hash
        assert event["kcl:leafHash"] == entry.leaf_hash.hex()
    # The inclusion proof an auditor fetches for an event starts at that same leaf.
    some = originals[len(originals) // 2]
    proof = audit.ctx.store.inclusion_proof(some["kcl:entryIndex"])
    assert proof["leaf_hash"] == some["kcl:leafHash"]
    # Error declarations reuse the id of the event they declare erroneous, and nothing else.
    for event in events:
        if "errorDeclaration" in event:
            assert event["eventID"] in ids


def test_a_correction_is_an_error_declaration_on_the_corrected_event(
    audit: AuditLedger, tmp_path: Path
) -> None:
    export_epcis(audit.ctx, out=tmp_path / "all.jsonld")
    events = load(tmp_path / "all.jsonld")["epcisBody"]["eventList"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_id.setdefault(event["eventID"], []).append(event)
    for correction, corrected in audit.corrections:
        original, declared = by_id[event_id(corrected.leaf_hash)]
        assert "errorDeclaration" not in original
        declaration = declared["errorDeclaration"]
        assert declaration["declarationTime"] == correction.statement.at
        assert declaration["reason"] == correction.statement.data["reason"]
        assert declaration["reason"] in ("did_not_occur", "incorrect_data")
        assert declaration["kcl:entryIndex"] == correction.index
        assert declaration["kcl:declarationID"] == event_id(correction.leaf_hash)
        assert declaration["kcl:signers"] == ["party:AUDIT-01"]
        assert declared["recordTime"] == correction.recorded_at
        assert declared["kcl:entryIndex"] == corrected.index
        assert declared["kcl:kind"] == corrected.statement.kind
        same = {k: v for k, v in declared.items() if k not in ("errorDeclaration", "recordTime")}
        assert same == {k: v for k, v in original.items() if k != "recordTime"}
        # Log order: the declaration stands where the correction was recorded.
        assert events.index(declared) > events.index(original)


def test_extension_members_use_the_kcl_namespace(audit: AuditLedger, tmp_path: Path) -> None:
    export_epcis(audit.ctx, out=tmp_path / "all.jsonld")
    document = load(tmp_path / "all.jsonld")
    assert document["@context"][1]["kcl"] == KCL_NAMESPACE
    standard = object_event_members()
    seen: set[str] = set()
    for event in document["epcisBody"]["eventList"]:
        extra = set(event) - standard
        seen |= extra
        assert all(name.startswith("kcl:") for name in extra), extra
        for name in event.get("errorDeclaration", {}):
            assert name in ("declarationTime", "reason", "correctiveEventIDs") or name.startswith("kcl:")
        for uri in event["epcList"]:
            assert uri.startswith(("urn:kcl:connector:", "urn:kcl:seal:"))
    assert {"kcl:entryIndex", "kcl:leafHash", "kcl:kind", "kcl:by", "kcl:signers", "kcl:keyIds",
            "kcl:data"} <= seen  # fmt: skip
    assert {k for k in document if k.startswith("kcl:")} == {"kcl:checkpoint"}


def test_a_connector_export_holds_its_chain_and_its_seals_events(audit: AuditLedger, tmp_path: Path) -> None:
    subject = audit.connector_with_longest_history()
    vendor_serial = subject.removeprefix("connector:")
    out = tmp_path / "one.jsonld"
    result = export_epcis(audit.ctx, vendor_serial, out=out)
    document = load(out)
    assert errors(document) == []
    assert result.connector == subject
    events = document["epcisBody"]["eventList"]
    chain = [e for e in audit.entries() if e.statement.subject == subject]
    seal_ids = {s for e in chain for s in seals_named(e.statement.kind, e.statement.data)}
    assert seal_ids
    indices = [e["kcl:entryIndex"] for e in events]
    assert indices == sorted(indices)
    assert {e.index for e in chain} <= set(indices)
    for event in events:
        entry = audit.entry(event["kcl:entryIndex"])
        if entry.statement.subject == subject:
            continue
        # Every other event is about one of its seals: an entry about the seal, or its batch receipt.
        uris = set(event["epcList"])
        assert uris & {f"urn:kcl:seal:{s}" for s in seal_ids}, event["kcl:kind"]
        assert entry.statement.subject.startswith("seal:")
    receipts = {queries.seal(audit.ctx.engine, s).received_index for s in seal_ids}
    assert receipts <= set(indices)
    # A connector export of a corrected chain carries the declaration too.
    correction, corrected = audit.corrections[0]
    out2 = tmp_path / "corrected.jsonld"
    export_epcis(audit.ctx, correction.statement.subject, out=out2)
    events2 = load(out2)["epcisBody"]["eventList"]
    declared = [e for e in events2 if "errorDeclaration" in e]
    assert [e["eventID"] for e in declared] == [event_id(corrected.leaf_hash)]
    assert errors(load(out2)) == []


def test_an_unknown_connector_is_a_clear_error_and_writes_nothing(audit: AuditLedger, tmp_path: Path) -> None:
    out = tmp_path / "none.jsonld"
    with pytest.raises(NotFound, match=r"unknown connector connector:SECUNET:0000000000"):
        export_epcis(audit.ctx, "SECUNET:0000000000", out=out)
    assert not out.exists()
    with pytest.raises(InvalidInput):
        export_epcis(audit.ctx, "not a connector", out=out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_leaves_an_existing_file_alone(audit: AuditLedger, tmp_path: Path) -> None:
    out = tmp_path / "keep.jsonld"
    out.write_text("previous export\n", encoding="utf-8")
    with pytest.raises(NotFound):
        export_epcis(audit.ctx, "SECUNET:0000000000", out=out)
    assert out.read_text(encoding="utf-8") == "previous export\n"
    missing_dir = tmp_path / "no" / "such" / "dir" / "x.jsonld"
    with pytest.raises(InvalidInput, match="does not exist"):
        export_epcis(audit.ctx, out=missing_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.jsonld"]
    # A successful export replaces it whole.
    export_epcis(audit.ctx, out=out)
    assert errors(load(out)) == []


def test_export_on_each_backend_with_a_correction(ledger: LedgerFixture, tmp_path: Path) -> None:
    world = World(ledger)
    unit = world.unit("IN_OPERATION")
    record = queries.connector(world.ctx.engine, unit.subject)
    stored = next(h for h in record.history if h.kind == "stored")
    custody.correct(
        world.ctx, WH, world.key(WH), unit.subject, index=stored.index, reason="incorrect_data",
        explanation="wrong bin",
    )  # fmt: skip
    result = export_epcis(world.ctx, unit.subject, out=tmp_path / "unit.jsonld")
    document = load(tmp_path / "unit.jsonld")
    assert errors(document) == []
    events = document["epcisBody"]["eventList"]
    chain = [
        Entry.parse(raw)
        for raw in world.ctx.store.entries()
        if Entry.parse(raw).statement.subject == unit.subject
    ]
    assert result.events == len(events) > len(chain)  # the chain, plus its seals' issue and receipt entries
    declared = [e for e in events if "errorDeclaration" in e]
    assert len(declared) == result.error_declarations == 1
    assert declared[0]["eventID"] == event_id(bytes.fromhex(stored.leaf_hash))
    assert declared[0]["errorDeclaration"]["kcl:by"] == f"party:{WH}"
    for event in events:
        entry = Entry.parse(world.ctx.store.entry(event["kcl:entryIndex"]))
        assert event["eventID"] == event_id(entry.leaf_hash)
