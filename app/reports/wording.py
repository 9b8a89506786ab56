"""German and English names of kinds, states and statuses, as the reports print them."""

from __future__ import annotations

KINDS: dict[str, tuple[str, str]] = {
    "connector.commissioned": ("Produktion", "Commissioned"),
    "smck.bound": ("gSMC-K gebunden", "gSMC-K bound"),
    "seal.applied": ("Versiegelt", "Seals applied"),
    "seal.inspected": ("Siegelprüfung", "Seal inspection"),
    "seal.removed": ("Siegel entfernt", "Seals removed"),
    "stored": ("Eingelagert", "Stored"),
    "shipped": ("Versandt", "Shipped"),
    "custody.transferred": ("Übergabe", "Handover"),
    "received": ("Wareneingang", "Received"),
    "installed": ("Installiert", "Installed"),
    "ti.registered": ("TI-Registrierung", "TI registration"),
    "firmware.updated": ("Firmware-Update", "Firmware update"),
    "lzv.applied": ("Laufzeitverlängerung", "Runtime extension (LZV)"),
    "service.visit": ("Servicebesuch", "Service visit"),
    "deregistered": ("Abgemeldet", "Deregistered"),
    "removed": ("Ausgebaut", "Removed"),
    "returned.shipped": ("Rückversand", "Return shipment"),
    "decommissioned": ("Außer Betrieb", "Decommissioned"),
    "destroyed": ("Vernichtet", "Destroyed"),
    "incident.reported": ("Vorfall gemeldet", "Incident reported"),
    "quarantined": ("Quarantäne", "Quarantined"),
    "quarantine.released": ("Quarantäne aufgehoben", "Released from quarantine"),
    "lost": ("Verloren", "Lost"),
    "stolen": ("Gestohlen", "Stolen"),
    "correction": ("Berichtigung", "Correction"),
    "seal.received": ("Siegel-Eingang", "Seals received"),
    "seal.issued": ("Siegel ausgegeben", "Seal issued"),
    "seal.retained": ("Siegel asserviert", "Seal retained"),
    "seal.destroyed": ("Siegel vernichtet", "Seal destroyed"),
    "seal.voided": ("Siegel ungültig", "Seal voided"),
    "seal.lost": ("Siegel verloren", "Seal lost"),
}

SEAL_STATUSES: dict[str, tuple[str, str]] = {
    "IN_STOCK": ("Bestand", "In stock"),
    "ISSUED": ("Ausgegeben", "Issued"),
    "APPLIED": ("Angebracht", "Applied"),
    "REMOVED": ("Entfernt", "Removed"),
    "RETAINED": ("Asserviert", "Retained"),
    "DESTROYED": ("Vernichtet", "Destroyed"),
    "VOID": ("Ungültig", "Void"),
    "LOST": ("Verloren", "Lost"),
}

FLOWS: dict[str, tuple[str, str]] = {
    "received": ("Eingegangen", "Received"),
    "issued": ("Ausgegeben", "Issued"),
    "applied": ("Angebracht", "Applied"),
    "removed": ("Entfernt", "Removed"),
    "retained": ("Asserviert", "Retained"),
    "destroyed": ("Vernichtet", "Destroyed"),
    "voided": ("Ungültig erklärt", "Voided"),
    "lost": ("Verloren", "Lost"),
}

DISCREPANCIES: dict[str, tuple[str, str]] = {
    "seal.balance": ("Bestandsdifferenz", "Stock does not balance"),
    "incident.seal_mismatch": ("Offener Siegelvorfall", "Open seal-mismatch incident"),
    "connector.seal_status": ("Konnektor-Siegelstatus", "Connector seal status"),
    "seal.lost": ("Siegel verloren", "Seal lost"),
    "seal.removed_not_disposed": ("Entfernt, nicht asserviert/vernichtet", "Removed, not retained/destroyed"),
    "seal.issued_not_applied": ("Ausgegeben, nicht angebracht", "Issued, not applied"),
}


def kind_label(kind: str) -> tuple[str, str]:
    return KINDS.get(kind, (kind, kind))
