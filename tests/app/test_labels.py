"""Seal labels, delivery notes and label verification against a real ledger (services and CLI).

One custody world is built per module into a directory (SQLite file and key
files); every test works on its own copy. Labels are rendered for real,
rasterised with pypdfium2 and decoded with zxing-cpp; the CLI runs as a real
process. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.keyfiles import KeyFileMissing
from app.services import custody, labels
from app.services.context import LedgerContext
from app.services.practices import add_practice
from app.tables import LABEL_PRINTS
from labels.layouts import StartPositionOutOfRange, UnknownLayout
from labels.payload import parse_payload, sign_label, verify_payload
from ledger.custody.ids import seal_id
from ledger.errors import InvalidInput, NotFound, WrongPassphrase
from ledger.keys import Algorithm, SigningKey
from tests.app.custody_scenarios import CAR, TECH, WH, World
from tests.cli_run import Run, clean_env
from tests.helpers import LOG_PASSPHRASE, SteppingClock, new_ledger_fixture, settings_for
from tests.labels.raster import decode, decoded_payloads, page_texts, rasterise

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")
ERROR_LINE = re.compile(r"error: \S.* \[[a-z0-9_.]+\]")

SHIPMENT = "LS-2026-0042"
DORTMUND = "PRAXIS-DORTMUND-0003"
SHIPPED_UNITS = 26  # two pages of delivery note


@dataclass(frozen=True)
class Base:
    """What the module's world holds (ids only; each test opens its own copy)."""

    directory: Path
    issued: list[str]  # ISSUED to TECH-01, no label
    in_stock: list[str]  # IN_STOCK (not labellable)
    applied: list[str]  # APPLIED to a shipped connector
    applied_connector: str
    shipped: list[str]  # connector subjects of SHIPMENT


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    directory = tmp_path_factory.mktemp("labels-world")
    lf = new_ledger_fixture(f"sqlite:///{directory}/ledger.db", directory)
    world = World(lf)
    add_practice(
        world.ctx,
        DORTMUND,
        name="Praxis Dr. Muster-Beispiel",
        bsnr="111222333",
        telematik_id="1-2.58.00000003",
        address="Hauptstraße 1\n44137 Dortmund",
    )
    units = [world.unit("IN_STOCK") for _ in range(SHIPPED_UNITS)]
    custody.ship(
        world.ctx,
        WH,
        world.key(WH),
        [u.subject for u in units],
        destination=DORTMUND,
        to=CAR,
        delivery_note=SHIPMENT,
    )
    issued = world.issued_seals(5, to=TECH)
    in_stock = world.stock_seals(2)
    world.ctx.engine.dispose()
    return Base(
        directory, issued, in_stock, list(units[0].seals), units[0].subject, [u.subject for u in units]
    )


@pytest.fixture
def ledger_dir(base: Base, tmp_path: Path) -> Path:
    target = tmp_path / "ledger"
    shutil.copytree(base.directory, target)
    return target


@pytest.fixture
def ctx(ledger_dir: Path) -> Iterator[LedgerContext]:
    context = LedgerContext.open(
        settings_for(f"sqlite:///{ledger_dir}/ledger.db", ledger_dir),
        clock=SteppingClock(),
    )
    try:
        yield context
    finally:
        context.engine.dispose()


def prints(ctx: LedgerContext) -> int:
    with ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(LABEL_PRINTS)).scalar_one())


def expected_payload(ctx: LedgerContext, seal: str) -> str:
    key = SigningKey.from_encrypted_pem(labels.label_key_path(ctx).read_bytes(), LOG_PASSPHRASE.encode())
    return sign_label(ctx.settings.public_url, seal, key).text


# --------------------------------------------------------------------------
# Services: printing.


def test_prints_every_issued_seal_without_a_label_then_nothing(ctx: LedgerContext, base: Base) -> None:
    rendered = labels.render_seal_labels(ctx)
    assert list(rendered.seal_ids) == sorted(base.issued)
    assert rendered.media_type == "application/pdf"
    assert decoded_payloads(rendered.content) == [sorted(expected_payload(ctx, s) for s in base.issued)]
    assert prints(ctx) == 0  # rendering alone records nothing
    labels.record_prints(ctx, rendered)
    assert prints(ctx) == len(base.issued)
    with pytest.raises(labels.NothingToPrint, match="no seals to print"):
        labels.render_seal_labels(ctx)


def test_named_applied_seals_show_their_connector(ctx: LedgerContext, base: Base) -> None:
    rendered = labels.render_seal_labels(ctx, seal_ids=base.applied, layout="l7163", start=5)
    text = page_texts(rendered.content)[0]
    serial = base.applied_connector.rsplit(":", 1)[1]
    assert f"SECUNET {serial}" in text
    assert "KC 000" in text  # the seal id in groups, check character last
    assert "Ausgabe/Issued by MFR-SECUNET" in text
    assert re.search(r"\d{4}-\d{2}-\d{2} · #\d+ [0-9a-f]{8}", text)
    payloads = decoded_payloads(rendered.content, 300)[0]
    assert payloads == sorted(expected_payload(ctx, s) for s in base.applied)


def test_a_seal_with_a_label_needs_reprint(ctx: LedgerContext, base: Base) -> None:
    first = labels.render_seal_labels(ctx, seal_ids=base.issued[:2])
    labels.record_prints(ctx, first)
    with pytest.raises(labels.LabelAlreadyPrinted, match="already has a label"):
        labels.render_seal_labels(ctx, seal_ids=base.issued[:3])
    again = labels.render_seal_labels(ctx, seal_ids=base.issued[:3], reprint=True)
    assert again.seal_ids == tuple(base.issued[:3])
    # The default batch skips the two that have a label.
    assert labels.render_seal_labels(ctx).seal_ids == tuple(sorted(base.issued[2:]))


def test_the_same_ledger_state_gives_the_same_bytes(ctx: LedgerContext, base: Base) -> None:
    for request in ({"layout": "3474", "start": 7}, {"layout": "62x29"}, {"fmt": "zpl", "dpi": 300}):
        first = labels.render_seal_labels(ctx, seal_ids=base.issued, **request)
        second = labels.render_seal_labels(ctx, seal_ids=base.issued, **request)
        assert first.content == second.content, request


def test_zpl_from_the_ledger_carries_the_pdf_payloads(ctx: LedgerContext, base: Base) -> None:
    pdf = labels.render_seal_labels(ctx, seal_ids=base.issued[:2], layout="62x29")
    zpl = labels.render_seal_labels(ctx, seal_ids=base.issued[:2], layout="62x29", fmt="zpl", dpi=300)
    assert zpl.media_type.startswith("text/plain")
    in_zpl = re.findall(r"\^FDQA,([^\^]+)\^FS", zpl.content.decode())
    assert in_zpl == [expected_payload(ctx, s) for s in base.issued[:2]]
    assert sorted(in_zpl) == sorted(p for page in decoded_payloads(pdf.content) for p in page)


@pytest.mark.parametrize(
    ("request_", "error", "fragment"),
    [
        ({"seal_ids": [seal_id("KC", 9_999_000)]}, NotFound, "unknown seal"),
        ({"seal_ids": ["KC00000000"]}, InvalidInput, "check character"),
        ({"layout": "avery-0000"}, UnknownLayout, "unknown label layout"),
        ({"layout": "3474", "start": 25}, StartPositionOutOfRange, "1–24"),
        ({"layout": "62x29", "start": 2}, StartPositionOutOfRange, "single label"),
        ({"layout": "3474", "fmt": "zpl"}, InvalidInput, "thermal"),
        ({"fmt": "zpl", "dpi": 600}, InvalidInput, "dpi"),
    ],
)
def test_bad_requests_are_refused_and_record_nothing(
    ctx: LedgerContext, request_: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        labels.render_seal_labels(ctx, **request_)
    assert prints(ctx) == 0


def test_seals_that_are_not_issued_or_applied_get_no_label(ctx: LedgerContext, base: Base) -> None:
    with pytest.raises(labels.SealNotLabellable, match="IN_STOCK"):
        labels.render_seal_labels(ctx, seal_ids=base.in_stock[:1])
    with pytest.raises(InvalidInput, match="twice"):
        labels.render_seal_labels(ctx, seal_ids=[base.issued[0], base.issued[0]])


# --------------------------------------------------------------------------
# The label key.


def test_the_label_key_is_created_once_encrypted_and_published(ctx: LedgerContext) -> None:
    assert labels.published_vkeys(ctx) == []
    first = labels.init_label_key(ctx)
    again = labels.init_label_key(ctx)
    assert first.created
    assert not again.created
    assert first.vkey == again.vkey
    assert labels.published_vkeys(ctx) == [first.vkey]
    assert first.vkey.startswith("test.custody.local/ledger/labels+")
    path = labels.label_key_path(ctx)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in path.read_bytes()
    # A label printed now verifies with the published vkey alone.
    rendered = labels.render_seal_labels(ctx)
    payload = decoded_payloads(rendered.content)[0][0]
    assert (
        verify_payload(payload, [first.vkey], ctx.settings.public_url).payload.base_url
        == "HTTP://127.0.0.1:8000"
    )


def test_the_label_key_passphrase_and_file_are_checked(ctx: LedgerContext, ledger_dir: Path) -> None:
    labels.init_label_key(ctx)
    wrong = LedgerContext.open(
        settings_for(f"sqlite:///{ledger_dir}/ledger.db", ledger_dir).model_copy(
            update={"label_key_passphrase": __import__("pydantic").SecretStr("not-it")}
        )
    )
    try:
        with pytest.raises(WrongPassphrase):
            labels.render_seal_labels(wrong)
    finally:
        wrong.engine.dispose()
    labels.label_key_path(ctx).unlink()
    with pytest.raises(KeyFileMissing, match="is published"):
        labels.render_seal_labels(ctx)


# --------------------------------------------------------------------------
# Verifying scans.


def _garble(text: str) -> str:
    """A US-layout scanner typing into a German-layout computer."""
    return "".join({"/": "-", ":": "Ö", "Y": "Z", "Z": "Y", "y": "z", "z": "y"}.get(ch, ch) for ch in text)


def test_verify_scan_genuine_repaired_forged_and_unknown(ctx: LedgerContext, base: Base) -> None:
    labels.init_label_key(ctx)
    seal = base.issued[0]
    genuine = expected_payload(ctx, seal)
    result = labels.verify_scan(ctx, genuine)
    assert (result.verdict, result.ok, result.id, result.state, result.repaired) == (
        "genuine", True, seal, "ISSUED", False,
    )  # fmt: skip
    assert result.holder == f"party:{TECH}"
    repaired = labels.verify_scan(ctx, _garble(genuine))
    assert (repaired.verdict, repaired.repaired, repaired.id) == ("genuine", True, seal)

    signature_at = len(genuine) - 40
    altered = (
        genuine[:signature_at] + ("A" if genuine[signature_at] != "A" else "B") + genuine[signature_at + 1 :]
    )
    other_key = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    cases = {
        "altered": (altered, "verify.label.signature"),
        "other key": (sign_label(ctx.settings.public_url, seal, other_key).text, "verify.label.signature"),
        "truncated": (genuine[:-9], "verify.label.malformed"),
        "other seal": (genuine.replace(seal, base.issued[1]), "verify.label.signature"),
    }
    for name, (text, code) in cases.items():
        verdict = labels.verify_scan(ctx, text)
        assert (verdict.verdict, verdict.ok, verdict.code) == ("forged", False, code), name
        assert verdict.reason
        assert labels.verify_scan(ctx, _garble(text)).verdict == "forged", name

    key = SigningKey.from_encrypted_pem(labels.label_key_path(ctx).read_bytes(), LOG_PASSPHRASE.encode())
    foreign = sign_label("https://custody.example.de", seal, key).text
    other_ledger = labels.verify_scan(ctx, foreign)
    assert (other_ledger.verdict, other_ledger.code) == ("forged", "verify.label.other_ledger")
    assert "another ledger" in other_ledger.reason
    not_here = labels.verify_scan(
        ctx, sign_label(ctx.settings.public_url, seal_id("KC", 8_888_888), key).text
    )
    assert (not_here.verdict, not_here.ok, not_here.code) == ("unknown", False, "verify.label.unknown_seal")


def test_verify_scan_of_ids(ctx: LedgerContext, base: Base) -> None:
    known = labels.verify_scan(ctx, base.issued[0])
    assert (known.verdict, known.ok, known.kind) == ("known_id", True, "seal")
    connector = labels.verify_scan(ctx, base.shipped[0].partition(":")[2].replace("Y", "Z"))
    assert (connector.verdict, connector.kind, connector.subject) == (
        "known_id",
        "connector",
        base.shipped[0],
    )
    assert connector.state == "IN_TRANSIT"
    assert labels.verify_scan(ctx, seal_id("KC", 7_777_777)).verdict == "unknown"
    assert labels.verify_scan(ctx, "nothing we know").verdict == "unknown"
    no_key = labels.verify_scan(ctx, f"HTTP://127.0.0.1:8000/S/{base.issued[0]}/ABC")
    assert (no_key.verdict, no_key.code) == ("unknown", "verify.label.no_key")
    with pytest.raises(InvalidInput, match="empty"):
        labels.verify_scan(ctx, "   ")


# --------------------------------------------------------------------------
# Delivery notes.


def test_delivery_note_from_the_ledger(ctx: LedgerContext, base: Base) -> None:
    note = labels.delivery_note(ctx, SHIPMENT)
    assert note.kind == "shipped"
    assert (note.releasing.ident, note.receiving.ident) == (WH, CAR)
    assert note.releasing.name == f"Test party {WH}"
    assert note.destination.name == "Praxis Dr. Muster-Beispiel"
    assert note.destination.address == ("Hauptstraße 1", "44137 Dortmund")
    assert [f"connector:{i.vendor}:{i.serial}" for i in note.items] == base.shipped
    assert all(i.state == "IN_TRANSIT" and len(i.seals) == 2 for i in note.items)
    assert note.handover_url == f"HTTP://127.0.0.1:8000/H/{SHIPMENT}"

    rendered = labels.render_delivery_note(ctx, SHIPMENT)
    texts = page_texts(rendered.content)
    assert rendered.pages == len(texts) >= 2
    assert "Seite 2 von" in texts[1]
    assert "44137 Dortmund" in texts[0]
    for item in note.items:
        assert item.serial in "".join(texts)
    assert [c.text for c in decode(rasterise(rendered.content, 150)[0])] == [note.handover_url]
    assert labels.render_delivery_note(ctx, SHIPMENT).content == rendered.content


def test_unknown_shipment_is_not_found(ctx: LedgerContext) -> None:
    with pytest.raises(NotFound, match="unknown shipment"):
        labels.delivery_note(ctx, "LS-0000")
    with pytest.raises(InvalidInput):
        labels.delivery_note(ctx, "")


# --------------------------------------------------------------------------
# The CLI.


def env(**extra: str) -> dict[str, str]:
    return clean_env(CUSTODY_LOG_KEY_PASSPHRASE=LOG_PASSPHRASE, **extra)


def custody_cli(ledger_dir: Path, *args: str, stdin: str | None = None) -> Run:
    argv = [str(CUSTODY), *args]
    if args and args[0] in ("labels", "scan") and "--vkey" not in args:
        argv += ["--db", f"sqlite:///{ledger_dir}/ledger.db"]
    proc = subprocess.run(
        argv,
        cwd=ledger_dir,
        env=env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, tuple(args))


def refused(run: Run, code: int, fragment: str) -> None:
    lines = run.err.splitlines()
    assert run.code == code, run
    assert len(lines) == 1, run
    assert ERROR_LINE.fullmatch(lines[0]), run
    assert fragment in lines[0], run


def test_cli_key_vkey_seals_and_scan(ledger_dir: Path, base: Base) -> None:
    refused(custody_cli(ledger_dir, "labels", "vkey"), 2, "labels key init")
    init = custody_cli(ledger_dir, "labels", "key", "init", "--key-dir", str(ledger_dir / "keys"), "--json")
    assert init.code == 0, init
    vkey = init.json()["vkey"]
    assert custody_cli(ledger_dir, "labels", "vkey").out.strip() == vkey

    pdf = ledger_dir / "out" / "labels.pdf"
    pdf.parent.mkdir()
    run = custody_cli(
        ledger_dir,
        "labels",
        "seals",
        "--out",
        str(pdf),
        "--key-dir",
        str(ledger_dir / "keys"),
        "--start",
        "2",
        "--json",
    )
    assert run.code == 0, run
    assert run.json()["seal_ids"] == sorted(base.issued)
    payloads = decoded_payloads(pdf.read_bytes())[0]
    assert len(payloads) == len(base.issued)

    zpl = ledger_dir / "out" / "labels.zpl"
    run = custody_cli(
        ledger_dir, "labels", "seals", "--out", str(zpl), "--key-dir", str(ledger_dir / "keys"),
        "--seal", base.issued[0], "--reprint", "--layout", "62x29", "--dpi", "300",
    )  # fmt: skip
    assert run.code == 0, run
    assert "^BQN,2,6^FDQA," in zpl.read_text()

    genuine = payloads[0]
    ok = custody_cli(ledger_dir, "scan", genuine)
    assert ok.code == 0, ok
    assert "genuine label of seal" in ok.out
    garbled = custody_cli(ledger_dir, "scan", "-", "--json", stdin=_garble(genuine) + "\n")
    assert garbled.code == 0, garbled
    assert garbled.json()["repaired"] is True
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "Q")
    refused(custody_cli(ledger_dir, "scan", forged), 1, "does not verify with the published label key")
    refused(custody_cli(ledger_dir, "scan", genuine[:-20]), 1, "truncated")
    refused(custody_cli(ledger_dir, "scan", seal_id("KC", 7_777_777)), 1, "not on this ledger")
    assert custody_cli(ledger_dir, "scan", base.issued[1]).code == 0

    # Offline: only the published vkey, no ledger at all.
    offline = custody_cli(ledger_dir, "scan", genuine, "--vkey", vkey)
    assert offline.code == 0, offline
    refused(custody_cli(ledger_dir, "scan", forged, "--vkey", vkey), 1, "does not verify")

    note = ledger_dir / "out" / "note.pdf"
    run = custody_cli(ledger_dir, "labels", "delivery-note", SHIPMENT, "--out", str(note))
    assert run.code == 0, run
    assert "Lieferschein" in page_texts(note.read_bytes())[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--seal", "KC99990000"], "check character"),
        (["--seal", seal_id("KC", 9_999_000)], "unknown seal"),
        (["--layout", "avery-0000"], "unknown label layout"),
        (["--layout", "l7160", "--start", "22"], "1–21"),
        (["--start", "0"], "--start"),
        (["--seal", "IN-STOCK-SEAL"], "IN_STOCK"),
    ],
)
def test_cli_bad_input_exits_2_and_writes_no_file(
    ledger_dir: Path, base: Base, args: list[str], fragment: str
) -> None:
    args = [base.in_stock[0] if a == "IN-STOCK-SEAL" else a for a in args]
    out = ledger_dir / "labels.pdf"
    refused(
        custody_cli(
            ledger_dir, "labels", "seals", "--out", str(out), "--key-dir", str(ledger_dir / "keys"), *args
        ),
        2,
        fragment,
    )
    assert not out.exists()
    assert not list(ledger_dir.glob(".labels.pdf.*"))


def test_cli_empty_batch_exits_2_and_writes_no_file(ledger_dir: Path, base: Base) -> None:
    keys = str(ledger_dir / "keys")
    first = ledger_dir / "first.pdf"
    assert custody_cli(ledger_dir, "labels", "seals", "--out", str(first), "--key-dir", keys).code == 0
    out = ledger_dir / "second.pdf"
    refused(
        custody_cli(ledger_dir, "labels", "seals", "--out", str(out), "--key-dir", keys),
        2,
        "no seals to print",
    )
    assert not out.exists()
    refused(
        custody_cli(
            ledger_dir, "labels", "seals", "--out", str(out), "--key-dir", keys, "--seal", base.issued[0]
        ),
        2,
        "already has a label",
    )
    assert not out.exists()
    refused(
        custody_cli(ledger_dir, "labels", "delivery-note", "LS-0000", "--out", str(out)),
        2,
        "unknown shipment",
    )
    assert not out.exists()


def test_a_parsed_label_names_this_ledger(ctx: LedgerContext, base: Base) -> None:
    labels.init_label_key(ctx)
    payload = parse_payload(expected_payload(ctx, base.issued[0]))
    assert payload.base_url == labels.base_url(ctx)
