"""``custody`` imports only what the command it runs needs, and still has every command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import typer.main

from app.cli import COMMAND_MODULES, build_cli


def _tree(group: Any) -> dict[str, object]:
    """Command names, recursively (a leaf maps to None)."""
    # typer vendors its own click: a group is whatever has sub-commands.
    commands = getattr(group, "commands", None)
    if not commands:
        return {}
    return {name: _tree(command) or None for name, command in commands.items()}


def test_the_table_names_every_command_of_the_full_cli() -> None:
    full = _tree(typer.main.get_command(build_cli()))
    assert set(full) == set(COMMAND_MODULES)


def test_each_command_built_alone_is_the_same_as_in_the_full_cli() -> None:
    full = _tree(typer.main.get_command(build_cli()))
    for name in COMMAND_MODULES:
        alone = _tree(typer.main.get_command(build_cli([name, "--help"])))
        assert alone.get(name) == full[name], name
        assert name in alone


def test_a_short_command_does_not_import_pdf_rendering_or_the_web_stack() -> None:
    probe = (
        "import sys; from app.cli import build_cli; build_cli(['status']); "
        "print(sorted(m for m in ('reportlab', 'qrcode', 'fastapi', 'jinja2') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
