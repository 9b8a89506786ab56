"""Statement drafts for browsers: the exact bytes a person's WebCrypto key signs.

A browser holds its private key in WebCrypto (non-extractable), so the server
never signs for a person. It still should not have to re-implement the ledger's
statement rules: ``POST /api/v1/drafts`` builds the statement with the same code
the CLI uses (:func:`app.services.signing.draft_statement` — time and nonce from
the ledger context, schema-checked before anyone signs) and answers with the
canonical payload bytes and the DSSE payload type. The browser computes
``PAE(payloadType, payload)``, signs it and posts the envelope to
``/api/v1/statements`` (or a handover endpoint).

Like the CLI's custody commands, a draft fills in what the ledger already knows
when the caller leaves it out: the expected seals of an inspection, the declared
seals of a transfer, the firmware, remaining validity and seal check of an
installation, and a practice's salted digest from its master-data id (the clear
identifiers never enter a statement).

The install page also needs to work offline; :func:`install_context` is the
work package it loads while online (the technician's installable connectors and
the practices to choose from), so that it can build the same statements in the
browser when there is no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app import queries
from app.services import practices
from app.services.context import LedgerContext
from app.services.custody import (
    NO_REFERENCE,
    connector_subject,
    inspection_data,
    location_subject,
    party_ref,
    remaining_validity_days,
)
from app.services.signing import draft_statement
from ledger.custody.records import RECEIVED
from ledger.encoding import b64encode
from ledger.envelope import PAYLOAD_TYPE
from ledger.errors import InvalidInput
from ledger.statement import Statement

#: Most drafts one request may ask for (the size of a statement batch).
MAX_DRAFTS = 500
_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Draft:
    statement: Statement

    def as_dict(self) -> dict[str, Any]:
        payload = self.statement.to_bytes()
        return {
            "payloadType": PAYLOAD_TYPE,
            "payload": b64encode(payload),
            "statement": self.statement.to_json(),
            "nonce": self.statement.nonce,
        }


def _connector(ctx: LedgerContext, subject: str) -> Any:
    return queries.connector(ctx.engine, connector_subject(subject))


def _inspection(ctx: LedgerContext, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """As ``custody seal inspect``: expected = the ledger's seals; results default per seal."""
    if "expected" in data:
        return data
    results = data.get("results") or {}
    observed, photos = data.get("observed", []), data.get("photos", [])
    if not isinstance(results, Mapping):
        raise InvalidInput("data.results: without data.expected give results as {seal: result}")
    for name, value in (("observed", observed), ("photos", photos)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"data.{name}: a list of strings")
    if not all(isinstance(v, str) for v in results.values()):
        raise InvalidInput("data.results: each result is a string")
    checklist = data.get("checklist", "VVTT-1")
    if not isinstance(checklist, str):
        raise InvalidInput("data.checklist: a string")
    # The statement's own schema check (draft_statement) judges the values themselves.
    return inspection_data(_connector(ctx, subject).seals, observed, dict(results), checklist, photos)


def _installation(ctx: LedgerContext, subject: str, data: dict[str, Any], at: Any) -> dict[str, Any]:
    """As ``custody install``: firmware, remaining validity and seal check from the ledger."""
    current = _connector(ctx, subject)
    out = dict(data)
    practice = out.get("practice")
    if isinstance(practice, str) and not _DIGEST.fullmatch(practice):
        # A master-data id: only its salted digest may enter the log.
        out["practice"] = practices.digest_of(ctx, practice)
    out.setdefault("firmware", current.firmware)
    if "remaining_validity_days" not in out:
        if current.cert_not_after is None:
            raise InvalidInput(f"{current.subject} has no gSMC-K certificate data")
        out["remaining_validity_days"] = remaining_validity_days(current.cert_not_after, at)
    if "seal_check" not in out:
        out["seal_check"] = current.last_inspection.nonce if current.last_inspection else NO_REFERENCE
    return out


def complete(ctx: LedgerContext, kind: str, subject: str, data: Mapping[str, Any], at: Any) -> dict[str, Any]:
    """``data`` with what the ledger knows filled in, where the caller left it out."""
    out = dict(data)
    if kind == "seal.inspected":
        return _inspection(ctx, subject, out)
    if kind == "custody.transferred" and "seals" not in out:
        out["seals"] = sorted(_connector(ctx, subject).seals)
    if kind == "received" and isinstance(out.get("seals_observed"), list):
        out["seals_observed"] = sorted(out["seals_observed"])
    if kind == "installed":
        return _installation(ctx, subject, out, at)
    return out


def draft(
    ctx: LedgerContext,
    author: str,
    *,
    kind: str,
    subject: str,
    data: Mapping[str, Any],
    place: str | None = None,
) -> Draft:
    """One statement by ``author``, ready to be signed by the author's own key."""
    at = ctx.clock()
    statement = draft_statement(
        ctx,
        kind=kind,
        subject=subject,
        by=party_ref(author),
        data=complete(ctx, kind, subject, data, at),
        place=None if place is None else location_subject(place),
        at=at,
    )
    return Draft(statement)


def drafts(ctx: LedgerContext, author: str, items: list[Mapping[str, Any]]) -> list[Draft]:
    if not 1 <= len(items) <= MAX_DRAFTS:
        raise InvalidInput(f"ask for 1–{MAX_DRAFTS} drafts")
    out = []
    for position, item in enumerate(items):
        try:
            out.append(
                draft(
                    ctx,
                    author,
                    kind=item["kind"],
                    subject=item["subject"],
                    data=item.get("data") or {},
                    place=item.get("place"),
                )
            )
        except InvalidInput as exc:
            if len(items) > 1:
                exc.message = f"draft {position + 1} of {len(items)}: {exc.message}"
                exc.args = (exc.message,)
            raise
    return out


def install_context(ctx: LedgerContext, technician: str) -> dict[str, Any]:
    """What the install page needs to work offline: installable connectors and the practices.

    Connectors: those the technician holds in state RECEIVED, with their seals, firmware and
    earliest certificate expiry (for ``remaining_validity_days``). Practices: id, name, the
    salted digest and the location the demo and the CLI use (``location:<practice id>``);
    never the BSNR or Telematik-ID.
    """
    party = party_ref(technician)
    connectors = []
    for row in queries.connectors(ctx.engine, state=RECEIVED, custodian=party):
        record = queries.connector(ctx.engine, str(row["subject"]))
        connectors.append(
            {
                "subject": record.subject,
                "state": record.state,
                "seals": sorted(record.seals),
                "firmware": record.firmware,
                "cert_not_after": record.cert_not_after,
            }
        )
    listed = [
        {
            "practice_id": p["practice_id"],
            "name": p["name"],
            "digest": p["digest"],
            "location": location_subject(p["practice_id"]),
        }
        for p in practices.practices(ctx)
        if p.get("erased_at") is None
    ]
    return {"party": party, "connectors": connectors, "practices": listed}
