"""``custody labels …`` — seal labels, delivery notes, the label key; and ``custody scan``.

Bad input (unknown seal, nothing to print, unknown layout, a start position
past the sheet, a seal that already has a label without ``--reprint``) is
refused before anything is rendered, and no output file is written: the
file appears whole, or not at all, after rendering succeeded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from app.cli.common import EXIT_FAILED, DbOption, JsonOption, KeyDirOption, emit_json, fail
from app.cli.custody_common import int_arg, open_ledger
from app.services import labels as service
from app.settings import load_settings
from labels.layouts import DEFAULT_LAYOUT, DEFAULT_ZPL_LAYOUT, LAYOUTS
from labels.payload import LabelRejected, verify_scanned
from ledger.errors import InvalidInput

app = typer.Typer(
    help="Seal labels (PDF sheets, thermal labels, ZPL), delivery notes, and the label key.",
    no_args_is_help=True,
)
key_app = typer.Typer(
    help="The ledger's label key (signs the QR codes of seal labels).", no_args_is_help=True
)
app.add_typer(key_app, name="key")

OutOption = Annotated[
    Path,
    typer.Option("--out", help="Output file (written only when everything succeeded).", show_default=False),
]
LAYOUT_HELP = ", ".join(f"{layout.name} ({layout.title})" for layout in LAYOUTS)


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="labels")
    cli.command("scan")(scan)


def _check_out(out: Path) -> None:
    directory = out.parent
    if not directory.is_dir():
        raise InvalidInput(f"cannot write {out}: directory {directory} does not exist")
    if out.is_dir():
        raise InvalidInput(f"cannot write {out}: it is a directory")


@app.command("seals")
def seals(
    out: OutOption,
    layout: Annotated[
        str | None,
        typer.Option(
            help=f"Label layout: {LAYOUT_HELP}. Default {DEFAULT_LAYOUT} (PDF), {DEFAULT_ZPL_LAYOUT} (ZPL).",
            show_default=False,
        ),
    ] = None,
    start: Annotated[
        str, typer.Option(metavar="N", help="First free position on a part-used sheet (1 = top left).")
    ] = "1",
    seal: Annotated[
        list[str] | None,
        typer.Option("--seal", help="Seal id to print; repeat. None: every issued seal without a label."),
    ] = None,
    reprint: Annotated[bool, typer.Option(help="Print seals that already have a label again.")] = False,
    dpi: Annotated[str, typer.Option(metavar="DPI", help="ZPL printer resolution: 203 or 300.")] = "203",
    db: DbOption = None,
    key_dir: KeyDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Print seal labels: a PDF, or ZPL for Zebra printers when FILE ends in .zpl.

    Each label has a QR code signed by the label key (verifiable offline with
    `custody labels vkey`), the seal id, the connector once applied, who issued
    the seal and when, and a short hash of the issuing entry.
    """
    fmt = "zpl" if out.suffix.lower() == ".zpl" else "pdf"
    position = int_arg(start, "--start", 1, 1_000_000)
    resolution = int_arg(dpi, "--dpi", 1, 10_000)
    service.check_request(layout, position, fmt, resolution)
    _check_out(out)
    ctx = open_ledger(db, key_dir)
    rendered = service.render_seal_labels(
        ctx, seal_ids=seal or None, layout=layout, start=position, fmt=fmt, dpi=resolution, reprint=reprint
    )
    service.write_output(out, rendered.content)
    job = service.record_prints(ctx, rendered)
    if json_out:
        emit_json({**rendered.as_dict(), "out": str(out), "job": job})
        return
    what = f"{rendered.layout}, {rendered.dpi} dpi" if rendered.format == "zpl" else rendered.layout
    first, last = rendered.seal_ids[0], rendered.seal_ids[-1]
    typer.echo(
        f"{len(rendered.seal_ids)} seal labels ({first} … {last}) → {out} "
        f"({rendered.format.upper()}, {what}, {rendered.pages} page(s), {len(rendered.content)} bytes)"
    )


@app.command("delivery-note")
def delivery_note(
    shipment: Annotated[
        str, typer.Argument(help="Delivery note number of the shipment.", show_default=False)
    ],
    out: OutOption,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The delivery note (Lieferschein) of a shipment as PDF, with a QR code that opens the handover."""
    _check_out(out)
    ctx = open_ledger(db)
    rendered = service.render_delivery_note(ctx, shipment)
    service.write_output(out, rendered.content)
    if json_out:
        emit_json({**rendered.as_dict(), "out": str(out)})
        return
    typer.echo(
        f"delivery note {shipment}: {len(rendered.note.items)} connectors, {rendered.pages} page(s) → {out}"
    )


@app.command("vkey")
def vkey(db: DbOption = None, json_out: JsonOption = False) -> None:
    """The published label verifier key(s): scanners verify labels offline with these."""
    ctx = open_ledger(db)
    keys = service.published_vkeys(ctx)
    if not keys:
        fail("no label key yet: run `custody labels key init`", "input.label_key_missing", 2)
    if json_out:
        emit_json({"vkeys": keys})
        return
    for line in keys:
        typer.echo(line)


@key_app.command("init")
def key_init(db: DbOption = None, key_dir: KeyDirOption = None, json_out: JsonOption = False) -> None:
    """Create the label key (KEY_DIR/label-key.pem) and publish its vkey; idempotent."""
    ctx = open_ledger(db, key_dir)
    info = service.init_label_key(ctx)
    if json_out:
        emit_json(info.as_dict())
        return
    typer.echo(f"label key {'created' if info.created else 'exists'}: {info.path}")
    typer.echo(info.vkey)


def _vkeys(values: list[str]) -> list[str]:
    keys: list[str] = []
    for value in values:
        path = Path(value)
        if "+" not in value and path.is_file():
            keys.extend(
                line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            )
        else:
            keys.append(value.strip())
    return keys


def scan(
    raw: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="What the scanner read (a label's QR text or an id); - reads a line from stdin.",
        ),
    ],
    vkey: Annotated[
        list[str] | None,
        typer.Option(
            "--vkey",
            help="Verify offline with this label vkey (or a file of them), not the ledger's; repeatable.",
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(help="With --vkey: the ledger URL labels must name (default $CUSTODY_PUBLIC_URL)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Verify a scanned seal label, or look up a scanned id.

    Exit 0: a genuine label (its signature verifies with the published label
    key) or an id the ledger knows. Exit 1: a forged, altered, truncated or
    unknown label, or an unknown id — with the reason.
    """
    text = sys.stdin.readline().rstrip("\r\n") if raw == "-" else raw
    if vkey:
        _scan_offline(text, _vkeys(vkey), base_url, json_out)
        return
    ctx = open_ledger(db)
    verdict = service.verify_scan(ctx, text)
    if json_out:
        emit_json(verdict.as_dict())
    else:
        _print_verdict(verdict)
    if not verdict.ok:
        fail(verdict.reason, verdict.code, EXIT_FAILED)


def _print_verdict(verdict: service.ScanVerdict) -> None:
    if not verdict.ok:
        return
    typer.echo(verdict.reason)
    for name, value in (
        ("subject", verdict.subject),
        ("state", verdict.state),
        ("holder", verdict.holder),
        ("connector", verdict.connector),
        ("label key", verdict.label_key),
        ("repaired", "yes (keyboard layout)" if verdict.repaired else None),
    ):
        if value:
            typer.echo(f"  {name + ':':<11}{value}")
    for warning in verdict.warnings:
        typer.echo(f"  warning:   {warning}")


def _scan_offline(text: str, keys: list[str], base_url: str | None, json_out: bool) -> None:
    if not text.strip():
        raise InvalidInput("the scan is empty")
    expected = base_url or load_settings().public_url
    try:
        verified = verify_scanned(text, keys, expected)
    except LabelRejected as exc:
        if json_out:
            emit_json({"verdict": "forged", "ok": False, "reason": exc.message, "code": exc.code})
        fail(exc.message, exc.code, EXIT_FAILED)
        return
    if verified is None:
        reason = "not a seal label: offline, only labels can be verified"
        if json_out:
            emit_json({"verdict": "unknown", "ok": False, "reason": reason, "code": "scan.not_a_label"})
        fail(reason, "scan.not_a_label", EXIT_FAILED)
        return
    result = {
        "verdict": "genuine",
        "ok": True,
        "reason": f"genuine label of seal {verified.seal_id}",
        "code": "label.genuine",
        "id": verified.seal_id,
        "subject": f"seal:{verified.seal_id}",
        "label_key": verified.key,
        "base_url": verified.payload.base_url,
        "repaired": verified.repaired,
    }
    if json_out:
        emit_json(result)
        return
    typer.echo(f"{result['reason']} (offline: signature checked, ledger state not consulted)")
    typer.echo(f"  label key: {verified.key}")
