"""Scale-out: several `custody serve` processes on ONE database, appending concurrently.

Real processes, a real database: on PostgreSQL one server runs two uvicorn
worker processes (`--workers 2`) and a second server runs beside it — three
processes whose appends serialise only on the database's advisory lock; on
SQLite two servers share the WAL-mode file. Client threads POST pre-signed
single statements (and a few all-or-nothing batches) to both servers at
once. Then:

* every 201 receipt verifies offline against the vkey the API publishes;
* the acknowledged indices are exactly the new part of the log: dense, no
  gap, no duplicate;
* each acknowledged statement is in the log at its acknowledged index, byte
  for byte the entry of its receipt;
* both servers acknowledged appends, and the whole ledger verifies;
* the servers' stdout is structured logs, one JSON object per line.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.security import SESSION_COOKIE
from app.services import people, sessions
from app.services.context import LedgerContext
from app.services.tokens import create_token
from app.services.verification import verify_ledger
from ledger.custody.ids import seal_id
from ledger.entry import Entry
from ledger.envelope import Envelope
from ledger.note import parse_vkey
from ledger.receipt import verify_receipt
from tests.app.api_scale.servers import Server, log_records, serve, wait_until_up
from tests.helpers import LedgerFixture

pytestmark = pytest.mark.slow

PARTIES = 4
SINGLES_PER_PARTY = 60
BATCHES_PER_PARTY = 4
BATCH_SIZE = 3
CLIENT_THREADS = 8


@dataclass
class Outcome:
    """What one client thread saw: per request the server, the envelopes sent and the answer."""

    sent: list[tuple[str, list[Envelope], int, dict[str, Any]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _seal_statement(ledger: LedgerFixture, party: str, number: int) -> Envelope:
    return ledger.statement(
        "seal.received",
        f"seal:{seal_id('KS', number)}",
        party,
        {"series": "KS", "first": number, "count": 1, "supplier": "Scale test seals"},
    )


def _work(ledger: LedgerFixture) -> list[tuple[str, list[list[Envelope]]]]:
    """Per party: single statements and small batches, each a new seal."""
    work, number = [], 0
    for p in range(PARTIES):
        party = f"WH-{p + 1:02d}"
        units: list[list[Envelope]] = []
        for _ in range(SINGLES_PER_PARTY):
            units.append([_seal_statement(ledger, party, number)])
            number += 1
        for _ in range(BATCHES_PER_PARTY):
            units.append([_seal_statement(ledger, party, number + k) for k in range(BATCH_SIZE)])
            number += BATCH_SIZE
        work.append((party, units))
    return work


def _client(
    servers: list[Server], token: str, units: list[list[Envelope]], offset: int, outcome: Outcome
) -> None:
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in servers]
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for number, unit in enumerate(units):
            which = (number + offset) % len(servers)
            if len(unit) == 1:
                answer = clients[which].post("/api/v1/statements", json=unit[0].to_json(), headers=headers)
            else:
                answer = clients[which].post(
                    "/api/v1/statements/batch",
                    json={"envelopes": [e.to_json() for e in unit]},
                    headers=headers,
                )
            if answer.status_code != 201:
                outcome.failures.append(f"{answer.status_code} {answer.text[:300]}")
                continue
            outcome.sent.append((servers[which].url, unit, answer.status_code, answer.json()))
    except Exception as exc:  # reported by the test, not lost in a thread
        outcome.failures.append(repr(exc))
    finally:
        for client in clients:
            client.close()


def test_servers_on_one_database_append_without_gaps(ledger: LedgerFixture, tmp_path: Path) -> None:
    started = time.monotonic()
    postgres = ledger.ctx.engine.dialect.name == "postgresql"
    tokens = {}
    for p in range(PARTIES):
        party = f"WH-{p + 1:02d}"
        ledger.party(party, ["warehouse"])
        tokens[party] = create_token(ledger.ctx, party, roles=["warehouse"], label="scale test")[0]
    work = _work(ledger)
    size_before = ledger.ctx.store.size()
    # PostgreSQL: a two-worker server and a single one (three processes); SQLite: two servers.
    shapes = [("a", 2), ("b", 1)] if postgres else [("a", 1), ("b", 1)]
    with ExitStack() as stack:
        servers = [stack.enter_context(serve(ledger, tmp_path, name, workers)) for name, workers in shapes]
        deadline = time.monotonic() + 45
        for server, (_, workers) in zip(servers, shapes, strict=True):
            wait_until_up(server, workers, deadline)
        vkeys = {httpx.get(f"{s.url}/api/v1/log/vkey", timeout=10).text.strip() for s in servers}
        assert len(vkeys) == 1, "the servers publish different log keys"
        log_key = parse_vkey(vkeys.pop())

        # Two client threads per party, each taking every other unit, starting on different servers.
        outcomes: list[Outcome] = []
        threads = []
        for party, units in work:
            for half in range(CLIENT_THREADS // PARTIES):
                outcome = Outcome()
                outcomes.append(outcome)
                share = units[half :: CLIENT_THREADS // PARTIES]
                threads.append(
                    threading.Thread(target=_client, args=(servers, tokens[party], share, half, outcome))
                )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
            assert not thread.is_alive(), "a client thread hung"

    failures = [f for o in outcomes for f in o.failures]
    assert not failures, failures[:5]
    sent = [item for o in outcomes for item in o.sent]
    assert len(sent) == PARTIES * (SINGLES_PER_PARTY + BATCHES_PER_PARTY)

    # Every receipt verifies offline, and names the statement that was sent.
    acknowledged: dict[int, bytes] = {}
    by_server: dict[str, int] = {}
    for url, unit, _, body in sent:
        receipts = body["receipts"]
        assert len(receipts) == len(unit)
        for envelope, receipt in zip(unit, receipts, strict=True):
            entry = verify_receipt(receipt, log_key)
            assert entry.envelope.payload == envelope.payload
            assert receipt["index"] not in acknowledged, f"index {receipt['index']} acknowledged twice"
            acknowledged[receipt["index"]] = receipt["entry"].encode("utf-8")
        by_server[url] = by_server.get(url, 0) + 1
        # A batch is all or nothing, and contiguous.
        indices = [r["index"] for r in receipts]
        assert indices == list(range(indices[0], indices[0] + len(indices)))
    assert len(by_server) == len(servers), f"not every server acknowledged appends: {by_server}"

    # Dense: the acknowledged indices are exactly the new part of the log.
    size_after = ledger.ctx.store.size()
    total = PARTIES * (SINGLES_PER_PARTY + BATCHES_PER_PARTY * BATCH_SIZE)
    assert size_after == size_before + total
    assert sorted(acknowledged) == list(range(size_before, size_after))

    # Each acknowledged statement is at its acknowledged index, byte for byte.
    for index, raw in acknowledged.items():
        stored = ledger.ctx.store.entry(index)
        assert stored == raw
        assert Entry.parse(stored).index == index

    report = verify_ledger(ledger.ctx)
    assert report.valid, report.findings[:10]
    assert report.size == size_after

    # Structured logs: every stdout line one JSON object; the access log saw every 201, and
    # on PostgreSQL both workers of the two-worker server served some of them.
    created = [
        (server.url, record["pid"])
        for server in servers
        for record in log_records(server)
        if record.get("event") == "request" and record.get("status") == 201
    ]
    assert len(created) == len(sent)
    if postgres:
        assert len({pid for url, pid in created if url == servers[0].url}) == 2
    assert time.monotonic() - started < 90


def test_verify_all_started_on_one_server_is_polled_to_its_result_on_the_other(
    ledger: LedgerFixture, tmp_path: Path
) -> None:
    """The dashboard's verify-all job lives in the database: any server answers its polls."""
    ledger.party("AUD-01", ["auditor"])
    # The servers read the wall clock; so must the session they are to accept.
    wall = LedgerContext.open(ledger.ctx.settings)
    try:
        people.add_person(wall, "ada", "AUD-01", roles=["auditor"], password="a long test passphrase")
        cookie, session = sessions.create_session(wall, people.get_person(wall, "ada"))
    finally:
        wall.engine.dispose()
    with ExitStack() as stack:
        servers = [stack.enter_context(serve(ledger, tmp_path, name)) for name in ("a", "b")]
        for server in servers:
            wait_until_up(server, 1, time.monotonic() + 60)
        clients = [
            stack.enter_context(
                httpx.Client(
                    base_url=s.url, cookies={SESSION_COOKIE: cookie}, headers={"Accept": "application/json"}
                )
            )
            for s in servers
        ]
        started = clients[0].post("/audit/verify", headers={"X-CSRF-Token": session.csrf})
        assert started.status_code == 202, started.text
        job_id = started.json()["job"]
        polls = 0
        deadline = time.monotonic() + 60
        while True:
            answer = clients[polls % 2].get(f"/audit/verify/{job_id}")
            assert answer.status_code == 200, (polls % 2, answer.text)
            polls += 1
            if answer.json()["state"] != "running":
                break
            assert time.monotonic() < deadline, "verify-all did not finish"
            time.sleep(0.05)
        job = answer.json()
        assert (job["state"], job["valid"], job["findings_count"]) == ("done", True, 0)
        assert job["checked"] == job["size"] == ledger.ctx.store.size()
        # Both servers answer the finished job the same way.
        answers = [client.get(f"/audit/verify/{job_id}").json() for client in clients]
        assert answers[0] == answers[1]
