"""Seal reconciliation: every seal accounted for, and what does not add up.

Two views of the same seals, side by side:

* **flows** — what the log says happened, counted per seal from the
  entries: received (batch receipts), issued (to whom), applied (to which
  connector), removed (with the reason), retained, destroyed, voided, lost;
* **stock** — where every seal is now, from the seal projection: counts per
  status, and per holder.

The stock must balance the receipts (every received seal has exactly one
status); anything else is an integrity problem and is listed. Then the
**open discrepancies**, as of the latest checkpoint (or a given time):

1. seals removed but neither retained nor destroyed after ``removed_days``;
2. lost seals;
3. seals issued but not applied after ``issued_days``;
4. connectors whose seal status is MISMATCH or BROKEN (not destroyed ones);
5. open incidents of category ``seal_mismatch``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app import queries
from app.services.context import LedgerContext
from app.services.epcis import latest_checkpoint
from app.tables import CHECKPOINTS, CONNECTORS, ENTRIES, SEALS
from ledger.custody.records import (
    BROKEN,
    DESTROYED,
    INCIDENT_RELEASED,
    MISMATCH,
    SEAL_ISSUED,
    SEAL_LOST,
    SEAL_REMOVED,
    SEAL_STATUSES,
)
from ledger.entry import Entry
from ledger.epcis import CheckpointRef
from ledger.errors import InvalidInput
from ledger.times import format_timestamp, parse_timestamp

#: Flow names, in lifecycle order, and the kind that records each.
FLOWS = (
    ("received", "seal.received"),
    ("issued", "seal.issued"),
    ("applied", "seal.applied"),
    ("removed", "seal.removed"),
    ("retained", "seal.retained"),
    ("destroyed", "seal.destroyed"),
    ("voided", "seal.voided"),
    ("lost", "seal.lost"),
)
DEFAULT_REMOVED_DAYS = 30
DEFAULT_ISSUED_DAYS = 30
_CHUNK = 2000

# Discrepancy categories.
REMOVED_NOT_DISPOSED = "seal.removed_not_disposed"
SEAL_LOST_CATEGORY = "seal.lost"
ISSUED_NOT_APPLIED = "seal.issued_not_applied"
CONNECTOR_SEAL_STATUS = "connector.seal_status"
OPEN_SEAL_INCIDENT = "incident.seal_mismatch"
BALANCE = "seal.balance"
CATEGORY_ORDER = (
    BALANCE, OPEN_SEAL_INCIDENT, CONNECTOR_SEAL_STATUS,
    SEAL_LOST_CATEGORY, REMOVED_NOT_DISPOSED, ISSUED_NOT_APPLIED,
)  # fmt: skip


@dataclass(frozen=True)
class Discrepancy:
    category: str
    subject: str
    detail: str
    since: str | None = None
    holder: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "subject": self.subject,
            "detail": self.detail,
            "since": self.since,
            "holder": self.holder,
        }


@dataclass
class SealReconciliation:
    as_of: str
    checkpoint: CheckpointRef
    removed_days: int
    issued_days: int
    #: Current status → number of seals (every status, zeros included).
    status_counts: dict[str, int]
    #: Flow name → number of seals it moved (see :data:`FLOWS`).
    flows: dict[str, int]
    #: Holder → status → count (current, from the projection).
    by_holder: dict[str, dict[str, int]]
    #: Party that received batches → seals received.
    received_by: dict[str, int]
    #: Party the seals were issued to → seals issued.
    issued_to: dict[str, int]
    #: Connector → seals applied to it (in log order).
    applied_to: dict[str, list[str]]
    #: Removal reason → seals removed for it.
    removal_reasons: dict[str, int]
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.status_counts.values())

    @property
    def balanced(self) -> bool:
        return self.total == self.flows["received"]

    def discrepancy_counts(self) -> dict[str, int]:
        return dict(Counter(d.category for d in self.discrepancies))

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "checkpoint": self.checkpoint.as_json(),
            "thresholds": {"removed_days": self.removed_days, "issued_days": self.issued_days},
            "total": self.total,
            "balanced": self.balanced,
            "status_counts": self.status_counts,
            "flows": self.flows,
            "by_holder": self.by_holder,
            "received_by": self.received_by,
            "issued_to": self.issued_to,
            "applied_to": self.applied_to,
            "removal_reasons": self.removal_reasons,
            "discrepancies": [d.as_dict() for d in self.discrepancies],
        }


def checkpoint_time(ctx: LedgerContext, size: int) -> str:
    """When the checkpoint of ``size`` was issued (the log's own clock)."""
    with ctx.engine.connect() as conn:
        value = conn.execute(select(CHECKPOINTS.c.created_at).where(CHECKPOINTS.c.size == size)).scalar()
    if value is None:
        raise InvalidInput(f"no checkpoint at size {size}")
    return str(value)


def _seal_entries(ctx: LedgerContext, size: int) -> Iterator[Entry]:
    kinds = [kind for _, kind in FLOWS]
    position = 0
    while True:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(ENTRIES.c.idx, ENTRIES.c.raw)
                .where(ENTRIES.c.kind.in_(kinds), ENTRIES.c.idx >= position, ENTRIES.c.idx < size)
                .order_by(ENTRIES.c.idx)
                .limit(_CHUNK)
            ).all()
        if not rows:
            return
        for _, raw in rows:
            yield Entry.parse(bytes(raw))
        position = int(rows[-1][0]) + 1


def _times_of(ctx: LedgerContext, indices: set[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    ordered = sorted(indices)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        with ctx.engine.connect() as conn:
            for idx, at in conn.execute(select(ENTRIES.c.idx, ENTRIES.c.at).where(ENTRIES.c.idx.in_(chunk))):
                out[int(idx)] = str(at)
    return out


def reconcile_seals(
    ctx: LedgerContext,
    *,
    removed_days: int = DEFAULT_REMOVED_DAYS,
    issued_days: int = DEFAULT_ISSUED_DAYS,
    as_of: datetime | None = None,
) -> SealReconciliation:
    """Reconcile every seal on the ledger (see the module docstring)."""
    if removed_days < 0 or issued_days < 0:
        raise InvalidInput("the day thresholds must not be negative")
    checkpoint = latest_checkpoint(ctx)
    moment = as_of if as_of is not None else parse_timestamp(checkpoint_time(ctx, checkpoint.size))
    flows: Counter[str] = Counter({name: 0 for name, _ in FLOWS})
    received_by: Counter[str] = Counter()
    issued_to: Counter[str] = Counter()
    applied_to: dict[str, list[str]] = defaultdict(list)
    reasons: Counter[str] = Counter()
    flow_of = {kind: name for name, kind in FLOWS}
    for entry in _seal_entries(ctx, checkpoint.size):
        statement = entry.statement
        data = statement.data
        name = flow_of[statement.kind]
        if statement.kind == "seal.received":
            flows[name] += int(data["count"])
            received_by[statement.by] += int(data["count"])
        elif statement.kind in ("seal.applied", "seal.removed"):
            seals = [str(s) for s in data["seals"]]
            flows[name] += len(seals)
            if statement.kind == "seal.applied":
                applied_to[statement.subject].extend(seals)
            else:
                reasons[str(data["reason"])] += len(seals)
        else:
            flows[name] += 1
            if statement.kind == "seal.issued":
                issued_to[str(data["to"])] += 1

    status_counts = dict.fromkeys(SEAL_STATUSES, 0)
    by_holder: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(SEAL_STATUSES, 0))
    watch: list[tuple[str, str, str, int]] = []  # (seal id, status, holder, last index)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(SEALS.c.seal_id, SEALS.c.status, SEALS.c.holder, SEALS.c.last_index).order_by(
                SEALS.c.seal_id
            )
        )
        for seal_id, status, holder, last_index in rows:
            status_counts[str(status)] = status_counts.get(str(status), 0) + 1
            by_holder[str(holder)][str(status)] = by_holder[str(holder)].get(str(status), 0) + 1
            if status in (SEAL_REMOVED, SEAL_ISSUED, SEAL_LOST):
                watch.append((str(seal_id), str(status), str(holder), int(last_index)))

    result = SealReconciliation(
        as_of=format_timestamp(moment, millis=True),
        checkpoint=checkpoint,
        removed_days=removed_days,
        issued_days=issued_days,
        status_counts=status_counts,
        flows=dict(flows),
        by_holder={holder: by_holder[holder] for holder in sorted(by_holder)},
        received_by=dict(sorted(received_by.items())),
        issued_to=dict(sorted(issued_to.items())),
        applied_to={connector: applied_to[connector] for connector in sorted(applied_to)},
        removal_reasons=dict(sorted(reasons.items())),
    )
    result.discrepancies = _discrepancies(ctx, result, moment, watch)
    return result


def _discrepancies(
    ctx: LedgerContext,
    result: SealReconciliation,
    moment: datetime,
    watch: list[tuple[str, str, str, int]],
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    if not result.balanced:
        found.append(
            Discrepancy(
                BALANCE,
                "seals",
                f"{result.flows['received']} seals received, {result.total} on the ledger's stock",
            )
        )
    times = _times_of(ctx, {index for *_, index in watch})
    removed_limit = timedelta(days=result.removed_days)
    issued_limit = timedelta(days=result.issued_days)
    for seal_id, status, holder, index in watch:
        since = times.get(index)
        age = moment - parse_timestamp(since) if since is not None else None
        subject = f"seal:{seal_id}"
        if status == SEAL_LOST:
            found.append(Discrepancy(SEAL_LOST_CATEGORY, subject, "seal is lost", since, holder))
        elif status == SEAL_REMOVED and age is not None and age > removed_limit:
            found.append(
                Discrepancy(
                    REMOVED_NOT_DISPOSED,
                    subject,
                    f"removed {age.days} days ago, neither retained nor destroyed",
                    since,
                    holder,
                )
            )
        elif status == SEAL_ISSUED and age is not None and age > issued_limit:
            found.append(
                Discrepancy(
                    ISSUED_NOT_APPLIED, subject, f"issued {age.days} days ago, not applied", since, holder
                )
            )
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(CONNECTORS.c.subject, CONNECTORS.c.state, CONNECTORS.c.seal_status, CONNECTORS.c.custodian)
            .where(CONNECTORS.c.seal_status.in_([MISMATCH, BROKEN]), CONNECTORS.c.state != DESTROYED)
            .order_by(CONNECTORS.c.subject)
        ).all()
    for subject, state, seal_status, custodian in rows:
        found.append(
            Discrepancy(
                CONNECTOR_SEAL_STATUS,
                str(subject),
                f"seal status {seal_status} (connector {state})",
                None,
                str(custodian),
            )
        )
    incidents = queries.incidents(ctx.engine)
    open_incidents = [i for i in incidents if i.category == "seal_mismatch" and i.status != INCIDENT_RELEASED]
    opened = _times_of(ctx, {i.opened_index for i in open_incidents})
    for incident in open_incidents:
        found.append(
            Discrepancy(
                OPEN_SEAL_INCIDENT,
                incident.incident_id,
                f"{incident.status}: {incident.connector}: {incident.description}",
                opened.get(incident.opened_index),
                incident.reported_by,
            )
        )
    order = {c: n for n, c in enumerate(CATEGORY_ORDER)}
    found.sort(key=lambda d: (order[d.category], d.subject))
    return found
