"""The ``custody`` console script against real ledgers.

Commands run through the script's entry point, ``app.cli:main``, in this
process (tests/cli_runner.py: stdin empty, passphrases in the command's own
environment, the working directory a temporary one so that no ``.env`` or
``./var`` of the checkout is touched); ``test_the_installed_script_*`` start
``.venv/bin/custody`` as real processes. All against a real SQLite file, and
the init/append/verify/proof path also against a real PostgreSQL database. Nothing is mocked.

The exit-code contract (app/cli/common.py): 0 ok; 1 verification failed or a
rule/authorisation refused; 2 usage or input error; 3 environment failure;
4 internal error. Every error is one line ``error: <message> [<code>]`` on
stderr; click's own usage errors may print a usage block but exit 2 and never
a traceback. A refused command appends nothing: the size reported by
``custody status --json`` is unchanged.

Read-only tests share one initialised ledger (module scope); a test that
writes works on a copy of its directory (database and key files).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest

from ledger.checkpoint import open_checkpoint
from ledger.keys import PublicKey
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion
from ledger.note import parse_vkey
from tests.cli_run import clean_env
from tests.cli_runner import run_in_process
from tests.helpers import ADMIN, KEY_PASSPHRASE, LOG_PASSPHRASE, ORIGIN

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():  # an install elsewhere: the script next to this interpreter
    CUSTODY = Path(sys.executable).with_name("custody")

#: The PostgreSQL server the Makefile points the suite at (used when the variable is unset).
DEFAULT_PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

#: Processes run side by side by the read-only tests.
POOL = max(2, min(4, os.cpu_count() or 2))

ERROR_LINE = re.compile(r"error: \S.* \[[a-z0-9_.]+\]")
HEX64 = re.compile(r"[0-9a-f]{64}")
INIT_KEYS = {"admin", "admin_key_file", "created", "log_key", "log_key_file", "origin", "size", "vkey"}
STATUS_KEYS = {"initialised", "schema", "origin", "vkey", "size", "checkpoint", "parties", "keys"}
#: `custody verify --json` carries at least these.
VERIFY_KEYS = {"valid", "size", "root", "checkpoint_size", "checkpoints_checked", "findings", "warnings"}
INCLUSION_KEYS = {"index", "size", "leaf_hash", "root", "proof"}
CONSISTENCY_KEYS = {"old_size", "old_root", "new_size", "new_root", "proof"}
APPEND_KEYS = {"index", "leaf_hash", "size"}


# --------------------------------------------------------------------------
# Running the script


def cli_env(**overrides: str | None) -> dict[str, str]:
    """The caller's environment without any CUSTODY_* setting, plus the test passphrases.

    An override of None removes the variable.
    """
    settings: dict[str, str | None] = {
        "CUSTODY_LOG_KEY_PASSPHRASE": LOG_PASSPHRASE,
        "CUSTODY_KEY_PASSPHRASE": KEY_PASSPHRASE,
    }
    return clean_env(**{**settings, **overrides})


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    code: int
    stdout: bytes
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8")

    def json(self) -> Any:
        """The last non-empty stdout line, parsed."""
        lines = [line for line in self.out.splitlines() if line.strip()]
        assert lines, f"no output from custody {' '.join(self.args)}"
        return json.loads(lines[-1])

    def __str__(self) -> str:
        return (
            f"custody {' '.join(self.args)} -> exit {self.code}\n"
            f"stdout: {self.stdout[:2000]!r}\nstderr: {self.stderr[:2000]}"
        )


def custody(*args: object, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """``custody ARGS`` through the script's entry point, in this process (tests/cli_runner.py)."""
    argv = tuple(str(a) for a in args)
    code, stdout, stderr = run_in_process(argv, cwd=cwd, env=env if env is not None else cli_env())
    return Run(argv, code, stdout, stderr.decode("utf-8", "replace"))


def custody_process(*args: object, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """``custody ARGS`` as a new process of the installed script."""
    argv = tuple(str(a) for a in args)
    proc = subprocess.run(
        [str(CUSTODY), *argv],
        cwd=cwd,
        env=env if env is not None else cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=180,
        check=False,
    )
    return Run(argv, proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


def command_line(template: str, **values: str) -> list[str]:
    """Split a shell-quoted command line, then fill in ``{name}`` placeholders (paths may hold spaces)."""

    def fill(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return [re.sub(r"\{([a-z_+0-9]+)\}", fill, arg) for arg in shlex.split(template)]


def ok(run: Run) -> Run:
    assert run.code == 0, str(run)
    assert "Traceback" not in run.stderr, str(run)
    assert "error:" not in run.stderr, str(run)
    return run


def assert_error(run: Run, code: int, *fragments: str) -> str:
    """Exactly one stderr line ``error: <message> [<code>]``, the exit code, no traceback."""
    assert run.code == code, str(run)
    lines = run.stderr.splitlines()
    assert len(lines) == 1, str(run)
    assert ERROR_LINE.fullmatch(lines[0]), str(run)
    for fragment in fragments:
        assert fragment in lines[0], str(run)
    return lines[0]


def assert_usage_error(run: Run) -> None:
    """click's own usage errors: exit 2, something said, no traceback."""
    assert run.code == 2, str(run)
    assert "Traceback" not in run.stderr, str(run)
    assert b"Traceback" not in run.stdout, str(run)
    assert run.stderr.strip() or run.stdout.strip(), str(run)


def side_by_side(*calls: Callable[[], Run]) -> list[Run]:
    """Run independent invocations concurrently; results in the order given."""
    with ThreadPoolExecutor(max_workers=POOL) as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --------------------------------------------------------------------------
# Ledgers


@dataclass
class CliLedger:
    root: Path  # working directory; holds l.db and keys/ for SQLite ledgers
    url: str
    key_dir: Path

    def run(self, *args: object, env: dict[str, str] | None = None) -> Run:
        return custody(*args, cwd=self.root, env=env)

    def sh(self, command: str, env: dict[str, str] | None = None) -> Run:
        """Run a shell-quoted command line; {db} and {keys} are this ledger's URL and key dir."""
        return self.run(*command_line(command, db=self.url, keys=str(self.key_dir)), env=env)

    def status(self) -> dict[str, Any]:
        data = ok(self.run("status", "--db", self.url, "--json")).json()
        assert isinstance(data, dict)
        return data

    def size(self) -> int:
        return int(self.status()["size"])

    def concurrently(self, *commands: str) -> list[Run]:
        """Run independent command lines side by side (each process is mostly start-up time)."""
        return side_by_side(*(partial(self.sh, command) for command in commands))


@dataclass
class BaseLedger(CliLedger):
    size_: int
    vkey: str
    wh_keyid: str

    @property
    def db_file(self) -> Path:
        return self.root / "l.db"


def sqlite_ledger(root: Path) -> CliLedger:
    root.mkdir(parents=True, exist_ok=True)
    return CliLedger(root, f"sqlite:///{root}/l.db", root / "keys")


def stored_entries_sqlite(db_file: Path) -> list[bytes]:
    with sqlite3.connect(db_file) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT raw FROM entries ORDER BY idx")]


def stored_checkpoints_sqlite(db_file: Path) -> dict[int, str]:
    with sqlite3.connect(db_file) as conn:
        return {int(s): str(n) for s, n in conn.execute("SELECT size, note FROM checkpoints ORDER BY size")}


def checkpoint_roots(notes: dict[int, str], vkey: str) -> dict[int, bytes]:
    """Every stored checkpoint, opened (signature checked) against the log's verifier key."""
    verifier = parse_vkey(vkey)
    roots = {}
    for size, note in notes.items():
        checkpoint = open_checkpoint(note.encode("utf-8"), verifier).checkpoint
        assert checkpoint.size == size
        roots[size] = checkpoint.root
    return roots


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> BaseLedger:
    """An initialised SQLite ledger built with the CLI; tests must not write to it."""
    led = sqlite_ledger(tmp_path_factory.mktemp("cli-base"))
    init, new_key = led.concurrently(  # a ledger and, independently, a key file
        f"init --db {{db}} --origin {ORIGIN} --json", "key new --party WH-ESSEN-01 --key-dir {keys} --json"
    )
    vkey, keyid = ok(init).json()["vkey"], ok(new_key).json()["keyid"]
    ok(led.sh(f"party add WH-ESSEN-01 --name 'Warehouse Essen' --role warehouse --as {ADMIN} --db {{db}}"))
    ok(led.sh(f"key add --party WH-ESSEN-01 --public {{keys}}/WH-ESSEN-01.pub.pem --as {ADMIN} --db {{db}}"))
    roles = "--role carrier --role auditor"
    ok(led.sh(f"party add CARRIER-01 --name 'Carrier One' {roles} --as {ADMIN} --db {{db}}"))
    ok(led.sh(f"party add CARRIER-02 --name 'Carrier Two' --role carrier --as {ADMIN} --db {{db}}"))
    return BaseLedger(led.root, led.url, led.key_dir, 5, vkey, keyid)


@pytest.fixture
def ledger(base: BaseLedger, tmp_path: Path) -> BaseLedger:
    """A private copy of the shared ledger (database and key files) for a test that writes."""
    root = tmp_path / "ledger"
    shutil.copytree(base.root, root)
    return BaseLedger(root, f"sqlite:///{root}/l.db", root / "keys", base.size_, base.vkey, base.wh_keyid)


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh PostgreSQL database (conftest's pg_url), on the documented server by default."""
    if not os.environ.get("CUSTODY_TEST_DATABASE_URL"):
        monkeypatch.setenv("CUSTODY_TEST_DATABASE_URL", DEFAULT_PG_ADMIN_URL)
    return str(request.getfixturevalue("pg_url"))


# --------------------------------------------------------------------------
# Help


def test_help_mentions_every_exit_code(tmp_path: Path) -> None:
    run = ok(custody("--help", cwd=tmp_path))
    text = " ".join(run.out.split())
    assert "Exit codes:" in text
    for fragment in (
        "0 ok",
        "1 verification failed",
        "2 usage or input error",
        "3 environment failure",
        "4 internal error",
    ):
        assert fragment in text
    for command in ("init", "status", "verify", "log", "party", "key", "role", "bench"):
        assert re.search(rf"\b{command}\b", text)


# --------------------------------------------------------------------------
# init


def test_init_creates_private_keys_and_is_idempotent(tmp_path: Path) -> None:
    led = sqlite_ledger(tmp_path / "led")
    first = ok(led.sh(f"init --db {{db}} --origin {ORIGIN}"))
    log_key, admin_key = led.key_dir / "log-key.pem", led.key_dir / f"{ADMIN}.pem"
    lines = first.out.splitlines()
    assert lines[0] == f"ledger {ORIGIN}: created, 1 entries"
    assert f"log key (checkpoint signing): {log_key}" in lines
    assert f"administrator {ADMIN} key:  {admin_key}" in lines
    vkey_line = next(line for line in lines if line.startswith("verifier key: "))
    vkey = vkey_line.removeprefix("verifier key: ")
    assert parse_vkey(vkey).name == ORIGIN
    for key_file in (log_key, admin_key):
        assert mode_of(key_file) == 0o600, key_file
        assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    assert mode_of(led.key_dir) & 0o077 == 0
    key_bytes = {p: p.read_bytes() for p in (log_key, admin_key)}

    second = ok(led.sh("init --db {db}"))
    assert second.out.splitlines()[0] == f"ledger {ORIGIN}: already initialised, 1 entries"
    assert f"log key (checkpoint signing): {log_key}" in second.out.splitlines()
    assert vkey_line in second.out.splitlines()

    again = ok(led.sh(f"init --db {{db}} --origin {ORIGIN} --json")).json()
    assert set(again) == INIT_KEYS
    assert again == {
        "created": False,
        "size": 1,
        "origin": ORIGIN,
        "admin": ADMIN,
        "log_key": str(log_key),
        "log_key_file": str(log_key),
        "admin_key_file": str(admin_key),
        "vkey": vkey,
    }

    other = led.sh("init --db {db} --origin elsewhere.example/ledger")
    assert_error(other, 2, ORIGIN, "elsewhere.example/ledger")
    assert {p: p.read_bytes() for p in (log_key, admin_key)} == key_bytes
    assert sorted(p.name for p in led.key_dir.iterdir()) == sorted(["log-key.pem", f"{ADMIN}.pem"])
    assert led.size() == 1


def test_init_json_with_own_admin_and_key_dir(tmp_path: Path) -> None:
    led = sqlite_ledger(tmp_path / "led")
    key_dir = tmp_path / "custom-keys"
    data = ok(
        led.sh(
            f"init --db {{db}} --key-dir {key_dir} --origin kcl.example.org/ledger "
            "--admin BOSS-01 --admin-name 'Leitstelle Nord' --json"
        )
    ).json()
    assert set(data) == INIT_KEYS
    assert (data["created"], data["size"], data["admin"]) == (True, 1, "BOSS-01")
    assert data["origin"] == "kcl.example.org/ledger"
    assert data["admin_key_file"] == str(key_dir / "BOSS-01.pem")
    assert data["log_key_file"] == data["log_key"] == str(key_dir / "log-key.pem")
    assert mode_of(key_dir / "BOSS-01.pem") == 0o600
    assert mode_of(key_dir / "log-key.pem") == 0o600
    assert not led.key_dir.exists()  # the explicit key dir was used, not the default
    assert parse_vkey(data["vkey"]).name == "kcl.example.org/ledger"
    listing, verify = led.concurrently("party list --db {db} --json", "verify --db {db} --workers 1")
    assert [(p["party"], p["name"], p["roles"], len(p["keys"])) for p in ok(listing).json()] == [
        ("party:BOSS-01", "Leitstelle Nord", ["admin"], 1)
    ]
    ok(verify)


def test_init_refuses_bad_input_before_creating_keys(tmp_path: Path) -> None:
    ledgers = [sqlite_ledger(tmp_path / name) for name in ("origin", "admin", "secret")]
    no_secrets = cli_env(CUSTODY_LOG_KEY_PASSPHRASE=None, CUSTODY_KEY_PASSPHRASE=None)
    origin, admin, secret = side_by_side(  # three databases: side by side
        partial(ledgers[0].sh, "init --db {db} --origin 'has a space'"),
        partial(ledgers[1].sh, "init --db {db} --admin 'not an id'"),
        partial(ledgers[2].sh, "init --db {db}", env=no_secrets),
    )
    assert_error(origin, 2, "origin")
    assert_error(admin, 2, "party id")
    assert_error(secret, 2, "CUSTODY_LOG_KEY_PASSPHRASE")
    for led in ledgers:
        assert not led.key_dir.exists() or not any(led.key_dir.iterdir())
    as_json, as_text = ledgers[2].concurrently("status --db {db} --json", "status --db {db}")
    assert ok(as_json).json()["initialised"] is False
    assert ok(as_text).out.strip() == "ledger: not initialised (run `custody init`)"


# --------------------------------------------------------------------------
# status and verify


def test_status_text_and_json(base: BaseLedger) -> None:
    as_json, as_text = base.concurrently("status --db {db} --json", "status --db {db}")
    data = ok(as_json).json()
    assert set(data) == STATUS_KEYS
    assert data["initialised"] is True
    assert (data["origin"], data["size"], data["parties"], data["keys"]) == (ORIGIN, base.size_, 4, 2)
    assert data["checkpoint"]["size"] == base.size_
    assert HEX64.fullmatch(data["checkpoint"]["root"])
    assert data["schema"]
    assert data["vkey"] == base.vkey
    assert ok(as_text).out.splitlines() == [
        f"origin:     {ORIGIN}",
        f"entries:    {base.size_}",
        f"checkpoint: size {base.size_}, root {data['checkpoint']['root']}",
        "parties:    4 (2 active keys)",
        f"vkey:       {data['vkey']}",
        f"schema:     {data['schema']}",
    ]


def test_verify_valid_ledger_text_json_and_pinned_vkey(base: BaseLedger) -> None:
    status, as_json, as_text, pinned = base.concurrently(
        "status --db {db} --json",
        "verify --db {db} --json --workers 1",
        "verify --db {db}",
        f"verify --db {{db}} --vkey {base.vkey} --workers 1 --json",
    )
    report = ok(as_json).json()
    assert set(report) >= VERIFY_KEYS
    assert report["valid"] is True
    assert report["size"] == base.size_
    assert report["root"] == ok(status).json()["checkpoint"]["root"]
    assert report["checkpoint_size"] == base.size_
    assert report["checkpoints_checked"] == base.size_  # one checkpoint per append
    assert report["findings"] == []
    assert report["warnings"] == []
    last = ok(as_text).out.splitlines()[-1]
    assert last.startswith(f"valid; {base.size_} entries, {base.size_} checkpoints")
    assert last.endswith(f"root {report['root']}")
    assert ok(pinned).json()["valid"] is True


def test_verify_against_another_logs_vkey_fails(base: BaseLedger, tmp_path: Path) -> None:
    other = sqlite_ledger(tmp_path / "other")
    foreign_vkey = ok(other.sh(f"init --db {{db}} --origin {ORIGIN} --json")).json()["vkey"]
    assert foreign_vkey != base.vkey
    run = base.sh(f"verify --db {{db}} --vkey {foreign_vkey} --json --workers 1")
    assert_error(run, 1, "[verify.failed]")
    assert run.json()["valid"] is False
    assert "checkpoint.signature" in {f["code"] for f in run.json()["findings"]}


def test_verify_missing_ledger_is_input_error_and_creates_nothing(tmp_path: Path) -> None:
    led = sqlite_ledger(tmp_path)
    target = tmp_path / "absent-dir" / "l.db"
    in_dir, plain = led.concurrently(f"verify --db sqlite:///{target}", "verify --db {db}")
    assert_error(in_dir, 2, str(target))
    assert_error(plain, 2, str(tmp_path / "l.db"))
    assert not target.parent.exists()
    assert not (tmp_path / "l.db").exists()


def test_verify_tampered_ledger_fails_with_findings(ledger: BaseLedger) -> None:
    with sqlite3.connect(ledger.root / "l.db") as conn:  # INSERT is not blocked by the triggers
        conn.execute("INSERT INTO tree_nodes (level, idx, hash) VALUES (1, 100, ?)", (b"\x00" * 32,))
    as_json, as_text = ledger.concurrently("verify --db {db} --json --workers 1", "verify --db {db}")
    assert_error(as_json, 1, "verification failed", "[verify.failed]")
    report = as_json.json()
    assert report["valid"] is False
    assert "tree_node.extra" in {f["code"] for f in report["findings"]}
    assert_error(as_text, 1, "[verify.failed]")
    lines = as_text.out.splitlines()
    assert any(line.startswith("FAIL index") and "tree_node.extra" in line for line in lines)
    assert lines[-1].startswith("INVALID: 1 finding(s)")


# --------------------------------------------------------------------------
# log: vkey, checkpoints, entries, proofs


def test_log_vkey_and_checkpoints(base: BaseLedger) -> None:
    stored = stored_checkpoints_sqlite(base.db_file)
    assert sorted(stored) == list(range(1, base.size_ + 1))
    status, vkey, latest, first, fourth, missing = base.concurrently(
        "status --db {db} --json",
        "log vkey --db {db}",
        "log checkpoint --db {db}",
        "log checkpoint --db {db} --size 1",
        "log checkpoint --db {db} --size 4",
        f"log checkpoint --db {{db}} --size {base.size_ + 3}",
    )
    assert ok(vkey).out == base.vkey + "\n"  # one line
    verifier = parse_vkey(vkey.out.strip())
    assert verifier.name == ORIGIN
    assert ok(latest).out == stored[base.size_]  # exactly as stored
    opened = open_checkpoint(latest.stdout, verifier).checkpoint
    assert (opened.origin, opened.size) == (ORIGIN, base.size_)
    assert opened.root.hex() == ok(status).json()["checkpoint"]["root"]
    for run, size in ((first, 1), (fourth, 4)):
        assert ok(run).out == stored[size]
        assert open_checkpoint(run.stdout, verifier).checkpoint.size == size
    assert_error(missing, 2, f"size {base.size_ + 3}")
    assert missing.stdout == b""


def test_log_entries_are_the_stored_bytes(base: BaseLedger) -> None:
    stored = stored_entries_sqlite(base.db_file)
    assert len(stored) == base.size_
    everything, window, tail, beyond, empty = base.concurrently(
        "log entries --db {db}",
        "log entries --db {db} --start 2 --end 5",
        f"log entries --db {{db}} --start {base.size_ - 1}",
        "log entries --db {db} --start 3 --end 1000",
        "log entries --db {db} --start 4 --end 4",
    )
    assert ok(everything).stdout == b"".join(raw + b"\n" for raw in stored)
    assert [json.loads(line)["index"] for line in everything.stdout.splitlines()] == list(range(base.size_))
    assert ok(window).stdout == b"".join(raw + b"\n" for raw in stored[2:5])
    assert ok(tail).stdout == stored[-1] + b"\n"
    assert ok(beyond).stdout.splitlines() == stored[3:]
    assert ok(empty).stdout == b""


#: (index, tree size) and (old size, new size); None is the latest checkpoint, of size 5.
INCLUSION_CASES = [(0, 1), (0, None), (4, None), (2, 3), (1, 4)]
CONSISTENCY_CASES = [(1, None), (2, 3), (3, None), (5, 5)]


def test_log_proof_inclusion_verifies_against_checkpoints(base: BaseLedger) -> None:
    entries = stored_entries_sqlite(base.db_file)
    roots = checkpoint_roots(stored_checkpoints_sqlite(base.db_file), base.vkey)
    runs = base.concurrently(
        *(
            f"log proof inclusion --db {{db}} --index {index}" + ("" if size is None else f" --size {size}")
            for index, size in INCLUSION_CASES
        )
    )
    for (index, size), run in zip(INCLUSION_CASES, runs, strict=True):
        proof = ok(run).json()
        assert set(proof) == INCLUSION_KEYS
        tree_size = size if size is not None else base.size_
        assert (proof["index"], proof["size"]) == (index, tree_size)
        for value in (proof["leaf_hash"], proof["root"], *proof["proof"]):
            assert HEX64.fullmatch(value), value
        assert proof["leaf_hash"] == hash_leaf(entries[index]).hex()
        assert proof["root"] == roots[tree_size].hex()
        path = [bytes.fromhex(p) for p in proof["proof"]]
        verify_inclusion(bytes.fromhex(proof["leaf_hash"]), index, tree_size, path, roots[tree_size])


def test_log_proof_consistency_verifies_against_checkpoints(base: BaseLedger) -> None:
    roots = checkpoint_roots(stored_checkpoints_sqlite(base.db_file), base.vkey)
    runs = base.concurrently(
        *(
            f"log proof consistency --db {{db}} --old {old}" + ("" if new is None else f" --new {new}")
            for old, new in CONSISTENCY_CASES
        )
    )
    for (old, new), run in zip(CONSISTENCY_CASES, runs, strict=True):
        proof = ok(run).json()
        assert set(proof) == CONSISTENCY_KEYS
        new_size = new if new is not None else base.size_
        assert (proof["old_size"], proof["new_size"]) == (old, new_size)
        for value in (proof["old_root"], proof["new_root"], *proof["proof"]):
            assert HEX64.fullmatch(value), value
        assert proof["old_root"] == roots[old].hex()
        assert proof["new_root"] == roots[new_size].hex()
        if old == new_size:
            assert proof["proof"] == []
        path = [bytes.fromhex(p) for p in proof["proof"]]
        verify_consistency(old, new_size, path, roots[old], roots[new_size])


# --------------------------------------------------------------------------
# party, key, role


def party_list(led: CliLedger) -> dict[str, dict[str, Any]]:
    return {row["party"]: row for row in ok(led.sh("party list --db {db} --json")).json()}


def test_party_key_role_flow(ledger: BaseLedger) -> None:
    start = ledger.size_
    added_run, new_key_run = ledger.concurrently(  # the ledger and, independently, a key file
        f"party add CARRIER-NORD --name 'Carrier Nord' --as {ADMIN} --db {{db}} --json",
        "key new --party CARRIER-NORD --key-dir {keys} --json",
    )
    added = ok(added_run).json()
    assert set(added) == APPEND_KEYS
    assert (added["index"], added["size"]) == (start, start + 1)
    assert HEX64.fullmatch(added["leaf_hash"])
    entries = ok(ledger.run("log", "entries", "--db", ledger.url, "--start", start)).stdout.splitlines()
    assert added["leaf_hash"] == hash_leaf(entries[0]).hex()

    new_key = ok(new_key_run).json()
    assert set(new_key) == {"key_file", "public_key_file", "keyid", "algorithm"}
    key_file, public_file = Path(new_key["key_file"]), Path(new_key["public_key_file"])
    assert key_file == ledger.key_dir / "CARRIER-NORD.pem"
    assert public_file == ledger.key_dir / "CARRIER-NORD.pub.pem"
    assert mode_of(key_file) == 0o600
    assert new_key["algorithm"] == "ed25519"
    keyid = new_key["keyid"]
    assert PublicKey.from_pem(public_file.read_bytes()).keyid == keyid

    key_added = ok(
        ledger.sh(f"key add --party CARRIER-NORD --public {public_file} --as {ADMIN} --db {{db}} --json")
    ).json()
    assert (key_added["index"], key_added["size"]) == (start + 1, start + 2)
    granted = ok(ledger.sh(f"role grant --party CARRIER-NORD --role admin --as {ADMIN} --db {{db}}"))
    assert granted.out.strip() == f"appended role.granted as entry {start + 2} (log size {start + 3})"

    parties = party_list(ledger)
    assert parties["party:CARRIER-NORD"] == {
        "party": "party:CARRIER-NORD",
        "name": "Carrier Nord",
        "roles": ["admin"],
        "keys": [keyid],
    }
    assert parties["party:WH-ESSEN-01"]["roles"] == ["warehouse"]
    assert parties["party:CARRIER-01"]["roles"] == ["auditor", "carrier"]

    # The new key signs for its party (found as KEY_DIR/<party>.pem).
    ok(ledger.sh("party add SIGNED-BY-NORD --name 'Registered by Nord' --as CARRIER-NORD --db {db}"))
    revoked = ok(
        ledger.sh(
            f"key revoke --party CARRIER-NORD --keyid {keyid} --reason 'device lost' --as {ADMIN} "
            "--db {db} --json"
        )
    ).json()
    assert (revoked["index"], revoked["size"]) == (start + 4, start + 5)
    # A revoked key signs nothing any more (and the refusal appends nothing: see the sizes below).
    listed, refused = ledger.concurrently(
        "party list --db {db} --json",
        "party add AFTER-REVOKE --name 'Too late' --as CARRIER-NORD --db {db}",
    )
    assert_error(refused, 1, "[auth.")
    parties = {row["party"]: row for row in ok(listed).json()}
    assert parties["party:CARRIER-NORD"]["keys"] == []
    assert parties["party:CARRIER-NORD"]["roles"] == ["admin"]
    assert parties["party:SIGNED-BY-NORD"]["name"] == "Registered by Nord"
    assert "party:AFTER-REVOKE" not in parties

    ok(ledger.sh(f"role revoke --party CARRIER-NORD --role admin --as {ADMIN} --db {{db}}"))
    listing, as_json, verify, status_run = ledger.concurrently(
        "party list --db {db}",
        "party list --db {db} --json",
        "verify --db {db} --json --workers 1",
        "status --db {db} --json",
    )
    assert "AFTER-REVOKE" not in ok(listing).out
    row = next(line for line in listing.out.splitlines() if line.startswith("party:CARRIER-NORD "))
    assert "0 key(s)" in row
    assert row.endswith("Carrier Nord")
    assert {p["party"]: p for p in ok(as_json).json()}["party:CARRIER-NORD"]["roles"] == []
    report = ok(verify).json()
    assert report["valid"] is True
    assert report["size"] == start + 6
    status = ok(status_run).json()
    assert (status["size"], status["parties"], status["keys"]) == (start + 6, 6, 2)


def test_key_new_writes_private_and_public_key_files(tmp_path: Path) -> None:
    led = sqlite_ledger(tmp_path)  # no ledger needed: key new only writes files
    key_dir, out = tmp_path / "keys", tmp_path / "elsewhere" / "ecdsa.pem"
    as_json, as_text, ecdsa = led.concurrently(
        f"key new --party LAB-01 --key-dir {key_dir} --json",
        f"key new --party LAB-02 --key-dir {key_dir}",
        f"key new --party LAB-03 --out {out} --algorithm ecdsa-p256-sha256 --json",
    )
    data = ok(as_json).json()
    key_file = key_dir / "LAB-01.pem"
    assert data == {
        "key_file": str(key_file),
        "public_key_file": str(key_dir / "LAB-01.pub.pem"),
        "keyid": data["keyid"],
        "algorithm": "ed25519",
    }
    assert mode_of(key_file) == 0o600
    original = key_file.read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in original
    assert PublicKey.from_pem((key_dir / "LAB-01.pub.pem").read_bytes()).keyid == data["keyid"]
    lines = ok(as_text).out.splitlines()
    assert lines[:2] == [f"key file:   {key_dir / 'LAB-02.pem'}", f"public key: {key_dir / 'LAB-02.pub.pem'}"]
    assert HEX64.fullmatch(lines[2].removeprefix("keyid:      "))
    details = ok(ecdsa).json()
    assert details["algorithm"] == "ecdsa-p256-sha256"
    assert details["public_key_file"] == str(out.with_name("ecdsa.pub.pem"))
    assert PublicKey.from_pem(out.with_name("ecdsa.pub.pem").read_bytes()).keyid == details["keyid"]
    assert mode_of(out) == 0o600

    # An existing key file is never overwritten (key files are the environment's: exit 3),
    # and the refusal leaves nothing behind.
    again = led.sh(f"key new --party LAB-01 --key-dir {key_dir}")
    assert_error(again, 3, "already exists")
    assert key_file.read_bytes() == original
    assert sorted(p.name for p in key_dir.iterdir()) == [
        "LAB-01.pem",
        "LAB-01.pub.pem",
        "LAB-02.pem",
        "LAB-02.pub.pem",
    ]


# --------------------------------------------------------------------------
# Bad input to every command, on the shared ledger: one error line (or click's
# usage block), the documented exit code, nothing appended, no file created.


class Case(NamedTuple):
    #: a shell-quoted command line; {db}, {keys}, {tmp}, {size}… are filled in per test
    command: str
    code: int
    #: a fragment of the error line; None for click's own usage errors
    match: str | None
    env: dict[str, str | None]


def case(command: str, *, code: int = 2, match: str, env: dict[str, str | None] | None = None) -> Case:
    return Case(command, code, match, env or {})


def usage(command: str) -> Case:
    return Case(command, 2, None, {})


VALID_KEYID = "ab" * 32
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/nowhere"
ABSENT_DB = "sqlite:///{tmp}/absent.db"
ADD = "party add NEW-PARTY-01 --name 'New party' --db {db}"
KEY_ADD = "key add --party WH-ESSEN-01 --public {keys}/WH-ESSEN-01.pub.pem --db {db}"
REVOKE = "key revoke --party WH-ESSEN-01 --reason lost --db {db}"
GRANT = "role grant --party CARRIER-02 --db {db}"
ROLE_REVOKE = "role revoke --party CARRIER-01 --db {db}"
WRONG_KEY_SECRET: dict[str, str | None] = {"CUSTODY_KEY_PASSPHRASE": "wrong"}

BAD_INPUT: dict[str, list[Case]] = {
    "cli-and-bench": [
        usage(""),
        usage("nosuch"),
        case("bench append --n 5 --db {db}", match="empty database"),
        usage("bench append --n 0"),
        usage("bench verify --n -1"),
        usage("bench verify --n 10 --workers 0"),
    ],
    "status-verify": [
        case("status --db oracle://x", match="unsupported database URL"),
        case(f"status --db {UNREACHABLE_PG}", code=3, match="[operational.database]"),
        case("verify --db {db} --vkey not-a-vkey", match="verifier key"),
        usage("verify --db {db} --workers 0"),
        usage("verify --db {db} --bogus"),
    ],
    "log": [
        case(f"log vkey --db {ABSENT_DB}", match="absent.db"),
        usage("log checkpoint --db {db} --size 0"),
        case("log entries --db {db} --start 5 --end 2", match="invalid range"),
        usage("log entries --db {db} --start -1"),
        case("log proof inclusion --db {db} --index {size}", match="not in a tree"),
        case("log proof inclusion --db {db} --index 0 --size {size+1}", match="no tree"),
        usage("log proof inclusion --db {db}"),
        usage("log proof inclusion --db {db} --index -1"),
        usage("log proof inclusion --db {db} --index 0 --size 0"),
        case("log proof consistency --db {db} --old {size+1}", match="old="),
        case("log proof consistency --db {db} --old 1 --new {size+1}", match="no tree"),
        usage("log proof consistency --db {db} --old 0"),
    ],
    "party": [
        case(f"{ADD} --as NOPE-99", match="unknown administrator NOPE-99"),
        case(f"party add 'bad id!' --name x --as {ADMIN} --db {{db}}", match="not a valid party id"),
        case(f"{ADD} --as {ADMIN} --role pilot", match="'pilot'"),
        case(f"{ADD} --as {ADMIN}", env=WRONG_KEY_SECRET, match="passphrase"),
        case(f"{ADD} --as {ADMIN}", env={"CUSTODY_LOG_KEY_PASSPHRASE": "wrong"}, match="passphrase"),
        case(f"{ADD} --as {ADMIN}", env={"CUSTODY_KEY_PASSPHRASE": None}, match="CUSTODY_KEY_PASSPHRASE"),
        case(f"{ADD} --as {ADMIN} --key {{tmp}}/absent.pem", match="does not exist"),
        case(f"{ADD} --as {ADMIN} --key {{keys}}/WH-ESSEN-01.pem", code=1, match="did not sign"),
        case(f"{ADD} --as WH-ESSEN-01", code=1, match="roles admin"),
        case(f"party add CARRIER-01 --name x --as {ADMIN} --db {{db}}", code=1, match="already registered"),
        usage("party add NEW-1 --db {db}"),
        usage(f"{ADD} --as {ADMIN} --bogus"),
        case("party list --db oracle://x", match="unsupported database URL"),
    ],
    "key": [
        case("key new --party 'bad id' --key-dir {tmp}/k", match="not a valid party id"),
        case(
            "key new --party X-1 --key-dir {tmp}/k",
            env={"CUSTODY_KEY_PASSPHRASE": None},
            match="CUSTODY_KEY_PASSPHRASE",
        ),
        case("key new --party WH-ESSEN-01 --key-dir {keys}", code=3, match="already exists"),
        usage("key new --party X-1 --key-dir {tmp}/k --algorithm rsa"),
        case(
            f"key add --party NOPE-99 --public {{keys}}/WH-ESSEN-01.pub.pem --as {ADMIN} --db {{db}}",
            match="unknown party NOPE-99",
        ),
        case(
            f"key add --party WH-ESSEN-01 --public {{tmp}}/absent.pub.pem --as {ADMIN} --db {{db}}",
            match="cannot read",
        ),
        case(
            f"key add --party WH-ESSEN-01 --public {{keys}}/{ADMIN}.pem --as {ADMIN} --db {{db}}",
            match="public key",
        ),
        case(f"{KEY_ADD} --as {ADMIN}", code=1, match="already registered"),
        usage(f"key add --party WH-ESSEN-01 --as {ADMIN} --db {{db}}"),
        case(f"{REVOKE} --keyid zz --as {ADMIN}", match="keyid"),
        case(f"{REVOKE} --keyid {{wh_keyid}} --as NOPE-99", match="unknown administrator NOPE-99"),
        case(
            f"key revoke --party NOPE-99 --reason lost --keyid {{wh_keyid}} --as {ADMIN} --db {{db}}",
            match="unknown party NOPE-99",
        ),
        case(f"{REVOKE} --keyid {{wh_keyid}} --as {ADMIN}", env=WRONG_KEY_SECRET, match="passphrase"),
        case(f"{REVOKE} --keyid {VALID_KEYID} --as {ADMIN}", code=1, match="has no key"),
    ],
    "role": [
        case(f"{GRANT} --role pilot --as {ADMIN}", match="'pilot'"),
        case(
            f"role grant --party NOPE-99 --role carrier --as {ADMIN} --db {{db}}",
            match="unknown party NOPE-99",
        ),
        case(f"{GRANT} --role auditor --as NOPE-99", match="unknown administrator NOPE-99"),
        case(f"{GRANT} --role auditor --as {ADMIN}", env=WRONG_KEY_SECRET, match="passphrase"),
        case(f"{GRANT} --role auditor --as WH-ESSEN-01", code=1, match="roles admin"),
        case(f"{GRANT} --role auditor --as {ADMIN} --db sqlite://", match="needs a file"),
        case(f"{ROLE_REVOKE} --role pilot --as {ADMIN}", match="'pilot'"),
        case(f"{ROLE_REVOKE} --role technician --as {ADMIN}", code=1, match="does not hold"),
        case(
            f"role revoke --party NOPE-99 --role carrier --as {ADMIN} --db {{db}}",
            match="unknown party NOPE-99",
        ),
        usage(f"{ROLE_REVOKE} --as {ADMIN} --bogus"),
    ],
}


@pytest.mark.parametrize("group", list(BAD_INPUT))
def test_bad_input_is_refused_and_appends_nothing(base: BaseLedger, tmp_path: Path, group: str) -> None:
    values = {
        "db": base.url,
        "keys": str(base.key_dir),
        "tmp": str(tmp_path),
        "size": str(base.size_),
        "size+1": str(base.size_ + 1),
        "wh_keyid": base.wh_keyid,
    }
    keys_before = {p.name: p.read_bytes() for p in base.key_dir.iterdir()}
    files_before = sorted(p.name for p in base.root.iterdir() if not p.name.endswith(("-wal", "-shm")))

    def run(item: Case) -> Run:
        return custody(*command_line(item.command, **values), cwd=tmp_path, env=cli_env(**item.env))

    cases = BAD_INPUT[group]
    # The cases only read (unless the CLI is broken): run them side by side.
    runs = side_by_side(*(partial(run, item) for item in cases))
    for item, result in zip(cases, runs, strict=True):
        if item.match is None:
            assert_usage_error(result)
        else:
            assert_error(result, item.code, item.match)
    status = base.status()
    assert (status["size"], status["checkpoint"]["size"]) == (base.size_, base.size_)
    # Nothing created or changed: no database for a missing ledger, no key file, no leftovers.
    # (SQLite removes its -wal/-shm files when the last connection closes.)
    assert (
        sorted(p.name for p in base.root.iterdir() if not p.name.endswith(("-wal", "-shm"))) == files_before
    )
    assert {p.name: p.read_bytes() for p in base.key_dir.iterdir()} == keys_before
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# --------------------------------------------------------------------------
# Benchmarks


def test_bench_append_prints_figures(tmp_path: Path) -> None:
    run = ok(custody("bench", "append", "--n", 200, "--batch", 50, cwd=tmp_path))
    figures = run.json()
    assert {"statements_per_s", "batch_ms_p50", "batch_ms_p99"} <= set(figures)
    assert (figures["bench"], figures["n"], figures["batch"], figures["db"]) == ("append", 200, 50, "sqlite")
    assert figures["statements_per_s"] > 0
    assert 0 < figures["batch_ms_p50"] <= figures["batch_ms_p99"]
    assert figures["log_size"] > 200
    assert run.stderr.strip()  # progress goes to stderr, the figures to stdout
    assert list(tmp_path.iterdir()) == []  # its ledger lives in a temporary directory


def test_bench_verify_prints_figures(tmp_path: Path) -> None:
    run = ok(custody("bench", "verify", "--n", 200, "--workers", 1, cwd=tmp_path))
    figures = run.json()
    wanted = {"ed25519_verify_per_s_one_core", "stream_verify_entries_per_s", "ratio_to_cores_x_ed25519"}
    assert wanted <= set(figures)
    assert (figures["bench"], figures["workers"]) == ("verify", 1)
    assert figures["entries"] > 200
    assert figures["ed25519_verify_per_s_one_core"] > 0
    assert figures["stream_verify_entries_per_s"] > 0
    expected_ratio = figures["stream_verify_entries_per_s"] / (
        figures["cores"] * figures["ed25519_verify_per_s_one_core"]
    )
    assert figures["ratio_to_cores_x_ed25519"] == pytest.approx(expected_ratio, abs=0.002)


# --------------------------------------------------------------------------
# PostgreSQL


def test_postgres_init_append_verify_proofs(postgres_url: str, tmp_path: Path) -> None:
    led = CliLedger(tmp_path, postgres_url, tmp_path / "pg-keys")
    init = ok(led.sh(f"init --db {{db}} --key-dir {{keys}} --origin {ORIGIN} --json")).json()
    assert (init["created"], init["size"], init["origin"]) == (True, 1, ORIGIN)
    assert mode_of(led.key_dir / "log-key.pem") == 0o600
    assert mode_of(led.key_dir / f"{ADMIN}.pem") == 0o600
    signing = f"--as {ADMIN} --db {{db}} --key-dir {{keys}}"
    for party in ("WH-DORTMUND-01", "CARRIER-01", "CARRIER-02"):
        ok(led.sh(f"party add {party} --name 'Party {party}' {signing}"))
    ok(led.sh(f"role grant --party CARRIER-01 --role carrier {signing}"))
    wrong = cli_env(CUSTODY_KEY_PASSPHRASE="wrong")
    unknown, wrong_secret = side_by_side(
        partial(led.sh, f"role grant --party NOPE-99 --role carrier {signing}"),
        partial(led.sh, f"party add X-1 --name x {signing}", env=wrong),
    )
    assert_error(unknown, 2, "unknown party NOPE-99")
    assert_error(wrong_secret, 2, "passphrase")

    runs = led.concurrently(
        "status --db {db} --json",
        "verify --db {db} --json --workers 1",
        "log entries --db {db}",
        "log entries --db {db} --start 1 --end 3",
        "log vkey --db {db}",
        "log checkpoint --db {db} --size 3",
        "log proof inclusion --db {db} --index 2",
        "log proof consistency --db {db} --old 3",
        "log proof inclusion --db {db} --index 5",
        "log proof consistency --db {db} --old 2 --new 9",
        "init --db {db} --key-dir {keys} --json",  # idempotent: reports, appends nothing
    )
    status, report, entries, window, vkey, checkpoint, inclusion, consistency, *out_of_range, again = runs
    assert (ok(again).json()["created"], again.json()["vkey"]) == (False, init["vkey"])
    status_data = ok(status).json()
    assert (status_data["size"], status_data["parties"], status_data["checkpoint"]["size"]) == (5, 4, 5)
    report_data = ok(report).json()
    assert (report_data["valid"], report_data["size"], report_data["checkpoints_checked"]) == (True, 5, 5)
    assert report_data["root"] == status_data["checkpoint"]["root"]

    with psycopg.connect(postgres_url) as conn:
        stored = [bytes(r[0]) for r in conn.execute("SELECT raw FROM entries ORDER BY idx")]
        notes = {int(s): str(n) for s, n in conn.execute("SELECT size, note FROM checkpoints")}
    assert ok(entries).stdout == b"".join(raw + b"\n" for raw in stored)
    assert ok(window).stdout.splitlines() == stored[1:3]
    assert ok(vkey).out.strip() == init["vkey"]
    roots = checkpoint_roots(notes, init["vkey"])
    assert ok(checkpoint).out == notes[3]
    assert open_checkpoint(checkpoint.stdout, parse_vkey(init["vkey"])).checkpoint.root == roots[3]

    proof = ok(inclusion).json()
    assert set(proof) == INCLUSION_KEYS
    assert (proof["index"], proof["size"], proof["root"]) == (2, 5, roots[5].hex())
    assert proof["leaf_hash"] == hash_leaf(stored[2]).hex()
    path = [bytes.fromhex(p) for p in proof["proof"]]
    verify_inclusion(bytes.fromhex(proof["leaf_hash"]), 2, 5, path, roots[5])
    proof = ok(consistency).json()
    assert set(proof) == CONSISTENCY_KEYS
    assert (proof["old_root"], proof["new_root"]) == (roots[3].hex(), roots[5].hex())
    verify_consistency(3, 5, [bytes.fromhex(p) for p in proof["proof"]], roots[3], roots[5])
    assert_error(out_of_range[0], 2, "not in a tree")
    assert_error(out_of_range[1], 2, "no tree")


# --------------------------------------------------------------------------
# The installed script, as a new process


def test_the_installed_script_runs_commands_and_reports_errors_as_one_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/script.db"
    created = custody_process("init", "--db", db, "--json", cwd=tmp_path)
    assert created.code == 0, str(created)
    assert set(created.json()) >= INIT_KEYS
    status = custody_process("status", "--db", db, "--json", cwd=tmp_path)
    assert status.code == 0, str(status)
    assert status.json()["size"] == created.json()["size"]
    verified = custody_process("verify", "--db", db, "--json", cwd=tmp_path)
    assert verified.code == 0, str(verified)
    assert verified.json()["valid"] is True
    missing = custody_process("status", "--db", f"sqlite:///{tmp_path}/none.db", cwd=tmp_path)
    assert missing.code == 2, str(missing)
    assert len(missing.stderr.splitlines()) == 1, str(missing)
    assert missing.stderr.startswith("error: "), str(missing)
    usage = custody_process("no-such-command", cwd=tmp_path)
    assert usage.code == 2, str(usage)
    assert "Traceback" not in usage.stderr
    helped = custody_process("--help", cwd=tmp_path)
    assert helped.code == 0, str(helped)
    assert "Exit codes" in helped.out
