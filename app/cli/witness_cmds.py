"""``custody witness …`` (a third party's witness) and ``custody log cosign`` (the ledger's side).

Protocol: C2SP tlog-witness / tlog-cosignature v1, see ``docs/format.md`` §11.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from app.cli import log as log_cli
from app.cli.common import (
    EXIT_ENVIRONMENT,
    EXIT_FAILED,
    DbOption,
    JsonOption,
    emit_json,
    existing_context,
    handles_errors,
)
from app.keyfiles import resolve_passphrase
from app.services.cosign import request_cosignatures
from app.services.witness import (
    PASSPHRASE_ENV,
    Witness,
    init_witness,
    load_witness_key,
    make_server,
    parse_log_vkeys,
)
from app.settings import load_settings
from ledger.encoding import b64decode
from ledger.errors import InvalidInput
from ledger.merkle import HASH_SIZE
from ledger.witness import AddCheckpoint

app = typer.Typer(
    help="Run a witness: cosign a log's checkpoints only after checking consistency (C2SP tlog-witness).",
    no_args_is_help=True,
)

DEFAULT_KEY_DIR = Path("var") / "witness"
WitnessKeyDir = Annotated[
    Path,
    typer.Option("--key-dir", help="Directory of the witness key (witness-key.pem, witness.vkey)."),
]
LogVkeys = Annotated[
    list[str],
    typer.Option("--log-vkey", help="Verifier key of a log to witness (repeatable); its name is the origin."),
]
StateOption = Annotated[
    Path, typer.Option("--state", help="Witness state file (JSON): the latest cosigned size per log.")
]


def register(cli: typer.Typer) -> None:
    cli.add_typer(app, name="witness")
    log_cli.app.command("cosign")(log_cosign)


def _witness_passphrase() -> str | None:
    secret = load_settings().witness_key_passphrase
    return secret.get_secret_value() if secret else None


@app.command("init")
@handles_errors
def init(
    name: Annotated[str, typer.Option("--name", help="Witness key name, e.g. witness.example.org/w1.")],
    key_dir: WitnessKeyDir = DEFAULT_KEY_DIR,
    json_out: JsonOption = False,
) -> None:
    """Create the witness key (encrypted, 0600) and print its vkey (type 0x04) for the log operator.

    The passphrase comes from CUSTODY_WITNESS_KEY_PASSPHRASE or a prompt at a terminal.
    """
    passphrase = resolve_passphrase(_witness_passphrase(), "witness key", PASSPHRASE_ENV, confirm=True)
    result = init_witness(name, key_dir, passphrase, os.urandom(32))
    if json_out:
        emit_json({"vkey": result.vkey, "key_file": str(result.key_file), "vkey_file": str(result.vkey_file)})
        return
    typer.echo(result.vkey)
    typer.echo(f"(witness key {result.key_file}; vkey also in {result.vkey_file})", err=True)


@app.command("serve")
@handles_errors
def serve(
    log_vkey: LogVkeys,
    state: StateOption,
    key_dir: WitnessKeyDir = DEFAULT_KEY_DIR,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port).")] = 8100,
) -> None:
    """Serve POST /add-checkpoint (tlog-witness). State is fsynced before every answer."""
    logs = parse_log_vkeys(log_vkey)
    key = load_witness_key(key_dir, _witness_passphrase())
    with Witness(key, logs, state) as witness:
        try:
            server = make_server(witness, host, port)
        except OSError as exc:
            typer.echo(
                f"error: cannot listen on {host}:{port}: {exc.strerror} [operational.listen]", err=True
            )
            raise typer.Exit(EXIT_ENVIRONMENT) from None
        bound_host, bound_port = server.server_address[:2]

        def stop(_signum: int, _frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        origins = ", ".join(k.name for k in logs)
        typer.echo(
            f"witness {key.vkey()} listening on http://{bound_host!s}:{bound_port}/ "
            f"(POST /add-checkpoint) for {origins}; state {state}",
            err=True,
        )
        sys.stderr.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("witness stopped", err=True)
        finally:
            server.server_close()


def _read_proof(path: Path | None, old: int) -> tuple[bytes, ...]:
    """A proof file: the JSON of `custody log proof consistency`, or base64 lines (tlog-witness)."""
    if path is None:
        return ()
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read proof file {path}: {exc}") from None
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
            hashes = [bytes.fromhex(h) for h in data["proof"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"proof file {path} is not a consistency proof JSON: {exc}") from None
        if data.get("old_size", old) != old:
            raise InvalidInput(f"proof file {path} is a proof from size {data['old_size']}, not from {old}")
    else:
        hashes = [b64decode(line.strip(), f"proof file {path}") for line in text.splitlines() if line.strip()]
    if any(len(h) != HASH_SIZE for h in hashes):
        raise InvalidInput(f"proof file {path}: every element must be a {HASH_SIZE}-byte hash")
    return tuple(hashes)


@app.command("cosign")
@handles_errors
def cosign(
    log_vkey: LogVkeys,
    state: StateOption,
    checkpoint: Annotated[Path, typer.Option("--checkpoint", help="The signed checkpoint note to cosign.")],
    old: Annotated[int, typer.Option("--old", min=0, help="The size this witness last cosigned (0: never).")],
    proof: Annotated[
        Path | None,
        typer.Option(
            "--proof",
            help="Consistency proof from --old: JSON of `custody log proof consistency` or base64 lines.",
        ),
    ] = None,
    key_dir: WitnessKeyDir = DEFAULT_KEY_DIR,
) -> None:
    """One-shot, offline add-checkpoint: same checks and state as `witness serve`.

    Prints the cosignature line(s) to append to the note. Exit 1 if the checkpoint is refused
    as inconsistent (fork, rollback, bad proof, bad signature), 2 for a stale --old (the
    message names the size this witness last cosigned) or unusable input.
    """
    logs = parse_log_vkeys(log_vkey)
    key = load_witness_key(key_dir, _witness_passphrase())
    try:
        note = checkpoint.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read checkpoint {checkpoint}: {exc.strerror}") from None
    request = AddCheckpoint(old, _read_proof(proof, old), note)
    with Witness(key, logs, state) as witness:
        decision = witness.cosign(request)
    sys.stdout.write(decision.lines)
    typer.echo(
        f"cosigned {decision.checkpoint.origin} at size {decision.checkpoint.size} (state {state})", err=True
    )


# --------------------------------------------------------------------------
# The ledger's side: `custody log cosign`


def log_cosign(
    db: DbOption = None,
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", help="<vkey>@<URL> of a witness (repeatable; default: CUSTODY_WITNESSES)."),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for each witness.")] = 10.0,
    json_out: JsonOption = False,
) -> None:
    """Ask every witness to cosign the latest checkpoint; store and serve the cosignatures.

    Run it after appends (e.g. from cron). Exit 0 if every witness cosigned (or already had),
    1 if a witness refused (it found the log inconsistent, or answered nonsense), 3 if one was
    unreachable.
    """
    ctx = existing_context(db)
    outcomes = request_cosignatures(ctx, witness, timeout=timeout)
    rows: list[dict[str, Any]] = [o.as_dict() for o in outcomes]
    if json_out:
        emit_json({"size": outcomes[0].size if outcomes else None, "witnesses": rows})
    else:
        for o in outcomes:
            typer.echo(f"{o.status:<11} {o.witness}  size {o.size} (old {o.old_size}): {o.message}")
    refused = [o for o in outcomes if o.status == "refused"]
    unreachable = [o for o in outcomes if o.status == "unreachable"]
    if refused:
        first = refused[0]
        typer.echo(
            f"error: witness {first.witness} refused to cosign size {first.size}: {first.message} "
            f"({len(refused)} of {len(outcomes)} refused) [witness.refused]",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED)
    if unreachable:
        first = unreachable[0]
        typer.echo(
            f"error: {first.message} ({len(unreachable)} of {len(outcomes)} witnesses unreachable) "
            "[operational.unreachable]",
            err=True,
        )
        raise typer.Exit(EXIT_ENVIRONMENT)
