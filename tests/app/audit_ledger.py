"""A demo ledger for the auditor-toolkit tests, with corrections added on top.

:func:`build_audit_ledger` runs :func:`app.services.demo.build_demo` (installs,
an exchange wave, LZV, a seal incident with quarantine, release and re-seal,
a lost unit, destructions) and then has the auditor correct two entries of
operating connectors: one ``incorrect_data``, one ``did_not_occur``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app import queries
from app.services import custody
from app.services.context import LedgerContext
from app.services.demo import build_demo
from ledger.custody.records import DESTROYED, IN_OPERATION
from ledger.entry import Entry
from tests.helpers import SteppingClock, settings_for

CONNECTORS = 20
AUDITOR = "AUDIT-01"
#: After the demo's story (it ends in late 2026).
AFTER_DEMO = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


@dataclass
class AuditLedger:
    ctx: LedgerContext
    tmp: Path
    #: (correction entry, the entry it corrects)
    corrections: list[tuple[Entry, Entry]]

    def entry(self, index: int) -> Entry:
        return Entry.parse(self.ctx.store.entry(index))

    def entries(self) -> list[Entry]:
        return [Entry.parse(raw) for raw in self.ctx.store.entries()]

    def connector_with_longest_history(self, state: str | None = None) -> str:
        subjects: list[str] = [r["subject"] for r in queries.connectors(self.ctx.engine, state=state)]
        return max(
            subjects,
            key=lambda s: (len(queries.connector(self.ctx.engine, s).history), s),
        )


def build_audit_ledger(tmp: Path, connectors: int = CONNECTORS) -> AuditLedger:
    settings = settings_for(f"sqlite:///{tmp}/ledger.db", tmp)
    build_demo(LedgerContext.open(settings), connectors, 1, verify_workers=1)
    ctx = LedgerContext.open(settings, clock=SteppingClock(AFTER_DEMO, timedelta(minutes=7)))
    auditor = ctx.load_actor_key(AUDITOR)
    corrections: list[tuple[Entry, Entry]] = []
    operating = [r["subject"] for r in queries.connectors(ctx.engine, state=IN_OPERATION)]
    targets = (("stored", "incorrect_data"), ("ti.registered", "did_not_occur"))
    for (kind, reason), subject in zip(targets, operating, strict=False):
        record = queries.connector(ctx.engine, subject)
        assert record.state != DESTROYED
        item = next(h for h in record.history if h.kind == kind)
        result = custody.correct(
            ctx,
            AUDITOR,
            auditor,
            subject,
            index=item.index,
            reason=reason,
            explanation=f"audit: {kind} #{item.index} recorded in error",
        )
        corrections.append((Entry.parse(result.entries[0].raw), Entry.parse(ctx.store.entry(item.index))))
    assert len(corrections) == 2
    return AuditLedger(ctx, tmp, corrections)
