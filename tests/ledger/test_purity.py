"""``ledger`` is the pure core: stdlib, ``cryptography`` and ``rfc8785`` only, no I/O.

Two independent checks: the AST of every module (what the code says it
imports and calls), and a fresh interpreter per module (what importing it
actually loads).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ledger

ROOT = Path(ledger.__file__).resolve().parent
PROJECT = ROOT.parent
MODULE_FILES = sorted(ROOT.rglob("*.py"))

ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}
FRAMEWORKS = {
    "fastapi",
    "sqlmodel",
    "sqlalchemy",
    "reportlab",
    "qrcode",
    "app",
    "labels",
    "starlette",
    "pydantic",
    "typer",
    "psycopg",
    "uvicorn",
    "alembic",
    "structlog",
    "rich",
}
# Modules whose only purpose in this code base would be I/O, a clock or a
# random source; the core takes bytes, times and entropy as parameters.
IO_MODULES = {
    "socket",
    "ssl",
    "selectors",
    "subprocess",
    "requests",
    "httpx",
    "http",
    "urllib",
    "ftplib",
    "smtplib",
    "sqlite3",
    "asyncio",
    "multiprocessing",
    "os",
    "io",
    "pathlib",
    "shutil",
    "tempfile",
    "glob",
    "time",
    "random",
    "secrets",
    "uuid",
}
FILE_CALLS = {
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "urandom",
    "now",
    "utcnow",
    "today",
}
DYNAMIC_IMPORTS = {"__import__", "import_module"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _calls(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        if name is not None:
            found.append((node.lineno, name))
    return found


def test_every_module_is_found() -> None:
    names = {_module_name(path) for path in MODULE_FILES}
    assert {
        "ledger",
        "ledger.merkle",
        "ledger.note",
        "ledger.verify",
        "ledger.state",
        "ledger.trust",
    } <= names
    assert len(names) >= 17


@pytest.mark.parametrize("path", MODULE_FILES, ids=[_module_name(p) for p in MODULE_FILES])
def test_imports_are_stdlib_cryptography_or_rfc8785(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for line, module in _imports(tree):
        top = module.split(".")[0]
        if top in FRAMEWORKS:
            problems.append(f"{path.name}:{line} imports the framework/edge package {module}")
        elif top in IO_MODULES:
            problems.append(f"{path.name}:{line} imports the I/O module {module}")
        elif top == "ledger" or top in ALLOWED_THIRD_PARTY:
            continue
        elif top not in sys.stdlib_module_names:
            problems.append(f"{path.name}:{line} imports the third-party package {module}")
    assert problems == []


@pytest.mark.parametrize("path", MODULE_FILES, ids=[_module_name(p) for p in MODULE_FILES])
def test_no_file_access_clock_or_dynamic_import(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = [
        f"{path.name}:{line} calls {name}(...)"
        for line, name in _calls(tree)
        if name in FILE_CALLS or name in DYNAMIC_IMPORTS
    ]
    assert problems == []


def test_the_ast_checks_catch_what_they_are_for() -> None:
    sample = ast.parse(
        "import socket\nfrom sqlalchemy import select\nfrom . import merkle\n"
        "import cryptography.x509\nopen('f').read()\nPath('x').read_text()\ndatetime.now()\n"
    )
    assert [m for _, m in _imports(sample)] == ["socket", "sqlalchemy", "cryptography.x509"]
    assert {name for _, name in _calls(sample)} >= {"open", "read_text", "now"}


# --------------------------------------------------------------------------
# What importing each module really loads.

FORBIDDEN_LOADED = FRAMEWORKS | {
    "socket",
    "ssl",
    "subprocess",
    "requests",
    "httpx",
    "http",
    "sqlite3",
    "asyncio",
}
# ``urllib.parse`` is loaded by the standard library's own ``pathlib``, which
# ``cryptography`` imports; it is string handling. ``urllib.request`` is I/O.
FORBIDDEN_LOADED_EXACT = {"urllib.request"}

_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def modules_loaded_by(module: str) -> list[str]:
    """Every module importing ``module`` loads, in a fresh isolated interpreter."""
    result = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE, module],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(PROJECT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    loaded: list[str] = json.loads(result.stdout)
    assert module in loaded
    return loaded


@pytest.mark.parametrize("module", sorted({_module_name(p) for p in MODULE_FILES}))
def test_importing_loads_no_forbidden_package(module: str) -> None:
    loaded = modules_loaded_by(module)
    bad = sorted(
        name for name in loaded if name.split(".")[0] in FORBIDDEN_LOADED or name in FORBIDDEN_LOADED_EXACT
    )
    assert bad == []
