"""The registry of statement kinds.

A kind fixes everything a statement of that kind must satisfy: the subject
type, the schema of ``data``, which roles may sign it (and, for two-party
kinds, which field names the counterparty and which roles it needs), the
guard rules, how it changes the ledger state, and its EPCIS mapping.

Append and verification both go through :func:`ledger.state.admit`, so the
log and an auditor replaying it can never disagree about what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.errors import UnknownKind
from ledger.schema import Obj

if TYPE_CHECKING:
    from ledger.state import Context, LedgerState

ROLES = ("admin", "manufacturer", "warehouse", "carrier", "technician", "practice", "auditor")


@dataclass(frozen=True)
class EpcisMapping:
    """GS1 EPCIS 2.0 / CBV 2.0 mapping of a kind (used by the EPCIS export)."""

    event_type: str
    action: str | None
    biz_step: str | None
    disposition: str | None


Rule = Callable[["LedgerState", "Context"], None]


def _no_rule(state: LedgerState, ctx: Context) -> None:
    return None


@dataclass(frozen=True)
class KindSpec:
    name: str
    #: The subject type(s) a statement of this kind may be about.
    subject_type: str | tuple[str, ...]
    roles: frozenset[str]
    schema: Obj
    check: Rule = _no_rule
    apply: Rule = _no_rule
    #: For two-party kinds: the ``data`` field naming the party that must
    #: countersign, and the roles it needs.
    counterparty_field: str | None = None
    counterparty_roles: frozenset[str] = frozenset()
    #: The rule a missing countersignature violates (else an authorisation error).
    counterparty_rule: str | None = None
    epcis: EpcisMapping | None = None
    summary: str = ""
    #: State machine of the subject: (state before, state after) pairs this
    #: kind allows; documentation and tooling only — ``check`` enforces it.
    transitions: tuple[tuple[str, str], ...] = ()

    @property
    def subject_types(self) -> tuple[str, ...]:
        return (self.subject_type,) if isinstance(self.subject_type, str) else self.subject_type


class KindRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, KindSpec] = {}

    def register(self, spec: KindSpec) -> KindSpec:
        if spec.name in self._kinds:
            raise ValueError(f"kind {spec.name} registered twice")
        unknown = (spec.roles | spec.counterparty_roles) - set(ROLES)
        if unknown:
            raise ValueError(f"kind {spec.name}: unknown roles {sorted(unknown)}")
        self._kinds[spec.name] = spec
        return spec

    def get(self, name: str) -> KindSpec:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownKind(f"unknown statement kind {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __iter__(self) -> Iterator[KindSpec]:
        return iter(self._kinds.values())


REGISTRY = KindRegistry()
