"""``custody hsm …`` — the log key on a PKCS#11 token (an HSM; docs/deploy.md §4).

Every command takes the token from the settings: ``CUSTODY_HSM_MODULE``,
``CUSTODY_HSM_TOKEN_LABEL``, ``CUSTODY_HSM_KEY_LABEL`` and the user PIN
``CUSTODY_HSM_PIN`` (or a prompt at a terminal).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer

from app import hsm
from app.cli.common import JsonOption, emit_json
from app.keyfiles import log_key_passphrase, read_key_file
from app.settings import Settings, load_settings
from ledger.errors import UnsupportedAlgorithm
from ledger.ids import check_origin
from ledger.keys import Algorithm
from ledger.note import SIG_ED25519, format_vkey

app = typer.Typer(
    help="The log key in an HSM through PKCS#11 (CUSTODY_HSM_*): generate, import, show.",
    no_args_is_help=True,
)

OriginOption = Annotated[
    str | None,
    typer.Option(
        help="Log origin: the key's name in the printed vkey; default $CUSTODY_ORIGIN.", show_default=False
    ),
]


def _settings(origin: str | None) -> tuple[Settings, str]:
    """The settings, and the origin checked before anything touches the token."""
    settings = load_settings(origin=origin)
    return settings, check_origin(settings.origin)


def _report(origin: str, key: hsm.HsmSigningKey, json_out: bool, done: str) -> None:
    raw = key.public_key.raw_ed25519
    vkey = format_vkey(origin, SIG_ED25519, raw)
    attributes = key.attributes()
    if json_out:
        emit_json(
            {
                "vkey": vkey,
                "origin": origin,
                "uri": key.config.uri,
                "module": str(key.config.module),
                "public_key": base64.b64encode(raw).decode("ascii"),
                "keyid": key.keyid,
                **key.identity(),
                **attributes,
            }
        )
        return
    typer.echo(vkey)
    protection = [
        "sensitive" if attributes["sensitive"] else "NOT sensitive",
        "not extractable" if attributes["extractable"] is False else "EXTRACTABLE",
    ]
    if attributes["local"] is False:
        protection.append("imported (not generated on the token)")
    typer.echo(f"{done} Ed25519 log key {key.config.uri} ({', '.join(protection)})", err=True)


@app.command("generate")
def generate(origin: OriginOption = None, json_out: JsonOption = False) -> None:
    """Generate the log key pair on the token: Ed25519, sensitive, never extractable.

    Refuses if the token already has an object with the key label. Prints the vkey to
    publish (named after the origin); then run `custody init` with the same settings.
    The private key cannot leave the token: back it up with the HSM's own means.
    """
    settings, name = _settings(origin)
    try:
        key = hsm.generate_key(hsm.config_from_settings(settings))
        _report(name, key, json_out, "generated")
    finally:
        hsm.close_sessions()


@app.command("import")
def import_key(
    key_file: Annotated[
        Path | None,
        typer.Option(
            help="The encrypted PEM log key to put on the token; default $CUSTODY_LOG_KEY_FILE "
            "or KEY_DIR/log-key.pem (passphrase $CUSTODY_LOG_KEY_PASSPHRASE or a prompt).",
            show_default=False,
        ),
    ] = None,
    origin: OriginOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move an existing Ed25519 log key from its PEM file onto the token (same vkey).

    For a ledger that already has a PEM log key: its vkey is fixed in genesis, so the HSM
    must hold that very key. It is stored sensitive and non-extractable; the token records
    that it was imported. Afterwards keep the PEM file offline as the backup, or destroy it.
    """
    settings, name = _settings(origin)
    path = key_file or settings.resolved_log_key_file()
    pem_key = read_key_file(path, log_key_passphrase(settings))
    if pem_key.algorithm is not Algorithm.ED25519:
        raise UnsupportedAlgorithm(f"{path} holds a {pem_key.algorithm.value} key; the log key is Ed25519")
    try:
        key = hsm.import_key(hsm.config_from_settings(settings), pem_key.raw_ed25519_seed())
        _report(name, key, json_out, "imported")
    finally:
        hsm.close_sessions()


@app.command("show")
def show(origin: OriginOption = None, json_out: JsonOption = False) -> None:
    """Open the configured key (with its sign-and-verify self-test) and print its vkey."""
    settings, name = _settings(origin)
    try:
        _report(name, hsm.open_log_key(settings), json_out, "found")
    finally:
        hsm.close_sessions()
