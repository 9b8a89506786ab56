"""The seal reconciliation report (PDF) of a :class:`~app.services.reconciliation.SealReconciliation`.

Sections: the balance (received against the current stock by status); the
flows (received, issued, applied, removed, retained, destroyed, voided,
lost); the stock per holder; who received and to whom seals were issued;
removal reasons; seals applied per connector; and the open discrepancies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from app.reports.pdf import (
    STYLES,
    bi,
    facts,
    frame_width,
    heading,
    para,
    render,
    short_id,
    short_time,
    table,
    text,
)
from app.reports.wording import DISCREPANCIES, FLOWS, SEAL_STATUSES

if TYPE_CHECKING:
    from app.services.reconciliation import SealReconciliation


def _status_header() -> list[tuple[str, str]]:
    return [SEAL_STATUSES[s] for s in SEAL_STATUSES]


def _balance(result: SealReconciliation, width: float) -> list[Flowable]:
    verdict = bi("ausgeglichen", "balanced") if result.balanced else bi("NICHT ausgeglichen", "NOT balanced")
    rows = [[str(result.flows["received"]), *(str(result.status_counts.get(s, 0)) for s in SEAL_STATUSES),
             str(result.total), verdict]]  # fmt: skip
    header = [("Eingegangen", "Received"), *_status_header(), ("Summe", "Total"), ("Bilanz", "Balance")]
    column = (width - 40 * mm) / (len(header) - 1)
    return [table(header, rows, [column] * (len(header) - 1) + [40 * mm])]


def _flows(result: SealReconciliation, width: float) -> list[Flowable]:
    header = [FLOWS[name] for name in FLOWS]
    rows = [[str(result.flows.get(name, 0)) for name in FLOWS]]
    return [table(header, rows, [width / len(header)] * len(header))]


def _by_holder(result: SealReconciliation, width: float) -> Flowable:
    header = [("Inhaber", "Holder"), *_status_header(), ("Summe", "Total")]
    rows = [
        [short_id(holder), *(str(counts.get(s, 0)) for s in SEAL_STATUSES), str(sum(counts.values()))]
        for holder, counts in result.by_holder.items()
    ]
    column = (width - 50 * mm) / (len(header) - 1)
    return table(header, rows, [50 * mm] + [column] * (len(header) - 1))


def _pairs(
    mapping: dict[str, int], header: list[tuple[str, str]], widths: list[float], empty: str
) -> Flowable:
    if not mapping:
        return para(empty, "body")
    return table(header, [[short_id(key), str(value)] for key, value in mapping.items()], widths)


def _applied(result: SealReconciliation, width: float) -> Flowable:
    if not result.applied_to:
        return para(bi("Keine Siegel angebracht.", "No seals applied."), "body")
    header = [("Konnektor", "Connector"), ("Anzahl", "Count"), ("Siegel", "Seal ids")]
    rows = [[connector, str(len(seals)), ", ".join(seals)] for connector, seals in result.applied_to.items()]
    return table(header, rows, [75 * mm, 18 * mm, width - 93 * mm])


def _discrepancies(result: SealReconciliation, width: float) -> list[Flowable]:
    if not result.discrepancies:
        return [para(bi("Keine offenen Abweichungen.", "No open discrepancies."), "body")]
    counts = result.discrepancy_counts()
    summary = ", ".join(f"{DISCREPANCIES[c][0]} / {DISCREPANCIES[c][1]}: {n}" for c, n in counts.items())
    header = [
        ("Art", "Category"),
        ("Gegenstand", "Subject"),
        ("Seit (UTC)", "Since (UTC)"),
        ("Inhaber/Melder", "Holder/reporter"),
        ("Befund", "Finding"),
    ]
    rows = [
        [f"{DISCREPANCIES[d.category][0]} / {DISCREPANCIES[d.category][1]}", d.subject,
         short_time(d.since), short_id(d.holder), d.detail]
        for d in result.discrepancies
    ]  # fmt: skip
    return [
        para(summary, "body"),
        Spacer(1, 2 * mm),
        table(header, rows, [62 * mm, 62 * mm, 26 * mm, 32 * mm, width - 182 * mm],
              extra=[("TEXTCOLOR", (0, 1), (0, -1), colors.HexColor("#b71c1c"))]),
    ]  # fmt: skip


def seal_reconciliation_pdf(result: SealReconciliation) -> bytes:
    width = frame_width()
    checkpoint = result.checkpoint
    story: list[Flowable] = [
        Paragraph(text("Siegelabgleich"), STYLES["title"]),
        Paragraph(text("Seal reconciliation report"), STYLES["subtitle"]),
        Spacer(1, 4 * mm),
        facts(
            [
                ("Stand", "As of", f"{short_time(result.as_of)} UTC"),
                ("Log-Ursprung", "Log origin", checkpoint.origin),
                ("Checkpoint-Größe", "Checkpoint size", str(checkpoint.size)),
                ("Wurzel (hex)", "Root hash (hex)", checkpoint.root_hex),
                ("Siegel im Ledger", "Seals on the ledger", str(result.total)),
                ("Offene Abweichungen", "Open discrepancies", str(len(result.discrepancies))),
                (
                    "Schwellen",
                    "Thresholds",
                    f"entfernt > {result.removed_days} Tage, ausgegeben > {result.issued_days} Tage / "
                    f"removed > {result.removed_days} days, issued > {result.issued_days} days",
                ),
            ],
            (55 * mm, width - 55 * mm),
        ),
        heading("Bilanz", "Balance"),
        *_balance(result, width),
        heading("Bewegungen", "Flows"),
        *_flows(result, width),
        heading("Bestand nach Inhaber", "Stock by holder"),
        _by_holder(result, width),
        heading("Eingang nach Empfänger", "Received by"),
        _pairs(result.received_by, [("Empfänger", "Receiving party"), ("Siegel", "Seals")],
               [80 * mm, 30 * mm], bi("Keine Siegel eingegangen.", "No seals received.")),
        heading("Ausgabe an", "Issued to"),
        _pairs(result.issued_to, [("Person", "Person"), ("Siegel", "Seals")], [80 * mm, 30 * mm],
               bi("Keine Siegel ausgegeben.", "No seals issued.")),
        heading("Entfernungsgründe", "Removal reasons"),
        _pairs(result.removal_reasons, [("Grund", "Reason"), ("Siegel", "Seals")], [150 * mm, 30 * mm],
               bi("Keine Siegel entfernt.", "No seals removed.")),
        heading("Offene Abweichungen", "Open discrepancies"),
        *_discrepancies(result, width),
        heading("Angebracht je Konnektor", "Applied per connector"),
        _applied(result, width),
    ]  # fmt: skip
    return render(
        story,
        title="Siegelabgleich / Seal reconciliation report",
        subject=f"{checkpoint.origin} @ {checkpoint.size}",
        footer=f"Konnektor Custody Ledger · Siegelabgleich / Seal reconciliation · Stand / As of "
        f"{short_time(result.as_of)} UTC · Checkpoint {checkpoint.size}",
        as_of=result.as_of,
    )
