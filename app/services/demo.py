"""`custody demo`: a realistic ledger built from nothing, deterministic for a seed.

The story (dates are simulated; the context's clock follows them):

* 2022-01  the ledger goes live: genesis, parties and their keys (Ed25519,
  ECDSA P-256, brainpoolP256r1), thirty practices' master data;
* 2022-01…04  the first generation of connectors (secunet, CGM KoCoBox,
  RISE) is commissioned, bound to its gSMC-K, sealed, stored, shipped to two
  warehouses, handed to technicians and installed and registered at the
  practices — their certificates expire in early 2027;
* 2024-03  a firmware round; 2026-07  runtime extensions (LZV) for some units;
* 2026-05…06  the second generation is produced; at one goods-in the seal
  numbers differ from those shipped: incident → quarantine → release by the
  auditor (four eyes) → re-seal by the manufacturer;
* 2026-10…11  the exchange wave: old units whose certificates expire soon are
  deregistered, removed, returned, decommissioned and destroyed (witnessed)
  while new units are installed; one unit is lost in transit; the wave is
  still running when the demo ends, so every in-between state is present.

Every choice comes from ``random.Random`` seeded with the seed, statement
nonces and practice salts from another seeded stream, and time from
:class:`DemoClock`, so two runs with the same seed append byte-identical
entries. Work is appended in the batches the real process has (a production
lot's step, a shipment, a handover, a technician's visit).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app import queries
from app.db import schema_revision
from app.keyfiles import read_key_file, resolve_passphrase, write_key_file
from app.logstore import AppendResult
from app.services import demo_cast as cast
from app.services.context import LedgerContext
from app.services.custody import envelope_for, inspection_data
from app.services.fleet import expiring
from app.services.handover import accept_offer, create_offer
from app.services.practices import add_practice
from app.services.setup import init_ledger
from app.services.trust import add_key, register_party
from app.services.verification import verify_ledger
from ledger.custody.connector import add_years
from ledger.custody.ids import seal_id
from ledger.entry import Entry
from ledger.envelope import Envelope
from ledger.errors import Conflict, InvalidInput, LedgerExists
from ledger.keys import SigningKey
from ledger.statement import Statement
from ledger.times import format_timestamp

DEFAULT_CONNECTORS = 200
MIN_CONNECTORS = 20
MAX_CONNECTORS = 5000
ADMIN_ID = "ADMIN-01"
ADMIN_NAME = "Ledger-Administration (Demo)"

GO_LIVE = datetime(2022, 1, 10, 9, 0, tzinfo=UTC)
OLD_SEALS_DAY = date(2022, 1, 17)
OLD_PRODUCTION = date(2022, 1, 24)
OLD_INSTALLS = date(2022, 3, 14)
FIRMWARE_ROUND = date(2024, 3, 5)
NEW_SEALS_DAY = date(2026, 4, 20)
NEW_PRODUCTION = date(2026, 5, 4)
LZV_ROUND = date(2026, 7, 6)
WAVE_START = date(2026, 10, 5)
WAVE_WEEKS = 7
#: Mondays on which returned units are decommissioned and destroyed before the auditor.
DESTRUCTION_DAYS = (date(2026, 10, 26), date(2026, 11, 23))
OLD_EXPIRY = (datetime(2027, 1, 10, tzinfo=UTC), datetime(2027, 5, 15, tzinfo=UTC))
LZV_YEARS = 3

Progress = Callable[[str], None]


class LedgerNotEmpty(LedgerExists):
    """The demo only seeds an empty ledger (one with at most its genesis entry)."""

    code = "conflict.ledger_not_empty"


class KeyFileConflict(Conflict):
    """The key directory holds a key file for a demo party with another key than the seed's."""

    code = "conflict.key_file_exists"


class DemoClock:
    """Simulated time: moves a little on every reading, jumps forward to scheduled events."""

    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=15)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        value = self.now
        self.now = value + self.step
        return value

    def advance_to(self, moment: datetime) -> None:
        if moment > self.now:
            self.now = moment


@dataclass
class DemoSummary:
    seed: int
    connectors: int
    origin: str
    entries: int
    appends: int
    first_event: str
    last_event: str
    connector_states: dict[str, int]
    seal_statuses: dict[str, int]
    incidents: list[dict[str, Any]]
    handovers: int
    parties: int
    parties_by_role: dict[str, int]
    key_algorithms: dict[str, int]
    practices: int
    vendors: dict[str, int]
    expiring_within_180d: int
    key_dir: str
    elapsed_seconds: float
    verification: dict[str, Any]

    @property
    def valid(self) -> bool:
        return bool(self.verification.get("valid"))

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "connectors": self.connectors,
            "origin": self.origin,
            "entries": self.entries,
            "appends": self.appends,
            "first_event": self.first_event,
            "last_event": self.last_event,
            "connector_states": dict(sorted(self.connector_states.items())),
            "seal_statuses": dict(sorted(self.seal_statuses.items())),
            "incidents": self.incidents,
            "handovers": self.handovers,
            "parties": self.parties,
            "parties_by_role": dict(sorted(self.parties_by_role.items())),
            "key_algorithms": dict(sorted(self.key_algorithms.items())),
            "practices": self.practices,
            "vendors": dict(sorted(self.vendors.items())),
            "expiring_within_180d": self.expiring_within_180d,
            "key_dir": self.key_dir,
            "elapsed_seconds": self.elapsed_seconds,
            "verification": self.verification,
        }


@dataclass(eq=False)
class Unit:
    subject: str
    vendor: cast.Vendor
    generation: str
    iccsn: str
    not_after: datetime
    firmware: str
    production_day: date
    seals: list[str] = field(default_factory=list)
    practice: cast.Practice | None = None
    technician: str | None = None
    warehouse: str | None = None
    #: What happens to the unit: installed / exchanged / lzv / replacement / extra / stock / …
    role: str = "stock"


@dataclass
class Visit:
    practice: cast.Practice
    install: list[Unit] = field(default_factory=list)
    remove: list[Unit] = field(default_factory=list)
    #: Installed on this visit but not yet registered in the TI when the demo ends.
    unregistered: list[Unit] = field(default_factory=list)
    week: int = 0
    weekday: int = 2


def ledger_has_data(ctx: LedgerContext) -> bool:
    """True when the ledger holds more than its genesis entry (the demo then refuses)."""
    return schema_revision(ctx.engine) is not None and ctx.store.size() > 1


def build_demo(
    ctx: LedgerContext,
    connectors: int = DEFAULT_CONNECTORS,
    seed: int = 1,
    progress: Progress | None = None,
    *,
    verify_workers: int | None = None,
) -> DemoSummary:
    """Seed an empty ledger with the demo story; return what it contains and its verification."""
    if not MIN_CONNECTORS <= connectors <= MAX_CONNECTORS:
        raise InvalidInput(f"the demo needs {MIN_CONNECTORS}…{MAX_CONNECTORS} connectors, not {connectors}")
    return _DemoRun(ctx, connectors, seed, progress or (lambda _: None), verify_workers).run()


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) + timedelta(minutes=minute)


def _nonce_of(envelope: Envelope) -> str:
    return Statement.from_bytes(envelope.payload).nonce


class _SealStock:
    def __init__(self, series: str, first: int, count: int) -> None:
        self.series, self.first, self.count = series, first, count
        self.ids = [seal_id(series, number) for number in range(first, first + count)]
        self.used = 0

    def take(self, count: int) -> list[str]:
        if self.used + count > len(self.ids):
            raise AssertionError("demo seal stock exhausted")
        taken = self.ids[self.used : self.used + count]
        self.used += count
        return taken


class _DemoRun:
    def __init__(
        self, ctx: LedgerContext, connectors: int, seed: int, progress: Progress, workers: int | None
    ) -> None:
        self.started = time.perf_counter()
        self.connectors, self.seed, self.say, self.workers = connectors, seed, progress, workers
        self.clock = DemoClock(GO_LIVE)
        nonces = random.Random(f"kcl-demo/{seed}/bytes")
        self.ctx = LedgerContext(ctx.settings, ctx.engine, clock=self.clock, random_bytes=nonces.randbytes)
        self.rng = random.Random(f"kcl-demo/{seed}/plan")
        self.key_rng = random.Random(f"kcl-demo/{seed}/keys")
        self.keys: dict[str, SigningKey] = {}
        self.admin_id = ADMIN_ID
        self.appends = 0
        self.handovers = 0
        self.notes: dict[str, int] = {}
        self.practices = cast.practices(self.rng)
        self.digests: dict[str, str] = {}
        self.units: list[Unit] = []
        self.serials = {v.code: self.rng.randrange(10_000, 90_000) for v in cast.VENDORS}
        self.iccsn = self.rng.randrange(10**9, 9 * 10**9)
        self.returned: list[tuple[Unit, date]] = []
        self.decommissioned: set[str] = set()
        self.destroyed: set[str] = set()

    # ------------------------------------------------------------------
    # Plumbing

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        self.clock.advance_to(_at(day, hour, minute))

    def env(
        self,
        actor: str,
        kind: str,
        subject: str,
        data: Mapping[str, Any],
        *,
        place: str | None = None,
        cosigners: Sequence[str] = (),
    ) -> Envelope:
        keys = [self.keys[actor], *(self.keys[c] for c in cosigners)]
        return envelope_for(
            self.ctx, actor=actor, keys=keys, kind=kind, subject=subject, data=data, place=place
        )

    def append(self, envelopes: Sequence[Envelope]) -> AppendResult:
        self.appends += 1
        return self.ctx.writer().append(list(envelopes))

    def handover(self, sender: str, receiver: str, units: Sequence[Unit], note: str) -> AppendResult:
        """Two-party handover: the releaser signs an offer, the receiver countersigns it (one batch)."""
        offer = create_offer(
            self.ctx, sender, self.keys[sender], [u.subject for u in units], receiver, delivery_note=note
        )
        self.handovers += 1
        self.appends += 1
        return accept_offer(self.ctx, receiver, self.keys[receiver], offer.offer_id)

    def note(self, prefix: str) -> str:
        year = self.clock.now.year
        self.notes[f"{prefix}{year}"] = number = self.notes.get(f"{prefix}{year}", 0) + 1
        return f"{prefix}-{year}-{number:05d}"

    def done(self, phase: str) -> None:
        size = self.ctx.store.size()
        self.say(f"{self.clock.now:%Y-%m-%d}  {phase} ({size} entries)")

    # ------------------------------------------------------------------
    # The story

    def run(self) -> DemoSummary:
        self.setup()
        old, new = self.plan()
        self.old_generation(old)
        self.firmware_round(old)
        self.new_generation(new)
        self.lzv_round(old)
        self.exchange_wave(old, new)
        return self.summary()

    def setup(self) -> None:
        ctx = self.ctx
        if ledger_has_data(ctx):
            raise LedgerNotEmpty(
                f"the ledger already has {ctx.store.size()} entries; "
                "the demo only seeds an empty ledger (use a new database)"
            )
        secret = ctx.settings.key_passphrase
        passphrase = resolve_passphrase(
            secret.get_secret_value() if secret else None,
            "demo party keys",
            "CUSTODY_KEY_PASSPHRASE",
            confirm=True,
        )
        # Derive every party key before anything is written, and refuse to
        # clobber a different key left in the key directory.
        members = [
            *((m.party_id, m.name, m.role, m.algorithm) for m in cast.CAST),
            *(
                (p.practice_id, f"Praxis {p.practice_id} (Pseudonym)", "practice", p.algorithm)
                for p in self.practices
            ),
        ]
        for party_id, _, _, algorithm in members:
            self.keys[party_id] = SigningKey.generate(algorithm, self.key_rng.randbytes(64))
        for party_id, _, _, _ in members:
            path = ctx.actor_key_path(party_id)
            if path.exists() and read_key_file(path, passphrase).keyid != self.keys[party_id].keyid:
                raise KeyFileConflict(
                    f"{path} holds another key than demo seed {self.seed} derives; use an empty key directory"
                )
        if schema_revision(ctx.engine) is None or ctx.store.size() == 0:
            init_ledger(ctx, origin=None, admin_id=ADMIN_ID, admin_name=ADMIN_NAME)
        state = ctx.store.trust_state()
        genesis_admin = next(p for p in state.parties.values() if p.registered_at == 0)
        self.admin_id = genesis_admin.subject.partition(":")[2]
        admin_key = ctx.load_actor_key(self.admin_id)
        for party_id, name, role, _ in members:
            path = ctx.actor_key_path(party_id)
            if not path.exists():
                write_key_file(path, self.keys[party_id], passphrase)
            register_party(ctx, admin_key, self.admin_id, party_id, name, [role])
            add_key(ctx, admin_key, self.admin_id, party_id, self.keys[party_id].public_key)
            self.appends += 2
        for practice in self.practices:
            self.digests[practice.practice_id] = add_practice(
                ctx,
                practice.practice_id,
                name=practice.name,
                bsnr=practice.bsnr,
                telematik_id=practice.telematik_id,
                address=practice.address,
            )
        self.done(f"ledger live: {len(members) + 1} parties with keys, {len(self.practices)} practices")

    # ------------------------------------------------------------------
    # Planning: which unit goes where and what happens to it

    def new_unit(self, generation: str, production_day: date) -> Unit:
        vendor = self.rng.choices(cast.VENDORS, weights=[v.weight for v in cast.VENDORS])[0]
        self.serials[vendor.code] += 1
        self.iccsn += 1
        if generation == "old":
            low, high = OLD_EXPIRY
            not_after = low + timedelta(seconds=self.rng.randrange(int((high - low).total_seconds())))
            firmware = vendor.fw_2022
        else:
            base = _at(production_day, 0) + timedelta(days=5 * 365 + self.rng.randrange(-20, 40))
            not_after = base + timedelta(seconds=self.rng.randrange(86_400))
            firmware = vendor.fw_2026
        serial = vendor.serial(generation, self.serials[vendor.code])
        return Unit(
            subject=f"connector:{vendor.code}:{serial}",
            vendor=vendor,
            generation=generation,
            iccsn=f"80276{self.iccsn:015d}",
            not_after=not_after,
            firmware=firmware,
            production_day=production_day,
        )

    def assign(self, unit: Unit, practice: cast.Practice | None, technician: str | None = None) -> None:
        unit.practice = practice
        unit.technician = practice.technician if practice is not None else technician
        unit.warehouse = cast.TECH_WAREHOUSE[unit.technician] if unit.technician else None

    def plan(self) -> tuple[list[Unit], list[Unit]]:
        rng, n = self.rng, self.connectors
        n_old = max(7, round(n * 0.35))
        n_new = n - n_old
        old_lot = max(20, math.ceil(n_old / 6))
        old = [self.new_unit("old", OLD_PRODUCTION + timedelta(weeks=i // old_lot)) for i in range(n_old)]
        for i, unit in enumerate(old):
            practice = self.practices[i] if i < len(self.practices) else rng.choice(self.practices)
            self.assign(unit, practice)
            unit.role = "installed"
        for unit in rng.sample(old, max(1, round(n_old * 0.15))):
            unit.role = "lzv"
        candidates = sorted((u for u in old if u.role == "installed"), key=lambda u: u.not_after)
        for unit in candidates[: max(2, round(len(candidates) * 0.6))]:
            unit.role = "exchanged"

        new_lot = max(20, math.ceil(n_new / 6))
        new = [self.new_unit("new", NEW_PRODUCTION + timedelta(weeks=i // new_lot)) for i in range(n_new)]
        held = max(1, round(n_new * 0.04))
        for unit in new[-held:]:
            unit.role = "held"
        shipped = new[:-held]
        order = list(shipped)
        rng.shuffle(order)
        exchanged = [u for u in old if u.role == "exchanged"]
        for unit, old_unit in zip(order, exchanged, strict=False):
            unit.role = "replacement"
            self.assign(unit, old_unit.practice)
        rest = order[len(exchanged) :]
        specials = [("lost", 1), ("unregistered", 1), ("pending", max(1, round(n_new * 0.03)))]
        specials.append(("transit", max(1, round(n_new * 0.03))))
        for role, count in specials:
            for unit in rest[:count]:
                unit.role = role
                self.assign(unit, None, rng.choice(cast.TECHNICIANS))
            rest = rest[count:]
        for unit in rest[: round(len(rest) * 0.4)]:
            unit.role = "extra"
            self.assign(unit, rng.choice(self.practices))
        for unit in rest[round(len(rest) * 0.4) :]:
            unit.role = "stock"
            unit.warehouse = rng.choice(cast.WAREHOUSES)
        # The last visit of the wave: an exchange where one more unit is installed whose TI
        # registration is still pending when the demo ends.
        exchange_sites = sorted({u.practice.practice_id for u in exchanged if u.practice is not None})
        site = rng.choice(exchange_sites)
        for unit in new:
            if unit.role == "unregistered":
                self.assign(unit, next(p for p in self.practices if p.practice_id == site))
        self.units = old + new
        return old, new

    # ------------------------------------------------------------------
    # Factory

    def receive_seals(self, day: date, series: str, count: int) -> _SealStock:
        self.at(day, 8)
        stock = _SealStock(series, self.rng.randrange(100_000, 900_000), count)
        data = {
            "series": series,
            "first": stock.first,
            "count": count,
            "supplier": "Sicherheitssiegel Nord (Demo)",
        }
        data["lot"] = f"SL-{day:%Y%m}-{self.rng.randrange(100, 999)}"
        self.append([self.env(cast.MANUFACTURER_ID, "seal.received", f"seal:{stock.ids[0]}", data)])
        return stock

    def produce(self, units: list[Unit], day: date, lot: int, seals: _SealStock, void_one: bool) -> None:
        mfr = cast.MANUFACTURER_ID
        self.at(day, 8)
        self.append(
            [
                self.env(
                    mfr,
                    "connector.commissioned",
                    u.subject,
                    {
                        "vendor": u.vendor.code,
                        "serial": u.subject.rsplit(":", 1)[1],
                        "product_code": u.vendor.product_code,
                        "hw_version": u.vendor.hw_version,
                        "fw_version": u.firmware,
                        "production_date": f"{u.production_day:%Y-%m-%d}",
                        "smck": [{"iccsn": u.iccsn, "not_after": format_timestamp(u.not_after)}],
                        "certification_id": u.vendor.certification_id,
                    },
                    place=cast.PLANT,
                )
                for u in units
            ]
        )
        self.at(day, 10)
        environment = f"location:{cast.SECURE_ROOM}"
        self.append(
            [
                self.env(
                    mfr,
                    "smck.bound",
                    u.subject,
                    {"iccsns": [u.iccsn], "environment": environment},
                    place=cast.SECURE_ROOM,
                )
                for u in units
            ]
        )
        self.at(day, 13)
        issued = seals.take(2 * len(units) + (1 if void_one else 0))
        self.append([self.env(mfr, "seal.issued", f"seal:{s}", {"to": f"party:{mfr}"}) for s in issued])
        self.at(day, 13, 30)
        envelopes, pool = [], list(issued)
        if void_one:
            torn = pool.pop(1)
            reason = "Siegeletikett beim Aufbringen eingerissen"
            envelopes.append(self.env(mfr, "seal.voided", f"seal:{torn}", {"reason": reason}))
        for u in units:
            u.seals = sorted(pool[:2])
            pool = pool[2:]
            envelopes.append(self.env(mfr, "seal.applied", u.subject, {"seals": u.seals}, place=cast.PLANT))
        self.append(envelopes)
        self.at(day, 15)
        check = "VVTT-1 Endkontrolle"
        self.append(
            [
                self.env(
                    mfr,
                    "seal.inspected",
                    u.subject,
                    inspection_data(u.seals, u.seals, checklist=check),
                    place=cast.PLANT,
                )
                for u in units
            ]
        )
        self.at(day, 16)
        envelopes = [
            self.env(
                mfr,
                "stored",
                u.subject,
                {"location": f"location:{cast.FINISHED_GOODS}", "bin": f"FG-{lot:02d}"},
                place=cast.FINISHED_GOODS,
            )
            for u in units
        ]
        if void_one:
            envelopes.append(self.env(mfr, "seal.destroyed", f"seal:{torn}", {"method": "Schreddern"}))
        self.append(envelopes)

    # ------------------------------------------------------------------
    # Transport

    def ship(
        self,
        sender: str,
        units: Sequence[Unit],
        *,
        to: str,
        destination: str,
        carrier: str | None,
        kind: str = "shipped",
    ) -> str:
        """Goods-out (one statement per unit) and the handover to the carrier or the collecting party."""
        note = self.note("RS" if kind == "returned.shipped" else "LS")
        data = {"destination": f"location:{destination}", "to": f"party:{to}", "delivery_note": note}
        self.append([self.env(sender, kind, u.subject, data) for u in units])
        self.handover(sender, carrier or to, units, note)
        return note

    def receive(
        self,
        receiver: str,
        units: Sequence[Unit],
        note: str,
        place: str,
        observed: Mapping[str, list[str]] | None = None,
    ) -> AppendResult:
        observed = observed or {}
        return self.append(
            [
                self.env(
                    receiver,
                    "received",
                    u.subject,
                    {"seals_observed": sorted(observed.get(u.subject, u.seals)), "delivery_note": note},
                    place=place,
                )
                for u in units
            ]
        )

    def bin_label(self) -> str:
        return f"{self.rng.choice('ABCD')}-{self.rng.randrange(1, 24):02d}-{self.rng.randrange(1, 6)}"

    def store(self, warehouse: str, units: Sequence[Unit]) -> None:
        self.append(
            [
                self.env(
                    warehouse,
                    "stored",
                    u.subject,
                    {
                        "location": f"location:{warehouse}",
                        "bin": self.bin_label(),
                    },
                    place=warehouse,
                )
                for u in units
            ]
        )

    def ship_lot(self, units: list[Unit], production_day: date, discrepancy: Unit | None) -> None:
        """MFR → line-haul carrier → warehouses (Wednesday out, Thursday in)."""
        by_warehouse = {wh: [u for u in units if u.warehouse == wh] for wh in cast.WAREHOUSES}
        wednesday, thursday = production_day + timedelta(days=2), production_day + timedelta(days=3)
        notes = {}
        for i, (warehouse, group) in enumerate(by_warehouse.items()):
            if group:
                self.at(wednesday, 7, 30 * i)
                notes[warehouse] = self.ship(
                    cast.MANUFACTURER_ID, group, to=warehouse, destination=warehouse, carrier=cast.LINE_HAUL
                )
        for i, (warehouse, group) in enumerate(by_warehouse.items()):
            if not group:
                continue
            self.at(thursday, 10 + 4 * i)
            self.handover(cast.LINE_HAUL, warehouse, group, notes[warehouse])
            observed: dict[str, list[str]] = {}
            if discrepancy is not None and discrepancy in group:
                foreign = seal_id("KX", self.rng.randrange(1_000_000, 9_999_999))
                observed[discrepancy.subject] = [discrepancy.seals[0], foreign]
            result = self.receive(warehouse, group, notes[warehouse], warehouse, observed)
            self.store(warehouse, [u for u in group if u.subject not in observed])
            if observed:
                assert discrepancy is not None
                position = [u.subject for u in group].index(discrepancy.subject)
                incident = f"INC-{result.entries[position].index}"
                self.seal_incident(discrepancy, warehouse, incident, observed[discrepancy.subject], thursday)

    def seal_incident(
        self, unit: Unit, warehouse: str, incident: str, observed: list[str], day: date
    ) -> None:
        """Goods-in found other seal ids than shipped: quarantine, four-eyes release, re-seal."""
        area = cast.quarantine_area(warehouse)
        self.at(day, 15)
        self.append(
            [
                self.env(
                    warehouse,
                    "quarantined",
                    unit.subject,
                    {"incident": incident, "location": f"location:{area}"},
                    place=area,
                )
            ]
        )
        friday = day + timedelta(days=1)
        self.at(friday, 9)
        investigation = (
            f"Siegelprüfung durch die Revision: Siegel {unit.seals[1]} fehlt, an seiner Stelle {observed[1]} "
            "(nicht aus unserem Bestand). Gehäuse ohne Öffnungsspuren, Firmware- und gSMC-K-Prüfsummen "
            "unverändert; Ursache: Etikettentausch beim Umschlag des Spediteurs. Neuversiegelung durch den "
            "Hersteller erforderlich."
        )
        auditor = cast.AUDITOR_ID
        self.append(
            [
                self.env(
                    auditor,
                    "seal.inspected",
                    unit.subject,
                    inspection_data(unit.seals, observed, checklist="VVTT-1 Revision"),
                    place=area,
                ),
                self.env(
                    auditor,
                    "quarantine.released",
                    unit.subject,
                    {"incident": incident, "investigation": investigation, "outcome": "reseal_required"},
                    place=area,
                ),
            ]
        )
        self.at(friday, 13)
        mfr = cast.MANUFACTURER_ID
        old_seals, new_seals = unit.seals, self.new_seals.take(2)
        unit.seals = sorted(new_seals)
        self.append(
            [
                self.env(
                    mfr,
                    "seal.removed",
                    unit.subject,
                    {"seals": old_seals, "reason": f"Neuversiegelung nach {incident}"},
                    place=area,
                ),
                self.env(
                    mfr, "seal.retained", f"seal:{old_seals[0]}", {"location": f"location:{cast.EVIDENCE}"}
                ),
                self.env(
                    mfr,
                    "seal.lost",
                    f"seal:{old_seals[1]}",
                    {"circumstances": f"Fehlte bei Wareneingang ({incident})"},
                ),
                *(self.env(mfr, "seal.issued", f"seal:{s}", {"to": f"party:{mfr}"}) for s in unit.seals),
                self.env(mfr, "seal.applied", unit.subject, {"seals": unit.seals}, place=area),
            ]
        )
        self.at(friday, 15)
        self.append(
            [
                self.env(
                    warehouse,
                    "seal.inspected",
                    unit.subject,
                    inspection_data(unit.seals, unit.seals),
                    place=warehouse,
                )
            ]
        )
        self.store(warehouse, [unit])

    # ------------------------------------------------------------------
    # At the practice

    def visit_envelopes(self, technician: str, visit: Visit) -> list[Envelope]:
        practice = visit.practice
        place, digest = practice.location, self.digests[practice.practice_id]
        registrar = practice.practice_id if practice.self_service else technician
        envelopes = []
        for unit in visit.remove:
            reason = f"Austausch: gSMC-K-Zertifikat läuft am {unit.not_after:%d.%m.%Y} ab"
            envelopes.append(
                self.env(registrar, "deregistered", unit.subject, {"reason": reason}, place=place)
            )
            envelopes.append(self.env(technician, "removed", unit.subject, {"reason": reason}, place=place))
        for unit in visit.install:
            check = self.env(
                technician,
                "seal.inspected",
                unit.subject,
                inspection_data(unit.seals, unit.seals),
                place=place,
            )
            remaining = (unit.not_after - self.clock.now).days
            data = {
                "practice": digest,
                "seal_check": _nonce_of(check),
                "firmware": unit.firmware,
                "remaining_validity_days": remaining,
            }
            envelopes += [check, self.env(technician, "installed", unit.subject, data, place=place)]
            if unit not in visit.unregistered:
                envelopes.append(
                    self.env(registrar, "ti.registered", unit.subject, {"practice": digest}, place=place)
                )
        return envelopes

    def collect(self, technician: str, units: Sequence[Unit], *, courier: bool) -> tuple[str, str] | None:
        """The regional warehouse hands units to a technician at its counter, or to the courier."""
        warehouse = cast.TECH_WAREHOUSE[technician]
        carrier = cast.COURIER[warehouse] if courier else None
        note = self.ship(
            warehouse, units, to=technician, destination=cast.service_base(technician), carrier=carrier
        )
        if carrier is None:
            self.receive(technician, units, note, warehouse)
            return None
        return carrier, note

    def old_generation(self, old: list[Unit]) -> None:
        self.old_seals = self.receive_seals(OLD_SEALS_DAY, "KA", 2 * len(old) + 10)
        self.production(old, self.old_seals, None)
        self.done(f"first generation produced and stocked: {len(old)} connectors")
        visits = self.visits_by_technician(
            {u.practice.practice_id: Visit(u.practice) for u in old if u.practice}, old
        )
        for week in range(max(len(v) for v in visits.values())):
            monday = OLD_INSTALLS + timedelta(weeks=week)
            for i, technician in enumerate(cast.TECHNICIANS):
                if week < len(visits[technician]):
                    self.at(monday, 8, 20 * i)
                    self.collect(technician, visits[technician][week].install, courier=False)
            for i, technician in enumerate(cast.TECHNICIANS):
                if week < len(visits[technician]):
                    self.at(monday + timedelta(days=2), 8 + 2 * i)
                    self.append(self.visit_envelopes(technician, visits[technician][week]))
        self.done("first generation installed and registered in the TI")

    def visits_by_technician(
        self, by_practice: dict[str, Visit], units: Sequence[Unit]
    ) -> dict[str, list[Visit]]:
        for unit in units:
            if unit.practice is not None and unit.practice.practice_id in by_practice:
                by_practice[unit.practice.practice_id].install.append(unit)
        out: dict[str, list[Visit]] = {t: [] for t in cast.TECHNICIANS}
        for practice_id in sorted(by_practice):
            visit = by_practice[practice_id]
            out[visit.practice.technician].append(visit)
        return out

    def production(self, units: list[Unit], seals: _SealStock, discrepancy_lot: int | None) -> None:
        lots: dict[date, list[Unit]] = {}
        for unit in units:
            lots.setdefault(unit.production_day, []).append(unit)
        for lot, (day, group) in enumerate(sorted(lots.items())):
            void_one = discrepancy_lot is not None and lot == 0
            self.produce(group, day, lot + 1, seals, void_one)
            to_ship = [u for u in group if u.role != "held"]
            discrepancy = None
            if discrepancy_lot == lot and to_ship:
                discrepancy = next((u for u in to_ship if u.warehouse == cast.WAREHOUSES[0]), to_ship[0])
            if to_ship:
                self.ship_lot(to_ship, day, discrepancy)

    def firmware_round(self, old: list[Unit]) -> None:
        for i, technician in enumerate(cast.TECHNICIANS):
            units = [u for u in old if u.technician == technician and self.rng.random() < 0.5]
            if not units:
                continue
            self.at(FIRMWARE_ROUND + timedelta(days=i), 9)
            envelopes = []
            for unit in units:
                target = unit.vendor.fw_2024
                assert unit.practice is not None
                envelopes.append(
                    self.env(
                        technician,
                        "firmware.updated",
                        unit.subject,
                        {"from": unit.firmware, "to": target},
                        place=unit.practice.location,
                    )
                )
                unit.firmware = target
            self.append(envelopes)
        self.done("firmware round on the first generation")

    def new_generation(self, new: list[Unit]) -> None:
        self.new_seals = self.receive_seals(NEW_SEALS_DAY, "KC", 2 * len(new) + 12)
        self.production(new, self.new_seals, discrepancy_lot=0)
        self.done(f"second generation produced and stocked: {len(new)} connectors (one seal incident)")

    def lzv_round(self, old: list[Unit]) -> None:
        for i, technician in enumerate(cast.TECHNICIANS):
            units = [u for u in old if u.role == "lzv" and u.technician == technician]
            if not units:
                continue
            self.at(LZV_ROUND + timedelta(days=i), 10)
            envelopes = []
            for unit in units:
                assert unit.practice is not None
                unit.not_after = add_years(unit.not_after, LZV_YEARS)
                place = unit.practice.location
                envelopes.append(
                    self.env(
                        technician,
                        "service.visit",
                        unit.subject,
                        {"reason": "Laufzeitverlängerung (LZV) der gSMC-K"},
                        place=place,
                    )
                )
                envelopes.append(
                    self.env(
                        technician,
                        "lzv.applied",
                        unit.subject,
                        {"iccsn": unit.iccsn, "not_after": format_timestamp(unit.not_after)},
                        place=place,
                    )
                )
            self.append(envelopes)
        self.done("runtime extension (LZV) for part of the first generation")

    # ------------------------------------------------------------------
    # The exchange wave

    def exchange_wave(self, old: list[Unit], new: list[Unit]) -> None:
        by_practice: dict[str, Visit] = {}
        for unit in new:
            if unit.role in ("replacement", "extra", "unregistered") and unit.practice is not None:
                visit = by_practice.setdefault(unit.practice.practice_id, Visit(unit.practice))
                if unit.role == "unregistered":
                    visit.unregistered.append(unit)
        for unit in old:
            if unit.role == "exchanged" and unit.practice is not None:
                by_practice.setdefault(unit.practice.practice_id, Visit(unit.practice)).remove.append(unit)
        visits = self.visits_by_technician(
            by_practice, [u for u in new if u.role in ("replacement", "extra", "unregistered")]
        )
        for technician_visits in visits.values():
            # Spread over the wave's weeks; the visit that leaves a unit unregistered is the last.
            regular = [v for v in technician_visits if not v.unregistered]
            for i, visit in enumerate(regular):
                visit.week = round(i * (WAVE_WEEKS - 1) / (len(regular) - 1)) if len(regular) > 1 else 0
            for visit in technician_visits:
                if visit.unregistered:
                    visit.week = WAVE_WEEKS
        lost = next(u for u in new if u.role == "lost")
        lost_technician = lost.technician
        assert lost_technician is not None
        in_flight: list[tuple[list[Unit], str]] = []
        for week in range(WAVE_WEEKS + 1):
            monday = WAVE_START + timedelta(weeks=week)
            self.at(monday, 7, 30)
            for units, note in in_flight:
                self.handover(cast.RETURNS_CARRIER, cast.MANUFACTURER_ID, units, note)
                self.receive(cast.MANUFACTURER_ID, units, note, cast.RMA)
                self.returned += [(u, monday) for u in units]
            in_flight = []
            couriers = []
            for i, technician in enumerate(cast.TECHNICIANS):
                units = [u for v in visits[technician] if v.week == week for u in v.install]
                if week == WAVE_WEEKS:
                    units += [u for u in new if u.role == "pending" and u.technician == technician]
                if units:
                    self.at(monday, 9, 20 * i)
                    courier = week < WAVE_WEEKS and self.rng.random() < 0.5
                    sent = self.collect(technician, units, courier=courier)
                    if sent is not None:
                        couriers.append((technician, units, *sent))
            if week == 1:
                self.at(monday, 11, 30)
                self.collect(lost_technician, [lost], courier=True)
            if monday in DESTRUCTION_DAYS:
                self.destruction(monday)
            for k, (technician, units, carrier, note) in enumerate(couriers):
                self.at(monday + timedelta(days=1), 9, 30 * k)
                self.handover(carrier, technician, units, note)
                self.receive(technician, units, note, cast.service_base(technician))
            removed: dict[str, list[Unit]] = {t: [] for t in cast.TECHNICIANS}
            for weekday in (2, 3, 4):
                day = monday + timedelta(days=weekday)
                deferred = []
                for i, technician in enumerate(cast.TECHNICIANS):
                    for visit in visits[technician]:
                        if (visit.week, visit.weekday) != (week, weekday):
                            continue
                        self.at(day, 8 + 2 * i)
                        envelopes = self.visit_envelopes(technician, visit)
                        if technician == cast.OFFLINE_TECHNICIAN:
                            deferred.append(envelopes)
                        else:
                            self.append(envelopes)
                        removed[technician] += visit.remove
                if week == 1 and weekday == 3:
                    self.at(day, 11)
                    carrier = cast.COURIER[cast.TECH_WAREHOUSE[lost_technician]]
                    circumstances = (
                        "Sendung nach Umschlag im Depot nicht mehr auffindbar; Nachforschung ergebnislos"
                    )
                    self.append([self.env(carrier, "lost", lost.subject, {"circumstances": circumstances})])
                if deferred:
                    # The offline technician's phone syncs in the evening.
                    self.at(day, 19, 30)
                    for envelopes in deferred:
                        self.append(envelopes)
            friday = monday + timedelta(days=4)
            for i, technician in enumerate(cast.TECHNICIANS):
                if removed[technician]:
                    self.at(friday, 14, 20 * i)
                    note = self.ship(
                        technician,
                        removed[technician],
                        to=cast.MANUFACTURER_ID,
                        destination=cast.RMA,
                        carrier=cast.RETURNS_CARRIER,
                        kind="returned.shipped",
                    )
                    in_flight.append((removed[technician], note))
            if week == WAVE_WEEKS:
                for i, technician in enumerate(cast.TECHNICIANS):
                    units = [u for u in new if u.role == "transit" and u.technician == technician]
                    if units:
                        self.at(friday, 15, 20 * i)
                        self.collect(technician, units, courier=True)
            self.done(f"exchange wave, week {week + 1}")

    def destruction(self, day: date) -> None:
        """Units returned before today are decommissioned; those decommissioned at an earlier
        session are unsealed and destroyed, co-signed by the auditor as witness."""
        mfr, auditor = cast.MANUFACTURER_ID, cast.AUDITOR_ID
        self.at(day, 13)
        due = [
            u
            for u, _ in self.returned
            if u.subject in self.decommissioned and u.subject not in self.destroyed
        ]
        fresh = [u for u, arrived in self.returned if arrived < day and u.subject not in self.decommissioned]
        if fresh:
            reason = "Rücknahme nach Austausch; gSMC-K-Zertifikat läuft ab"
            self.append(
                [
                    self.env(mfr, "decommissioned", u.subject, {"reason": reason}, place=cast.RMA)
                    for u in fresh
                ]
            )
            self.decommissioned |= {u.subject for u in fresh}
        if not due:
            return
        self.at(day, 14)
        protocol = self.note("VN")
        envelopes = []
        for unit in due:
            envelopes.append(
                self.env(
                    mfr,
                    "seal.removed",
                    unit.subject,
                    {"seals": unit.seals, "reason": "Entsiegelung zur Vernichtung"},
                    place=cast.RMA,
                )
            )
            envelopes += [
                self.env(mfr, "seal.destroyed", f"seal:{s}", {"method": "Schreddern"}) for s in unit.seals
            ]
            data = {"method": "shredded", "witness": f"party:{auditor}", "certificate": protocol}
            envelopes.append(
                self.env(mfr, "destroyed", unit.subject, data, place=cast.RMA, cosigners=[auditor])
            )
            unit.seals = []
        self.append(envelopes)
        self.destroyed |= {u.subject for u in due}

    # ------------------------------------------------------------------
    # Summary

    def summary(self) -> DemoSummary:
        ctx = self.ctx
        self.say("verifying the whole ledger …")
        report = verify_ledger(ctx, workers=self.workers)
        counts = queries.counts(ctx.engine)
        state = ctx.store.trust_state()
        roles: dict[str, int] = {}
        for party in state.parties.values():
            for role in party.roles:
                roles[role] = roles.get(role, 0) + 1
        algorithms: dict[str, int] = {}
        for key in state.keys.values():
            if key.revoked_at is None:
                name = key.public_key.algorithm.value
                algorithms[name] = algorithms.get(name, 0) + 1
        vendors: dict[str, int] = {}
        for unit in self.units:
            vendors[unit.vendor.code] = vendors.get(unit.vendor.code, 0) + 1
        incidents = [
            {
                "incident": i.incident_id,
                "connector": i.connector,
                "category": i.category,
                "status": i.status,
                "reported_by": i.reported_by,
                "quarantined_by": i.quarantined_by,
                "released_by": i.released_by,
            }
            for i in queries.incidents(ctx.engine)
        ]
        due = expiring(ctx, timedelta(days=180), now=datetime.now(UTC))
        assert state.origin is not None
        return DemoSummary(
            seed=self.seed,
            connectors=self.connectors,
            origin=state.origin,
            entries=ctx.store.size(),
            appends=self.appends,
            first_event=Entry.parse(ctx.store.entry(0)).statement.at,
            last_event=format_timestamp(self.clock.now),
            connector_states=counts["connectors"],
            seal_statuses=counts["seals"],
            incidents=incidents,
            handovers=self.handovers,
            parties=len(state.parties),
            parties_by_role=roles,
            key_algorithms=algorithms,
            practices=len(self.practices),
            vendors=vendors,
            expiring_within_180d=int(due["total"]),
            key_dir=str(ctx.settings.resolved_key_dir()),
            elapsed_seconds=round(time.perf_counter() - self.started, 2),
            verification={
                "valid": report.valid,
                "size": report.size,
                "root": report.root,
                "checkpoints_checked": report.checkpoints_checked,
                "tree_nodes_checked": report.tree_nodes_checked,
                "findings": len(report.findings),
                "warnings": len(report.warnings),
                "first_findings": [f.as_dict() for f in report.findings[:5]],
            },
        )
