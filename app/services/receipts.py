"""Receipts for appended statements (see :mod:`ledger.receipt` for how they verify)."""

from __future__ import annotations

from typing import Any

from app.logstore import AppendResult
from app.services.context import LedgerContext


def receipts_for(ctx: LedgerContext, result: AppendResult) -> list[dict[str, Any]]:
    return [
        {
            "index": entry.index,
            "leaf_hash": entry.leaf_hash.hex(),
            "entry": entry.raw.decode("utf-8"),
            "checkpoint": result.checkpoint,
            "inclusion_proof": ctx.store.inclusion_proof(entry.index, result.size),
        }
        for entry in result.entries
    ]
