"""Seal labels, delivery notes and the label key: the use cases behind CLI and API.

* :func:`render_seal_labels` collects what each label shows from the ledger,
  signs each payload with the label key and renders PDF or ZPL;
  :func:`record_prints` remembers which seals got a label.
* :func:`render_delivery_note` — the Lieferschein of a shipment.
* :func:`init_label_key`, :func:`published_vkeys` — the label key and its
  published verifier key (vkey).
* :func:`verify_scan` — is a scanned label genuine, and what does it identify.

**The label key** is an Ed25519 key of the ledger, separate from the log
key, in ``KEY_DIR/label-key.pem`` (encrypted PKCS#8, 0600; passphrase
``CUSTODY_LABEL_KEY_PASSPHRASE``, else ``CUSTODY_LOG_KEY_PASSPHRASE``). It is
created by ``custody labels key init`` or on the first print, and its vkey
is published in the ``label_keys`` table (GET /api/v1/labels/vkey, ``custody
labels vkey``). It is not anchored in the log: see docs/format.md, Appendix A.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from app import queries
from app.keyfiles import KeyFileMissing, read_key_file, resolve_passphrase, write_key_file
from app.services.atomic_write import write_atomic
from app.services.context import LedgerContext
from app.tables import ENTRIES, LABEL_KEYS, LABEL_PRINTS, PARTIES, PRACTICES, SEALS
from labels.delivery_note import paginate
from labels.delivery_note import render_delivery_note as render_note_pdf
from labels.layouts import DEFAULT_LAYOUT, DEFAULT_ZPL_LAYOUT, Layout, check_start, layout_named
from labels.model import DeliveryNote, NoteItem, NoteParty, SealLabel
from labels.payload import (
    LabelRejected,
    handover_url,
    label_key_name,
    label_vkey,
    looks_like_label,
    normalise_base_url,
    sign_label,
    verify_scanned,
)
from labels.pdf import render_labels_pdf
from labels.zpl import check_zpl, render_labels_zpl
from ledger.custody.ids import parse_seal_id
from ledger.custody.records import SEAL_APPLIED, SEAL_ISSUED, SealRecord
from ledger.custody.scan import MAX_SCAN_LENGTH, candidates, connector_readings, read_scan
from ledger.entry import Entry
from ledger.errors import Conflict, InvalidInput, NotFound
from ledger.keys import Algorithm, SigningKey
from ledger.note import parse_vkey
from ledger.times import format_timestamp

LABEL_KEY_FILE = "label-key.pem"
#: Seal statuses a label is printed for: a seal issued to a person, or on a housing.
LABELLABLE = (SEAL_ISSUED, SEAL_APPLIED)
MAX_BATCH = 10_000
FORMATS = ("pdf", "zpl")
MEDIA_TYPES = {"pdf": "application/pdf", "zpl": "text/plain; charset=utf-8"}
SHIPPING_KINDS = ("shipped", "returned.shipped")
_CHUNK = 500


class NothingToPrint(InvalidInput):
    code = "input.labels_empty"


class SealNotLabellable(InvalidInput):
    code = "input.label_seal_status"


class LabelAlreadyPrinted(Conflict):
    code = "conflict.label_printed"


class LabelKeyMismatch(Conflict):
    code = "conflict.label_key"


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def _short(subject: str | None) -> str | None:
    """``party:WH-01`` → ``WH-01``; ``connector:SECUNET:SN1`` → ``SECUNET SN1``."""
    if subject is None:
        return None
    kind, _, rest = subject.partition(":")
    return rest.replace(":", " ") if kind == "connector" else rest or subject


def base_url(ctx: LedgerContext) -> str:
    """The public base URL (``CUSTODY_PUBLIC_URL``) as labels carry it."""
    return normalise_base_url(ctx.settings.public_url)


# --------------------------------------------------------------------------
# The label key.


@dataclass(frozen=True)
class LabelKeyInfo:
    created: bool
    vkey: str
    path: Path

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "vkey": self.vkey, "key_file": str(self.path)}


def label_key_path(ctx: LedgerContext) -> Path:
    return ctx.settings.resolved_key_dir() / LABEL_KEY_FILE


def _passphrase(ctx: LedgerContext, *, confirm: bool) -> bytes:
    settings = ctx.settings
    secret = settings.label_key_passphrase or settings.log_key_passphrase
    return resolve_passphrase(
        secret.get_secret_value() if secret else None,
        "label key",
        "CUSTODY_LABEL_KEY_PASSPHRASE (or CUSTODY_LOG_KEY_PASSPHRASE)",
        confirm=confirm,
    )


def published_vkeys(ctx: LedgerContext) -> list[str]:
    """The label verifier keys in force, oldest first (empty before the first label key)."""
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(LABEL_KEYS.c.vkey)
            .where(LABEL_KEYS.c.retired_at.is_(None))
            .order_by(LABEL_KEYS.c.created_at, LABEL_KEYS.c.vkey)
        ).all()
    return [str(r[0]) for r in rows]


def key_ref(vkey: str) -> str:
    """``<name>+<hex8>`` of a vkey (its base64 may hold ``+`` itself)."""
    verifier = parse_vkey(vkey)
    return f"{verifier.name}+{verifier.key_id:08x}"


def _label_key(ctx: LedgerContext) -> tuple[SigningKey, LabelKeyInfo]:
    """Open the label key (creating and publishing it if the ledger has none yet)."""
    ctx.require_initialised()
    origin = ctx.store.trust_state().origin
    assert origin is not None
    name = label_key_name(origin)
    path = label_key_path(ctx)
    published = published_vkeys(ctx)
    created = False
    if path.exists():
        key = read_key_file(path, _passphrase(ctx, confirm=False))
    elif published:
        raise KeyFileMissing(
            f"the label key {key_ref(published[-1])} is published, but its key file {path} "
            "is missing on this host: copy it from the host that created it"
        )
    else:
        key = SigningKey.generate(Algorithm.ED25519, ctx.random_bytes(32))
        write_key_file(path, key, _passphrase(ctx, confirm=True))
        created = True
    vkey = label_vkey(name, key)
    if vkey not in published:
        if published:
            raise LabelKeyMismatch(
                f"{path} is not the published label key ({', '.join(key_ref(v) for v in published)})"
            )
        with ctx.engine.begin() as conn:
            conn.execute(LABEL_KEYS.insert(), {"vkey": vkey, "created_at": format_timestamp(ctx.clock())})
    return key, LabelKeyInfo(created, vkey, path)


def init_label_key(ctx: LedgerContext) -> LabelKeyInfo:
    """Create (or open) the label key and publish its vkey; idempotent."""
    return _label_key(ctx)[1]


# --------------------------------------------------------------------------
# Seal labels.


def _seal_records(ctx: LedgerContext, seal_ids: Sequence[str]) -> dict[str, SealRecord]:
    found: dict[str, SealRecord] = {}
    with ctx.engine.connect() as conn:
        for chunk in _chunks(seal_ids):
            for seal_id, record in conn.execute(
                select(SEALS.c.seal_id, SEALS.c.record).where(SEALS.c.seal_id.in_(chunk))
            ):
                found[str(seal_id)] = SealRecord.from_json(json.loads(record))
    return found


def _printed(ctx: LedgerContext, seal_ids: Sequence[str]) -> dict[str, str]:
    """Seal id → when its first label was printed, for those that have one."""
    out: dict[str, str] = {}
    with ctx.engine.connect() as conn:
        for chunk in _chunks(seal_ids):
            for seal_id, printed_at in conn.execute(
                select(LABEL_PRINTS.c.seal_id, LABEL_PRINTS.c.printed_at)
                .where(LABEL_PRINTS.c.seal_id.in_(chunk))
                .order_by(LABEL_PRINTS.c.print_id)
            ):
                out.setdefault(str(seal_id), str(printed_at))
    return out


def unlabelled_seals(ctx: LedgerContext, limit: int = MAX_BATCH + 1) -> list[str]:
    """Issued seals without a label yet, by seal id."""
    printed = select(LABEL_PRINTS.c.seal_id).where(LABEL_PRINTS.c.seal_id == SEALS.c.seal_id).exists()
    query = (
        select(SEALS.c.seal_id)
        .where(SEALS.c.status == SEAL_ISSUED, ~printed)
        .order_by(SEALS.c.seal_id)
        .limit(limit)
    )
    with ctx.engine.connect() as conn:
        return [str(r[0]) for r in conn.execute(query)]


@dataclass(frozen=True)
class _Issue:
    index: int
    leaf_hash: str
    by: str
    to: str | None
    on: str


def _issue_entries(ctx: LedgerContext, seal_ids: Sequence[str]) -> dict[str, _Issue]:
    """The latest ``seal.issued`` entry of each seal."""
    out: dict[str, _Issue] = {}
    with ctx.engine.connect() as conn:
        for chunk in _chunks(seal_ids):
            rows = conn.execute(
                select(ENTRIES.c.idx, ENTRIES.c.raw, ENTRIES.c.leaf_hash)
                .where(ENTRIES.c.kind == "seal.issued", ENTRIES.c.subject.in_([f"seal:{s}" for s in chunk]))
                .order_by(ENTRIES.c.idx)
            )
            for idx, raw, leaf_hash in rows:
                statement = Entry.parse(bytes(raw)).statement
                to = statement.data.get("to")
                out[statement.subject.partition(":")[2]] = _Issue(
                    int(idx), bytes(leaf_hash).hex(), statement.by, to if isinstance(to, str) else None,
                    statement.at[:10],
                )  # fmt: skip
    return out


def _named_seals(ctx: LedgerContext, seal_ids: Sequence[str], reprint: bool) -> list[str]:
    wanted: list[str] = []
    for raw in seal_ids:
        ident = "".join(raw.split()).upper()
        parse_seal_id(ident)
        if ident in wanted:
            raise InvalidInput(f"seal {ident} is named twice")
        wanted.append(ident)
    if len(wanted) > MAX_BATCH:
        raise InvalidInput(f"{len(wanted)} seals: at most {MAX_BATCH} labels a batch")
    records = _seal_records(ctx, wanted)
    for ident in wanted:
        record = records.get(ident)
        if record is None:
            raise NotFound(f"unknown seal {ident}: it is not on the ledger")
        if record.status not in LABELLABLE:
            raise SealNotLabellable(
                f"seal {ident} is {record.status}: labels are printed for {' or '.join(LABELLABLE)} seals"
            )
    if not reprint:
        printed = _printed(ctx, wanted)
        if printed:
            first = next(s for s in wanted if s in printed)
            raise LabelAlreadyPrinted(
                f"seal {first} already has a label (printed {printed[first]}"
                + (f"; {len(printed)} of the named seals have one" if len(printed) > 1 else "")
                + "): reprint to print another"
            )
    return wanted


def seal_labels(
    ctx: LedgerContext, seal_ids: Sequence[str] | None = None, *, reprint: bool = False
) -> tuple[list[SealLabel], str]:
    """What each label shows, its payload signed; and the label key (``name+hex8``).

    ``seal_ids`` empty or None: every ISSUED seal without a label yet. Named
    seals must be ISSUED or APPLIED, and must not have a label unless
    ``reprint``. Raises before anything is signed.
    """
    ctx.require_initialised()
    if seal_ids:
        wanted = _named_seals(ctx, seal_ids, reprint)
    else:
        wanted = unlabelled_seals(ctx)
        if not wanted:
            with ctx.engine.connect() as conn:
                issued = conn.execute(
                    select(func.count()).select_from(SEALS).where(SEALS.c.status == SEAL_ISSUED)
                ).scalar_one()
            raise NothingToPrint(
                "no seals to print: "
                + ("every issued seal already has a label" if issued else "no seal is issued")
                + " (name seals to print, and reprint to print a label again)"
            )
        if len(wanted) > MAX_BATCH:
            raise InvalidInput(
                f"more than {MAX_BATCH} issued seals have no label: name the seals to print in batches"
            )
    records = _seal_records(ctx, wanted)
    issues = _issue_entries(ctx, wanted)
    key, info = _label_key(ctx)
    base = base_url(ctx)
    out = []
    for ident in wanted:
        record, issue = records[ident], issues.get(ident)
        if issue is None:  # every ISSUED/APPLIED seal was issued; the projection says otherwise
            raise NotFound(f"seal {ident} has no seal.issued entry")
        out.append(
            SealLabel(
                seal_id=ident,
                payload=sign_label(base, ident, key).text,
                issued_by=_short(issue.by) or issue.by,
                issued_to=_short(issue.to),
                issued_on=issue.on,
                entry_index=issue.index,
                entry_hash=issue.leaf_hash,
                connector=_short(record.connector),
            )
        )
    return out, key_ref(info.vkey)


@dataclass(frozen=True)
class RenderedLabels:
    content: bytes
    format: str
    layout: str
    dpi: int | None
    start: int
    seal_ids: tuple[str, ...]
    pages: int
    label_key: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "layout": self.layout,
            "dpi": self.dpi,
            "start": self.start,
            "labels": len(self.seal_ids),
            "seal_ids": list(self.seal_ids),
            "pages": self.pages,
            "bytes": len(self.content),
            "label_key": self.label_key,
        }


def check_request(layout_name: str | None, start: int, fmt: str, dpi: int) -> Layout:
    """Validate layout, start position, format and resolution before anything is looked up."""
    if fmt not in FORMATS:
        raise InvalidInput(f"label format {fmt!r}: one of {', '.join(FORMATS)}")
    layout = layout_named(layout_name or (DEFAULT_ZPL_LAYOUT if fmt == "zpl" else DEFAULT_LAYOUT))
    check_start(layout, start)
    if fmt == "zpl":
        check_zpl(layout, dpi)
    return layout


def render_seal_labels(
    ctx: LedgerContext,
    *,
    seal_ids: Sequence[str] | None = None,
    layout: str | None = None,
    start: int = 1,
    fmt: str = "pdf",
    dpi: int = 203,
    reprint: bool = False,
) -> RenderedLabels:
    """Labels for the named seals (or every issued seal without one) as PDF or ZPL bytes.

    Nothing is recorded: call :func:`record_prints` once the output is safely written.
    """
    chosen = check_request(layout, start, fmt, dpi)
    labels, key = seal_labels(ctx, seal_ids, reprint=reprint)
    if fmt == "zpl":
        content = render_labels_zpl(labels, chosen, dpi).encode("utf-8")
        pages = len(labels)
    else:
        content = render_labels_pdf(labels, chosen, start)
        pages = math.ceil((start - 1 + len(labels)) / chosen.positions)
    return RenderedLabels(
        content,
        fmt,
        chosen.name,
        dpi if fmt == "zpl" else None,
        start,
        tuple(label.seal_id for label in labels),
        pages,
        key,
    )


def record_prints(ctx: LedgerContext, rendered: RenderedLabels) -> str:
    """Remember that these seals got a label; returns the print job id."""
    job = ctx.random_bytes(8).hex()
    printed_at = format_timestamp(ctx.clock())
    rows = [
        {
            "seal_id": seal_id,
            "printed_at": printed_at,
            "layout": rendered.layout,
            "format": rendered.format,
            "job": job,
            "label_key": rendered.label_key,
        }
        for seal_id in rendered.seal_ids
    ]
    with ctx.engine.begin() as conn:
        conn.execute(LABEL_PRINTS.insert(), rows)
    return job


def write_output(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all (temporary file, then rename)."""
    write_atomic(path, content)


# --------------------------------------------------------------------------
# Delivery notes.


def _party_names(ctx: LedgerContext, subjects: Sequence[str]) -> dict[str, str]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(PARTIES.c.subject, PARTIES.c.name).where(PARTIES.c.subject.in_(subjects)))
        return {str(s): str(n) for s, n in rows}


def _destination(ctx: LedgerContext, location: str) -> NoteParty:
    """A practice's name and address from master data when the location is a practice, else the id."""
    ident = location.partition(":")[2] or location
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(PRACTICES.c.name, PRACTICES.c.address, PRACTICES.c.erased_at).where(
                PRACTICES.c.practice_id == ident
            )
        ).first()
    if row is None or row[2] is not None:
        return NoteParty(ident)
    address = tuple(line.strip() for line in str(row[1] or "").splitlines() if line.strip())
    return NoteParty(ident, row[0], address)


def delivery_note(ctx: LedgerContext, shipment: str) -> DeliveryNote:
    """The data of the delivery note ``shipment``: the ``shipped`` (or ``returned.shipped``)
    entries whose ``data.delivery_note`` is ``shipment``, and their connectors as they are now.

    The delivery note number lives inside the signed payload, not in a column, so this reads
    every shipping entry of the log (one indexed query by kind, then parsing) — fine for
    thousands of shipments; a column in a later migration would make it one lookup.
    """
    ctx.require_initialised()
    if not shipment or len(shipment) > 80 or shipment != shipment.strip():
        raise InvalidInput(f"shipment {shipment!r}: a delivery note number has 1–80 characters")
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(ENTRIES.c.raw).where(ENTRIES.c.kind.in_(SHIPPING_KINDS)).order_by(ENTRIES.c.idx)
        ).all()
    entries = [
        e
        for e in (Entry.parse(bytes(raw)) for (raw,) in rows)
        if e.statement.data.get("delivery_note") == shipment
    ]
    if not entries:
        raise NotFound(f"unknown shipment {shipment}: no shipped entry carries this delivery note number")
    groups = {
        (e.statement.kind, e.statement.by, e.statement.data.get("to"), e.statement.data.get("destination"))
        for e in entries
    }
    if len(groups) > 1:
        raise InvalidInput(
            f"delivery note {shipment} is used by {len(groups)} different shipments "
            "(different sender, receiver or destination): its note would be ambiguous"
        )
    kind, by, to, destination = next(iter(groups))
    assert isinstance(to, str)
    assert isinstance(destination, str)
    subjects = list(dict.fromkeys(e.statement.subject for e in entries))
    items = []
    for subject in subjects:
        record = queries.connector(ctx.engine, subject)
        items.append(
            NoteItem(record.vendor, record.serial, record.product_code, tuple(record.seals), record.state)
        )
    names = _party_names(ctx, [by, to])
    place = entries[0].statement.place
    origin = ctx.store.trust_state().origin
    assert origin is not None
    return DeliveryNote(
        shipment=shipment,
        kind=kind,
        shipped_on=min(e.statement.at for e in entries)[:10],
        releasing=NoteParty(by.partition(":")[2], names.get(by)),
        receiving=NoteParty(to.partition(":")[2], names.get(to)),
        destination=_destination(ctx, destination),
        origin=NoteParty(place.partition(":")[2] or place) if place else None,
        items=tuple(items),
        handover_url=handover_url(base_url(ctx), shipment),
        ledger=origin,
        entries=tuple(e.index for e in entries),
    )


@dataclass(frozen=True)
class RenderedNote:
    content: bytes
    note: DeliveryNote
    pages: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "shipment": self.note.shipment,
            "connectors": len(self.note.items),
            "pages": self.pages,
            "handover_url": self.note.handover_url,
            "bytes": len(self.content),
        }


def render_delivery_note(ctx: LedgerContext, shipment: str) -> RenderedNote:
    """The delivery note of ``shipment`` as PDF bytes."""
    note = delivery_note(ctx, shipment)
    return RenderedNote(render_note_pdf(note), note, len(paginate(note.items)))


# --------------------------------------------------------------------------
# Verifying a scan.

GENUINE, FORGED, UNKNOWN, KNOWN_ID = "genuine", "forged", "unknown", "known_id"


@dataclass(frozen=True)
class ScanVerdict:
    """What :func:`verify_scan` concluded.

    ``verdict``: ``genuine`` (a label whose signature verifies with a
    published label key, for a seal on this ledger), ``known_id`` (not a
    label, but a seal or connector id the ledger knows), ``forged`` (looks
    like a label but is forged, altered, truncated or for another ledger) or
    ``unknown`` (a genuine label of a seal this ledger does not know, an
    unknown id, or nothing recognisable). ``ok`` is True for the first two.
    """

    verdict: str
    ok: bool
    reason: str
    code: str
    reading: str
    repaired: bool
    kind: str | None = None  # "seal" | "connector"
    id: str | None = None
    subject: str | None = None
    state: str | None = None
    holder: str | None = None
    connector: str | None = None
    label_key: str | None = None
    base_url: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "ok": self.ok,
            "reason": self.reason,
            "code": self.code,
            "reading": self.reading,
            "repaired": self.repaired,
            "kind": self.kind,
            "id": self.id,
            "subject": self.subject,
            "state": self.state,
            "holder": self.holder,
            "connector": self.connector,
            "label_key": self.label_key,
            "base_url": self.base_url,
            "warnings": list(self.warnings),
        }


def _seal_facts(ctx: LedgerContext, seal_id: str) -> SealRecord | None:
    try:
        return queries.seal(ctx.engine, seal_id)
    except NotFound:
        return None


def verify_scan(ctx: LedgerContext, raw: str, *, vkeys: Sequence[str] | None = None) -> ScanVerdict:
    """Verify a scanned label (or look up a typed/scanned id) against this ledger.

    ``raw`` is what the scanner delivered — a label's QR payload, possibly
    garbled by a keyboard-layout mismatch (Y/Z swapped, ``/`` → ``-``, ``:`` →
    ``Ö``), or a bare seal/connector id. The label signature is checked with
    the published label verifier keys (or ``vkeys``) only — never with the
    private key — and a repaired reading counts only if its signature
    verifies. Never raises for what was scanned; raises
    :class:`ledger.errors.InvalidInput` for empty or over-long input.

    Returns a :class:`ScanVerdict`; ``verdict.ok`` tells a genuine label or a
    known id (exit 0 / HTTP 200 "ok") from a forged, altered or unknown one.
    """
    if not raw.strip():
        raise InvalidInput("the scan is empty")
    if len(raw) > MAX_SCAN_LENGTH:
        raise InvalidInput(f"the scan is longer than {MAX_SCAN_LENGTH} characters")
    ctx.require_initialised()
    keys = list(vkeys) if vkeys is not None else published_vkeys(ctx)
    base = base_url(ctx)
    literal = read_scan(raw)
    if not keys:
        if any(looks_like_label(reading) for reading in candidates(raw)):
            return ScanVerdict(
                UNKNOWN, False, "this ledger has published no label key: labels cannot be verified",
                "verify.label.no_key", literal.reading, False,
            )  # fmt: skip
        verified = None
    else:
        try:
            verified = verify_scanned(raw, keys, base)
        except LabelRejected as exc:
            return ScanVerdict(FORGED, False, exc.message, exc.code, literal.reading, False)
    if verified is not None:
        seal_id = verified.seal_id
        record = _seal_facts(ctx, seal_id)
        common: dict[str, Any] = {
            "reading": verified.reading,
            "repaired": verified.repaired,
            "kind": "seal",
            "id": seal_id,
            "subject": f"seal:{seal_id}",
            "label_key": verified.key,
            "base_url": verified.payload.base_url,
        }
        if record is None:
            return ScanVerdict(
                UNKNOWN, False,
                f"the label of seal {seal_id} is signed by the label key, but the seal is not on this ledger",
                "verify.label.unknown_seal", **common,
            )  # fmt: skip
        warnings = []
        if record.status not in LABELLABLE:
            warnings.append(f"seal {seal_id} is {record.status}: it should no longer be in use")
        return ScanVerdict(
            GENUINE, True, f"genuine label of seal {seal_id} ({record.status})", "label.genuine",
            state=record.status, holder=record.holder, connector=record.connector, warnings=warnings,
            **common,
        )  # fmt: skip
    # Not a label: a bare seal or connector id.
    if literal.kind == "seal" and literal.identifier is not None:
        record = _seal_facts(ctx, literal.identifier)
        common = {
            "reading": literal.reading,
            "repaired": literal.repaired,
            "kind": "seal",
            "id": literal.identifier,
            "subject": f"seal:{literal.identifier}",
        }
        if record is None:
            return ScanVerdict(
                UNKNOWN,
                False,
                f"seal {literal.identifier} is not on this ledger",
                "scan.unknown_id",
                **common,
            )
        return ScanVerdict(
            KNOWN_ID, True, f"seal {literal.identifier} ({record.status}); an id, not a signed label",
            "scan.known_id", state=record.status, holder=record.holder, connector=record.connector, **common,
        )  # fmt: skip
    for position, subject in enumerate(connector_readings(raw)):
        try:
            connector = queries.connector(ctx.engine, subject)
        except NotFound:
            continue
        return ScanVerdict(
            KNOWN_ID, True, f"{subject} ({connector.state}); an id, not a signed label", "scan.known_id",
            literal.reading, position > 0 or literal.kind != "connector", kind="connector",
            id=subject.partition(":")[2], subject=subject, state=connector.state,
            holder=connector.custodian, connector=subject,
        )  # fmt: skip
    return ScanVerdict(
        UNKNOWN, False, "not a seal label, and no seal or connector id this ledger knows", "scan.unknown",
        literal.reading, False,
    )  # fmt: skip
