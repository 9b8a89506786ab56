"""kclverify, the Go verifier, reaches the Python verifier's verdict on every bundle.

kclverify/ is a second implementation of format v1 verification (docs/format.md
§3–§15), in Go with the standard library. Two verifiers that disagree would
make an auditor's verdict depend on the tool, so every bundle here is verified
by both and the verdicts must be the same: exit status, every finding (index,
code, expected, found, message), every warning, and the report's facts
(entries, checkpoint, root, vkeys, cosignatures, subjects).

The bundles: the demo ledger's full export and every connector's partial
export; every tamper class of test_bundle_verify.py on a full and a partial
bundle; the hostile archives (both must refuse them as unusable, exit 2);
pinned and wrong log keys and witness policies; every case of the guard-rule
matrix of test_guard_rules.py — the allowed one exported, the violating
statement appended by a forger holding the log key; and seeded random
mutations of entry and proof lines, which reach the strict parsers' error
precedence.

Go and Debian's sources of golang.org/x/text and filippo.io/edwards25519 come
from scripts/install-test-deps.sh. Without them these tests skip with the reason,
except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from app import queries
from app.services.bundle_verify import verify_bundle
from app.services.export import export_all, export_connectors
from ledger.entry import Entry, encode_entry
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf
from ledger.note import CosignatureSigner, Ed25519NoteSigner, sign_note
from ledger.times import parse_timestamp
from tests.app.bundle_helpers import Log, Parts, log_of, write_dir, write_zip
from tests.app.custody_scenarios import World as RuleWorld
from tests.app.custody_scenarios import expect_appended, expect_violation
from tests.app.test_bundle_verify import CASES as TAMPER_CASES
from tests.app.test_bundle_verify import HOSTILE, World
from tests.app.test_bundle_verify import world as world  # the module's fixture
from tests.app.test_guard_rules import CASES as RULE_CASES
from tests.app.test_guard_rules import RuleCase
from tests.go_tools import GOCODE, go_build, go_environment, unavailable
from tests.helpers import LedgerFixture

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "kclverify"
#: The Go sources kclverify imports besides the standard library (Debian packages).
GO_SOURCES = {
    "golang.org/x/text": GOCODE / "src/golang.org/x/text/unicode/norm/normalize.go",
    "filippo.io/edwards25519": GOCODE / "src/filippo.io/edwards25519/edwards25519.go",
}
INSTALL_HINT = (
    "run scripts/install-test-deps.sh "
    "(apt: golang-go golang-golang-x-text-dev golang-filippo-edwards25519-dev)"
)


def _unavailable(reason: str) -> NoReturn:
    unavailable("kclverify", reason, INSTALL_HINT)


@pytest.fixture(scope="session")
def kclverify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        _unavailable("`go` is not on PATH")
    missing = [name for name, path in GO_SOURCES.items() if not path.is_file()]
    if missing:
        _unavailable(f"Go sources of {', '.join(missing)} missing under {GOCODE}")
    work = tmp_path_factory.mktemp("kclverify")
    binary = work / "kclverify"
    return go_build(go, SOURCE, binary, go_environment(work))


# --------------------------------------------------------------------------
# The two verdicts


@dataclass
class Verdict:
    status: int
    report: dict[str, Any] | None
    error: str


def python_verdict(path: Path, vkey: str | None, witnesses: Sequence[str], required: int) -> Verdict:
    try:
        report = verify_bundle(
            path, vkey=vkey, witnesses=witnesses, required_cosignatures=required, workers=1
        )
    except InvalidInput as exc:
        return Verdict(2, None, f"{exc.message} [{exc.code}]")
    return Verdict(0 if report.valid else 1, report.as_dict(), "")


def go_verdict(
    binary: Path, path: Path, vkey: str | None, witnesses: Sequence[str], required: int
) -> Verdict:
    args = [str(binary), str(path), "--json", "--workers", "2"]
    if vkey is not None:
        args += ["--vkey", vkey]
    for witness in witnesses:
        args += ["--witness", witness]
    if required:
        args += ["--require-cosignatures", str(required)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1, 2), f"kclverify crashed ({proc.returncode}):\n{proc.stderr}"
    if proc.returncode == 2:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: "), proc.stderr
        assert "goroutine" not in proc.stderr, proc.stderr
        return Verdict(2, None, lines[0].removeprefix("error: "))
    return Verdict(proc.returncode, json.loads(proc.stdout), proc.stderr)


def assert_same_verdict(
    binary: Path,
    path: Path,
    *,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    required: int = 0,
) -> Verdict:
    """Both verifiers say the same about the bundle at ``path``; return the Python verdict."""
    py = python_verdict(path, vkey, witnesses, required)
    go = go_verdict(binary, path, vkey, witnesses, required)
    assert go.status == py.status, f"exit {go.status} (Go) vs {py.status} (Python)\n{_diff(py, go)}"
    if py.status == 2:
        # Unusable input: the same error code; the wording may differ.
        assert go.error.rsplit("[", 1)[-1] == py.error.rsplit("[", 1)[-1], (py.error, go.error)
        return py
    assert py.report is not None
    assert go.report is not None
    assert go.report == py.report, _diff(py, go)
    return py


def _diff(py: Verdict, go: Verdict) -> str:
    if py.report is None or go.report is None:
        return f"Python: {py.error or py.report}\nGo: {go.error or go.report}"
    lines = []
    for key in py.report:
        if key in ("findings", "warnings"):
            continue
        if py.report.get(key) != go.report.get(key):
            lines.append(f"{key}: Python {py.report.get(key)!r} / Go {go.report.get(key)!r}")
    for key in ("findings", "warnings"):
        left, right = py.report.get(key) or [], go.report.get(key) or []
        for n in range(max(len(left), len(right))):
            a = left[n] if n < len(left) else None
            b = right[n] if n < len(right) else None
            if a != b:
                lines.append(f"{key}[{n}]:\n  Python {a}\n  Go     {b}")
    extra = sorted(set(go.report) - set(py.report))
    if extra:
        lines.append(f"keys only Go reports: {extra}")
    return "\n".join(lines[:40])


# --------------------------------------------------------------------------
# The demo ledger: honest exports, tamper classes, keys, witnesses


def test_the_demo_exports_verify_alike(kclverify: Path, world: World, tmp_path: Path) -> None:
    full = export_all(world.ctx, tmp_path / "full.zip")
    verdict = assert_same_verdict(kclverify, full.path)
    assert verdict.status == 0
    # Every connector's partial export, as a zip and as a directory.
    subjects = [c["subject"] for c in queries.connectors(world.ctx.engine)]
    assert len(subjects) >= 20
    for n, subject in enumerate(subjects):
        partial = export_connectors(world.ctx, [subject], tmp_path / f"p{n}.zip")
        assert assert_same_verdict(kclverify, partial.path).status == 0
    directory = write_dir(tmp_path / "dir", world.log.partial(world.needed).members())
    assert assert_same_verdict(kclverify, directory).status == 0


@pytest.mark.parametrize("kind", ["full", "partial"])
@pytest.mark.parametrize("case", TAMPER_CASES, ids=[c.__name__.replace("_", "-") for c in TAMPER_CASES])
def test_every_tamper_class_gets_the_same_findings(
    kclverify: Path, world: World, tmp_path: Path, case: Any, kind: str
) -> None:
    honest = world.log.full() if kind == "full" else world.log.partial(world.needed)
    tampered = case(world, honest)
    verdict = assert_same_verdict(kclverify, write_zip(tmp_path / "t.zip", tampered.parts.members()))
    assert verdict.status == 1


@pytest.mark.parametrize("name", HOSTILE.keys())
def test_hostile_bundles_are_unusable_for_both(
    kclverify: Path, world: World, tmp_path: Path, name: str
) -> None:
    make, _ = HOSTILE[name]
    assert assert_same_verdict(kclverify, make(world, tmp_path)).status == 2


def test_pinned_wrong_and_unreadable_keys(kclverify: Path, world: World, tmp_path: Path) -> None:
    parts = world.log.partial(world.needed)
    path = write_zip(tmp_path / "b.zip", parts.members())
    impostor = Ed25519NoteSigner(world.log.origin, SigningKey.generate(Algorithm.ED25519, os.urandom(32)))
    assert assert_same_verdict(kclverify, path, vkey=world.log.vkey).status == 0
    assert assert_same_verdict(kclverify, path, vkey=impostor.vkey()).status == 1
    assert assert_same_verdict(kclverify, path, vkey="not-a-vkey").status == 2
    resigned = write_zip(
        tmp_path / "r.zip", Log(world.log.entries, impostor, world.log.origin).full().members()
    )
    assert assert_same_verdict(kclverify, resigned).status == 1
    assert assert_same_verdict(kclverify, resigned, vkey=world.log.vkey).status == 1
    garbled = parts.copy()
    garbled.vkey = b"not a vkey\n"
    garbled_path = write_zip(tmp_path / "g.zip", garbled.members())
    assert assert_same_verdict(kclverify, garbled_path).status == 2
    assert assert_same_verdict(kclverify, garbled_path, vkey=world.log.vkey).status == 1


def test_witness_policies(kclverify: Path, world: World, tmp_path: Path) -> None:
    witnesses = [
        CosignatureSigner(
            f"witness.example/{n}", SigningKey.generate(Algorithm.ED25519, os.urandom(32)), 1795861200
        )
        for n in range(3)
    ]
    parts = world.log.full()
    body = parts.checkpoint.decode()
    parts.checkpoint = sign_note(body[: body.index("\n\n") + 1], [world.log.signer, *witnesses[:2]]).encode()
    path = write_zip(tmp_path / "cosigned.zip", parts.members())
    vkeys = [w.vkey() for w in witnesses]
    assert assert_same_verdict(kclverify, path, witnesses=vkeys, required=2).status == 0
    assert assert_same_verdict(kclverify, path, witnesses=vkeys, required=3).status == 1
    assert assert_same_verdict(kclverify, path).status == 0
    assert assert_same_verdict(kclverify, path, witnesses=vkeys[:1], required=2).status == 2
    assert assert_same_verdict(kclverify, path, witnesses=[world.log.vkey]).status == 2


def test_a_signature_line_with_padding_after_a_complete_quantum(
    kclverify: Path, world: World, tmp_path: Path
) -> None:
    """Go's note.Open refuses "abcd=" base64 in any signature line, even of an unknown key (§10.2)."""
    parts = world.log.full()
    stranger = "— stranger.example " + base64.b64encode(b"\x07" * 69).decode()
    parts.checkpoint = parts.checkpoint + stranger.encode() + b"\n"
    assert assert_same_verdict(kclverify, write_zip(tmp_path / "ok.zip", parts.members())).status == 0
    parts.checkpoint = parts.checkpoint[:-1] + b"=\n"
    verdict = assert_same_verdict(kclverify, write_zip(tmp_path / "padded.zip", parts.members()))
    assert verdict.report is not None
    assert [f["code"] for f in verdict.report["findings"]] == ["checkpoint.signature"]


# --------------------------------------------------------------------------
# Seeded random mutations: byte flips, cut lines, swapped and repeated lines


def _mutate(rng: random.Random, parts: Parts) -> Parts:
    out = parts.copy()
    lines = out.entries if out.proofs is None or rng.random() < 0.7 else out.proofs
    n = rng.randrange(len(lines))
    what = rng.randrange(6)
    raw = lines[n]
    if what == 0:  # one bit anywhere
        at = rng.randrange(len(raw))
        lines[n] = raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]
    elif what == 1:  # one byte replaced by a JSON-significant character
        at = rng.randrange(len(raw))
        lines[n] = raw[:at] + rng.choice([b" ", b"{", b"\\", b'"', b"1", b".", b",", b"\xc3"]) + raw[at + 1 :]
    elif what == 2:  # cut short
        lines[n] = raw[: rng.randrange(1, len(raw))]
    elif what == 3:  # removed
        del lines[n]
    elif what == 4:  # repeated
        lines.insert(n, raw)
    else:  # swapped with a neighbour
        m = min(n + 1, len(lines) - 1)
        lines[n], lines[m] = lines[m], lines[n]
    return out


@pytest.mark.parametrize("kind", ["full", "partial"])
def test_random_mutations_get_the_same_findings(
    kclverify: Path, world: World, tmp_path: Path, kind: str
) -> None:
    rng = random.Random(f"kclverify-{kind}")
    honest = world.log.full() if kind == "full" else world.log.partial(world.needed)
    # A full bundle costs the Python verifier ~1 s; a partial one a tenth of that.
    rounds = 12 if kind == "full" else 60
    statuses = []
    for n in range(rounds):
        mutated = _mutate(rng, honest)
        path = write_zip(tmp_path / f"m{n}.zip", mutated.members())
        statuses.append(assert_same_verdict(kclverify, path).status)
    # The mutations break the bundle, almost always (a swap of equal lines may not).
    assert statuses.count(1) >= rounds - 3, statuses


# --------------------------------------------------------------------------
# The guard-rule matrix: every rule, allowed and violated


def _forge_batch(ctx: Any, envelopes: Sequence[Any]) -> Log:
    """The ledger's log plus ``envelopes`` appended as a compromised server would."""
    log = log_of(ctx)
    entries = list(log.entries)
    for envelope in envelopes:
        last = Entry.parse(entries[-1])
        moment = parse_timestamp(last.recorded_at) + timedelta(seconds=1)
        subject = Entry.parse(
            encode_entry(index=len(entries), prev=None, recorded_at=moment, envelope=envelope)
        ).statement.subject
        heads = [raw for raw in entries if Entry.parse(raw).statement.subject == subject]
        prev = hash_leaf(heads[-1]) if heads else None
        entries.append(encode_entry(index=len(entries), prev=prev, recorded_at=moment, envelope=envelope))
    return Log(entries, log.signer, log.origin)


def _partial_export(ctx: Any, tmp_path: Path) -> Path | None:
    """One partial bundle of every connector, or None in a world of seals only."""
    subjects = [row["subject"] for row in queries.connectors(ctx.engine)]
    if not subjects:
        return None
    return export_connectors(ctx, subjects, tmp_path / "connectors.zip").path


@pytest.mark.parametrize("rule_case", RULE_CASES, ids=[c.id for c in RULE_CASES])
def test_guard_rules_get_the_same_verdict(
    kclverify: Path, sqlite_ledger: LedgerFixture, tmp_path: Path, rule_case: RuleCase
) -> None:
    # Allowed: the world's full and partial exports verify in both.
    allowed = RuleWorld(sqlite_ledger)
    expect_appended(allowed.ctx, rule_case.build(allowed, True))
    assert assert_same_verdict(kclverify, export_all(allowed.ctx, tmp_path / "ok.zip").path).status == 0
    partial = _partial_export(allowed.ctx, tmp_path)
    if partial is not None:
        assert assert_same_verdict(kclverify, partial).status == 0


@pytest.mark.parametrize("rule_case", RULE_CASES, ids=[c.id for c in RULE_CASES])
def test_guard_rule_violations_forged_into_the_log_get_the_same_findings(
    kclverify: Path, sqlite_ledger: LedgerFixture, tmp_path: Path, rule_case: RuleCase
) -> None:
    w = RuleWorld(sqlite_ledger)
    action = rule_case.build(w, False)
    attempts = len(w.recorder.attempts)
    expect_violation(w.ctx, rule_case.rule, action)
    if len(w.recorder.attempts) == attempts:
        # The service refused before building a statement, so there is nothing a
        # forger could append; the world as it stands must still verify alike.
        assert assert_same_verdict(kclverify, export_all(w.ctx, tmp_path / "as-is.zip").path).status == 0
        return
    attempt = w.recorder.attempts[-1]
    forged = _forge_batch(w.ctx, attempt.envelopes)
    path = write_zip(tmp_path / "forged.zip", forged.full().members())
    verdict = assert_same_verdict(kclverify, path)
    assert verdict.report is not None
    assert rule_case.rule in {f["code"] for f in verdict.report["findings"]}, verdict.report["findings"]


def test_every_go_source_file_is_formatted(kclverify: Path) -> None:
    gofmt = shutil.which("gofmt")
    assert gofmt is not None
    unformatted = subprocess.run([gofmt, "-l", "."], cwd=SOURCE, capture_output=True, text=True, check=True)
    assert unformatted.stdout == ""


def test_go_unit_tests_pass(kclverify: Path, tmp_path: Path) -> None:
    go = shutil.which("go")
    assert go is not None
    result = subprocess.run(
        [go, "test", "./..."],
        cwd=SOURCE,
        env=go_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_field_order_table_is_current() -> None:
    """kclverify/schema_order.go is what tests/kclverify_schema_order.py generates from ledger/."""
    from tests import kclverify_schema_order

    assert kclverify_schema_order.is_current(), (
        "kclverify/schema_order.go is stale: run python -m tests.kclverify_schema_order --write"
    )
