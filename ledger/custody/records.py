"""Custody state: connectors, seals, incidents — the records the rules decide on.

The same records live in memory during a verifier's replay and in the
projection tables of a database. At append time the store does not load the
whole state: :class:`Records` asks a ``loader`` for each record the rules
touch (the database supplies it) and remembers which ones changed, so the
store can write exactly those back in the same transaction.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Generic, TypeVar

from ledger.state import LedgerState
from ledger.times import parse_timestamp

# Connector states (DESIGN §5).
PRODUCED = "PRODUCED"
PERSONALISED = "PERSONALISED"
SEALED = "SEALED"
IN_STOCK = "IN_STOCK"
IN_TRANSIT = "IN_TRANSIT"
RECEIVED = "RECEIVED"
INSTALLED = "INSTALLED"
IN_OPERATION = "IN_OPERATION"
DEREGISTERED = "DEREGISTERED"
REMOVED = "REMOVED"
RETURN_TRANSIT = "RETURN_TRANSIT"
RETURNED = "RETURNED"
DECOMMISSIONED = "DECOMMISSIONED"
DESTROYED = "DESTROYED"
SUSPECT = "SUSPECT"
QUARANTINED = "QUARANTINED"
LOST = "LOST"
CONNECTOR_STATES = (
    PRODUCED, PERSONALISED, SEALED, IN_STOCK, IN_TRANSIT, RECEIVED, INSTALLED, IN_OPERATION,
    DEREGISTERED, REMOVED, RETURN_TRANSIT, RETURNED, DECOMMISSIONED, DESTROYED, SUSPECT,
    QUARANTINED, LOST,
)  # fmt: skip

# Seal status of a connector's housing.
INTACT_VERIFIED = "INTACT_VERIFIED"
UNVERIFIED = "UNVERIFIED"
BROKEN = "BROKEN"
MISMATCH = "MISMATCH"
UNSEALED = "UNSEALED"

# Seal lifecycle.
SEAL_IN_STOCK = "IN_STOCK"
SEAL_ISSUED = "ISSUED"
SEAL_APPLIED = "APPLIED"
SEAL_REMOVED = "REMOVED"
SEAL_RETAINED = "RETAINED"
SEAL_DESTROYED = "DESTROYED"
SEAL_VOID = "VOID"
SEAL_LOST = "LOST"
#: Every seal status, in lifecycle order.
SEAL_STATUSES = (
    SEAL_IN_STOCK,
    SEAL_ISSUED,
    SEAL_APPLIED,
    SEAL_REMOVED,
    SEAL_RETAINED,
    SEAL_DESTROYED,
    SEAL_VOID,
    SEAL_LOST,
)

# Incident status.
INCIDENT_OPEN = "OPEN"
INCIDENT_QUARANTINED = "QUARANTINED"
INCIDENT_RELEASED = "RELEASED"


@dataclass
class Certificate:
    iccsn: str
    not_after: str


@dataclass
class Inspection:
    nonce: str
    index: int
    by: str
    place: str | None
    at: str
    expected: list[str]
    observed: list[str]
    results: dict[str, str]
    conformant: bool


@dataclass
class HistoryItem:
    index: int
    leaf_hash: str
    kind: str
    by: str
    state_before: str | None
    state_after: str | None
    corrected_by: int | None = None


@dataclass
class ConnectorRecord:
    subject: str
    vendor: str
    serial: str
    product_code: str
    state: str
    custodian: str
    certificates: list[Certificate]
    firmware: str
    seal_status: str = UNSEALED
    seals: list[str] = field(default_factory=list)
    ever_sealed: bool = False
    smck_bound: bool = False
    location: str | None = None
    bin: str | None = None
    practice: str | None = None
    last_inspection: Inspection | None = None
    open_incident: str | None = None
    #: Further incidents reported while one was open: they are decided together.
    joined_incidents: list[str] = field(default_factory=list)
    state_before_incident: str | None = None
    last_at: str | None = None
    history: list[HistoryItem] = field(default_factory=list)

    @property
    def cert_not_after(self) -> str | None:
        """The earliest certificate expiry: the connector is only as valid as its weakest card."""
        if not self.certificates:
            return None
        # Compare instants, not strings: fractional seconds would sort wrongly as text.
        return min(self.certificates, key=lambda c: parse_timestamp(c.not_after)).not_after

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ConnectorRecord:
        data = dict(value)
        data["certificates"] = [Certificate(**c) for c in data["certificates"]]
        data["last_inspection"] = Inspection(**data["last_inspection"]) if data["last_inspection"] else None
        data["history"] = [HistoryItem(**h) for h in data["history"]]
        return cls(**_known(cls, data))


@dataclass
class SealRecord:
    seal_id: str
    status: str
    holder: str
    received_index: int
    issued_to: str | None = None
    connector: str | None = None
    last_index: int = 0

    def to_json(self) -> dict[str, Any]:
        # Written for every seal of every batch: spelled out, asdict() is slow.
        return {
            "seal_id": self.seal_id,
            "status": self.status,
            "holder": self.holder,
            "received_index": self.received_index,
            "issued_to": self.issued_to,
            "connector": self.connector,
            "last_index": self.last_index,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SealRecord:
        return cls(**_known(cls, value))


@dataclass
class IncidentRecord:
    incident_id: str
    connector: str
    category: str
    reported_by: str
    opened_index: int
    description: str
    status: str = INCIDENT_OPEN
    quarantined_by: str | None = None
    released_by: str | None = None
    investigation: str | None = None
    closed_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> IncidentRecord:
        return cls(**_known(cls, value))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


R = TypeVar("R")
_ABSENT = object()


class Records(Generic[R]):
    """A keyed set of records, loaded on demand and tracking what changed.

    A *savepoint* makes a series of changes undoable: from then on the
    first access to a record keeps a copy of it, and :meth:`rollback` puts
    those copies back. The store uses this to admit several independent
    groups of statements in one transaction and drop only the ones refused.
    """

    def __init__(
        self,
        loader: Callable[[Iterable[str]], dict[str, R]] | None = None,
    ) -> None:
        self._items: dict[str, R | None] = {}
        self._loader = loader
        self.changed: set[str] = set()
        self._undo: dict[str, Any] | None = None
        self._changed_before: set[str] = set()

    def _remember(self, key: str) -> None:
        if self._undo is not None and key not in self._undo:
            self._undo[key] = copy.deepcopy(self._items[key]) if key in self._items else _ABSENT

    def get(self, key: str) -> R | None:
        if key not in self._items:
            self._load([key])
        self._remember(key)
        return self._items[key]

    def get_many(self, keys: Iterable[str]) -> dict[str, R | None]:
        keys = list(keys)
        wanted = [k for k in keys if k not in self._items]
        if wanted:
            self._load(wanted)
        for key in keys:
            self._remember(key)
        return {k: self._items[k] for k in keys}

    def savepoint(self) -> None:
        self._undo = {}
        self._changed_before = set(self.changed)

    def rollback(self) -> None:
        """Undo every change since :meth:`savepoint`."""
        assert self._undo is not None, "rollback without a savepoint"
        for key, old in self._undo.items():
            if old is _ABSENT:
                self._items.pop(key, None)
            else:
                self._items[key] = old
        self.changed = self._changed_before
        self._undo = None

    def release(self) -> None:
        self._undo = None

    def _load(self, keys: list[str]) -> None:
        found = self._loader(keys) if self._loader is not None else {}
        for key in keys:
            self._items[key] = found.get(key)

    def put(self, key: str, record: R) -> None:
        self._remember(key)
        self._items[key] = record
        self.changed.add(key)

    def __iter__(self) -> Iterator[tuple[str, R]]:
        for key, value in self._items.items():
            if value is not None:
                yield key, value

    def changed_records(self) -> Iterator[tuple[str, R]]:
        for key in sorted(self.changed):
            value = self._items[key]
            if value is not None:
                yield key, value


@dataclass
class CustodyState:
    connectors: Records[ConnectorRecord] = field(default_factory=Records)
    seals: Records[SealRecord] = field(default_factory=Records)
    incidents: Records[IncidentRecord] = field(default_factory=Records)

    def _all(self) -> tuple[Records[Any], ...]:
        return (self.connectors, self.seals, self.incidents)

    def savepoint(self) -> None:
        for records in self._all():
            records.savepoint()

    def rollback(self) -> None:
        for records in self._all():
            records.rollback()

    def release(self) -> None:
        for records in self._all():
            records.release()


def custody(state: LedgerState) -> CustodyState:
    """The custody part of a ledger state (created empty on first use, as in a replay)."""
    value = state.extra.get("custody")
    if value is None:
        value = state.extra["custody"] = CustodyState()
    assert isinstance(value, CustodyState)
    return value
