"""The custody commands of the ``custody`` console script.

Every command under test runs through the script's entry point, ``app.cli:main``,
in this process (tests/cli_runner.py: its own environment with the passphrases,
stdin empty, a temporary working directory, its own stdout and stderr) against a
real SQLite ledger, and one lifecycle against a real
PostgreSQL database. Nothing is mocked.

Setup that is not under test — the ledger, its parties and their key files,
and a few connectors in known states for the refusal tests — is built once
per module in-process with the same services the CLI calls; a test that
writes works on its own copy of that directory (database and key files).
The lifecycle itself is driven by CLI commands only.

Exit codes (app/cli/common.py): 0 ok; 1 a rule or authorisation refused;
2 bad input (unknown id, malformed value, wrong passphrase). Every refusal
is exactly one stderr line ``error: <message> [<code>]`` and appends nothing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from app.keyfiles import write_key_file
from app.services import custody, enrolment, handover, practices
from app.services.context import LedgerContext
from app.services.setup import init_ledger
from app.settings import Settings
from ledger.custody.ids import seal_id
from ledger.keys import Algorithm, SigningKey
from tests.cli_run import Run
from tests.cli_runner import run_in_process
from tests.helpers import ADMIN, KEY_PASSPHRASE, LOG_PASSPHRASE, ORIGIN, LedgerFixture

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():  # an install elsewhere: the script next to this interpreter
    CUSTODY = Path(sys.executable).with_name("custody")
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
ERROR_LINE = re.compile(r"error: \S.* \[[a-z0-9_.]+\]")

MFR, CARRIER, WH, TECH, AUDITOR = "MFR-01", "CARRIER-01", "WH-01", "TECH-01", "AUDIT-01"
PARTIES = {
    MFR: ["manufacturer"],
    CARRIER: ["carrier"],
    WH: ["warehouse"],
    TECH: ["technician"],
    AUDITOR: ["auditor"],
}
PRACTICE, SITE = "PRAXIS-1", "PRAXIS-1-ESSEN"  # practice id and its location
NOW = datetime.now(UTC)
CERT_OK = (NOW + timedelta(days=6 * 365)).strftime("%Y-%m-%dT00:00:00Z")
CERT_3Y = (NOW + timedelta(days=3 * 365)).strftime("%Y-%m-%dT00:00:00Z")
CERT_SOON = (NOW + timedelta(days=100)).strftime("%Y-%m-%dT00:00:00Z")
CERT_EXPIRED = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT00:00:00Z")
WRONG_PASSPHRASE = {"CUSTODY_KEY_PASSPHRASE": "not-the-passphrase"}


def kc(number: int) -> str:
    """Seal KC<number> of the base ledger's batch (KC 1–20, received by the manufacturer)."""
    return seal_id("KC", number)


def iccsn(number: int) -> str:
    return f"8027600101{number:010d}"


# --------------------------------------------------------------------------
# Running the script


def ok(run: Run) -> Run:
    assert run.code == 0, str(run)
    assert "Traceback" not in run.err, str(run)
    assert "error:" not in run.err, str(run)
    return run


def error_problem(run: Run, code: int, fragment: str) -> str | None:
    """Why ``run`` is not a proper refusal (exit ``code``, one ``error:`` line naming ``fragment``)."""
    lines = run.err.splitlines()
    if run.code != code:
        return f"exit {run.code}, expected {code}"
    if "Traceback" in run.err or "Traceback" in run.out:
        return "traceback"
    if len(lines) != 1 or not ERROR_LINE.fullmatch(lines[0]):
        return f"stderr is not exactly one error line: {run.err!r}"
    return None if fragment in lines[0] else f"the error line lacks {fragment!r}"


def assert_error(run: Run, code: int, fragment: str) -> None:
    problem = error_problem(run, code, fragment)
    assert problem is None, f"{problem}\n{run}"


@dataclass
class Ledger:
    """A ledger directory; commands are shell-quoted strings run by the real script."""

    root: Path
    url: str
    key_dir: Path
    digest: str = ""  # of PRACTICE
    pending_offer: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
        env.update(
            CUSTODY_DATABASE_URL=self.url,
            CUSTODY_LOG_KEY_PASSPHRASE=LOG_PASSPHRASE,
            CUSTODY_KEY_PASSPHRASE=KEY_PASSPHRASE,
            COLUMNS="200",
            NO_COLOR="1",
            TERM="dumb",
        )
        return {**env, **self.extra_env, **overrides}

    def run(self, command: str, env: dict[str, str] | None = None) -> Run:
        argv = tuple(shlex.split(command))
        # In this process, through the script's own entry point (tests/cli_runner.py).
        code, stdout, stderr = run_in_process(argv, cwd=self.root, env=env or self.env())
        return Run(code, stdout.decode(), stderr.decode("utf-8", "replace"), argv)

    def ok(self, command: str) -> str:
        return ok(self.run(command)).out

    def json(self, command: str) -> Any:
        return ok(self.run(f"{command} --json")).json()

    def show(self, connector: str) -> dict[str, Any]:
        view = self.json(f"connector show {connector}")
        assert isinstance(view, dict)
        return view

    def size(self) -> int:
        return int(self.json("status")["size"])

    def offer(self, connector: str, frm: str, to: str, extra: str = "") -> str:
        created = self.json(f"handover offer {connector} --to {to} --as {frm} {extra}")
        assert (created["status"], created["from"], created["to"]) == (
            "pending",
            f"party:{frm}",
            f"party:{to}",
        )
        return str(created["offer_id"])

    def verified(self) -> bool:
        report = self.json("verify")
        assert report["findings"] == [], report
        return bool(report["valid"])


# --------------------------------------------------------------------------
# Ledgers (setup in-process; the commands under test run as processes)


def new_ledger(root: Path, url: str, key_dir: Path) -> tuple[Ledger, LedgerFixture]:
    """An initialised ledger with the five parties, their key files and practice PRAXIS-1."""
    settings = Settings(
        database_url=url,
        key_dir=key_dir,
        log_key_passphrase=SecretStr(LOG_PASSPHRASE),
        key_passphrase=SecretStr(KEY_PASSPHRASE),
        origin=ORIGIN,
    )
    ctx = LedgerContext.open(settings)
    init_ledger(ctx, origin=ORIGIN, admin_id=ADMIN, admin_name="Test administration")
    fx = LedgerFixture(ctx, ctx.load_actor_key(ADMIN))
    for party, roles in PARTIES.items():
        write_key_file(key_dir / f"{party}.pem", fx.party(party, roles), KEY_PASSPHRASE.encode())
    digest = practices.add_practice(
        ctx, PRACTICE, name="Praxis Dr. Beispiel", bsnr="123456789", telematik_id="1-2-ARZT-0001"
    )
    return Ledger(root, url, key_dir, digest), fx


def make_connector(
    fx: LedgerFixture,
    serial: str,
    card: int,
    not_after: str,
    seals: Sequence[str] = (),
    *,
    ship_to: str | None = None,
    hand_to: str | None = None,
    receive: bool = False,
) -> str:
    """A connector built with the services: commissioned, then bound, sealed, stored, shipped …"""
    ctx, keys = fx.ctx, fx.keys
    subject = f"connector:SECUNET:{serial}"
    custody.commission(
        ctx,
        MFR,
        keys[MFR],
        vendor="SECUNET",
        serial=serial,
        product_code="KOCO-2",
        hw_version="2.0",
        fw_version="5.1.2",
        production_date="2026-10-01",
        smck=[(iccsn(card), not_after)],
        certification_id="BSI-DSZ-CC-1234",
    )
    if not seals:
        return subject
    custody.bind_smck(ctx, MFR, keys[MFR], subject, "MFR-SECURE")
    custody.issue_seals(ctx, MFR, keys[MFR], seals, MFR)
    custody.apply_seals(ctx, MFR, keys[MFR], subject, seals)
    custody.store(ctx, MFR, keys[MFR], subject, "MFR-STORE")
    if ship_to:
        custody.ship(ctx, MFR, keys[MFR], [subject], destination=ship_to, to=ship_to, delivery_note="DN-0")
    if hand_to:
        offer = handover.create_offer(ctx, MFR, keys[MFR], [subject], hand_to)
        handover.accept_offer(ctx, hand_to, keys[hand_to], offer.offer_id)
    if receive and hand_to:
        custody.receive(ctx, hand_to, keys[hand_to], subject, seals)
    return subject


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """The shared SQLite ledger; tests that write use :func:`ledger` (a copy).

    SECUNET:BASE-1   RECEIVED by TECH-01, seals KC1 KC2, no seal check; offered to WH-01 (pending)
    SECUNET:BASE-2   IN_TRANSIT, custodian WH-01, seals KC3 KC4
    SECUNET:BASE-3   IN_TRANSIT to WH-01, custodian still MFR-01, seals KC5 KC6
    SECUNET:BASE-OP  IN_OPERATION at PRAXIS-1, custodian TECH-01, seals KC7 KC8
    SECUNET:BASE-3Y  RECEIVED by TECH-01, seals KC14 KC15 checked on site; certificate valid 3 years
    SECUNET:BASE-SOON, BASE-OLD  PRODUCED; certificates expire in 100 days / expired 10 days ago
    Seals KC9–KC13 and KC16–KC20 are in stock with the manufacturer.
    """
    root = tmp_path_factory.mktemp("custody-base")
    led, fx = new_ledger(root, f"sqlite:///{root}/l.db", root / "keys")
    ctx, keys = fx.ctx, fx.keys
    custody.receive_seals(ctx, MFR, keys[MFR], series="KC", first=1, count=20, supplier="ACME Seals")
    b1 = make_connector(fx, "BASE-1", 101, CERT_OK, [kc(1), kc(2)], ship_to=TECH, hand_to=TECH, receive=True)
    make_connector(fx, "BASE-2", 102, CERT_OK, [kc(3), kc(4)], ship_to=WH, hand_to=WH)
    make_connector(fx, "BASE-3", 103, CERT_OK, [kc(5), kc(6)], ship_to=WH)
    op = make_connector(fx, "BASE-OP", 104, CERT_OK, [kc(7), kc(8)], ship_to=TECH, hand_to=TECH, receive=True)
    custody.inspect_seals(ctx, TECH, keys[TECH], op, [kc(7), kc(8)], place=SITE)
    custody.install(ctx, TECH, keys[TECH], op, practice_digest=led.digest, place=SITE)
    custody.register_ti(ctx, TECH, keys[TECH], op)
    short = make_connector(
        fx, "BASE-3Y", 107, CERT_3Y, [kc(14), kc(15)], ship_to=TECH, hand_to=TECH, receive=True
    )
    custody.inspect_seals(ctx, TECH, keys[TECH], short, [kc(14), kc(15)], place=SITE)
    make_connector(fx, "BASE-SOON", 105, CERT_SOON)
    make_connector(fx, "BASE-OLD", 106, CERT_EXPIRED)
    led.pending_offer = handover.create_offer(ctx, TECH, keys[TECH], [b1], WH).offer_id
    ctx.engine.dispose()
    return led


@pytest.fixture
def ledger(base: Ledger, tmp_path: Path) -> Ledger:
    """A private copy of the shared ledger (database and key files) for a test that writes."""
    root = tmp_path / "ledger"
    shutil.copytree(base.root, root)
    return Ledger(root, f"sqlite:///{root}/l.db", root / "keys", base.digest, base.pending_offer)


def table_counts(db_file: Path) -> dict[str, int]:
    """Rows of the log and of the off-log tables a refused command must not touch either."""
    with sqlite3.connect(db_file) as conn:
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("entries", "handover_offers", "practices", "connectors", "seals", "incidents")
        }


# --------------------------------------------------------------------------
# Help


def test_help_documents_every_custody_command(base: Ledger) -> None:
    groups = {
        "": "connector seal handover incident practice fleet store ship receive install ti-register firmware "
        "lzv service-visit deregister remove return-ship decommission destroy lost stolen correct "
        "rebuild-projections",
        "connector": "commission bind show list",
        "seal": "receive issue apply inspect remove retain destroy void lost show list",
        "handover": "offer list show accept reject",
        "incident": "report quarantine release show list",
        "practice": "add list erase",
        "fleet": "expiring",
    }
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda group: base.run(f"{group} --help"), groups))
    for (group, commands), run in zip(groups.items(), runs, strict=True):
        text = ok(run).out
        for command in commands.split():
            assert re.search(rf"│ {re.escape(command)}\s", text), f"`custody {group} --help` lacks {command}"
    assert "Exit codes:" in runs[0].out


# --------------------------------------------------------------------------
# The whole life of one connector, CLI only


def test_full_lifecycle_with_cli_commands_only(ledger: Ledger) -> None:
    led, c = ledger, "SECUNET:LIFE-0001"
    subject = f"connector:{c}"
    s1, s2 = seal_id("KD", 1), seal_id("KD", 2)

    def step(command: str, state: str, custodian: str, kind: str) -> dict[str, Any]:
        led.ok(command)
        view = led.show(c)
        assert (view["state"], view["custodian"]) == (state, f"party:{custodian}"), command
        assert view["history"][-1]["kind"] == kind, command
        return view

    # Factory: commission, bind the gSMC-K, receive/issue/apply seals.
    created = led.json(
        f"connector commission --as {MFR} --vendor SECUNET --serial LIFE-0001 --product-code KOCO-2 "
        "--hw 2.0 --fw 5.1.2 --production-date 2026-10-01 "
        f"--smck {iccsn(1)}={CERT_OK[:10]} --smck {iccsn(2)}={CERT_OK} --certification-id BSI-DSZ-CC-1234"
    )
    assert created["connector"] == subject
    view = led.show(c)
    assert (view["state"], view["custodian"], view["seals"]) == ("PRODUCED", f"party:{MFR}", [])
    assert view["certificates"] == [
        {"iccsn": iccsn(1), "not_after": CERT_OK},
        {"iccsn": iccsn(2), "not_after": CERT_OK},
    ]
    assert [(h["index"], h["kind"]) for h in view["history"]] == [
        (created["index"], "connector.commissioned")
    ]
    view = step(f"connector bind {c} --environment MFR-SECURE --as {MFR}", "PERSONALISED", MFR, "smck.bound")
    assert view["smck_bound"] is True

    batch = led.json(
        f"seal receive --as {MFR} --series KD --first 1 --count 4 --supplier 'ACME Seals' --lot L7"
    )
    assert (batch["first_seal"], batch["last_seal"], batch["count"]) == (s1, seal_id("KD", 4), 4)
    led.ok(f"seal issue {s1} {s2} --to {MFR} --as {MFR}")
    view = step(f"seal apply {c} --seal {s1} --seal {s2} --as {MFR}", "SEALED", MFR, "seal.applied")
    assert (view["seals"], view["seal_status"]) == (sorted([s1, s2]), "UNVERIFIED")

    # Manufacturer → carrier → warehouse.
    view = step(f"store {c} --location MFR-STORE --bin A-01 --as {MFR}", "IN_STOCK", MFR, "stored")
    assert (view["location"], view["bin"]) == ("location:MFR-STORE", "A-01")
    view = step(
        f"ship {c} --destination WH-ESSEN --to {WH} --delivery-note DN-1 --as {MFR}",
        "IN_TRANSIT",
        MFR,
        "shipped",
    )
    assert view["bin"] is None
    offer = led.offer(c, MFR, CARRIER, "--delivery-note DN-1")
    pending = led.json(f"handover list --for {CARRIER}")
    assert [(o["offer_id"], o["status"]) for o in pending] == [(offer, "pending")]
    assert pending[0]["connectors"] == [
        {"connector": subject, "seals": sorted([s1, s2]), "state": "IN_TRANSIT"}
    ]
    view = step(f"handover accept {offer} --as {CARRIER}", "IN_TRANSIT", CARRIER, "custody.transferred")
    assert len(view["history"][-1]["signers"]) == 2  # releaser and receiver
    offer = led.offer(c, CARRIER, WH)
    step(f"handover accept {offer} --as {WH}", "IN_TRANSIT", WH, "custody.transferred")
    receipt = led.ok(
        f"receive {c} --observed {s1} --observed {s2} --delivery-note DN-1 --place WH-ESSEN --as {WH}"
    )
    assert "INCIDENT" not in receipt
    view = led.show(c)
    assert (view["state"], view["open_incident"], view["location"]) == ("RECEIVED", None, "location:WH-ESSEN")
    step(f"store {c} --location WH-ESSEN --bin B-07 --as {WH}", "IN_STOCK", WH, "stored")

    # Warehouse → technician → practice.
    step(
        f"ship {c} --destination {SITE} --to {TECH} --delivery-note DN-2 --as {WH}",
        "IN_TRANSIT",
        WH,
        "shipped",
    )
    offer = led.offer(c, WH, TECH)
    step(f"handover accept {offer} --as {TECH}", "IN_TRANSIT", TECH, "custody.transferred")
    step(f"receive {c} --observed {s1} --observed {s2} --as {TECH}", "RECEIVED", TECH, "received")
    check = led.ok(
        f"seal inspect {c} --observed {s1} --observed {s2} --place {SITE} --photo {'ab' * 32} --as {TECH}"
    )
    assert ": conformant" in check
    view = led.show(c)
    assert view["seal_status"] == "INTACT_VERIFIED"
    assert (view["last_inspection"]["conformant"], view["last_inspection"]["place"]) == (
        True,
        f"location:{SITE}",
    )
    view = step(
        f"install {c} --practice {PRACTICE} --place {SITE} --as {TECH}", "INSTALLED", TECH, "installed"
    )
    assert view["practice"] == view["history"][-1]["data"]["practice"] == led.digest
    assert "123456789" not in json.dumps(view)  # the BSNR never enters the chain
    step(f"ti-register {c} --as {TECH}", "IN_OPERATION", TECH, "ti.registered")
    view = step(f"firmware {c} --to 5.3.0 --as {TECH}", "IN_OPERATION", TECH, "firmware.updated")
    assert view["firmware"] == "5.3.0"
    assert view["history"][-1]["data"] == {"from": "5.1.2", "to": "5.3.0"}
    later = (NOW + timedelta(days=8 * 365)).strftime("%Y-%m-%dT00:00:00Z")
    view = step(
        f"lzv {c} --iccsn {iccsn(1)} --not-after {later} --as {TECH}", "IN_OPERATION", TECH, "lzv.applied"
    )
    assert view["certificates"][0] == {"iccsn": iccsn(1), "not_after": later}
    assert view["cert_not_after"] == CERT_OK  # the other card is now the earliest
    step(
        f"service-visit {c} --reason 'annual check' --notes 'fan cleaned' --as {TECH}",
        "IN_OPERATION",
        TECH,
        "service.visit",
    )

    # Exchange and return.
    step(f"deregister {c} --reason 'exchange' --as {TECH}", "DEREGISTERED", TECH, "deregistered")
    view = step(f"remove {c} --reason exchange --place {SITE} --as {TECH}", "REMOVED", TECH, "removed")
    assert view["practice"] is None
    step(
        f"return-ship {c} --destination WH-ESSEN --to {WH} --delivery-note RDN-1 --as {TECH}",
        "RETURN_TRANSIT",
        TECH,
        "returned.shipped",
    )
    offer = led.offer(c, TECH, WH)
    step(f"handover accept {offer} --as {WH}", "RETURN_TRANSIT", WH, "custody.transferred")
    step(
        f"receive {c} --observed {s1} --observed {s2} --place WH-ESSEN --as {WH}", "RETURNED", WH, "received"
    )

    # End of life.
    step(f"decommission {c} --reason 'end of life' --as {WH}", "DECOMMISSIONED", WH, "decommissioned")
    witness_key = shlex.quote(str(led.key_dir / f"{AUDITOR}.pem"))
    view = step(
        f"destroy {c} --method shredded --witness {AUDITOR} --witness-key {witness_key} --as {WH}",
        "DESTROYED",
        WH,
        "destroyed",
    )
    assert len(view["history"][-1]["signers"]) == 2  # the witness co-signed
    assert view["history"][-1]["data"] == {"method": "shredded", "witness": f"party:{AUDITOR}"}
    kinds = [h["kind"] for h in view["history"]]
    assert kinds.count("custody.transferred") == 4
    assert len(kinds) == 25

    # Nothing after destruction; the whole ledger verifies.
    assert_error(led.run(f"store {c} --location WH-ESSEN --as {WH}"), 1, "rule.nothing_after_destroyed")
    assert led.verified()


# --------------------------------------------------------------------------
# Seals, incidents, handover rejection


def test_seal_removal_retention_destruction_void_and_loss(ledger: Ledger) -> None:
    led = ledger
    listed = led.json("seal list --connector SECUNET:BASE-1")
    assert [(s["seal_id"], s["status"]) for s in listed] == [(kc(1), "APPLIED"), (kc(2), "APPLIED")]
    led.ok(f"seal remove SECUNET:BASE-1 --seal {kc(1)} --reason 'torn in transit' --as {TECH}")
    view = led.show("SECUNET:BASE-1")
    assert (view["seals"], view["seal_status"]) == ([kc(2)], "BROKEN")
    led.ok(f"seal retain {kc(1)} --location TECH-EVIDENCE --as {TECH}")
    led.ok(f"seal destroy {kc(1)} --method shredded --as {WH}")
    led.ok(f"seal void {kc(9)} {kc(10)} --reason misprinted --as {MFR}")
    led.ok(f"seal lost {kc(11)} --circumstances 'dropped at goods-in' --as {MFR}")
    shown = led.json(f"seal show {kc(1)}")
    assert shown["status"] == "DESTROYED"
    assert [h["kind"] for h in shown["history"]] == [
        "seal.received",
        "seal.issued",
        "seal.applied",
        "seal.removed",
        "seal.retained",
        "seal.destroyed",
    ]
    statuses = {s["seal_id"]: s["status"] for s in led.json("seal list")}
    assert [statuses[kc(n)] for n in (9, 10, 11, 12)] == ["VOID", "VOID", "LOST", "IN_STOCK"]
    assert [s["seal_id"] for s in led.json("seal list --status void")] == [kc(9), kc(10)]
    assert led.verified()


def test_receipt_with_other_seals_raises_an_incident_released_by_four_eyes(ledger: Ledger) -> None:
    led, c = ledger, "SECUNET:BASE-2"
    receipt = led.ok(f"receive {c} --observed {kc(3)} --observed {kc(12)} --as {WH}")
    said = re.search(r"INCIDENT (INC-[0-9]+) raised automatically: .*SUSPECT", receipt)
    assert said, receipt
    incident = said.group(1)
    view = led.show(c)
    assert incident == f"INC-{view['history'][-1]['index']}"
    assert (view["state"], view["seal_status"]) == ("SUSPECT", "MISMATCH")
    assert (view["open_incident"]["incident_id"], view["open_incident"]["category"]) == (
        incident,
        "seal_mismatch",
    )
    assert incident in led.ok("incident list --status open")

    led.ok(f"incident quarantine {c} --incident {incident} --location WH-QUARANTINE --as {WH}")
    assert led.show(c)["state"] == "QUARANTINED"
    release = (
        f"incident release {c} --incident {incident} --investigation 'scanner misread' --outcome cleared"
    )
    assert_error(led.run(f"{release} --as {WH}"), 1, "rule.four_eyes_release")
    assert led.json(f"{release} --as {AUDITOR}")["state"] == "RECEIVED"
    view = led.show(c)
    assert (view["state"], view["open_incident"]) == ("RECEIVED", None)
    closed = led.json(f"incident list --connector {c}")
    assert [(i["incident_id"], i["status"], i["released_by"]) for i in closed] == [
        (incident, "RELEASED", f"party:{AUDITOR}")
    ]
    reported = led.json(f"incident report {c} --category housing_damage --description 'dent' --as {WH}")
    assert reported["state"] == "SUSPECT"
    assert led.json(f"incident show {reported['incident']}")["reported_by"] == f"party:{WH}"
    assert led.verified()


def test_handover_rejection_with_seal_mismatch_raises_an_incident(ledger: Ledger) -> None:
    led, c = ledger, "SECUNET:BASE-3"
    size = led.size()
    offer = led.offer(c, MFR, WH, "--delivery-note DN-0")
    assert led.size() == size  # offers live off the log
    rejected = led.json(
        f"handover reject {offer} --reason 'seal numbers differ' --observed {c}={kc(5)},{kc(13)} --as {WH}"
    )
    assert (rejected["status"], rejected["reason"]) == ("rejected", "seal numbers differ")
    assert [i["connector"] for i in rejected["incidents"]] == [f"connector:{c}"]
    incident = rejected["incidents"][0]
    view = led.show(c)
    assert (view["state"], view["custodian"]) == ("SUSPECT", f"party:{MFR}")  # custody did not move
    assert view["open_incident"]["incident_id"] == incident["incident"]
    assert kc(13) in view["open_incident"]["description"]
    shown = led.json(f"handover show {offer}")
    assert (shown["status"], shown["result"]) == ("rejected", {"incidents": [incident["index"]]})
    assert [o["offer_id"] for o in led.json("handover list --status rejected")] == [offer]
    assert led.json(f"handover list --from {MFR}") == []  # nothing pending
    assert_error(led.run(f"handover accept {offer} --as {WH}"), 2, "already rejected")
    # Without a mismatch a rejection records nothing on the log.
    assert "INCIDENT" not in led.ok(f"handover reject {led.pending_offer} --reason 'not expected' --as {WH}")
    assert led.size() == size + 1
    assert led.verified()


def test_a_non_conformant_seal_check_is_recorded_and_blocks_installation(ledger: Ledger) -> None:
    led, c = ledger, "SECUNET:BASE-1"
    torn = led.json(
        f"seal inspect {c} --observed {kc(1)} --observed {kc(2)} --result {kc(2)}=torn --as {TECH}"
    )
    assert (torn["conformant"], torn["seal_status"]) == (False, "BROKEN")
    assert "NOT conformant" in led.ok(f"seal inspect {c} --observed {kc(1)} --place {SITE} --as {TECH}")
    assert led.show(c)["seal_status"] == "MISMATCH"
    size = led.size()
    refused = led.run(f"install {c} --practice {PRACTICE} --place {SITE} --as {TECH}")
    assert_error(refused, 1, "rule.install_requires_conformant_seal_check")
    assert led.size() == size


def test_install_with_less_than_four_years_validity_needs_an_auditor_override(ledger: Ledger) -> None:
    led, c = ledger, "SECUNET:BASE-3Y"
    install = f"install {c} --practice {PRACTICE} --place {SITE} --as {TECH}"
    assert_error(led.run(install), 1, "rule.certificate_validity")
    led.ok(f"{install} --override-reason 'no replacement unit available' --auditor {AUDITOR}")
    view = led.show(c)
    assert view["state"] == "INSTALLED"
    installed = view["history"][-1]
    assert installed["data"]["override"] == {
        "reason": "no replacement unit available",
        "auditor": f"party:{AUDITOR}",
    }
    assert len(installed["signers"]) == 2  # technician and auditor
    assert 3 * 365 - 2 <= installed["data"]["remaining_validity_days"] <= 3 * 365


# --------------------------------------------------------------------------
# Fleet, practices, projections


def test_fleet_expiring_json_shape_and_text(base: Ledger) -> None:
    with ThreadPoolExecutor(2) as pool:
        as_json, as_text = pool.map(
            base.run, ["fleet expiring --within 180d --json", "fleet expiring --within 26w"]
        )
    data = ok(as_json).json()
    assert set(data) == {"as_of", "within_days", "total", "months"}
    assert (data["within_days"], data["total"]) == (180, 2)
    assert [m["month"] for m in data["months"]] == sorted({CERT_EXPIRED[:7], CERT_SOON[:7]})
    for month in data["months"]:
        assert set(month) == {"month", "count", "connectors"}
        assert month["count"] == len(month["connectors"])
    items = {i["connector"]: i for m in data["months"] for i in m["connectors"]}
    assert set(items) == {"connector:SECUNET:BASE-SOON", "connector:SECUNET:BASE-OLD"}
    old, soon = items["connector:SECUNET:BASE-OLD"], items["connector:SECUNET:BASE-SOON"]
    assert set(old) == {"connector", "state", "not_after", "expired", "custodian", "location"}
    assert (old["expired"], old["not_after"], old["state"]) == (True, CERT_EXPIRED, "PRODUCED")
    assert (soon["expired"], soon["not_after"], soon["custodian"]) == (False, CERT_SOON, f"party:{MFR}")
    text = ok(as_text).out.splitlines()
    assert text[0].startswith("2 connector(s) expiring within 182 days")
    assert f"{CERT_SOON[:7]}: 1" in text
    assert any("BASE-OLD" in line and "EXPIRED" in line for line in text)


def test_practice_erasure_and_projection_rebuild_keep_the_ledger_valid(ledger: Ledger) -> None:
    led = ledger
    added = led.json(
        "practice add PRAXIS-2 --name 'Praxis Zwei' --bsnr 987654321 --telematik-id 1-2-ARZT-0002 "
        "--address 'Hauptstr. 1, Essen'"
    )
    assert re.fullmatch(r"[0-9a-f]{64}", added["digest"])
    rows = {p["practice_id"]: p for p in led.json("practice list")}
    assert (rows["PRAXIS-2"]["bsnr"], rows["PRAXIS-2"]["digest"]) == ("987654321", added["digest"])
    assert "salt" not in rows[PRACTICE]
    # PRAXIS-1 is referenced by the installed entry of BASE-OP: erase its master data.
    led.ok(f"practice erase {PRACTICE}")
    erased = {p["practice_id"]: p for p in led.json("practice list")}[PRACTICE]
    assert erased["digest"] == led.digest
    assert [erased[k] for k in ("name", "bsnr", "telematik_id", "address")] == [None] * 4
    assert erased["erased_at"]
    assert led.show("SECUNET:BASE-OP")["practice"] == led.digest
    assert_error(led.run(f"practice erase {PRACTICE}"), 2, "erased")
    assert led.verified()

    before = (led.json("connector list"), led.json("seal list"))
    assert led.json(f"rebuild-projections --db {led.url}") == {"size": led.size()}
    assert (led.json("connector list"), led.json("seal list")) == before
    assert led.verified()


# --------------------------------------------------------------------------
# Refusals: one error line, the documented exit code, nothing appended


def refusals(led: Ledger) -> list[tuple[str, int, str, dict[str, str]]]:
    """(command, exit code, fragment of the error line, environment overrides)."""
    b1, b2, op = "SECUNET:BASE-1", "SECUNET:BASE-2", "SECUNET:BASE-OP"
    bad_check = kc(12)[:-1] + ("0" if kc(12)[-1] != "0" else "1")
    unknown_seal = seal_id("KC", 99)
    new = "connector commission --vendor SECUNET --product-code K --hw 1 --fw 1 --certification-id C"
    card, date = f"--smck {iccsn(77)}={CERT_OK}", "--production-date 2026-10-01"
    offer, wrong = led.pending_offer, WRONG_PASSPHRASE
    nobody: dict[str, str] = {}
    missing_key = shlex.quote(str(led.root / "none.pem"))
    release = "--investigation 'a long enough note' --outcome cleared"
    return [
        # connector
        (f"{new} --serial N1 {card} --production-date 2026-02-30 --as {MFR}", 2, "production_date", nobody),
        (f"{new} --serial N1 --smck {iccsn(77)} {date} --as {MFR}", 2, "--smck", nobody),
        (f"{new} --serial N1 {card} {date} --as {WH}", 1, "auth.role_missing", nobody),
        (f"{new} --serial N1 {card} {date} --as {MFR}", 2, "input.key.passphrase", wrong),
        (f"{new} --serial N1 {card} {date} --as NOBODY", 2, "unknown signer", nobody),
        (f"{new} --serial BASE-1 {card} {date} --as {MFR}", 1, "rule.connector_exists", nobody),
        (f"connector bind SECUNET:NOPE --environment X --as {MFR}", 2, "unknown connector", nobody),
        (f"connector bind 'secunet nope' --environment X --as {MFR}", 2, "input.identifier", nobody),
        ("connector show SECUNET:NOPE", 2, "unknown connector", nobody),
        ("connector list --state BROKEN", 2, "unknown state", nobody),
        # seal
        (
            f"seal receive --series IO --first 1 --count 5 --supplier S --as {MFR}",
            2,
            "input.identifier",
            nobody,
        ),
        (f"seal receive --series KC --first x --count 5 --supplier S --as {MFR}", 2, "--first", nobody),
        (
            f"seal receive --series KC --first 5 --count 2 --supplier S --as {MFR}",
            1,
            "rule.seal_unique",
            nobody,
        ),
        (f"seal issue {bad_check} --to {TECH} --as {MFR}", 2, "check character", nobody),
        (f"seal issue {unknown_seal} --to {TECH} --as {MFR}", 2, "unknown seal", nobody),
        (f"seal issue {kc(12)} --to NOBODY --as {MFR}", 2, "unknown recipient", nobody),
        (f"seal apply {b2} --seal {kc(12)} --as {MFR}", 1, "rule.state_transition", nobody),
        (
            f"seal inspect {b1} --observed {kc(1)} --result {kc(1)}=scratched --as {TECH}",
            2,
            "--result",
            nobody,
        ),
        (f"seal remove {b1} --seal {kc(3)} --reason r --as {TECH}", 1, "rule.seal_on_connector", nobody),
        (f"seal retain {kc(12)} --location L --as {TECH}", 1, "rule.seal_state", nobody),
        (f"seal destroy {unknown_seal} --method m --as {WH}", 2, "unknown seal", nobody),
        (f"seal lost {bad_check} --circumstances c --as {MFR}", 2, "check character", nobody),
        (f"seal show {unknown_seal}", 2, "unknown seal", nobody),
        ("seal list --status gone", 2, "unknown seal status", nobody),
        # custody actions
        (f"store {b1} --location L --as {WH}", 1, "rule.custodian_only", nobody),
        (
            f"ship {b1} --destination X --to NOBODY --delivery-note D --as {TECH}",
            2,
            "unknown recipient",
            nobody,
        ),
        (
            f"ship {b1} --destination 'bad place' --to {WH} --delivery-note D --as {TECH}",
            2,
            "location",
            nobody,
        ),
        (f"receive {b2} --observed {kc(3)} --as {WH}", 2, "input.key.passphrase", wrong),
        (
            f"install {b1} --practice {PRACTICE} --place {SITE} --as {TECH}",
            1,
            "rule.install_requires_conformant_seal_check",
            nobody,
        ),
        (f"install {b1} --practice PRAXIS-NOPE --place {SITE} --as {TECH}", 2, "unknown practice", nobody),
        (
            f"install {b1} --practice {PRACTICE} --place {SITE} --auditor-key k.pem --as {TECH}",
            2,
            "--auditor",
            nobody,
        ),
        (
            f"install SECUNET:BASE-3Y --practice {PRACTICE} --place {SITE} "
            f"--override-reason r --auditor {WH} --as {TECH}",
            1,
            "rule.certificate_validity",
            nobody,
        ),
        (f"ti-register {b1} --as {TECH}", 1, "rule.state_transition", nobody),
        (f"firmware {op} --to 6.0 --as {WH}", 1, "auth.role_missing", nobody),
        (f"lzv {op} --iccsn {iccsn(5)} --not-after soon --as {TECH}", 2, "input.timestamp", nobody),
        (f"service-visit {b1} --reason r --as {TECH}", 1, "rule.state_transition", nobody),
        (f"deregister SECUNET:NOPE --reason r --as {TECH}", 2, "unknown connector", nobody),
        (f"remove {op} --reason r --as {TECH}", 1, "rule.deregister_before_removal", nobody),
        (
            f"return-ship {op} --destination W --to {WH} --delivery-note D --as {TECH}",
            1,
            "rule.state_",
            nobody,
        ),
        (f"decommission {op} --reason r --as {WH}", 1, "rule.deregister_before_removal", nobody),
        (
            f"destroy {b1} --method shredded --witness {AUDITOR} --as {WH}",
            1,
            "rule.destroy_requires_dec",
            nobody,
        ),
        (f"destroy {b1} --method shredded --witness NOBODY --as {WH}", 2, "unknown witness", nobody),
        (
            f"destroy {b1} --method shredded --witness {AUDITOR} --witness-key {missing_key} --as {WH}",
            2,
            "input.key_file_missing",
            nobody,
        ),
        (f"lost {b1} --circumstances c --as {ADMIN}", 1, "auth.role_missing", nobody),
        (f"stolen SECUNET:NOPE --circumstances c --as {TECH}", 2, "unknown connector", nobody),
        (
            f"correct {b1} --index 1 --reason incorrect_data --explanation e --as {MFR}",
            2,
            "not in the history",
            nobody,
        ),
        (f"correct {b1} --index -3 --reason incorrect_data --explanation e --as {MFR}", 2, "--index", nobody),
        # handover
        (f"handover offer {b1} --to NOBODY --as {TECH}", 2, "unknown receiving party", nobody),
        (f"handover offer {b1} --to {CARRIER} --as {WH}", 1, "rule.transfer_from_custodian", nobody),
        (f"handover offer SECUNET:NOPE --to {CARRIER} --as {TECH}", 2, "unknown connector", nobody),
        ("handover list --status open", 2, "unknown offer status", nobody),
        (f"handover show {'0' * 32}", 2, "unknown handover offer", nobody),
        (f"handover accept {'0' * 32} --as {WH}", 2, "unknown handover offer", nobody),
        (f"handover accept {offer} --as {CARRIER}", 2, "not addressed to", nobody),
        (f"handover reject {offer} --reason r --observed {b1} --as {WH}", 2, "--observed", nobody),
        (
            f"handover reject {offer} --reason r --observed {b2}={kc(3)} --as {WH}",
            2,
            "not in the offer",
            nobody,
        ),
        # incidents
        (f"incident report {b1} --category gremlins --description d --as {TECH}", 2, "category", nobody),
        (f"incident quarantine {b1} --incident INC-999999 --as {WH}", 2, "unknown incident", nobody),
        (f"incident release {b1} --incident INC-1 {release} --as {AUDITOR}", 2, "unknown incident", nobody),
        ("incident list --status closed", 2, "unknown incident status", nobody),
        ("incident show INC-999999", 2, "unknown incident", nobody),
        # practices and fleet
        ("practice add PRAXIS-9 --name N --bsnr 12345 --telematik-id T", 2, "BSNR", nobody),
        (f"practice add {PRACTICE} --name N --bsnr 123456789 --telematik-id T", 2, "already exists", nobody),
        ("practice erase PRAXIS-NOPE", 2, "unknown practice", nobody),
        ("fleet expiring --within '6 months'", 2, "window", nobody),
    ]


def test_refusals_are_one_line_with_the_documented_exit_code_and_change_nothing(ledger: Ledger) -> None:
    led = ledger
    status, counts = led.json("status"), table_counts(led.root / "l.db")

    def attempt(case: tuple[str, int, str, dict[str, str]]) -> str | None:
        command, code, fragment, env = case
        run = led.run(command, env=led.env(**env))
        problem = error_problem(run, code, fragment)
        return None if problem is None else f"{problem}: {run}"

    with ThreadPoolExecutor(2) as pool:
        problems = [p for p in pool.map(attempt, refusals(led)) if p is not None]
    assert not problems, "\n\n".join(problems)
    assert led.json("status") == status
    assert table_counts(led.root / "l.db") == counts
    # A missing ledger is bad input too, and is not created.
    missing = led.root / "missing.db"
    assert_error(led.run(f"rebuild-projections --db sqlite:///{missing}"), 2, "custody init")
    assert not missing.exists()


# --------------------------------------------------------------------------
# PostgreSQL


@pytest.fixture
def pg_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Ledger:
    if not os.environ.get("CUSTODY_TEST_DATABASE_URL"):
        monkeypatch.setenv("CUSTODY_TEST_DATABASE_URL", DEFAULT_PG_ADMIN_URL)
    url = str(request.getfixturevalue("pg_url"))
    led, fx = new_ledger(tmp_path, url, tmp_path / "keys")
    fx.ctx.engine.dispose()
    led.extra_env["CUSTODY_KEY_DIR"] = str(led.key_dir)
    return led


def test_lifecycle_on_postgresql(pg_ledger: Ledger) -> None:
    led, c = pg_ledger, "SECUNET:PG-0001"
    s1, s2 = seal_id("PG", 1), seal_id("PG", 2)
    led.ok(
        f"connector commission --as {MFR} --vendor SECUNET --serial PG-0001 --product-code KOCO-2 --hw 2.0 "
        f"--fw 5.1.2 --production-date 2026-10-01 --smck {iccsn(9)}={CERT_OK} --certification-id BSI-1"
    )
    led.ok(f"connector bind {c} --environment MFR-SECURE --as {MFR}")
    led.ok(f"seal receive --as {MFR} --series PG --first 1 --count 2 --supplier S")
    led.ok(f"seal issue {s1} {s2} --to {MFR} --as {MFR}")
    led.ok(f"seal apply {c} --seal {s1} --seal {s2} --as {MFR}")
    led.ok(f"store {c} --location MFR-STORE --as {MFR}")
    led.ok(f"ship {c} --destination {SITE} --to {TECH} --delivery-note DN-PG --as {MFR}")
    led.ok(f"handover accept {led.offer(c, MFR, TECH)} --as {TECH}")
    led.ok(f"receive {c} --observed {s1} --observed {s2} --as {TECH}")
    led.ok(f"seal inspect {c} --observed {s1} --observed {s2} --place {SITE} --as {TECH}")
    led.ok(f"install {c} --practice {PRACTICE} --place {SITE} --as {TECH}")
    view = led.show(c)
    assert (view["state"], view["custodian"], view["practice"]) == ("INSTALLED", f"party:{TECH}", led.digest)
    assert [h["kind"] for h in view["history"]][-4:] == [
        "custody.transferred",
        "received",
        "seal.inspected",
        "installed",
    ]
    assert led.json("rebuild-projections")["size"] == view["history"][-1]["index"] + 1
    assert led.verified()  # also compares the rebuilt tables with a replay


def test_enrolments_are_listed_approved_and_rejected_from_the_command_line(ledger: Ledger) -> None:
    settings = Settings(
        database_url=ledger.url,
        key_dir=ledger.key_dir,
        log_key_passphrase=SecretStr(LOG_PASSPHRASE),
        key_passphrase=SecretStr(KEY_PASSPHRASE),
    )
    ctx = LedgerContext.open(settings)
    try:
        browser = SigningKey.generate(Algorithm.ECDSA_P256_SHA256, os.urandom(64))
        phone = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
        first = enrolment.submit_enrolment(ctx, TECH, enrolment.spki_of(browser.public_key), "Tablet")
        second = enrolment.submit_enrolment(ctx, TECH, enrolment.spki_of(phone.public_key), "Phone")
    finally:
        ctx.engine.dispose()
    listed = ledger.json("enrolment list")
    # Oldest first, ties (the same second) by id: both pending, in that order.
    assert [row["enrolment_id"] for row in listed] == sorted(
        [first.enrolment_id, second.enrolment_id],
        key=lambda i: ({first.enrolment_id: first, second.enrolment_id: second}[i].created_at, i),
    )
    size = ledger.size()
    # Only an administrator's key.added is admitted: the technician's own approval is refused.
    assert_error(ledger.run(f"enrolment approve {first.enrolment_id} --as {TECH}"), 1, "admin")
    assert ledger.size() == size
    approved = ledger.json(f"enrolment approve {first.enrolment_id} --as {ADMIN}")
    assert approved["enrolment"]["status"] == "approved"
    assert approved["enrolment"]["entry_index"] == size
    assert ledger.size() == size + 1
    assert_error(ledger.run(f"enrolment approve {first.enrolment_id} --as {ADMIN}"), 2, "")
    rejected = ledger.json(f"enrolment reject {second.enrolment_id} --as {ADMIN} --reason 'not ours'")
    assert (rejected["status"], rejected["reason"]) == ("rejected", "not ours")
    assert ledger.json("enrolment list") == []
    assert {row["status"] for row in ledger.json("enrolment list --status all")} == {"approved", "rejected"}
    assert_error(ledger.run(f"enrolment reject {'0' * 32} --as {ADMIN} --reason x"), 2, "")
    assert ledger.size() == size + 1
    assert ledger.json("verify")["valid"] is True
