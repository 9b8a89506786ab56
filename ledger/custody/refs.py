"""Which custody records a statement will look at — so a store can load them in one go.

Only an optimisation: rules still load anything missing on demand, so a
reference forgotten here costs a query, never a wrong decision.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from ledger.custody.ids import SEAL_ID, seal_id
from ledger.statement import Statement


@dataclass
class References:
    connectors: set[str] = field(default_factory=set)
    seals: set[str] = field(default_factory=set)
    incidents: set[str] = field(default_factory=set)


def _seal_ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [s for s in value if isinstance(s, str) and SEAL_ID.fullmatch(s)]


def references(statements: list[Statement]) -> References:
    refs = References()
    for statement in statements:
        kind, data = statement.subject_type, statement.data
        ident = statement.subject.partition(":")[2]
        if kind == "connector":
            refs.connectors.add(statement.subject)
            refs.seals.update(_seal_ids(data.get("seals")))
            incident = data.get("incident")
            if isinstance(incident, str):
                refs.incidents.add(incident)
        elif kind == "seal":
            refs.seals.add(ident)
            if statement.kind == "seal.received":
                with suppress(Exception):  # malformed data: the schema check reports it
                    first, count = int(data["first"]), int(data["count"])
                    refs.seals.update(
                        seal_id(str(data["series"]), n) for n in range(first, first + min(count, 10_000))
                    )
    return refs
