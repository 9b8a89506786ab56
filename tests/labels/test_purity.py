"""``labels`` renders values to bytes: stdlib, ``ledger``, ``reportlab`` and ``qrcode`` only.

It never imports the application (``app``), a database or a web framework,
reads no files, no clock and no randomness: the same input gives the same
bytes. Checked twice, like ``ledger`` (tests/ledger/test_purity.py): on the
AST of every module, and in a fresh interpreter per module (what importing
it actually loads).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import labels
from tests.ledger.test_purity import _calls, _imports, modules_loaded_by

ROOT = Path(labels.__file__).resolve().parent
PROJECT = ROOT.parent
MODULE_FILES = sorted(ROOT.rglob("*.py"))

ALLOWED_THIRD_PARTY = {"reportlab", "qrcode"}
EDGES = {
    "app", "fastapi", "starlette", "sqlmodel", "sqlalchemy", "alembic", "psycopg", "pydantic",
    "pydantic_settings", "typer", "click", "uvicorn", "structlog", "rich", "httpx", "requests",
}  # fmt: skip
#: The standard library a renderer has no business with: I/O, processes, clocks, randomness.
IO_MODULES = {
    "socket", "ssl", "selectors", "subprocess", "http", "urllib", "ftplib", "smtplib", "sqlite3",
    "asyncio", "multiprocessing", "os", "pathlib", "shutil", "tempfile", "glob", "time", "datetime",
    "random", "secrets", "uuid",
}  # fmt: skip
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


def _name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_module_is_found() -> None:
    names = {_name(p) for p in MODULE_FILES}
    assert {
        "labels", "labels.payload", "labels.qr", "labels.layouts", "labels.pdf", "labels.zpl",
        "labels.delivery_note",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", MODULE_FILES, ids=[_name(p) for p in MODULE_FILES])
def test_imports_are_stdlib_ledger_reportlab_or_qrcode(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems = []
    for line, module in _imports(tree):
        top = module.split(".")[0]
        if top in EDGES:
            problems.append(f"{path.name}:{line} imports the edge package {module}")
        elif top in IO_MODULES:
            problems.append(f"{path.name}:{line} imports the I/O module {module}")
        elif top in {"labels", "ledger"} | ALLOWED_THIRD_PARTY:
            continue
        elif top not in sys.stdlib_module_names:
            problems.append(f"{path.name}:{line} imports the third-party package {module}")
    assert problems == []


@pytest.mark.parametrize("path", MODULE_FILES, ids=[_name(p) for p in MODULE_FILES])
def test_no_file_access_or_clock(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    assert [f"{path.name}:{line} calls {name}()" for line, name in _calls(tree) if name in FILE_CALLS] == []


def test_the_checks_catch_an_edge_import() -> None:
    sample = ast.parse("from app.services import labels\nimport sqlalchemy\nimport qrcode\nopen('x')\n")
    tops = {m.split(".")[0] for _, m in _imports(sample)}
    assert tops & EDGES == {"app", "sqlalchemy"}
    assert "open" in {name for _, name in _calls(sample)}


FORBIDDEN_LOADED = EDGES | {"socket", "ssl", "subprocess", "http", "sqlite3", "asyncio", "multiprocessing"}


@pytest.mark.parametrize("module", sorted({_name(p) for p in MODULE_FILES}))
def test_importing_loads_no_application_database_or_network(module: str) -> None:
    loaded = modules_loaded_by(module)
    assert sorted(n for n in loaded if n.split(".")[0] in FORBIDDEN_LOADED) == []
