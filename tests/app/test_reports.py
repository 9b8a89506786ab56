"""Auditor reports: the chain-of-custody PDF and the seal reconciliation, rendered for real.

Text is extracted from the PDFs with pdfium and compared with the ledger;
the QR code is rasterised and decoded with zxing-cpp. The same reports are
checked through the service, the ``custody report`` CLI (as a process) and
the HTTP API.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from fastapi.testclient import TestClient
from sqlalchemy import update

from app import queries
from app.api.app import create_app
from app.reports.custody_report import custody_report_pdf
from app.services import custody, reconciliation
from app.services.reports import (
    connector_url,
    custody_report,
    page_count,
    seal_report_pdf,
    write_custody_report,
    write_seal_report,
)
from app.services.tokens import create_token
from app.tables import ENTRIES
from ledger.custody.records import MISMATCH, SEAL_ISSUED, SEAL_LOST, SEAL_REMOVED, SEAL_STATUSES
from ledger.epcis import seals_named
from ledger.errors import NotFound
from tests.app.audit_ledger import AuditLedger, build_audit_ledger
from tests.app.custody_scenarios import MFR, TECH, World
from tests.app.storage_helpers import append_only_bypassed
from tests.epcis_schema import errors
from tests.helpers import KEY_PASSPHRASE, LOG_PASSPHRASE, LedgerFixture

#: Tests sharing the module's demo ledger run on one xdist worker (it is built once per worker).
pytestmark = pytest.mark.xdist_group("auditor-reports")
REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditLedger]:
    ledger = build_audit_ledger(tmp_path_factory.mktemp("reports"))
    yield ledger
    ledger.ctx.engine.dispose()


def pages_text(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in document:
            textpage = page.get_textpage()
            out.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return out
    finally:
        document.close()


def flat(text: str) -> str:
    """Extracted text with line breaks and runs of spaces folded (table cells wrap)."""
    return re.sub(r"\s+", " ", text)


def qr_codes(pdf: bytes, page: int = 0) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[page].render(scale=3).to_pil()
        return [result.text for result in zxingcpp.read_barcodes(image)]
    finally:
        document.close()


# --------------------------------------------------------------------------
# The chain-of-custody report


def test_the_custody_report_shows_every_entry_its_seals_and_the_verification(
    audit: AuditLedger, tmp_path: Path
) -> None:
    subject = audit.connector_with_longest_history()
    record = queries.connector(audit.ctx.engine, subject)
    result = write_custody_report(audit.ctx, subject, out=tmp_path / "custody.pdf")
    pdf = (tmp_path / "custody.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert result.sha256 == hashlib.sha256(pdf).hexdigest()
    pages = pages_text(pdf)
    assert result.pages == len(pages) == page_count(pdf) >= 2
    text = "\n".join(pages)
    joined = flat(text)
    assert "Verwahrungsnachweis" in text
    assert "Chain-of-custody report" in text
    assert record.serial in text
    assert record.vendor in text
    assert subject in joined
    # The timeline: a row per entry, with its kind.
    chain = [e for e in audit.entries() if e.statement.subject == subject]
    assert len(chain) == len(record.history) >= 20
    for entry in chain:
        assert re.search(rf"(?m)^{entry.index} \d{{4}}-\d\d-\d\d \d\d:\d\d ", text), entry.index
        assert entry.statement.kind in text
    assert "Übergabe / Handover" in joined
    # Seal ids, in the timeline and the seal history.
    seal_ids = {s for e in chain for s in seals_named(e.statement.kind, e.statement.data)}
    assert seal_ids
    for seal_id in seal_ids:
        assert seal_id in text
    assert "Siegelhistorie / Seal history" in joined
    assert "Zertifikatsstatus / Certificate status" in joined
    for card in record.certificates:
        assert card.iccsn in text
    # The verification: the checkpoint and, per entry, its leaf hash and proof digest.
    checkpoint = audit.ctx.store.inclusion_proof(chain[0].index)
    size = checkpoint["size"]
    assert f"Checkpoint-Größe / Checkpoint size {size}" in joined
    assert checkpoint["root"] in joined.replace(" ", "")
    assert "Prüfergebnis / Verification result: verifiziert / verified" in joined
    assert "NICHT" not in text
    assert "FEHLER" not in text
    compact = text.replace("\n", "").replace(" ", "")
    for entry in chain:
        proof = audit.ctx.store.inclusion_proof(entry.index, size)
        digest = hashlib.sha256(b"".join(bytes.fromhex(p) for p in proof["proof"])).hexdigest()
        assert entry.leaf_hash.hex() in compact
        assert digest in compact
    for number, page in enumerate(pages, start=1):
        assert f"Seite {number} von {len(pages)} / Page {number} of {len(pages)}" in page


def test_the_qr_code_decodes_to_the_connector_page(audit: AuditLedger) -> None:
    subject = audit.connector_with_longest_history()
    report = custody_report(audit.ctx, subject)
    pdf = custody_report_pdf(report)
    assert qr_codes(pdf) == [connector_url(audit.ctx, subject)]
    assert qr_codes(pdf) == [f"http://127.0.0.1:8000/connectors/{subject}"]
    # CUSTODY_PUBLIC_URL decides where the QR code points.
    settings = audit.ctx.settings.model_copy(update={"public_url": "https://custody.example.org/"})
    other = dataclasses.replace(audit.ctx, settings=settings, _store=None, _signer_loaded=False)
    pdf2 = custody_report_pdf(custody_report(other, subject))
    assert qr_codes(pdf2) == [f"https://custody.example.org/connectors/{subject}"]
    other.engine.dispose()


def test_reports_are_reproducible(audit: AuditLedger) -> None:
    subject = audit.connector_with_longest_history()
    first = custody_report_pdf(custody_report(audit.ctx, subject))
    second = custody_report_pdf(custody_report(audit.ctx, subject))
    assert first == second
    assert seal_report_pdf(audit.ctx) == seal_report_pdf(audit.ctx)
    # The creation date is the checkpoint's time, not the wall clock.
    report = custody_report(audit.ctx, subject)
    stamp = report.as_of[:19].replace("-", "").replace(":", "").replace("T", "")
    assert f"D:{stamp}".encode() in first


def test_an_unknown_connector_is_a_clear_error_and_writes_nothing(audit: AuditLedger, tmp_path: Path) -> None:
    out = tmp_path / "missing.pdf"
    with pytest.raises(NotFound, match="unknown connector connector:SECUNET:0000000000"):
        write_custody_report(audit.ctx, "SECUNET:0000000000", out=out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_long_history_runs_over_many_pages(sqlite_ledger: LedgerFixture, tmp_path: Path) -> None:
    world = World(sqlite_ledger)
    unit = world.unit("IN_STOCK")
    short = custody_report_pdf(custody_report(world.ctx, unit.subject))
    for _ in range(45):
        world.inspect(unit, by="WH-ESSEN-01", place="WH-ESSEN-01")
    result = write_custody_report(world.ctx, unit.subject, out=tmp_path / "long.pdf")
    pdf = (tmp_path / "long.pdf").read_bytes()
    pages = pages_text(pdf)
    assert page_count(short) < result.pages == len(pages) >= 4
    last = queries.connector(world.ctx.engine, unit.subject).history[-1]
    assert any(re.search(rf"(?m)^{last.index} ", page) for page in pages[1:])
    assert flat("\n".join(pages)).count("seal.inspected") == 45


def test_a_tampered_entry_makes_the_report_say_not_verified(ledger: LedgerFixture) -> None:
    world = World(ledger)
    unit = world.unit("IN_STOCK")
    record = queries.connector(world.ctx.engine, unit.subject)
    target = next(h for h in record.history if h.kind == "stored")
    raw = world.ctx.store.entry(target.index)
    # One character of the signature changes: the bytes still parse; signature and leaf no longer hold.
    sig = json.loads(raw)["envelope"]["signatures"][0]["sig"]
    changed = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    forged = raw.replace(sig.encode(), changed.encode())
    assert forged != raw
    with append_only_bypassed(world.ctx.engine) as conn:
        conn.execute(update(ENTRIES).where(ENTRIES.c.idx == target.index).values(raw=forged))
    report = custody_report(world.ctx, unit.subject)
    assert not report.verified
    text = flat("\n".join(pages_text(custody_report_pdf(report))))
    assert "Prüfergebnis / Verification result: NICHT verifiziert / NOT verified" in text
    assert "FEHLER / FAILED" in text
    assert f"#{target.index}:" in text


# --------------------------------------------------------------------------
# Seal reconciliation


def test_reconciliation_counts_match_the_projection(audit: AuditLedger, tmp_path: Path) -> None:
    result = reconciliation.reconcile_seals(audit.ctx)
    projected = queries.counts(audit.ctx.engine)["seals"]
    assert {k: v for k, v in result.status_counts.items() if v} == projected
    assert result.total == sum(projected.values()) == result.flows["received"]
    assert result.balanced
    assert sum(sum(c.values()) for c in result.by_holder.values()) == result.total
    assert sum(result.received_by.values()) == result.flows["received"]
    assert sum(result.issued_to.values()) == result.flows["issued"]
    assert sum(len(s) for s in result.applied_to.values()) == result.flows["applied"]
    assert sum(result.removal_reasons.values()) == result.flows["removed"]
    # The demo's lost seal is an open discrepancy.
    lost = [d for d in result.discrepancies if d.category == reconciliation.SEAL_LOST_CATEGORY]
    assert len(lost) == projected.get(SEAL_LOST, 0) == result.flows["lost"] == 1
    # The PDF shows the same figures.
    report = write_seal_report(audit.ctx, out=tmp_path / "seals.pdf")
    pdf = (tmp_path / "seals.pdf").read_bytes()
    pages = pages_text(pdf)
    assert report.pages == len(pages)
    text = flat("\n".join(pages))
    assert "Siegelabgleich" in text
    assert "Seal reconciliation report" in text
    received = result.flows["received"]
    balance_row = " ".join(str(result.status_counts[s]) for s in SEAL_STATUSES)
    assert f"{received} {balance_row} {result.total} ausgeglichen / balanced" in text
    assert " ".join(str(result.flows[name]) for name, _ in reconciliation.FLOWS) in text
    assert lost[0].subject in text
    assert "Siegel verloren / Seal lost" in text
    assert f"Checkpoint-Größe / Checkpoint size {result.checkpoint.size}" in text
    for connector, seals in list(result.applied_to.items())[:5]:
        assert connector in text
        assert seals[0] in text


def test_reconciliation_finds_every_kind_of_open_discrepancy(ledger: LedgerFixture, tmp_path: Path) -> None:
    world = World(ledger)
    ctx = world.ctx
    # Issued to a technician, never applied.
    issued = world.issued_seals(2, to=TECH)
    # Lost from stock.
    (lost,) = world.stock_seals(1)
    custody.seal_statement(ctx, MFR, world.key(MFR), "seal.lost", lost, {"circumstances": "dropped"})
    # Removed at the factory and neither retained nor destroyed.
    reworked = world.unit("SEALED")
    custody.remove_seals(ctx, MFR, world.key(MFR), reworked.subject, reworked.seals, "rework")
    # A receipt with other seals than shipped: MISMATCH and an open seal_mismatch incident.
    mismatched = world.unit("AT_TECHNICIAN")
    custody.receive(
        ctx, TECH, world.key(TECH), mismatched.subject, mismatched.seals[:1], place="PRAXIS-ESSEN-0001"
    )
    assert queries.connector(ctx.engine, mismatched.subject).seal_status == MISMATCH

    strict = reconciliation.reconcile_seals(ctx, removed_days=0, issued_days=0)
    found = {(d.category, d.subject) for d in strict.discrepancies}
    incident = queries.connector(ctx.engine, mismatched.subject).open_incident
    assert found == {
        *((reconciliation.ISSUED_NOT_APPLIED, f"seal:{s}") for s in issued),
        (reconciliation.SEAL_LOST_CATEGORY, f"seal:{lost}"),
        *((reconciliation.REMOVED_NOT_DISPOSED, f"seal:{s}") for s in reworked.seals),
        (reconciliation.CONNECTOR_SEAL_STATUS, mismatched.subject),
        (reconciliation.OPEN_SEAL_INCIDENT, incident),
    }
    assert strict.status_counts[SEAL_ISSUED] == 2
    assert strict.status_counts[SEAL_REMOVED] == 2
    assert strict.removal_reasons == {"rework": 2}
    assert strict.issued_to[f"party:{TECH}"] == 2
    assert strict.balanced
    # With the default thresholds, minutes-old issues and removals are not yet discrepancies.
    lenient = reconciliation.reconcile_seals(ctx)
    assert {d.category for d in lenient.discrepancies} == {
        reconciliation.SEAL_LOST_CATEGORY,
        reconciliation.CONNECTOR_SEAL_STATUS,
        reconciliation.OPEN_SEAL_INCIDENT,
    }
    text = flat("\n".join(pages_text(seal_report_pdf(ctx, removed_days=0, issued_days=0))))
    assert "Ausgegeben, nicht angebracht / Issued, not applied: 2" in text
    assert "Entfernt, nicht asserviert/vernichtet / Removed, not retained/destroyed: 2" in text
    assert "Offener Siegelvorfall / Open seal-mismatch incident: 1" in text
    assert "Konnektor-Siegelstatus / Connector seal status: 1" in text
    assert mismatched.subject in text
    assert str(incident) in text
    assert issued[0] in text


# --------------------------------------------------------------------------
# CLI and API


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CUSTODY_LOG_KEY_PASSPHRASE": LOG_PASSPHRASE,
        "CUSTODY_KEY_PASSPHRASE": KEY_PASSPHRASE,
    }
    return subprocess.run([str(CUSTODY), *args], capture_output=True, text=True, env=env, timeout=120)


def test_the_cli_writes_both_reports_and_refuses_bad_input(audit: AuditLedger, tmp_path: Path) -> None:
    db = audit.ctx.settings.database_url
    subject = audit.connector_with_longest_history()
    out = tmp_path / "c.pdf"
    done = run_cli("report", "connector", subject.removeprefix("connector:"), "--out", str(out), "--db", db,
                   "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["subject"] == subject
    assert info["pages"] >= 2
    assert info["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert out.read_bytes() == custody_report_pdf(custody_report(audit.ctx, subject))
    seals_out = tmp_path / "s.pdf"
    done = run_cli("report", "seals", "--out", str(seals_out), "--db", db)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    assert seals_out.read_bytes().startswith(b"%PDF-")
    missing = tmp_path / "missing.pdf"
    done = run_cli("report", "connector", "SECUNET:0000000000", "--out", str(missing), "--db", db)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown connector connector:SECUNET:0000000000 [input.not_found]"
    ]
    assert not missing.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf", "s.pdf"]


def test_the_api_serves_reports_and_epcis_to_auditors_only(audit: AuditLedger) -> None:
    ctx = audit.ctx
    auditor, _ = create_token(ctx, "AUDIT-01", roles=["auditor"])
    warehouse, _ = create_token(ctx, "WH-ESSEN-01", roles=["warehouse"])
    subject = audit.connector_with_longest_history()
    with TestClient(create_app(ctx.settings, ctx)) as client:
        as_auditor = {"Authorization": f"Bearer {auditor}"}
        response = client.get(f"/api/v1/reports/connectors/{subject}", headers=as_auditor)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.content == custody_report_pdf(custody_report(ctx, subject))
        assert qr_codes(response.content) == [connector_url(ctx, subject)]
        response = client.get("/api/v1/reports/seals", headers=as_auditor, params={"removed_days": 0})
        assert response.status_code == 200
        assert response.content.startswith(b"%PDF-")
        response = client.get("/api/v1/epcis", headers=as_auditor, params={"connector": subject})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/ld+json")
        assert errors(response.json()) == []
        events = response.json()["epcisBody"]["eventList"]
        assert next(e["kcl:kind"] for e in events if e["epcList"][0] == f"urn:kcl:{subject}") == (
            "connector.commissioned"
        )
        missing = client.get("/api/v1/reports/connectors/SECUNET:0000000000", headers=as_auditor)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["code"] == "input.not_found"
        for path in (f"/api/v1/reports/connectors/{subject}", "/api/v1/reports/seals", "/api/v1/epcis"):
            assert client.get(path, headers={"Authorization": f"Bearer {warehouse}"}).status_code == 403
            assert client.get(path).status_code == 401
        schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/v1/reports/connectors/{subject}", "/api/v1/reports/seals"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert list(content) == ["application/pdf"]
        assert content["application/pdf"]["schema"] == {"type": "string", "format": "binary"}
    assert list(paths["/api/v1/epcis"]["get"]["responses"]["200"]["content"]) == ["application/ld+json"]
