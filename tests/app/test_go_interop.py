"""Go's reference implementation must accept our checkpoints and proofs as they are.

DESIGN: "Go's golang.org/x/mod/sumdb/note and sumdb/tlog must accept our
checkpoints and proofs." tests/interop/kclcheck is a small Go program over
exactly those packages (note.Open, tlog.CheckRecord, tlog.CheckTree,
tlog.RecordHash, tlog.TreeHash, tlog.ProveRecord, tlog.ProveTree); this file
builds it with the real Go toolchain, feeds it what a real ledger serves, and
then tampered copies of that, which it must reject for the right reason.

Go and the x/mod sources come from Debian (scripts/install-test-deps.sh).
Without them these tests skip with the reason, except under CI=true, where
they fail: CI installs them.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.checkpoint import Checkpoint, parse_checkpoint_unverified, sign_checkpoint
from ledger.note import SIG_ED25519, format_vkey, key_id
from tests.go_tools import GOCODE, go_build, go_environment, unavailable
from tests.helpers import LedgerFixture

REPO = Path(__file__).resolve().parents[2]
CHECKER_SRC = REPO / "tests" / "interop" / "kclcheck"
VECTOR = REPO / "tests" / "vectors" / "derived-checkpoint-cosignature-proof.json"
XMOD_PACKAGES = ("sumdb/note/note.go", "sumdb/tlog/tlog.go")
INSTALL_HINT = "run scripts/install-test-deps.sh (apt: golang-go golang-golang-x-mod-dev)"

#: Appended after genesis, one batch (and so one checkpoint) each: 22 entries, 23 in all.
BATCHES = (1, 3, 5, 2, 7, 4)
SIZE = 1 + sum(BATCHES)
#: What Go says about inclusion proof 2 of the request (leaf 7) when it fails.
BAD_INCLUSION_2 = f"inclusion[2] (index 7, size {SIZE}): tlog.CheckRecord: invalid transparency proof"


def _unavailable(reason: str) -> NoReturn:
    unavailable("the Go interop check", reason, INSTALL_HINT)


@pytest.fixture(scope="session")
def kclcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Go checker, built in GOPATH mode against Debian's x/mod sources."""
    go = shutil.which("go")
    if go is None:
        _unavailable("`go` is not on PATH")
    missing = [p for p in XMOD_PACKAGES if not (GOCODE / "src/golang.org/x/mod" / p).is_file()]
    if missing:
        _unavailable(f"golang.org/x/mod sources missing under {GOCODE} ({', '.join(missing)})")
    work = tmp_path_factory.mktemp("kclcheck")
    env = go_environment(work, f"{work / 'gopath'}{os.pathsep}{GOCODE}")
    binary = work / "kclcheck"
    return go_build(go, CHECKER_SRC, binary, env)


@dataclass
class Verdict:
    returncode: int
    ok: bool
    errors: list[str]
    raw: dict[str, Any]

    @property
    def report(self) -> str:
        return json.dumps(self.raw, indent=1)


def run_checker(binary: Path, request: dict[str, Any]) -> Verdict:
    proc = subprocess.run(
        [str(binary)], input=json.dumps(request), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode in (0, 1), f"checker could not use the request:\n{proc.stdout}{proc.stderr}"
    result = json.loads(proc.stdout)
    assert result["ok"] == (proc.returncode == 0), proc.stdout
    return Verdict(proc.returncode, result["ok"], result["errors"], result)


# --------------------------------------------------------------------------
# A real ledger, and what it serves.


@dataclass
class Case:
    ledger: LedgerFixture
    request: dict[str, Any]
    size: int
    checkpoint_sizes: list[int]


def _fill(ledger: LedgerFixture) -> None:
    n = 0
    for batch in BATCHES:
        envelopes = []
        for _ in range(batch):
            n += 1
            envelopes.append(ledger.register_envelope(f"GO-INTEROP-{n:02d}"))
        ledger.append(*envelopes)


@pytest.fixture
def case(sqlite_ledger: LedgerFixture) -> Case:
    _fill(sqlite_ledger)
    store = sqlite_ledger.ctx.store
    size = store.size()
    assert size == SIZE
    checkpoint_sizes = store.checkpoint_sizes()
    assert checkpoint_sizes[-1] == size
    old_size = checkpoint_sizes[3]  # an earlier checkpoint
    inclusion = [store.inclusion_proof(i) for i in (0, 1, 7, 11, size - 2, size - 1)]
    # A proof against an older tree, anchored by the consistency proof below.
    inclusion.append(store.inclusion_proof(3, old_size))
    old_sizes = sorted({*checkpoint_sizes, 8, 16, 3})
    consistency = [store.consistency_proof(old) for old in old_sizes]
    request = {
        "vkey": store.trust_state().log_vkey,
        "checkpoint": store.checkpoint(),
        "inclusion": inclusion,
        "consistency": consistency,
        "entries_hex": [raw.hex() for raw in store.entries()],
    }
    return Case(sqlite_ledger, request, size, checkpoint_sizes)


def test_go_accepts_our_checkpoint_and_proofs(kclcheck: Path, case: Case) -> None:
    verdict = run_checker(kclcheck, case.request)
    assert verdict.ok, verdict.report
    result = verdict.raw
    cp = parse_checkpoint_unverified(case.request["checkpoint"])
    assert result["checkpoint"] == {
        "origin": cp.origin,
        "size": case.size,
        "root": cp.root.hex(),
        "extensions": [],
    }
    vkey_name, vkey_id, _ = case.request["vkey"].split("+", 2)
    assert result["verified_signatures"] == [f"{vkey_name}+{vkey_id}"]
    assert result["unverified_signatures"] == []
    n_inclusion, n_consistency = len(case.request["inclusion"]), len(case.request["consistency"])
    checked = result["checked"]
    assert checked["inclusion"] == n_inclusion
    assert checked["consistency"] == n_consistency
    assert checked["entries"] == case.size
    assert checked["leaf_hashes"] == n_inclusion
    # Go rebuilt the tree from the raw entries and got every root we claimed …
    claimed_sizes = {case.size} | {p["old_size"] for p in case.request["consistency"]}
    assert checked["tree_hashes"] == len(claimed_sizes)
    # … and its own proofs are ours, element for element.
    assert checked["go_proofs_compared"] == n_inclusion + n_consistency


def test_go_opens_every_checkpoint_the_ledger_issued(kclcheck: Path, case: Case) -> None:
    store = case.ledger.ctx.store
    vkey = case.request["vkey"]
    entries = case.request["entries_hex"]
    for size in case.checkpoint_sizes:
        request = {
            "vkey": vkey,
            "checkpoint": store.checkpoint(size),
            "inclusion": [store.inclusion_proof(size - 1, size)],
            "consistency": [store.consistency_proof(1, size)],
            "entries_hex": entries[:size],
        }
        verdict = run_checker(kclcheck, request)
        assert verdict.ok, f"checkpoint at size {size}:\n{verdict.report}"
        assert verdict.raw["checkpoint"]["size"] == size


# --------------------------------------------------------------------------
# Tampered inputs: Go must reject each, for the reason named.


def _flip_hex(value: str, position: int = 0) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[position] ^= 0x01
    return raw.hex()


def _flip_checkpoint_root(c: Case, r: dict[str, Any]) -> None:
    note = r["checkpoint"]
    body, _, signatures = note.partition("\n\n")
    origin, size, root = body.split("\n")
    flipped = base64.b64encode(bytes.fromhex(_flip_hex(base64.b64decode(root).hex()))).decode()
    r["checkpoint"] = f"{origin}\n{size}\n{flipped}\n\n{signatures}"


def _resign_wrong_root(c: Case, r: dict[str, Any]) -> None:
    """The log key itself signs a wrong root: the signature holds, the tree does not."""
    cp = parse_checkpoint_unverified(r["checkpoint"])
    signer = c.ledger.ctx.writer().signer
    assert signer is not None
    wrong = bytes.fromhex(_flip_hex(cp.root.hex(), 31))
    r["checkpoint"] = sign_checkpoint(Checkpoint(cp.origin, cp.size, wrong), [signer])


def _wrong_vkey(c: Case, r: dict[str, Any]) -> None:
    """Same name, another key: the checkpoint's signature is from an unknown key."""
    name = r["vkey"].split("+", 1)[0]
    other = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    r["vkey"] = format_vkey(name, SIG_ED25519, other)
    assert key_id(name, SIG_ED25519, other) != int(c.request["vkey"].split("+")[1], 16)


def _truncate_inclusion(c: Case, r: dict[str, Any]) -> None:
    proof = r["inclusion"][2]["proof"]
    assert len(proof) >= 2
    proof.pop()


def _wrong_leaf_hash(c: Case, r: dict[str, Any]) -> None:
    """A real leaf of this log, claimed at the wrong index."""
    r["inclusion"][2]["leaf_hash"] = r["inclusion"][3]["leaf_hash"]


def _swap_consistency(c: Case, r: dict[str, Any]) -> None:
    proof = next(p["proof"] for p in r["consistency"] if len(p["proof"]) >= 3)
    proof[0], proof[1] = proof[1], proof[0]


def _tamper_entry(c: Case, r: dict[str, Any]) -> None:
    r["entries_hex"][5] = _flip_hex(r["entries_hex"][5], 10)


def _unanchored_inclusion(c: Case, r: dict[str, Any]) -> None:
    """Drop the consistency proof that links the old-tree inclusion proof to the checkpoint."""
    old_size = r["inclusion"][-1]["size"]
    r["consistency"] = [p for p in r["consistency"] if p["old_size"] != old_size]


MUTATIONS: dict[str, tuple[Callable[[Case, dict[str, Any]], None], str]] = {
    "flipped-checkpoint-root": (_flip_checkpoint_root, "note.Open: invalid signature for key"),
    "resigned-checkpoint-wrong-root": (_resign_wrong_root, "root mismatch at size"),
    "wrong-vkey": (_wrong_vkey, "note.Open: note has no verifiable signatures"),
    "truncated-inclusion-proof": (_truncate_inclusion, BAD_INCLUSION_2),
    "wrong-leaf-hash": (_wrong_leaf_hash, BAD_INCLUSION_2),
    "swapped-consistency-elements": (_swap_consistency, ": tlog.CheckTree: invalid transparency proof"),
    "tampered-entry": (_tamper_entry, "tlog.TreeHash("),
    "unanchored-inclusion": (_unanchored_inclusion, "is not linked to the checkpoint"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_go_rejects_tampered_input(kclcheck: Path, case: Case, mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    assert run_checker(kclcheck, case.request).ok  # the untampered request passes
    request = copy.deepcopy(case.request)
    mutate(case, request)
    assert request != case.request
    verdict = run_checker(kclcheck, request)
    assert not verdict.ok, f"{mutation}: Go accepted tampered input"
    assert verdict.returncode == 1
    assert any(expected in e for e in verdict.errors), f"{mutation}: expected {expected!r}\n{verdict.report}"


# --------------------------------------------------------------------------
# The derived vector: a cosigned checkpoint of the RFC 6962 8-leaf tree.


def _b64_to_hex(value: str) -> str:
    return base64.b64decode(value).hex()


def _vector_request(vector: dict[str, Any]) -> dict[str, Any]:
    lines = vector["tlog_proof"].split("\n")
    assert lines[0] == "c2sp.org/tlog-proof@v1"
    assert lines[1] == f"index {vector['tlog_proof_leaf_index']}"
    proof = [_b64_to_hex(line) for line in lines[2 : lines.index("", 2)]]
    cp = parse_checkpoint_unverified(vector["checkpoint_cosigned"])
    return {
        "vkey": vector["log_vkey"],
        "checkpoint": vector["checkpoint_cosigned"],
        "inclusion": [
            {
                "index": vector["tlog_proof_leaf_index"],
                "size": cp.size,
                "leaf_hash": vector["tlog_proof_leaf_hash_hex"],
                "root": cp.root.hex(),
                "proof": proof,
            }
        ],
        "consistency": [
            {
                "old_size": p["size1"],
                "old_root": _b64_to_hex(p["root1"]),
                "new_size": p["size2"],
                "new_root": _b64_to_hex(p["root2"]),
                "proof": [_b64_to_hex(h) for h in p["proof"]],
            }
            for p in vector["consistency_to_8"]
        ],
        "entries_hex": [vector["tlog_proof_leaf_input_hex"]],
        "entries_start": vector["tlog_proof_leaf_index"],
    }


def test_go_opens_the_cosigned_vector_ignoring_the_witness(kclcheck: Path) -> None:
    vector = json.loads(VECTOR.read_text(encoding="utf-8"))
    request = _vector_request(vector)
    verdict = run_checker(kclcheck, request)
    assert verdict.ok, verdict.report
    log_name, log_id, _ = vector["log_vkey"].split("+", 2)
    witness_name, witness_id, _ = vector["witness_vkey"].split("+", 2)
    assert verdict.raw["verified_signatures"] == [f"{log_name}+{log_id}"]
    # Only the log key is trusted: the cosignature line is an unknown key, ignored.
    assert verdict.raw["unverified_signatures"] == [f"{witness_name}+{witness_id}"]
    assert verdict.raw["checkpoint"]["size"] == 8
    assert verdict.raw["checked"]["consistency"] == len(vector["consistency_to_8"])
    assert verdict.raw["checked"]["leaf_hashes"] == 1

    # The vector's own negative case: the size line changed, the log signature breaks.
    resized = next(c for c in vector["negative_cases"] if "8 to 9" in c["desc"])
    verdict = run_checker(kclcheck, {**request, "checkpoint": resized["note"]})
    assert not verdict.ok
    assert any("note.Open: invalid signature for key example.com/test-log" in e for e in verdict.errors)
