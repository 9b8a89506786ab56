"""GS1 EPCIS 2.0 / CBV 2.0 events from ledger entries (pure: entries in, dicts out).

Every custody kind names its event type, action, bizStep and disposition in
its :class:`~ledger.kinds.EpcisMapping` (format spec §13.8). This module
turns one entry into one JSON-LD event of an ``EPCISDocument``:

* **Identifiers** are URIs in one scheme, ``urn:kcl:<subject>``: the
  connector ``connector:SECUNET:1234`` is ``urn:kcl:connector:SECUNET:1234``,
  a seal ``urn:kcl:seal:<ID>``, a place ``urn:kcl:location:<ID>``, a party
  ``urn:kcl:party:<ID>``. (Connectors carry no GS1 key we know of — no GTIN
  and serial — so GS1 instance identifiers would have to be invented.)
* **eventID** is ``ni:///sha-256;<base64url leaf hash>`` (RFC 6920), the
  entry's RFC 9162 leaf hash: stable, unique per entry, and checkable
  against the log. It is deliberately *not* suffixed ``?ver=CBV2.0``: that
  suffix declares the CBV 2.0 §8.9 event hash (over the event's canonical
  pre-hash string), which this is not.
* **bizStep/disposition** use the bare CBV 2.0 words the GS1 schema
  enumerates (``shipping``, ``in_transit``); ``seal.inspected`` takes
  ``conformant``/``non_conformant`` from its results.
* What EPCIS has no field for goes into extension members of our namespace
  :data:`KCL_NAMESPACE` (prefix ``kcl:``, declared in ``@context``):
  ``kcl:entryIndex``, ``kcl:leafHash``, ``kcl:kind``, ``kcl:by``,
  ``kcl:signers``, ``kcl:keyIds`` and ``kcl:data`` (a JSON literal with the
  statement's data fields that no EPCIS field carries).
* A ``correction`` (rule 10) becomes the EPCIS error declaration: the
  corrected event re-emitted unchanged — same eventID — with the
  correction's ``recordTime`` and an ``errorDeclaration`` (time and CBV
  reason from the correction, plus ``kcl:`` members naming the correction
  entry). The ledger does not link a correction to a re-recorded event, so
  ``correctiveEventIDs`` is left out rather than guessed.
* Trust kinds (genesis, parties, keys, roles) have no mapping and are not
  exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.custody.connector import inspection_conformant
from ledger.custody.seals import batch_ids
from ledger.encoding import b64url_encode
from ledger.entry import Entry
from ledger.errors import InvalidInput
from ledger.kinds import REGISTRY

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: Our extension namespace; ``kcl:entryIndex`` expands to ``urn:kcl:epcis:entryIndex``.
KCL_NAMESPACE = "urn:kcl:epcis:"
KCL_PREFIX = "kcl"
SCHEMA_VERSION = "2.0"
TIME_ZONE_OFFSET = "+00:00"
CORRECTION = "correction"

#: Data fields that map to standard EPCIS fields (and so stay out of ``kcl:data``).
_SEAL_FIELDS = ("seals", "seals_observed", "carton_seal")
_INSPECTION_SEALS = ("expected", "observed")
#: Kinds after which the object has no known business location (in transit, gone).
_NO_BIZ_LOCATION = frozenset(
    {"shipped", "returned.shipped", "custody.transferred", "lost", "stolen", "destroyed", "seal.destroyed",
     "seal.lost"}
)  # fmt: skip
#: Kinds whose ``data.location`` is where the object now is.
_LOCATION_KINDS = frozenset({"stored", "quarantined", "seal.retained"})
#: Kinds that hand possession to ``data.to`` (source → destination).
_HANDOVER_KINDS = frozenset({"shipped", "returned.shipped", "custody.transferred", "seal.issued"})
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def document_context() -> list[Any]:
    """The document's ``@context``: the EPCIS context and our namespace; ``kcl:data``
    is a JSON literal (JSON-LD 1.1 ``@json``), so its members need no terms."""
    return [EPCIS_CONTEXT, {KCL_PREFIX: KCL_NAMESPACE, "kcl:data": {"@id": "kcl:data", "@type": "@json"}}]


def _pct(text: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (UTF-8)."""
    return "".join(ch if ch in _UNRESERVED else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


def subject_uri(subject: str) -> str:
    """``connector:V:S`` → ``urn:kcl:connector:V:S`` (any ledger subject)."""
    kind, _, ident = subject.partition(":")
    if not kind or not ident:
        raise InvalidInput(f"not a subject: {subject!r}")
    # Subject ids use only A-Z 0-9 . _ - : / — all legal in a URN's NSS.
    return f"urn:kcl:{kind}:{ident}"


def seal_uri(seal_id: str) -> str:
    return subject_uri(f"seal:{seal_id}")


def event_id(leaf_hash: bytes) -> str:
    """The eventID of the entry with ``leaf_hash``: an RFC 6920 ``ni`` URI."""
    if len(leaf_hash) != 32:
        raise InvalidInput("a leaf hash has 32 bytes")
    return f"ni:///sha-256;{b64url_encode(leaf_hash)}"


def delivery_note_uri(note: str) -> str:
    return f"urn:kcl:delivery-note:{_pct(note)}"


@dataclass(frozen=True)
class CheckpointRef:
    """The checkpoint an export was taken against (document-level ``kcl:checkpoint``)."""

    origin: str
    size: int
    root_hex: str

    def as_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "size": self.size, "root": self.root_hex}


def seals_named(kind: str, data: Mapping[str, Any]) -> list[str]:
    named: list[str] = []
    fields = _SEAL_FIELDS + (_INSPECTION_SEALS if kind == "seal.inspected" else ())
    for name in fields:
        value = data.get(name)
        if isinstance(value, str):
            named.append(value)
        elif isinstance(value, list):
            named.extend(v for v in value if isinstance(v, str))
    return sorted(set(named))


def _epc_list(entry: Entry) -> list[str]:
    statement = entry.statement
    data = statement.data
    if statement.kind == "seal.received":
        return [seal_uri(s) for s in batch_ids(str(data["series"]), int(data["first"]), int(data["count"]))]
    first = subject_uri(statement.subject)
    others = [seal_uri(s) for s in seals_named(statement.kind, data)]
    return [first, *(uri for uri in others if uri != first)]


def _disposition(entry: Entry, default: str | None) -> str | None:
    if entry.statement.kind == "seal.inspected":
        return "conformant" if inspection_conformant(entry.statement.data) else "non_conformant"
    return default


def _rest_of_data(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    mapped: set[str] = set(_SEAL_FIELDS) | {"delivery_note"}
    if kind in _LOCATION_KINDS:
        mapped.add("location")
    if kind in _HANDOVER_KINDS:
        mapped.update({"to", "destination"})
    if kind == "seal.received":
        mapped.update({"series", "first", "count"})
    return {k: v for k, v in sorted(data.items()) if k not in mapped}


def signer_parties(entry: Entry, parties: Mapping[str, str]) -> list[str]:
    """The parties whose keys signed ``entry`` (``parties``: key id → party); unknown keys by id."""
    return sorted({parties.get(s.keyid, f"key:{s.keyid}") for s in entry.envelope.signatures})


def _kcl_members(entry: Entry, parties: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kcl:entryIndex": entry.index,
        "kcl:leafHash": entry.leaf_hash.hex(),
        "kcl:kind": entry.statement.kind,
        "kcl:by": entry.statement.by,
        "kcl:signers": signer_parties(entry, parties),
        "kcl:keyIds": [s.keyid for s in entry.envelope.signatures],
    }


def entry_event(entry: Entry, parties: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The EPCIS event of one entry; None for kinds without a mapping (trust kinds).

    A ``correction`` has no event of its own: see :func:`error_declaration_event`.
    """
    statement = entry.statement
    spec = REGISTRY.get(statement.kind)
    if spec.epcis is None or statement.kind == CORRECTION:
        return None
    mapping = spec.epcis
    data = statement.data
    event: dict[str, Any] = {
        "type": mapping.event_type,
        "eventTime": statement.at,
        "eventTimeZoneOffset": TIME_ZONE_OFFSET,
        "recordTime": entry.recorded_at,
        "eventID": event_id(entry.leaf_hash),
        "epcList": _epc_list(entry),
    }
    if mapping.action is not None:
        event["action"] = mapping.action
    if mapping.biz_step is not None:
        event["bizStep"] = mapping.biz_step
    disposition = _disposition(entry, mapping.disposition)
    if disposition is not None:
        event["disposition"] = disposition
    if statement.place is not None:
        event["readPoint"] = {"id": subject_uri(statement.place)}
    if statement.kind in _LOCATION_KINDS and isinstance(data.get("location"), str):
        event["bizLocation"] = {"id": subject_uri(data["location"])}
    elif statement.place is not None and statement.kind not in _NO_BIZ_LOCATION:
        event["bizLocation"] = {"id": subject_uri(statement.place)}
    if isinstance(data.get("delivery_note"), str):
        event["bizTransactionList"] = [
            {"type": "desadv", "bizTransaction": delivery_note_uri(data["delivery_note"])}
        ]
    if statement.kind in _HANDOVER_KINDS:
        sources = [{"type": "possessing_party", "source": subject_uri(statement.by)}]
        destinations = [{"type": "possessing_party", "destination": subject_uri(str(data["to"]))}]
        if statement.place is not None and statement.kind != "seal.issued":
            sources.append({"type": "location", "source": subject_uri(statement.place)})
        if isinstance(data.get("destination"), str):
            destinations.append({"type": "location", "destination": subject_uri(data["destination"])})
        event["sourceList"] = sources
        event["destinationList"] = destinations
    event.update(_kcl_members(entry, parties or {}))
    rest = _rest_of_data(statement.kind, data)
    if rest:
        event["kcl:data"] = rest
    return event


def error_declaration_event(
    correction: Entry, corrected: Entry, parties: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The corrected entry's event re-emitted with the correction's ``errorDeclaration``."""
    data = correction.statement.data
    if correction.statement.kind != CORRECTION:
        raise InvalidInput(f"entry {correction.index} is not a correction")
    if data.get("corrects") != corrected.index or data.get("leaf_hash") != corrected.leaf_hash.hex():
        raise InvalidInput(f"correction {correction.index} does not reference entry {corrected.index}")
    event = entry_event(corrected, parties)
    if event is None:
        raise InvalidInput(f"entry {corrected.index} ({corrected.statement.kind}) has no EPCIS event")
    event["recordTime"] = correction.recorded_at
    members = _kcl_members(correction, parties or {})
    declaration: dict[str, Any] = {
        "declarationTime": correction.statement.at,
        "reason": data["reason"],
        "kcl:declarationID": event_id(correction.leaf_hash),
        "kcl:entryIndex": members["kcl:entryIndex"],
        "kcl:leafHash": members["kcl:leafHash"],
        "kcl:by": members["kcl:by"],
        "kcl:signers": members["kcl:signers"],
        "kcl:keyIds": members["kcl:keyIds"],
        "kcl:explanation": data["explanation"],
    }
    # Same members as the original, in EPCIS order: the declaration follows eventID.
    ordered: dict[str, Any] = {}
    for key, value in event.items():
        ordered[key] = value
        if key == "eventID":
            ordered["errorDeclaration"] = declaration
    return ordered


def map_entries(
    entries: Iterable[Entry],
    corrected: Callable[[int], Entry],
    parties: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Events of ``entries`` in their order; ``corrected(index)`` supplies a corrected entry."""
    events: list[dict[str, Any]] = []
    for entry in entries:
        if entry.statement.kind == CORRECTION:
            target = corrected(int(entry.statement.data["corrects"]))
            events.append(error_declaration_event(entry, target, parties))
            continue
        event = entry_event(entry, parties)
        if event is not None:
            events.append(event)
    return events


def epcis_document(
    events: Sequence[dict[str, Any]], *, creation_date: str, checkpoint: CheckpointRef | None = None
) -> dict[str, Any]:
    """An ``EPCISDocument`` (JSON-LD) holding ``events``."""
    document: dict[str, Any] = {
        "@context": document_context(),
        "type": "EPCISDocument",
        "schemaVersion": SCHEMA_VERSION,
        "creationDate": creation_date,
    }
    if checkpoint is not None:
        document["kcl:checkpoint"] = checkpoint.as_json()
    document["epcisBody"] = {"eventList": list(events)}
    return document
