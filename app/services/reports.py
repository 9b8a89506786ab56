"""Auditor reports: gather what a report shows, render it, write it atomically.

* :func:`custody_report` — one connector's chain of custody, verified entry by
  entry (:func:`app.services.history.connector_history`: signatures by keys
  valid at the entry's index, the prev chain, inclusion in the latest
  checkpoint), with a digest of every inclusion proof;
* :func:`seal_report` — the seal reconciliation of
  :mod:`app.services.reconciliation`.

Both are reproducible: their "as of" time is the latest checkpoint's, not
the wall clock, so the same ledger gives the same PDF bytes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app import queries
from app.reports.custody_report import (
    CertificateRow,
    CheckpointInfo,
    CustodyReport,
    ProofRow,
    SealRow,
    TimelineRow,
    custody_report_pdf,
)
from app.reports.seal_reconciliation import seal_reconciliation_pdf
from app.reports.wording import kind_label
from app.services.atomic_write import write_atomic
from app.services.context import LedgerContext
from app.services.epcis import latest_checkpoint, resolve_connector
from app.services.history import VerifiedEntry, connector_history
from app.services.reconciliation import (
    DEFAULT_ISSUED_DAYS,
    DEFAULT_REMOVED_DAYS,
    checkpoint_time,
    reconcile_seals,
)
from ledger.custody.connector import MIN_VALIDITY_YEARS, add_years, inspection_conformant
from ledger.custody.records import ConnectorRecord
from ledger.epcis import seals_named
from ledger.errors import LedgerError, NotFound
from ledger.times import parse_timestamp

MEDIA_TYPE = "application/pdf"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ReportFile:
    path: Path
    kind: str
    subject: str | None
    pages: int
    sha256: str
    as_of: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "report": self.kind,
            "subject": self.subject,
            "pages": self.pages,
            "sha256": self.sha256,
            "as_of": self.as_of,
        }


def public_url(ctx: LedgerContext) -> str:
    """Where people open the ledger's pages (``CUSTODY_PUBLIC_URL``)."""
    value = getattr(ctx.settings, "public_url", None) or DEFAULT_PUBLIC_URL
    return str(value).rstrip("/")


def connector_url(ctx: LedgerContext, subject: str) -> str:
    return f"{public_url(ctx)}/connectors/{subject}"


# --------------------------------------------------------------------------
# The custody report


def _result(entry: VerifiedEntry) -> str:
    data, kind = entry.data, entry.kind
    parts: list[str] = []
    if kind == "seal.inspected":
        if inspection_conformant(data):
            parts.append("konform / conformant")
        else:
            bad = [f"{r['seal']}: {r['result']}" for r in data["results"] if r["result"] != "intact"]
            missing = sorted(set(data["expected"]) - set(data["observed"]))
            parts.append("nicht konform / non-conformant")
            parts.extend(bad)
            if missing:
                parts.append("fehlt / missing: " + ", ".join(missing))
    elif kind == "incident.reported":
        parts.append(str(data["category"]))
    elif kind == "quarantine.released":
        parts.append(f"{data['outcome']}")
    elif kind == "firmware.updated":
        parts.append(f"{data['from']} › {data['to']}")
    elif kind == "lzv.applied":
        parts.append(f"{data['iccsn']} bis / until {str(data['not_after'])[:10]}")
    elif kind == "correction":
        parts.append(f"berichtigt / corrects #{data['corrects']} ({data['reason']})")
    elif kind in ("custody.transferred", "shipped", "returned.shipped"):
        parts.append(f"an / to {str(data['to']).partition(':')[2]}")
    elif kind == "destroyed":
        parts.append(f"{data['method']}, Zeuge / witness {str(data['witness']).partition(':')[2]}")
    if entry.state_before != entry.state_after and entry.state_after is not None:
        change = (
            entry.state_after if entry.state_before is None else f"{entry.state_before} › {entry.state_after}"
        )
        parts.append(change)
    if entry.corrected_by is not None:
        parts.append(f"berichtigt durch / corrected by #{entry.corrected_by}")
    return "; ".join(parts)


def _rows(history: list[VerifiedEntry]) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    custodian: str | None = None
    for entry in history:
        handover = False
        if custodian is None:
            custodian = entry.by
        if entry.kind == "custody.transferred" and isinstance(entry.data.get("to"), str):
            handover = entry.data["to"] != custodian
            custodian = entry.data["to"]
        signers = sorted({s.party or f"key:{s.keyid[:16]}" for s in entry.signers})
        rows.append(
            TimelineRow(
                index=entry.index,
                at=entry.at,
                kind=entry.kind,
                place=entry.place,
                actor=entry.by,
                signers=signers,
                seals=seals_named(entry.kind, entry.data),
                result=_result(entry),
                verified=entry.verified and entry.chain_valid is not False,
                custodian=custodian,
                state_after=entry.state_after,
                handover=handover,
            )
        )
    return rows


def _seal_rows(ctx: LedgerContext, record: ConnectorRecord, history: list[VerifiedEntry]) -> list[SealRow]:
    named: list[str] = []
    for entry in history:
        if entry.kind in ("seal.applied", "seal.removed"):
            named.extend(s for s in entry.data["seals"] if s not in named)
    for entry in history:
        named.extend(s for s in seals_named(entry.kind, entry.data) if s not in named)
    rows: list[SealRow] = []
    for seal_id in named:
        try:
            seal = queries.seal(ctx.engine, seal_id)
        except NotFound:
            rows.append(SealRow(seal_id, "nicht im Ledger / not on the ledger"))
            continue
        issued_to = applied = removed = final = None
        for item in queries.seal_history(ctx.engine, seal_id):
            when = f"{item.at[:10]} (#{item.index})"
            if item.kind == "seal.issued":
                issued_to = str(item.data["to"])
            elif item.kind == "seal.applied":
                where = "" if seal.connector == record.subject else f" {seal.connector}"
                applied = f"{when}{where}"
            elif item.kind == "seal.removed":
                removed = f"{when}: {item.data['reason']}"
            elif item.kind in ("seal.retained", "seal.destroyed", "seal.voided", "seal.lost"):
                german, english = kind_label(item.kind)
                final = f"{german} / {english} {when}"
        if seal.connector not in (None, record.subject):
            applied = applied or f"an / on {seal.connector}"
        rows.append(SealRow(seal_id, seal.status, issued_to, applied, removed, final))
    return rows


def _certificates(record: ConnectorRecord, as_of: str) -> list[CertificateRow]:
    moment = parse_timestamp(as_of)
    rows = []
    for card in record.certificates:
        not_after = parse_timestamp(card.not_after)
        days = (not_after - moment).days
        if not_after <= moment:
            status = "abgelaufen / expired"
        elif not_after < add_years(moment, MIN_VALIDITY_YEARS):
            status = f"gültig, < {MIN_VALIDITY_YEARS} Jahre / valid, < {MIN_VALIDITY_YEARS} years"
        else:
            status = "gültig / valid"
        rows.append(CertificateRow(card.iccsn, card.not_after, days, status))
    return rows


def _proofs(ctx: LedgerContext, history: list[VerifiedEntry], size: int) -> tuple[list[ProofRow], list[str]]:
    rows, problems = [], []
    for entry in history:
        try:
            proof = ctx.store.inclusion_proof(entry.index, size)
        except LedgerError as exc:
            problems.append(f"#{entry.index}: {exc.message}")
            rows.append(ProofRow(entry.index, entry.leaf_hash, 0, "-", False))
            continue
        nodes = b"".join(bytes.fromhex(node) for node in proof["proof"])
        rows.append(
            ProofRow(
                entry.index,
                entry.leaf_hash,
                len(proof["proof"]),
                hashlib.sha256(nodes).hexdigest(),
                entry.included and proof["leaf_hash"] == entry.leaf_hash,
            )
        )
    return rows, problems


def custody_report(ctx: LedgerContext, connector: str) -> CustodyReport:
    """Everything the chain-of-custody report of ``connector`` shows."""
    subject = resolve_connector(ctx, connector)
    record = queries.connector(ctx.engine, subject)
    verified = connector_history(ctx, record)
    history = verified.entries
    reference = latest_checkpoint(ctx)
    as_of = checkpoint_time(ctx, reference.size)
    checkpoint = CheckpointInfo(
        reference.origin, verified.checkpoint.size, verified.checkpoint.root, verified.checkpoint.valid
    )
    proofs, problems = _proofs(ctx, history, verified.checkpoint.size)
    if verified.checkpoint.problem:
        problems.insert(0, verified.checkpoint.problem)
    for entry in history:
        problems.extend(f"#{entry.index}: {p}" for p in entry.problems)
    return CustodyReport(
        subject=record.subject,
        vendor=record.vendor,
        serial=record.serial,
        product_code=record.product_code,
        state=record.state,
        custodian=record.custodian,
        location=record.location,
        seal_status=record.seal_status,
        firmware=record.firmware,
        current_seals=list(record.seals),
        open_incident=record.open_incident,
        url=connector_url(ctx, record.subject),
        as_of=as_of,
        checkpoint=checkpoint,
        rows=_rows(history),
        seals=_seal_rows(ctx, record, history),
        certificates=_certificates(record, as_of),
        proofs=proofs,
        problems=problems,
    )


def custody_pdf(ctx: LedgerContext, connector: str) -> tuple[CustodyReport, bytes]:
    """The custody report of ``connector`` and its PDF bytes."""
    report = custody_report(ctx, connector)
    return report, custody_report_pdf(report)


def write_custody_report(ctx: LedgerContext, connector: str, *, out: Path) -> ReportFile:
    """Render the custody report of ``connector`` to ``out`` (nothing is written on error)."""
    report, pdf = custody_pdf(ctx, connector)
    path = write_atomic(Path(out), pdf)
    return ReportFile(path, "custody", report.subject, page_count(pdf), hashlib.sha256(pdf).hexdigest(),
                      report.as_of)  # fmt: skip


# --------------------------------------------------------------------------
# The seal reconciliation report


def seal_report_pdf(
    ctx: LedgerContext,
    *,
    removed_days: int = DEFAULT_REMOVED_DAYS,
    issued_days: int = DEFAULT_ISSUED_DAYS,
) -> bytes:
    result = reconcile_seals(ctx, removed_days=removed_days, issued_days=issued_days)
    return seal_reconciliation_pdf(result)


def write_seal_report(
    ctx: LedgerContext,
    *,
    out: Path,
    removed_days: int = DEFAULT_REMOVED_DAYS,
    issued_days: int = DEFAULT_ISSUED_DAYS,
) -> ReportFile:
    result = reconcile_seals(ctx, removed_days=removed_days, issued_days=issued_days)
    pdf = seal_reconciliation_pdf(result)
    path = write_atomic(Path(out), pdf)
    return ReportFile(path, "seals", None, page_count(pdf), hashlib.sha256(pdf).hexdigest(), result.as_of)


def page_count(pdf: bytes) -> int:
    """Pages of a PDF we rendered: the ``/Count`` of its (single, flat) page tree."""
    found = re.search(rb"/Count (\d+)\s*/Kids", pdf)
    return int(found[1]) if found else 0
