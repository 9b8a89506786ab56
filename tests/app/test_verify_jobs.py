"""Verify-all jobs shared through the database (app/services/verify_jobs.py), on every backend.

Two ``LedgerContext`` objects with engines of their own stand for two server
processes on one database: a job started in one is seen, polled, refused a
twin and reported interrupted from the other. Both read the wall clock, as
servers do (heartbeats are compared across processes); the ledger fixture's
own stepping clock would age a heartbeat by a second at every reading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.services.context import LedgerContext
from app.services.verification import VerifyReport, verify_ledger
from app.services.verify_jobs import INTERRUPTED, KEEP, STALE_AFTER, VerifyJob, VerifyJobs
from app.tables import VERIFY_JOBS
from ledger.checkpoint import parse_checkpoint_unverified
from ledger.errors import InvalidInput
from ledger.times import format_timestamp
from tests.helpers import LedgerFixture

AUDITOR = "party:AUD-01"


def _process(ledger: LedgerFixture) -> Iterator[LedgerContext]:
    ctx = LedgerContext.open(ledger.ctx.settings)
    try:
        yield ctx
    finally:
        ctx.engine.dispose()


@pytest.fixture
def this_process(ledger: LedgerFixture) -> Iterator[LedgerContext]:
    """A server process's context on the test ledger's database."""
    yield from _process(ledger)


@pytest.fixture
def other_process(ledger: LedgerFixture) -> Iterator[LedgerContext]:
    """A second context on the same database, as another server process would have."""
    yield from _process(ledger)


def _finished(jobs: VerifyJobs, job_id: str, timeout: float = 60.0) -> VerifyJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        assert job is not None
        if job.state != "running":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running after {timeout} s")


def _gated(gate: threading.Event) -> Callable[[LedgerContext, Callable[[int], None]], VerifyReport]:
    """The real verification, held open after reporting one entry until ``gate`` is set."""

    def verifier(ctx: LedgerContext, progress: Callable[[int], None]) -> VerifyReport:
        progress(1)
        assert gate.wait(30), "the test never released the job"
        return verify_ledger(ctx, workers=1, progress=progress)

    return verifier


def test_a_job_started_in_one_process_is_polled_to_its_result_in_another(
    ledger: LedgerFixture, this_process: LedgerContext, other_process: LedgerContext
) -> None:
    ledger.party("WH-01", ["warehouse"])
    started = VerifyJobs(this_process).start(AUDITOR)
    assert (started.state, started.started_by, started.size) == ("running", AUDITOR, ledger.ctx.store.size())

    done = _finished(VerifyJobs(other_process), started.job_id)

    checkpoint = parse_checkpoint_unverified(ledger.ctx.store.checkpoint())
    view = done.as_dict(other_process.clock())
    assert (view["state"], view["valid"], view["progress"]) == ("done", True, 100)
    assert view["checked"] == view["size"] == ledger.ctx.store.size()
    assert (view["root"], view["checkpoint_size"]) == (checkpoint.root.hex(), checkpoint.size)
    assert (view["findings"], view["findings_count"], view["interrupted"]) == ([], 0, False)


def test_one_job_runs_at_a_time_across_processes_and_progress_is_shared(
    ledger: LedgerFixture, this_process: LedgerContext, other_process: LedgerContext
) -> None:
    gate = threading.Event()
    here = VerifyJobs(this_process, verifier=_gated(gate))
    there = VerifyJobs(other_process, verifier=_gated(gate))
    try:
        first = here.start(AUDITOR)
        # The other process asks for a job while this one runs: it gets this one, not a twin.
        assert there.start("party:ADMIN-01").job_id == first.job_id
        # The progress the running process reports reaches the other one by the heartbeat.
        deadline = time.monotonic() + 10
        while (seen := there.get(first.job_id)) is not None and seen.checked < 1:
            assert time.monotonic() < deadline, "no progress reached the other process"
            time.sleep(0.05)
        assert seen is not None
        assert seen.state == "running"
    finally:
        gate.set()
    assert _finished(there, first.job_id).state == "done"
    with ledger.ctx.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(VERIFY_JOBS)).scalar() == 1
    # Once it is done the slot is free: the next start is a new job.
    second = there.start("party:ADMIN-01")
    assert second.job_id != first.job_id
    assert _finished(here, second.job_id).state == "done"


def test_a_job_whose_process_stopped_is_reported_interrupted_and_a_new_one_can_start(
    ledger: LedgerFixture, this_process: LedgerContext, other_process: LedgerContext
) -> None:
    # What a server process killed mid-job leaves behind: a running row, its heartbeat old.
    beat = format_timestamp(other_process.clock() - STALE_AFTER - timedelta(seconds=5), millis=True)
    with ledger.ctx.engine.begin() as conn:
        conn.execute(
            VERIFY_JOBS.insert(),
            {
                "job_id": "crashed-job",
                "started_by": AUDITOR,
                "size": 5,
                "state": "running",
                "checked": 2,
                "owner": "gone:1",
                "started_at": beat,
                "heartbeat_at": beat,
                "running": 1,
            },
        )
    jobs = VerifyJobs(other_process)
    crashed = jobs.get("crashed-job")
    assert crashed is not None
    view = crashed.as_dict(other_process.clock())
    assert (view["state"], view["error"], view["interrupted"]) == ("failed", INTERRUPTED, True)

    fresh = jobs.start(AUDITOR)
    assert fresh.job_id != "crashed-job"
    assert _finished(jobs, fresh.job_id).state == "done"


def test_a_running_job_with_a_live_heartbeat_is_not_taken_over(
    ledger: LedgerFixture, this_process: LedgerContext, other_process: LedgerContext
) -> None:
    gate = threading.Event()
    here = VerifyJobs(this_process, verifier=_gated(gate))
    try:
        job = here.start(AUDITOR)
        # Longer than a heartbeat: the beat keeps it alive, so the other process must not reap it.
        time.sleep(1.5)
        seen = VerifyJobs(other_process).get(job.job_id)
        assert seen is not None
        assert (seen.state, seen.error) == ("running", None)
    finally:
        gate.set()
    assert _finished(here, job.job_id).state == "done"


def test_a_verification_that_cannot_run_is_reported_failed_and_frees_the_slot(
    this_process: LedgerContext,
) -> None:
    def broken(ctx: LedgerContext, progress: Callable[[int], None]) -> VerifyReport:
        raise InvalidInput("the log key file is unreadable")

    jobs = VerifyJobs(this_process, verifier=broken)
    failed = _finished(jobs, jobs.start(AUDITOR).job_id)
    view = failed.as_dict(this_process.clock())
    assert (view["state"], view["error"], view["valid"], view["interrupted"]) == (
        "failed",
        "the log key file is unreadable",
        None,
        False,
    )
    assert jobs.start(AUDITOR).job_id != failed.job_id


def test_only_the_last_jobs_are_kept(sqlite_ledger: LedgerFixture) -> None:
    jobs = VerifyJobs(LedgerContext.open(sqlite_ledger.ctx.settings))
    ids = [_finished(jobs, jobs.start(AUDITOR).job_id).job_id for _ in range(KEEP + 3)]
    with sqlite_ledger.ctx.engine.connect() as conn:
        kept = set(conn.execute(select(VERIFY_JOBS.c.job_id)).scalars())
    assert kept == set(ids[-KEEP:])
    assert jobs.get(ids[0]) is None
