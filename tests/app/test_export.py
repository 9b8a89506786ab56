"""`custody export` and GET /api/v1/export: bundles of demo ledgers verify, full and per connector.

Real SQLite files and the real PostgreSQL; the command runs as a process.
A bundle is written through a temporary file and renamed, so a failed export
leaves no half-written file and never replaces a good one; the same ledger
at the same checkpoint always gives the same bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app import queries
from app.api.app import create_app
from app.errors import IntegrityFailure
from app.services.bundle_verify import verify_bundle
from app.services.context import LedgerContext
from app.services.export import ZIP_TIME, export_all, export_connectors, needed_indices
from app.services.tokens import create_token
from app.tables import ENTRIES
from ledger.entry import Entry
from ledger.errors import InvalidInput, NotFound
from tests.app.bundle_helpers import demo, read_zip
from tests.app.storage_helpers import append_only_bypassed
from tests.helpers import KEY_PASSPHRASE, LOG_PASSPHRASE

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")


@dataclass
class Demo:
    ctx: LedgerContext
    path: Path

    @property
    def url(self) -> str:
        return self.ctx.settings.database_url


@pytest.fixture(scope="module")
def lite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    tmp = tmp_path_factory.mktemp("export")
    ctx = demo(f"sqlite:///{tmp}/ledger.db", tmp)
    try:
        yield Demo(ctx, tmp)
    finally:
        ctx.engine.dispose()


def _statement_of(raw: bytes) -> Entry:
    return Entry.parse(raw)


# --------------------------------------------------------------------------
# Demo bundles verify


def test_the_full_bundle_of_a_demo_ledger_verifies(lite: Demo, tmp_path: Path) -> None:
    result = export_all(lite.ctx, tmp_path / "all.zip")
    size = lite.ctx.store.size()
    assert (result.entries, result.checkpoint_size, result.partial) == (size, size, False)
    report = verify_bundle(result.path, vkey=read_zip(result.path).vkey.decode().strip(), workers=1)
    assert report.valid, report.findings
    assert report.entries == size
    assert report.root == result.root
    # Verified with worker processes as well.
    assert verify_bundle(result.path, workers=2).valid


def test_every_connector_of_the_demo_exports_a_partial_bundle_that_verifies(
    lite: Demo, tmp_path: Path
) -> None:
    connectors = queries.connectors(lite.ctx.engine)
    states = Counter(c["state"] for c in connectors)
    assert {"IN_OPERATION", "INSTALLED", "DESTROYED", "LOST", "IN_STOCK"} <= set(states)
    size = lite.ctx.store.size()
    for row in connectors:
        subject = row["subject"]
        result = export_connectors(lite.ctx, [subject.partition(":")[2]], tmp_path / "c.zip")
        report = verify_bundle(result.path, workers=1)
        assert report.valid, (subject, row["state"], report.findings[:3])
        assert report.partial
        assert subject in report.subjects
        assert result.checkpoint_size == size
        # Only what the connector needs: no other connector's entries.
        entries = [_statement_of(raw) for raw in read_zip(result.path).entries]
        others = {e.statement.subject for e in entries if e.statement.subject_type == "connector"}
        assert others == {subject}
    both = export_connectors(lite.ctx, [c["subject"] for c in connectors[:2]], tmp_path / "two.zip")
    assert verify_bundle(both.path, workers=1).valid
    assert both.subjects == sorted(c["subject"] for c in connectors[:2])


def test_the_incident_connector_bundle_carries_seals_receipts_and_every_party(lite: Demo) -> None:
    incident = queries.incidents(lite.ctx.engine)[0]
    subject = incident.connector
    size = lite.ctx.store.size()
    indices = needed_indices(lite.ctx, [subject], size)
    entries = {i: _statement_of(lite.ctx.store.entry(i)) for i in indices}
    kinds = Counter(e.statement.kind for e in entries.values())
    assert kinds["ledger.genesis"] == 1
    assert indices[0] == 0
    # Its incident, quarantine, release and the re-seal after it.
    chain = [e for e in entries.values() if e.statement.subject == subject]
    assert [e.statement.kind for e in chain].count("seal.applied") == 2
    assert {"quarantined", "quarantine.released", "seal.removed"} <= {e.statement.kind for e in chain}
    # Every seal it carried, with its chain and the receipt of its batch.
    carried = {s for e in chain if e.statement.kind == "seal.applied" for s in e.statement.data["seals"]}
    for seal in carried:
        record = queries.seal(lite.ctx.engine, seal)
        assert record.received_index in entries
        assert any(
            e.statement.subject == f"seal:{seal}" and e.statement.kind == "seal.issued"
            for e in entries.values()
        )
    # Every author and signer has its registration and key in the bundle.
    # (The genesis administrator is registered, with its key, by genesis itself.)
    keys = lite.ctx.store.trust_state().keys
    admin = entries[0].statement.data["admin"]
    for entry in entries.values():
        for party in {entry.statement.by, *(keys[s.keyid].party for s in entry.envelope.signatures)} - {
            admin
        }:
            registered = [e for e in entries.values() if e.statement.subject == party]
            assert {"party.registered", "key.added"} <= {e.statement.kind for e in registered}, party
    assert {"party:AUDIT-01", "party:CR-SECURA-01"} <= {e.statement.subject for e in entries.values()}


def test_unknown_connectors_and_sizes_are_refused(lite: Demo, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        export_connectors(lite.ctx, ["NOBODY:123"], tmp_path / "x.zip")
    with pytest.raises(NotFound):
        export_all(lite.ctx, tmp_path / "x.zip", size=lite.ctx.store.size() + 5)
    with pytest.raises(InvalidInput):
        export_connectors(lite.ctx, [], tmp_path / "x.zip")
    assert not list(tmp_path.iterdir())


def test_an_export_at_an_earlier_checkpoint_verifies_against_it(lite: Demo, tmp_path: Path) -> None:
    sizes = lite.ctx.store.checkpoint_sizes()
    earlier = sizes[len(sizes) // 2]
    result = export_all(lite.ctx, tmp_path / "early.zip", size=earlier)
    report = verify_bundle(result.path, workers=1)
    assert report.valid, report.findings
    assert report.entries == report.checkpoint_size == earlier


# --------------------------------------------------------------------------
# Deterministic, atomic


def test_the_same_ledger_gives_the_same_bytes(lite: Demo, tmp_path: Path) -> None:
    first = export_all(lite.ctx, tmp_path / "a.zip")
    second = export_all(lite.ctx, tmp_path / "b.zip")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["log.vkey", "checkpoint", "entries.jsonl"]
    assert {i.date_time for i in infos} == {ZIP_TIME}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    subject = queries.connectors(lite.ctx.engine)[0]["subject"]
    one = export_connectors(lite.ctx, [subject], tmp_path / "c.zip").path.read_bytes()
    assert one == export_connectors(lite.ctx, [subject], tmp_path / "d.zip").path.read_bytes()
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        assert archive.namelist() == ["log.vkey", "checkpoint", "entries.jsonl", "proofs.jsonl"]
    assert oct(os.stat(tmp_path / "c.zip").st_mode & 0o777) == "0o644"


def test_a_failed_export_leaves_the_previous_file_and_no_temporary_one(lite: Demo, tmp_path: Path) -> None:
    # A copy of the ledger with an entry deleted behind the triggers' back: the export
    # fails half-way through streaming the entries.
    broken_dir = tmp_path / "broken"
    broken_dir.mkdir()
    import sqlite3

    source = sqlite3.connect(lite.path / "ledger.db")
    target = sqlite3.connect(broken_dir / "ledger.db")
    source.backup(target)
    source.close()
    target.close()
    ctx = LedgerContext.open(
        lite.ctx.settings.model_copy(update={"database_url": f"sqlite:///{broken_dir}/ledger.db"})
    )
    try:
        with append_only_bypassed(ctx.engine) as conn:
            conn.execute(ENTRIES.delete().where(ENTRIES.c.idx == 100))
        out = tmp_path / "out"
        out.mkdir()
        previous = out / "bundle.zip"
        previous.write_bytes(b"the previous bundle")
        with pytest.raises(IntegrityFailure):
            export_all(ctx, previous)
        assert previous.read_bytes() == b"the previous bundle"
        assert sorted(p.name for p in out.iterdir()) == ["bundle.zip"]
    finally:
        ctx.engine.dispose()
    with pytest.raises(InvalidInput, match="does not exist"):
        export_all(lite.ctx, tmp_path / "no-such-dir" / "b.zip")
    with pytest.raises(InvalidInput, match="is a directory"):
        export_all(lite.ctx, tmp_path)


@pytest.mark.postgres
def test_a_postgresql_ledger_exports_the_same_bundles(pg_url: str, lite: Demo, tmp_path: Path) -> None:
    ctx = demo(pg_url, tmp_path / "pg")
    try:
        full = export_all(ctx, tmp_path / "pg-all.zip")
        assert verify_bundle(full.path, workers=2).valid
        subject = queries.connectors(ctx.engine, state="DESTROYED")[0]["subject"]
        partial = export_connectors(ctx, [subject], tmp_path / "pg-one.zip")
        assert verify_bundle(partial.path, workers=1).valid
        # Same seed, same entries, same log key: byte for byte the SQLite ledger's bundles.
        assert full.path.read_bytes() == export_all(lite.ctx, tmp_path / "lite-all.zip").path.read_bytes()
        lite_one = export_connectors(lite.ctx, [subject], tmp_path / "lite-one.zip")
        assert partial.path.read_bytes() == lite_one.path.read_bytes()
    finally:
        ctx.engine.dispose()


# --------------------------------------------------------------------------
# The command


def _custody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    env["CUSTODY_LOG_KEY_PASSPHRASE"] = LOG_PASSPHRASE
    env["CUSTODY_KEY_PASSPHRASE"] = KEY_PASSPHRASE
    return subprocess.run(
        [str(CUSTODY), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def test_custody_export_then_verify(lite: Demo, tmp_path: Path) -> None:
    subject = queries.connectors(lite.ctx.engine, state="DESTROYED")[0]["subject"]
    serial = subject.partition(":")[2]
    done = _custody(
        "export", "--connector", serial, "--out", "d.zip", "--db", lite.url, "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["kind"] == "partial"
    assert summary["subjects"] == [subject]
    assert (tmp_path / "d.zip").stat().st_size == summary["bytes"]
    checked = _custody("verify", "d.zip", "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["valid"] is True

    everything = _custody("export", "--all", "--out", "all.zip", "--db", lite.url, cwd=tmp_path)
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout.startswith("full bundle:")
    assert _custody("verify", "all.zip", cwd=tmp_path).returncode == 0

    for args, words in [
        (["--out", "x.zip"], "exactly one of --all and --connector"),
        (["--all", "--connector", serial, "--out", "x.zip"], "exactly one of --all and --connector"),
        (["--connector", "NOBODY:1", "--out", "x.zip"], "unknown connector"),
    ]:
        refused = _custody("export", *args, "--db", lite.url, cwd=tmp_path)
        assert refused.returncode == 2, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert words in refused.stderr
    assert not (tmp_path / "x.zip").exists()


def test_custody_export_format_epcis_is_handed_on(lite: Demo, tmp_path: Path) -> None:
    subject = queries.connectors(lite.ctx.engine)[0]["subject"]
    result = _custody(
        "export",
        "--format",
        "epcis",
        "--connector",
        subject,
        "--out",
        "e.json",
        "--db",
        lite.url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "e.json").read_text())["type"] == "EPCISDocument"


# --------------------------------------------------------------------------
# The API


def test_the_api_serves_bundles_to_auditors_and_admins_only(lite: Demo, tmp_path: Path) -> None:
    tokens = {
        name: create_token(lite.ctx, party, roles=[role])[0]
        for name, party, role in [
            ("auditor", "AUDIT-01", "auditor"),
            ("admin", "ADMIN-01", "admin"),
            ("warehouse", "WH-ESSEN-01", "warehouse"),
        ]
    }
    subject = queries.incidents(lite.ctx.engine)[0].connector
    app = create_app(lite.ctx.settings, lite.ctx)
    with TestClient(app) as client:

        def get(path: str, as_: str | None, **params: str) -> Response:
            headers = {} if as_ is None else {"Authorization": f"Bearer {tokens[as_]}"}
            response: Response = client.get("/api/v1" + path, params=params, headers=headers)
            return response

        response = get("/export", "auditor", connector=subject)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        body = response.content
        (tmp_path / "api.zip").write_bytes(body)
        report = verify_bundle(tmp_path / "api.zip", workers=1)
        assert report.valid, report.findings
        assert subject in report.subjects
        assert body == export_connectors(lite.ctx, [subject], tmp_path / "cli.zip").path.read_bytes()

        everything = get("/export/all", "admin")
        assert everything.status_code == 200
        (tmp_path / "all.zip").write_bytes(everything.content)
        assert verify_bundle(tmp_path / "all.zip", workers=1).valid

        assert get("/export/all", "warehouse").status_code == 403
        assert get("/export", "warehouse", connector=subject).status_code == 403
        assert get("/export/all", None).status_code == 401
        missing = get("/export", "auditor", connector="NOBODY:1")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
