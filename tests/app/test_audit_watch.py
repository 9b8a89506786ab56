"""`custody audit watch` against real ledger servers (and lying peers).

Real ledgers on SQLite files are served by the real `custody serve` in subprocesses.
A rollback is a second server on a copy of the database taken before the latest
appends; a fork (split view) is two ledgers with the same origin and log key (a copy of
the database and keys) that append different statements. Doctored proofs and
signatures come from a stub HTTP peer: the network lies, our code is not mocked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import parse_checkpoint_unverified
from tests.app.tlog_servers import (
    Answer,
    StubPeer,
    as_json,
    custody,
    failed,
    free_port,
    grow,
    ok,
    running,
    snapshot,
    sqlite_url,
    start_ledger_server,
    text,
)
from tests.cli_run import Run
from tests.helpers import LedgerFixture, new_ledger_fixture
from tests.ledger.tlog_helpers import flip_signature_bit


@pytest.fixture
def ledger_a(tmp_path: Path) -> LedgerFixture:
    directory = tmp_path / "a"
    directory.mkdir()
    fixture = new_ledger_fixture(sqlite_url(directory), directory)
    grow(fixture, 2, "A")
    return fixture


def watch(tmp_path: Path, server: str, *extra: object) -> Run:
    return custody(
        "audit", "watch", "--server", server, "--state", tmp_path / "monitor.json", *extra, cwd=tmp_path
    )


def state(tmp_path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((tmp_path / "monitor.json").read_text())
    return value


def test_honest_growth_is_ok_and_first_use_is_announced(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    a = tmp_path / "a"
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server:
        first = ok(watch(tmp_path, server.url))
        assert "trust on first use" in first.out
        assert "size 3" in first.out
        recorded = state(tmp_path)
        assert (recorded["size"], recorded["origin"]) == (3, ledger_a.ctx.store.trust_state().origin)
        assert recorded["vkey_trusted_on_first_use"] is True
        grow(ledger_a, 5, "MORE")
        grew = ok(watch(tmp_path, server.url, "--json")).json()
        assert (grew["status"], grew["previous_size"], grew["size"]) == ("grew", 3, 8)
        unchanged = ok(watch(tmp_path, server.url))
        assert "unchanged at size 8" in unchanged.out
        assert state(tmp_path)["size"] == 8
        assert state(tmp_path)["checkpoint"] == ledger_a.ctx.store.checkpoint()


def test_pinned_vkey_is_used_and_a_different_one_is_refused(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    a = tmp_path / "a"
    vkey = ledger_a.ctx.store.trust_state().log_vkey
    assert vkey is not None
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server:
        first = ok(watch(tmp_path, server.url, "--vkey", vkey))
        assert "as the server declares it" not in first.out
        assert state(tmp_path)["vkey_trusted_on_first_use"] is False
        other = new_ledger_fixture(sqlite_url(tmp_path / "other"), tmp_path / "other")
        other_vkey = other.ctx.store.trust_state().log_vkey
        assert other_vkey is not None
        failed(watch(tmp_path, server.url, "--vkey", other_vkey), 2, "differs from the vkey")


def test_rollback_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    """A second server on a copy of the database from before the latest appends."""
    a, old = tmp_path / "a", tmp_path / "old"
    snapshot(ledger_a, a, old)  # size 3
    grow(ledger_a, 4, "NEW")  # size 7
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server:
        ok(watch(tmp_path, server.url))
    assert state(tmp_path)["size"] == 7
    with running(start_ledger_server(sqlite_url(old), old, old / "keys")) as stale:
        line = failed(watch(tmp_path, stale.url), 1, "rollback", "[verify.monitor.rollback]")
        assert "size 3" in line
        assert "size 7" in line
    after = state(tmp_path)
    assert after["size"] == 7  # the last good checkpoint stays recorded
    assert after["evidence"][-1]["code"] == "verify.monitor.rollback"
    assert parse_checkpoint_unverified(after["evidence"][-1]["checkpoint"]).size == 3


def test_fork_split_view_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    """Two ledgers with the same origin and log key diverge after size 3."""
    a, b = tmp_path / "a", tmp_path / "b"
    ledger_b = snapshot(ledger_a, a, b)
    grow(ledger_a, 2, "ALPHA")  # a: 5
    grow(ledger_b, 4, "BETA")  # b: 7, same key, other entries
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server_a:
        ok(watch(tmp_path, server_a.url))
    with running(start_ledger_server(sqlite_url(b), b, b / "keys")) as server_b:
        line = failed(watch(tmp_path, server_b.url), 1, "fork (split view)", "[verify.monitor.fork]")
        assert "size 5" in line
    assert state(tmp_path)["size"] == 5


def test_fork_at_the_same_size_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ledger_b = snapshot(ledger_a, a, b)
    grow(ledger_a, 2, "ALPHA")
    grow(ledger_b, 2, "BETA")
    assert ledger_a.ctx.store.root() != ledger_b.ctx.store.root()
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server_a:
        ok(watch(tmp_path, server_a.url))
    with running(start_ledger_server(sqlite_url(b), b, b / "keys")) as server_b:
        failed(watch(tmp_path, server_b.url), 1, "two checkpoints of size 5", "[verify.monitor.fork]")


def _stub_routes(ledger: LedgerFixture, old: int) -> dict[str, Answer]:
    store = ledger.ctx.store
    vkey = store.trust_state().log_vkey
    return {
        "/api/v1/log/vkey": text(f"{vkey}\n"),
        "/api/v1/log/checkpoint": text(store.checkpoint()),
        "/api/v1/log/proof/consistency": as_json(store.consistency_proof(old)),
    }


def test_invalid_consistency_proof_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    ledger_vkey = ledger_a.ctx.store.trust_state().log_vkey
    with StubPeer({"/api/v1/log/checkpoint": text(ledger_a.ctx.store.checkpoint())}) as first:
        ok(watch(tmp_path, first.url, "--vkey", ledger_vkey))
    grow(ledger_a, 6, "MORE")
    routes = _stub_routes(ledger_a, 3)
    proof = json.loads(routes["/api/v1/log/proof/consistency"][2])
    element = proof["proof"][0]
    proof["proof"][0] = ("0" if element[0] != "0" else "1") + element[1:]
    routes["/api/v1/log/proof/consistency"] = as_json(proof)
    with StubPeer(routes) as liar:
        line = failed(
            watch(tmp_path, liar.url), 1, "invalid consistency proof", "[verify.monitor.consistency]"
        )
        assert "from size 3 to 9" in line
        assert any(p.startswith("/api/v1/log/proof/consistency?old=3&new=9") for p in liar.requests)
    assert state(tmp_path)["size"] == 3


def test_withheld_consistency_proof_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    ledger_vkey = ledger_a.ctx.store.trust_state().log_vkey
    with StubPeer({"/api/v1/log/checkpoint": text(ledger_a.ctx.store.checkpoint())}) as first:
        ok(watch(tmp_path, first.url, "--vkey", ledger_vkey))
    grow(ledger_a, 1, "MORE")
    routes = _stub_routes(ledger_a, 3)
    routes["/api/v1/log/proof/consistency"] = as_json({"code": "input.not_found"}, 404)
    with StubPeer(routes) as liar:
        failed(watch(tmp_path, liar.url), 1, "gives no consistency proof", "[verify.monitor.consistency]")


def test_tampered_checkpoint_signature_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    a = tmp_path / "a"
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server:
        ok(watch(tmp_path, server.url))
    grow(ledger_a, 1, "MORE")
    routes = _stub_routes(ledger_a, 3)
    routes["/api/v1/log/checkpoint"] = text(flip_signature_bit(ledger_a.ctx.store.checkpoint()))
    with StubPeer(routes) as liar:
        failed(watch(tmp_path, liar.url), 1, "invalid checkpoint signature", "[verify.monitor.signature]")


def test_tampered_checkpoint_on_first_use_is_detected(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    note = ledger_a.ctx.store.checkpoint().replace("\n3\n", "\n4\n", 1)
    with StubPeer({"/api/v1/log/checkpoint": text(note)}) as liar:
        vkey = ledger_a.ctx.store.trust_state().log_vkey
        failed(watch(tmp_path, liar.url, "--vkey", vkey), 1, "[verify.monitor.signature]")
    assert not (tmp_path / "monitor.json").exists()


def test_interval_mode_keeps_watching_until_a_finding(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    store = ledger_a.ctx.store
    honest = store.checkpoint()
    forked_dir = tmp_path / "b"
    forked = snapshot(ledger_a, tmp_path / "a", forked_dir)
    grow(forked, 1, "BETA")
    grow(ledger_a, 1, "ALPHA")
    answers = iter([honest, honest, ledger_a.ctx.store.checkpoint(), forked.ctx.store.checkpoint()])
    served: list[str] = []

    def next_checkpoint() -> Answer:
        served.append(next(answers))
        return text(served[-1])

    routes: dict[str, Answer | Callable[[], Answer]] = {
        "/api/v1/log/checkpoint": next_checkpoint,
        "/api/v1/log/proof/consistency": as_json(ledger_a.ctx.store.consistency_proof(3)),
    }
    with StubPeer(routes) as peer:
        run = watch(tmp_path, peer.url, "--vkey", store.trust_state().log_vkey, "--interval", "1")
    line = failed(run, 1, "[verify.monitor.fork]")
    assert "two checkpoints of size 4" in line
    assert len(served) == 4
    assert run.out.count("ok:") == 2


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    failed(watch(tmp_path, f"http://127.0.0.1:{free_port()}"), 3, "cannot reach", "[operational.unreachable]")


def test_server_that_is_not_a_log_exits_3(tmp_path: Path) -> None:
    with StubPeer({}) as peer:
        failed(watch(tmp_path, peer.url), 3, "HTTP 404", "[operational.server]")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not JSON"),
        ('{"v": "kcl/monitor-state/v0"}', "kcl/monitor-state/v1"),
        ('{"v": "kcl/monitor-state/v1", "vkey": "x"}', "missing"),
    ],
)
def test_unusable_state_file_exits_2(tmp_path: Path, content: str, fragment: str) -> None:
    (tmp_path / "monitor.json").write_text(content)
    with StubPeer({}) as peer:
        failed(watch(tmp_path, peer.url), 2, fragment, "[input.invalid]")


def test_state_file_that_contradicts_itself_exits_2(tmp_path: Path, ledger_a: LedgerFixture) -> None:
    with StubPeer({"/api/v1/log/checkpoint": text(ledger_a.ctx.store.checkpoint())}) as peer:
        ok(watch(tmp_path, peer.url, "--vkey", ledger_a.ctx.store.trust_state().log_vkey))
        recorded = state(tmp_path)
        recorded["size"] = 2
        (tmp_path / "monitor.json").write_text(json.dumps(recorded))
        failed(watch(tmp_path, peer.url), 2, "do not match the recorded checkpoint")


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    run = watch(tmp_path, "http://127.0.0.1:1", "--once", "--interval", "5")
    assert run.code == 2
    failed(watch(tmp_path, "ftp://example.org"), 2, "http:// or https://")
    failed(
        watch(tmp_path, "http://127.0.0.1:1", "--require-cosignatures", "1"), 2, "needs at least that many"
    )
