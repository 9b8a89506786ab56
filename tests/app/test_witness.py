"""Witnesses end to end: `custody witness …` processes, the ledger's cosignature collection,
the cosigned checkpoint it serves, and k-of-n verification.

Witnesses are the real `custody witness serve` in subprocesses speaking C2SP tlog-witness
over HTTP; ledgers are real SQLite files (and PostgreSQL where the storage matters); the
served checkpoint comes from the real FastAPI app. A forked ledger is a copy of the
database and keys that appends other statements.
"""

from __future__ import annotations

import base64
import json
import signal
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text as sql
from sqlalchemy.exc import DBAPIError

from app.api.app import create_app
from app.services.cosign import cosignature_lines, request_cosignatures, store_cosignature
from ledger.checkpoint import open_checkpoint
from ledger.errors import NoteVerificationError
from ledger.note import SIG_COSIGNATURE_V1, parse_vkey
from ledger.witness import SIZE_CONTENT_TYPE, AddCheckpoint
from tests.app.tlog_servers import (
    Server,
    StubPeer,
    custody,
    failed,
    free_port,
    grow,
    http,
    ok,
    running,
    snapshot,
    sqlite_url,
    start_ledger_server,
    start_witness,
    text,
)
from tests.helpers import LedgerFixture, new_ledger_fixture
from tests.ledger.tlog_helpers import MemLog, flip_signature_bit


def make_witness(tmp_path: Path, name: str = "w1") -> tuple[Path, str]:
    """`custody witness init`: the key directory and the printed vkey."""
    key_dir = tmp_path / f"witness-{name}"
    run = ok(
        custody("witness", "init", "--name", f"{name}.witness.example/w", "--key-dir", key_dir, cwd=tmp_path)
    )
    return key_dir, run.out.strip()


def log_vkey(ledger: LedgerFixture) -> str:
    vkey = ledger.ctx.store.trust_state().log_vkey
    assert vkey is not None
    return vkey


def serve_witness(tmp_path: Path, ledger: LedgerFixture, name: str = "w1") -> tuple[Server, str, Path]:
    key_dir, vkey = make_witness(tmp_path, name)
    state = tmp_path / f"{name}-state.json"
    return start_witness(key_dir, state, [log_vkey(ledger)], tmp_path), vkey, state


def witness_size(state: Path, origin: str) -> int:
    return int(json.loads(state.read_text())["logs"][origin]["size"])


def origin_of(ledger: LedgerFixture) -> str:
    origin = ledger.ctx.store.trust_state().origin
    assert origin is not None
    return origin


def post(
    server: Server, old: int, proof: list[bytes] | tuple[bytes, ...], note: str | bytes
) -> tuple[int, str, bytes]:
    data = note.encode() if isinstance(note, str) else note
    return http(
        f"{server.url}/add-checkpoint", method="POST", body=AddCheckpoint(old, tuple(proof), data).encode()
    )


def proof_bytes(ledger: LedgerFixture, old: int, new: int | None = None) -> list[bytes]:
    return [bytes.fromhex(h) for h in ledger.ctx.store.consistency_proof(old, new)["proof"]]


@pytest.fixture
def sq(tmp_path: Path) -> LedgerFixture:
    """A SQLite ledger of 3 entries in tmp_path/a (copyable with `snapshot`)."""
    directory = tmp_path / "a"
    directory.mkdir()
    fixture = new_ledger_fixture(sqlite_url(directory), directory)
    grow(fixture, 2, "A")
    return fixture


# --------------------------------------------------------------------------
# Keys


def test_init_creates_a_private_key_and_prints_the_vkey(tmp_path: Path) -> None:
    key_dir, vkey = make_witness(tmp_path)
    verifier = parse_vkey(vkey)
    assert verifier.signature_type == SIG_COSIGNATURE_V1
    assert verifier.name == "w1.witness.example/w"
    assert stat.S_IMODE((key_dir / "witness-key.pem").stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (key_dir / "witness-key.pem").read_bytes()
    assert (key_dir / "witness.vkey").read_text() == vkey + "\n"
    again = custody("witness", "init", "--name", "x.example/w", "--key-dir", key_dir, cwd=tmp_path)
    failed(again, 2, "already holds a witness key")
    assert (key_dir / "witness.vkey").read_text() == vkey + "\n"


def test_wrong_witness_passphrase_exits_2(tmp_path: Path, sq: LedgerFixture) -> None:
    key_dir, _ = make_witness(tmp_path)
    run = custody(
        "witness",
        "serve",
        "--key-dir",
        key_dir,
        "--state",
        tmp_path / "s.json",
        "--log-vkey",
        log_vkey(sq),
        cwd=tmp_path,
        extra_env={"CUSTODY_WITNESS_KEY_PASSPHRASE": "wrong"},
    )
    failed(run, 2, "wrong passphrase", "[input.key.passphrase]")


# --------------------------------------------------------------------------
# Honest growth: cosigned, stored, served, verified


def test_witness_cosigns_honest_growth_and_the_ledger_serves_it(
    tmp_path: Path, ledger: LedgerFixture
) -> None:
    """On SQLite and PostgreSQL: collect, store, serve; the served note verifies with k=1."""
    grow(ledger, 2, "A")
    origin = origin_of(ledger)
    server, vkey, state = serve_witness(tmp_path, ledger)
    spec = f"{vkey}@{server.url}"
    witness = parse_vkey(vkey)
    log_key = parse_vkey(log_vkey(ledger))
    with running(server):
        [first] = request_cosignatures(ledger.ctx, [spec])
        assert (first.status, first.size, first.old_size) == ("cosigned", 3, 0)
        assert witness_size(state, origin) == 3
        grow(ledger, 4, "B")
        [second] = request_cosignatures(ledger.ctx, [spec])
        assert (second.status, second.size, second.old_size) == ("cosigned", 7, 3)
        assert witness_size(state, origin) == 7
        [again] = request_cosignatures(ledger.ctx, [spec])
        assert again.status == "current"
    assert len(cosignature_lines(ledger.ctx, 3)) == 1
    assert len(cosignature_lines(ledger.ctx, 7)) == 1
    ledger.ctx.settings = ledger.ctx.settings.model_copy(update={"witnesses": [spec]})
    with TestClient(create_app(ledger.ctx.settings, ledger.ctx)) as client:
        served = client.get("/api/v1/log/checkpoint")
        assert served.status_code == 200
        note = served.content
        opened = open_checkpoint(note, log_key, [witness], required_cosignatures=1)
        assert opened.checkpoint.size == 7
        assert [c.name for c in opened.cosignatures] == [witness.name]
        # Still a valid signed note for a verifier that knows only the log key.
        assert open_checkpoint(note, log_key).unverified[0].name == witness.name
        assert note.decode().startswith(ledger.ctx.store.checkpoint())
        older = client.get("/api/v1/log/checkpoint", params={"size": 3}).content
        assert open_checkpoint(older, log_key, [witness], 1).checkpoint.size == 3
        listing = client.get("/api/v1/log/witnesses").json()
        assert listing == {
            "witnesses": [{"name": witness.name, "key_id": f"{witness.key_id:08x}", "vkey": vkey}]
        }
    cli = ok(custody("log", "checkpoint", "--db", ledger.ctx.settings.database_url, cwd=tmp_path))
    assert cli.out.encode() == note


def test_cosignatures_are_append_only(ledger: LedgerFixture) -> None:
    assert store_cosignature(ledger.ctx, 1, "w+00000000+AA==", "— w AAAA", 5) is True
    assert store_cosignature(ledger.ctx, 1, "w+00000000+AA==", "— w BBBB", 6) is False
    for statement in ("UPDATE cosignatures SET line = 'x'", "DELETE FROM cosignatures"):
        with pytest.raises(DBAPIError, match="append-only"), ledger.ctx.engine.begin() as conn:
            conn.execute(sql(statement))
    assert cosignature_lines(ledger.ctx, 1) == ["— w AAAA"]


# --------------------------------------------------------------------------
# Refusals over HTTP (tlog-witness status codes)


def test_forked_ledger_is_refused(tmp_path: Path, sq: LedgerFixture) -> None:
    """A copy of the ledger with the same key appends other entries: the witness refuses it."""
    origin = origin_of(sq)
    server, vkey, state = serve_witness(tmp_path, sq)
    spec = f"{vkey}@{server.url}"
    with running(server):
        [first] = request_cosignatures(sq.ctx, [spec])
        assert first.status == "cosigned"
        forked = snapshot(sq, tmp_path / "a", tmp_path / "b")  # knows the cosignature at 3
        grow(sq, 2, "ALPHA")
        [honest] = request_cosignatures(sq.ctx, [spec])
        assert (honest.status, honest.size) == ("cosigned", 5)
        witnessed = state.read_text()
        grow(forked, 3, "BETA")
        [refused] = request_cosignatures(forked.ctx, [spec])
        assert (refused.status, refused.http_status) == ("refused", 422)
        assert "does not verify" in refused.message
        # Directly, with the old size the witness expects and the fork's own proof: 422.
        status, _, body = post(server, 5, proof_bytes(forked, 5), forked.ctx.store.checkpoint())
        assert status == 422
        assert b"[verify.witness.consistency]" in body
        run = custody("log", "cosign", "--db", sqlite_url(tmp_path / "b"), "--witness", spec, cwd=tmp_path)
        failed(run, 1, "refused to cosign size 6", "[witness.refused]")
        assert state.read_text() == witnessed
        assert witness_size(state, origin) == 5
    assert cosignature_lines(forked.ctx, 6) == []


def test_fork_at_the_same_size_is_409(tmp_path: Path, sq: LedgerFixture) -> None:
    server, vkey, _ = serve_witness(tmp_path, sq)
    with running(server):
        request_cosignatures(sq.ctx, [f"{vkey}@{server.url}"])
        forked = snapshot(sq, tmp_path / "a", tmp_path / "b")
        grow(sq, 2, "ALPHA")
        request_cosignatures(sq.ctx, [f"{vkey}@{server.url}"])
        grow(forked, 2, "BETA")
        status, ctype, body = post(server, 5, [], forked.ctx.store.checkpoint())
        assert (status, body) == (409, b"5\n")
        assert ctype.startswith(SIZE_CONTENT_TYPE)


def test_stale_old_size_is_409_with_the_latest_size(tmp_path: Path, sq: LedgerFixture) -> None:
    server, vkey, state = serve_witness(tmp_path, sq)
    with running(server):
        status, _, line = post(server, 0, [], sq.ctx.store.checkpoint())  # not through the ledger
        assert status == 200
        assert line.startswith("— w1.witness.example/w ".encode())
        grow(sq, 2, "MORE")
        note = sq.ctx.store.checkpoint()
        for old, proof in ((0, []), (2, proof_bytes(sq, 2))):
            status, ctype, body = post(server, old, proof, note)
            assert (status, body) == (409, b"3\n")
            assert ctype.startswith(SIZE_CONTENT_TYPE)
        assert witness_size(state, origin_of(sq)) == 3
        # The ledger stored no cosignature of this witness: it asks from 0, gets 409 "3",
        # and resumes with a proof from 3.
        [outcome] = request_cosignatures(sq.ctx, [f"{vkey}@{server.url}"])
        assert (outcome.status, outcome.old_size, outcome.size) == ("cosigned", 3, 5)
        assert witness_size(state, origin_of(sq)) == 5


def test_never_cosigns_a_smaller_size(tmp_path: Path, sq: LedgerFixture) -> None:
    grow(sq, 2, "MORE")
    server, vkey, state = serve_witness(tmp_path, sq)
    with running(server):
        [done] = request_cosignatures(sq.ctx, [f"{vkey}@{server.url}"])
        assert done.size == 5
        older = sq.ctx.store.checkpoint(3)
        status, ctype, body = post(server, 3, [], older)
        assert (status, body) == (409, b"5\n")
        assert ctype.startswith(SIZE_CONTENT_TYPE)
        status, _, body = post(server, 5, [], older)
        assert status == 400
        assert b"larger than the checkpoint size 3" in body
        assert witness_size(state, origin_of(sq)) == 5
        assert "rollback" in custody_cosign_error(tmp_path, sq, state, older, 3)


def custody_cosign_error(tmp_path: Path, sq: LedgerFixture, state: Path, note: str, old: int) -> str:
    """Offline `custody witness cosign` needs the state lock: run it on a copy of the state."""
    copy = tmp_path / "offline-state.json"
    copy.write_text(state.read_text())
    (tmp_path / "cp.txt").write_text(note)
    run = custody(
        "witness",
        "cosign",
        "--log-vkey",
        log_vkey(sq),
        "--state",
        copy,
        "--checkpoint",
        tmp_path / "cp.txt",
        "--old",
        old,
        "--key-dir",
        tmp_path / "witness-w1",
        cwd=tmp_path,
    )
    return failed(run, 1, "[verify.witness.rollback]")


def test_unknown_log_bad_signature_and_malformed_requests(tmp_path: Path, sq: LedgerFixture) -> None:
    server, _, state = serve_witness(tmp_path, sq)
    other = new_ledger_fixture(sqlite_url(tmp_path / "other"), tmp_path / "other")
    with running(server):
        status, _, body = post(server, 0, [], MemLog(origin="other.example/log").grow(2).checkpoint())
        assert status == 404
        assert b"[input.witness.unknown_log]" in body
        status, _, body = post(server, 0, [], other.ctx.store.checkpoint())  # same origin, other log key
        assert status == 403
        assert b"[verify.witness.signature]" in body
        status, _, body = post(server, 0, [], flip_signature_bit(sq.ctx.store.checkpoint()))
        assert status == 403
        assert b"[verify.witness.signature]" in body
        status, _, _ = http(f"{server.url}/add-checkpoint", method="POST", body=b"old x\n\nnope\n")
        assert status == 400
        status, _, _ = http(f"{server.url}/elsewhere", method="POST", body=b"old 0\n\n")
        assert status == 404
        status, _, body = http(server.url + "/")
        assert status == 200
        assert b"cosigned size 0" in body
    assert not state.exists()  # nothing was ever cosigned


# --------------------------------------------------------------------------
# Durability


def test_state_persists_across_restarts_and_crashes(tmp_path: Path, sq: LedgerFixture) -> None:
    key_dir, vkey = make_witness(tmp_path)
    state = tmp_path / "w1-state.json"

    def spec(server: Server) -> str:
        return f"{vkey}@{server.url}"

    with running(start_witness(key_dir, state, [log_vkey(sq)], tmp_path)) as first:
        assert request_cosignatures(sq.ctx, [spec(first)])[0].status == "cosigned"
    assert first.proc.returncode == 0  # SIGTERM: a clean stop
    grow(sq, 2, "MORE")
    second = start_witness(key_dir, state, [log_vkey(sq)], tmp_path)
    status, _, body = post(second, 0, [], sq.ctx.store.checkpoint())
    assert (status, body) == (409, b"3\n")  # it remembers size 3
    assert request_cosignatures(sq.ctx, [spec(second)])[0].status == "cosigned"
    second.stop(signal.SIGKILL)  # a crash right after answering
    assert witness_size(state, origin_of(sq)) == 5
    assert not list(tmp_path.glob(".w1-state.json.*.tmp"))
    with running(start_witness(key_dir, state, [log_vkey(sq)], tmp_path)) as third:
        status, _, body = post(third, 3, proof_bytes(sq, 3), sq.ctx.store.checkpoint())
        assert (status, body) == (409, b"5\n")


def test_a_second_process_cannot_use_the_same_state(tmp_path: Path, sq: LedgerFixture) -> None:
    key_dir, _ = make_witness(tmp_path)
    state = tmp_path / "w1-state.json"
    with running(start_witness(key_dir, state, [log_vkey(sq)], tmp_path)):
        port = free_port()
        args = ("--key-dir", key_dir, "--state", state, "--log-vkey", log_vkey(sq), "--port", port)
        run = custody("witness", "serve", *args, cwd=tmp_path)
        failed(run, 3, "in use by another process", "[operational.state_file_in_use]")


def test_damaged_state_file_stops_the_witness(tmp_path: Path, sq: LedgerFixture) -> None:
    key_dir, _ = make_witness(tmp_path)
    state = tmp_path / "w1-state.json"
    state.write_text('{"v": "kcl/witness-state/v1", "witness": "x", "logs": {}}')
    run = custody(
        "witness", "serve", "--key-dir", key_dir, "--state", state, "--log-vkey", log_vkey(sq), cwd=tmp_path
    )
    failed(run, 2, "belongs to x")
    state.write_text("{")
    run = custody(
        "witness", "serve", "--key-dir", key_dir, "--state", state, "--log-vkey", log_vkey(sq), cwd=tmp_path
    )
    failed(run, 2, "not JSON")


# --------------------------------------------------------------------------
# Offline one-shot


def test_offline_cosign_follows_the_same_rules(tmp_path: Path, sq: LedgerFixture) -> None:
    key_dir, vkey = make_witness(tmp_path)
    state = tmp_path / "offline.json"
    db = sq.ctx.settings.database_url
    base = ("witness", "cosign", "--key-dir", key_dir, "--log-vkey", log_vkey(sq), "--state", state)
    cp3 = tmp_path / "cp3"
    cp3.write_text(sq.ctx.store.checkpoint())
    first = ok(custody(*base, "--checkpoint", cp3, "--old", 0, cwd=tmp_path))
    opened = open_checkpoint(
        cp3.read_bytes() + first.out.encode(), parse_vkey(log_vkey(sq)), [parse_vkey(vkey)], 1
    )
    assert opened.checkpoint.size == 3
    forked = snapshot(sq, tmp_path / "a", tmp_path / "b")
    grow(sq, 3, "MORE")
    cp6 = tmp_path / "cp6"
    cp6.write_text(sq.ctx.store.checkpoint())
    proof = tmp_path / "proof.json"
    proof.write_text(ok(custody("log", "proof", "consistency", "--old", 3, "--db", db, cwd=tmp_path)).out)
    failed(custody(*base, "--checkpoint", cp6, "--old", 0, cwd=tmp_path), 2, "(3); retry with old 3")
    second = ok(custody(*base, "--checkpoint", cp6, "--old", 3, "--proof", proof, cwd=tmp_path))
    assert open_checkpoint(
        cp6.read_bytes() + second.out.encode(), parse_vkey(log_vkey(sq)), [parse_vkey(vkey)], 1
    )
    grow(forked, 4, "BETA")
    cp7 = tmp_path / "cp7"
    cp7.write_text(forked.ctx.store.checkpoint())
    lines = tmp_path / "proof.txt"  # base64 lines, as in a tlog-witness request
    lines.write_text("".join(base64.b64encode(p).decode() + "\n" for p in proof_bytes(forked, 6)))
    failed(
        custody(*base, "--checkpoint", cp7, "--old", 6, "--proof", lines, cwd=tmp_path),
        1,
        "[verify.witness.consistency]",
    )
    assert json.loads(state.read_text())["logs"][origin_of(sq)]["size"] == 6


# --------------------------------------------------------------------------
# The ledger's collection: bad witnesses


def test_invalid_cosignature_from_a_witness_is_not_stored(tmp_path: Path, sq: LedgerFixture) -> None:
    _, vkey = make_witness(tmp_path)
    # A peer that answers with a line under w1's name but garbage in the signature.
    name = parse_vkey(vkey).name
    key_id = parse_vkey(vkey).key_id.to_bytes(4, "big")
    garbage = base64.b64encode(key_id + bytes(72)).decode()
    with StubPeer({"/add-checkpoint": text(f"— {name} {garbage}\n")}) as liar:
        [outcome] = request_cosignatures(sq.ctx, [f"{vkey}@{liar.url}"])
        assert liar.bodies[0].startswith(b"old 0\n\n")
    assert outcome.status == "refused"
    assert "invalid cosignature" in outcome.message
    with StubPeer({"/add-checkpoint": text("not a signature line\n")}) as liar:
        [outcome] = request_cosignatures(sq.ctx, [f"{vkey}@{liar.url}"])
    assert outcome.status == "refused"
    assert cosignature_lines(sq.ctx, 3) == []


def test_log_cosign_exit_codes(tmp_path: Path, sq: LedgerFixture) -> None:
    db = sq.ctx.settings.database_url
    _, vkey = make_witness(tmp_path)
    failed(custody("log", "cosign", "--db", db, cwd=tmp_path), 2, "no witnesses configured")
    down = f"{vkey}@http://127.0.0.1:{free_port()}"
    failed(
        custody("log", "cosign", "--db", db, "--witness", down, cwd=tmp_path), 3, "[operational.unreachable]"
    )
    failed(
        custody("log", "cosign", "--db", db, "--witness", "nonsense", cwd=tmp_path),
        2,
        "expected <vkey>@<URL>",
    )
    failed(
        custody("log", "cosign", "--db", db, "--witness", f"{log_vkey(sq)}@http://x", cwd=tmp_path),
        2,
        "not a cosignature key",
    )


# --------------------------------------------------------------------------
# k of n


def test_k_of_n_cosignatures(tmp_path: Path, sq: LedgerFixture) -> None:
    a = tmp_path / "a"
    w1, vkey1, _ = serve_witness(tmp_path, sq, "w1")
    w2, vkey2, _ = serve_witness(tmp_path, sq, "w2")
    _, vkey3 = make_witness(tmp_path, "w3")  # trusted by the verifier, never asked
    with running(w1), running(w2):
        configured = json.dumps([f"{vkey1}@{w1.url}", f"{vkey2}@{w2.url}"])
        run = ok(
            custody(
                "log",
                "cosign",
                "--db",
                sqlite_url(a),
                "--json",
                cwd=tmp_path,
                extra_env={"CUSTODY_WITNESSES": configured},
            )
        )
        assert [w["status"] for w in run.json()["witnesses"]] == ["cosigned", "cosigned"]
    note = (
        sq.ctx.store.checkpoint().encode()
        + "".join(line + "\n" for line in cosignature_lines(sq.ctx, 3)).encode()
    )
    log_key = parse_vkey(log_vkey(sq))
    two = [parse_vkey(vkey1), parse_vkey(vkey2)]
    assert len(open_checkpoint(note, log_key, two, required_cosignatures=2).cosignatures) == 2
    with pytest.raises(NoteVerificationError, match="2 trusted cosignature"):
        open_checkpoint(note, log_key, [*two, parse_vkey(vkey3)], required_cosignatures=3)
    with running(start_ledger_server(sqlite_url(a), a, a / "keys")) as server:
        watch = ("audit", "watch", "--server", server.url, "--state", tmp_path / "m.json")
        witnesses = ("--witness", vkey1, "--witness", vkey2)
        two_of_two = ok(custody(*watch, *witnesses, "--require-cosignatures", 2, cwd=tmp_path))
        assert "cosigned by w1.witness.example/w, w2.witness.example/w" in two_of_two.out
        line = failed(
            custody(*watch, *witnesses, "--witness", vkey3, "--require-cosignatures", 3, cwd=tmp_path),
            1,
            "[verify.monitor.cosignatures]",
        )
        assert "has 2 trusted cosignature(s)" in line
        assert "3 required" in line
        failed(
            custody(*watch, *witnesses, "--require-cosignatures", 3, cwd=tmp_path),
            2,
            "needs at least that many",
        )
