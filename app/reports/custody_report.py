"""The chain-of-custody report of one connector (PDF), from data gathered by
:mod:`app.services.reports` — this module only lays it out.

Sections: the connector and a QR code to its page; the drawn custody
timeline; every entry of its chain (time, kind, place, actor, signers, seal
ids, result, check); the history of its seals; its gSMC-K certificates; and
the verification: the checkpoint (origin, size, root) and, per entry, its
leaf hash and a digest of its inclusion proof.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from app.reports.pdf import (
    STYLES,
    bi,
    facts,
    frame_width,
    heading,
    markup,
    para,
    qr_drawing,
    render,
    short_id,
    short_time,
    table,
    text,
)
from app.reports.timeline import TimelinePoint, custody_timeline
from app.reports.wording import kind_label

VERIFIED = bi("verifiziert", "verified")
NOT_VERIFIED = bi("NICHT verifiziert", "NOT verified")


@dataclass(frozen=True)
class TimelineRow:
    index: int
    at: str
    kind: str
    place: str | None
    actor: str
    signers: list[str]
    seals: list[str]
    result: str
    verified: bool
    custodian: str
    state_after: str | None
    handover: bool = False


@dataclass(frozen=True)
class SealRow:
    seal_id: str
    status: str
    issued_to: str | None = None
    applied: str | None = None
    removed: str | None = None
    final: str | None = None


@dataclass(frozen=True)
class CertificateRow:
    iccsn: str
    not_after: str
    days_left: int
    status: str


@dataclass(frozen=True)
class ProofRow:
    index: int
    leaf_hash: str
    path_length: int
    proof_digest: str
    ok: bool


@dataclass(frozen=True)
class CheckpointInfo:
    origin: str
    size: int
    root: str | None
    signature_valid: bool


@dataclass
class CustodyReport:
    subject: str
    vendor: str
    serial: str
    product_code: str
    state: str
    custodian: str
    location: str | None
    seal_status: str
    firmware: str
    current_seals: list[str]
    open_incident: str | None
    url: str
    as_of: str
    checkpoint: CheckpointInfo
    rows: list[TimelineRow]
    seals: list[SealRow]
    certificates: list[CertificateRow]
    proofs: list[ProofRow]
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return (
            self.checkpoint.signature_valid
            and not self.problems
            and all(r.verified for r in self.rows)
            and all(p.ok for p in self.proofs)
        )


def _overview(report: CustodyReport, width: float) -> Table:
    qr_size = 42 * mm
    pairs = [
        ("Konnektor", "Connector", report.subject),
        ("Hersteller", "Vendor", report.vendor),
        ("Seriennummer", "Serial number", report.serial),
        ("Produkt", "Product", report.product_code),
        ("Zustand", "State", report.state),
        ("Verwahrer", "Custodian", short_id(report.custodian)),
        ("Ort", "Location", short_id(report.location)),
        ("Siegelstatus", "Seal status", report.seal_status),
        ("Siegel", "Seals", ", ".join(report.current_seals) or "-"),
        ("Firmware", "Firmware", report.firmware),
        ("Offener Vorfall", "Open incident", report.open_incident or "-"),
        ("Einträge", "Entries", str(len(report.rows))),
        ("Prüfergebnis", "Verification", VERIFIED if report.verified else NOT_VERIFIED),
        ("Stand", "As of", f"{short_time(report.as_of)} UTC"),
    ]
    left = facts(pairs, (48 * mm, width - qr_size - 60 * mm))
    qr = Table(
        [[qr_drawing(report.url, qr_size)], [para(report.url, "small")]],
        colWidths=[qr_size + 6 * mm],
    )
    qr.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    outer = Table([[left, qr]], colWidths=[width - qr_size - 10 * mm, qr_size + 10 * mm])
    outer.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return outer


def _timeline_table(report: CustodyReport, width: float) -> Table:
    header = [
        ("Nr.", "No."),
        ("Zeit (UTC)", "Time (UTC)"),
        ("Vorgang", "Event"),
        ("Ort", "Place"),
        ("Akteur", "Actor"),
        ("Unterzeichner", "Signers"),
        ("Siegel", "Seal ids"),
        ("Ergebnis", "Result"),
        ("Prüfung", "Check"),
    ]
    fixed = [11, 23, 40, 30, 27, 34, 28, 0, 16]
    fixed[7] = width / mm - sum(fixed)
    rows = []
    for row in report.rows:
        german, english = kind_label(row.kind)
        event = markup(f"{text(german)} / {text(english)}<br/><font color='#555555'>{text(row.kind)}</font>")
        rows.append(
            [
                str(row.index),
                short_time(row.at),
                event,
                short_id(row.place),
                short_id(row.actor),
                ", ".join(short_id(s) for s in row.signers),
                ", ".join(row.seals),
                row.result,
                "ok" if row.verified else bi("FEHLER", "FAILED"),
            ]
        )
    bad = [("TEXTCOLOR", (8, n), (8, n), colors.HexColor("#b71c1c")) for n, r in enumerate(report.rows, 1)
           if not r.verified]  # fmt: skip
    return table(header, rows, [w * mm for w in fixed], extra=bad)


def _seal_table(report: CustodyReport, width: float) -> Flowable:
    if not report.seals:
        return para(bi("Keine Siegel in der Kette.", "No seals in the chain."), "body")
    header = [
        ("Siegel", "Seal"),
        ("Status", "Status"),
        ("Ausgegeben an", "Issued to"),
        ("Angebracht", "Applied"),
        ("Entfernt", "Removed"),
        ("Verbleib", "Final disposition"),
    ]
    fixed = [28, 24, 34, 48, 0, 60]
    fixed[4] = width / mm - sum(fixed)
    rows = [
        [s.seal_id, s.status, short_id(s.issued_to), s.applied or "-", s.removed or "-", s.final or "-"]
        for s in report.seals
    ]
    return table(header, rows, [w * mm for w in fixed])


def _certificate_table(report: CustodyReport) -> Flowable:
    if not report.certificates:
        return para(bi("Keine Zertifikate erfasst.", "No certificates recorded."), "body")
    header = [
        ("ICCSN (gSMC-K)", "ICCSN (gSMC-K)"),
        ("Gültig bis", "Valid until"),
        ("Resttage", "Days left"),
        ("Status", "Status"),
    ]
    rows = [[c.iccsn, short_time(c.not_after), str(c.days_left), c.status] for c in report.certificates]
    return table(header, rows, [50 * mm, 35 * mm, 22 * mm, 70 * mm])


def _verification(report: CustodyReport, width: float) -> list[Flowable]:
    checkpoint = report.checkpoint
    verdict = VERIFIED if report.verified else NOT_VERIFIED
    style = "verdict_ok" if report.verified else "verdict_bad"
    story: list[Flowable] = [
        Paragraph(f"{text(bi('Prüfergebnis', 'Verification result'))}: {text(verdict)}", STYLES[style]),
        Spacer(1, 2 * mm),
        para(
            "Geprüft wurde jeder Eintrag der Kette: Signaturen über die Eintragsbytes mit Schlüsseln, "
            "die zum Zeitpunkt des Eintrags gültig waren; Verkettung (prev); Einschluss im Merkle-Baum "
            "des neuesten signierten Checkpoints (RFC 9162). / Every entry of the chain was checked: "
            "signatures over the entry bytes by keys valid at the entry's index; the prev chain; "
            "inclusion in the Merkle tree of the latest signed checkpoint (RFC 9162).",
            "small",
        ),
        Spacer(1, 2 * mm),
        facts(
            [
                ("Log-Ursprung", "Log origin", checkpoint.origin),
                ("Checkpoint-Größe", "Checkpoint size", str(checkpoint.size)),
                ("Wurzel (hex)", "Root hash (hex)", checkpoint.root or "-"),
                (
                    "Checkpoint-Signatur",
                    "Checkpoint signature",
                    bi("gültig", "valid") if checkpoint.signature_valid else bi("UNGÜLTIG", "INVALID"),
                ),
            ],
            (48 * mm, width - 48 * mm),
        ),
        Spacer(1, 2 * mm),
        para(
            "Beweis-Digest = SHA-256 über die aneinandergereihten Knoten-Hashes des Einschlussbeweises. / "
            "Proof digest = SHA-256 over the concatenated node hashes of the inclusion proof.",
            "small",
        ),
        Spacer(1, 1.5 * mm),
    ]
    for problem in report.problems:
        story.append(para(f"- {problem}", "small"))
    header = [
        ("Nr.", "No."),
        ("Blatt-Hash", "Leaf hash"),
        ("Pfadlänge", "Path length"),
        ("Beweis-Digest", "Proof digest"),
        ("Ergebnis", "Result"),
    ]
    rows = [
        [str(p.index), para(p.leaf_hash, "mono"), str(p.path_length), para(p.proof_digest, "mono"),
         bi("eingeschlossen", "included") if p.ok else bi("FEHLER", "FAILED")]
        for p in report.proofs
    ]  # fmt: skip
    story.append(table(header, rows, [14 * mm, 95 * mm, 18 * mm, 95 * mm, width - 222 * mm]))
    return story


def custody_report_pdf(report: CustodyReport) -> bytes:
    """Render ``report`` (multi-page A4 landscape, numbered pages)."""
    width = frame_width()
    points = [TimelinePoint(r.at, r.custodian, r.state_after, r.handover) for r in report.rows]
    story: list[Flowable] = [
        Paragraph(text("Verwahrungsnachweis"), STYLES["title"]),
        Paragraph(text(f"Chain-of-custody report · {report.subject}"), STYLES["subtitle"]),
        Spacer(1, 4 * mm),
        _overview(report, width),
        heading("Verwahrungsverlauf", "Custody timeline"),
        custody_timeline(points, report.as_of, width) if points else para("-"),
        heading("Ereignisse", "Events"),
        _timeline_table(report, width),
        heading("Siegelhistorie", "Seal history"),
        _seal_table(report, width),
        heading("Zertifikatsstatus", "Certificate status"),
        _certificate_table(report),
        heading("Verifikation", "Verification"),
        *_verification(report, width),
    ]
    return render(
        story,
        title=f"Verwahrungsnachweis / Chain-of-custody report {report.subject}",
        subject=report.subject,
        footer=f"Konnektor Custody Ledger · {report.subject} · Stand / As of {short_time(report.as_of)} UTC",
        as_of=report.as_of,
    )
