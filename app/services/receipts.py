"""Receipts for appended statements (see :mod:`ledger.receipt` for how they verify)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from app.logstore import AppendResult
from app.services.context import LedgerContext
from ledger.merkle import NodeId, inclusion_proof


def receipts_for(ctx: LedgerContext, result: AppendResult) -> list[dict[str, Any]]:
    return [
        {
            "index": entry.index,
            "leaf_hash": entry.leaf_hash.hex(),
            "entry": entry.raw.decode("utf-8"),
            "checkpoint": result.checkpoint,
            "inclusion_proof": _proof(ctx, result, entry.index, entry.leaf_hash),
        }
        for entry in result.entries
    ]


def _proof(ctx: LedgerContext, result: AppendResult, index: int, leaf: bytes) -> dict[str, Any]:
    """The inclusion proof from the nodes the append kept (no database round trip), else the store."""
    if result.nodes:

        def fetch(ids: Collection[NodeId]) -> dict[NodeId, bytes]:
            return {node: result.nodes[node] for node in ids}

        try:
            path = inclusion_proof(index, result.size, fetch)
        except KeyError:
            pass  # not expected; the store answers the same question from the database
        else:
            return {
                "index": index,
                "size": result.size,
                "leaf_hash": leaf.hex(),
                "root": result.root.hex(),
                "proof": [p.hex() for p in path],
            }
    return ctx.store.inclusion_proof(index, result.size)
