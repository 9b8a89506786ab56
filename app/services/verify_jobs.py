"""Verify-all as a background job, shared by every server process on one database.

A full verification takes seconds to minutes; a request must not wait that
long. A job runs :func:`app.services.verification.verify_ledger` in a thread
of the process that started it, and its row in ``verify_jobs`` carries the
progress, a heartbeat and the result, so a poll answered by any other worker
process (``custody serve --workers N``, or several servers) sees the same job.

At most one job runs per ledger: the row's ``running`` column is 1 under a
unique constraint while it runs, so a second start — from any process —
finds the running job instead. A process that stops mid-job leaves a running
row whose heartbeat goes stale; such a job is reported as interrupted and
its slot freed, so verify-all can be started again.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import OperationalError
from app.services.context import LedgerContext
from app.services.verification import VerifyReport, verify_ledger
from app.tables import VERIFY_JOBS
from ledger.encoding import b64url_encode
from ledger.errors import LedgerError
from ledger.times import format_timestamp, parse_timestamp

log = structlog.get_logger("custody.verify_jobs")

#: Finished jobs kept for the dashboard (older ones are deleted when a job starts).
KEEP = 20
#: How often the running process records progress and that it is alive.
HEARTBEAT_SECONDS = 1.0
#: A running job whose heartbeat is older than this belongs to a process that stopped.
STALE_AFTER = timedelta(seconds=30)
#: Findings kept with a job's result (the report's full list stays with `custody verify`).
FINDINGS_SHOWN = 50
INTERRUPTED = "interrupted: the server process running it stopped"

#: What a job runs; a parameter so that tests can hold a job open.
Verifier = Callable[[LedgerContext, Callable[[int], None]], VerifyReport]


def _verify_one_worker(ctx: LedgerContext, progress: Callable[[int], None]) -> VerifyReport:
    # One worker: a process pool inside the server would compete with requests.
    return verify_ledger(ctx, workers=1, progress=progress)


@dataclass(frozen=True)
class VerifyJob:
    """A job as stored; ``as_dict`` is what the dashboard polls."""

    job_id: str
    started_by: str
    size: int
    state: str  # running | done | failed
    checked: int
    result: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    def progress(self) -> int:
        """0–100: entries are most of the work; the last 10 % are tree nodes and projections."""
        if self.state != "running":
            return 100
        if self.size <= 0:
            return 0
        return min(90, self.checked * 90 // self.size)

    def as_dict(self, now: datetime) -> dict[str, Any]:
        result = self.result or {}
        return {
            "job": self.job_id,
            "state": self.state,
            "progress": self.progress(),
            "size": self.size,
            "checked": self.checked if self.state == "running" else self.size,
            "seconds": round(((self.finished_at or now) - self.started_at).total_seconds(), 2),
            "valid": result.get("valid") if self.state == "done" else None,
            "checkpoint_size": result.get("checkpoint_size"),
            "root": result.get("root"),
            "findings": result.get("findings") or [],
            "findings_count": result.get("findings_count", 0),
            "warnings_count": result.get("warnings_count", 0),
            "error": self.error,
            "interrupted": self.error == INTERRUPTED,
        }


def _summary(report: VerifyReport) -> dict[str, Any]:
    full = report.as_dict()
    return {
        "valid": full["valid"],
        "checkpoint_size": full["checkpoint_size"],
        "root": full["root"],
        "findings": full["findings"][:FINDINGS_SHOWN],
        "findings_count": len(full["findings"]),
        "warnings_count": len(full["warnings"]),
    }


class VerifyJobs:
    """Start and look up verify-all jobs; one instance per server process."""

    def __init__(self, ctx: LedgerContext, verifier: Verifier = _verify_one_worker) -> None:
        self._ctx = ctx
        self._verifier = verifier
        self._owner = f"{socket.gethostname()}:{os.getpid()}"

    def _now(self) -> str:
        return format_timestamp(self._ctx.clock(), millis=True)

    def start(self, party: str) -> VerifyJob:
        """Start a job, or return the one already running (in this or any other process)."""
        ctx = self._ctx
        self._reap_stale()
        for _ in range(3):
            now = self._now()
            job_id = b64url_encode(ctx.random_bytes(12))
            row = {
                "job_id": job_id,
                "started_by": party,
                "size": ctx.store.size(),
                "state": "running",
                "checked": 0,
                "owner": self._owner,
                "started_at": now,
                "heartbeat_at": now,
                "running": 1,
            }
            try:
                with ctx.engine.begin() as conn:
                    conn.execute(VERIFY_JOBS.insert(), row)
            except IntegrityError:
                # The slot is taken: another job runs (perhaps started by another process
                # a moment ago). Answer with that one; if it finished meanwhile, try again.
                running = self._running()
                if running is not None:
                    return running
                continue
            self._prune(job_id)
            threading.Thread(target=self._run, args=(job_id,), name=f"verify-{job_id}", daemon=True).start()
            job = self.get(job_id)
            assert job is not None
            return job
        raise OperationalError("verify-all could not be started: the job slot stayed taken")

    def get(self, job_id: str) -> VerifyJob | None:
        row = self._row(job_id)
        if row is not None and row["state"] == "running" and self._is_stale(row["heartbeat_at"]):
            self._reap_stale()
            row = self._row(job_id)
        if row is None:
            return None
        return VerifyJob(
            job_id=row["job_id"],
            started_by=row["started_by"],
            size=int(row["size"]),
            state=row["state"],
            checked=int(row["checked"]),
            result=json.loads(row["result"]) if row["result"] else None,
            error=row["error"],
            started_at=parse_timestamp(row["started_at"]),
            finished_at=parse_timestamp(row["finished_at"]) if row["finished_at"] else None,
        )

    def _row(self, job_id: str) -> Any:
        with self._ctx.engine.connect() as conn:
            return conn.execute(select(VERIFY_JOBS).where(VERIFY_JOBS.c.job_id == job_id)).mappings().first()

    def _running(self) -> VerifyJob | None:
        with self._ctx.engine.connect() as conn:
            job_id = conn.execute(select(VERIFY_JOBS.c.job_id).where(VERIFY_JOBS.c.running == 1)).scalar()
        return self.get(str(job_id)) if job_id is not None else None

    def _is_stale(self, heartbeat_at: str) -> bool:
        return parse_timestamp(heartbeat_at) < self._ctx.clock() - STALE_AFTER

    def _reap_stale(self) -> None:
        """Mark running jobs whose process stopped as failed, freeing the slot."""
        cutoff = format_timestamp(self._ctx.clock() - STALE_AFTER, millis=True)
        with self._ctx.engine.begin() as conn:
            reaped = conn.execute(
                update(VERIFY_JOBS)
                .where(VERIFY_JOBS.c.running == 1, VERIFY_JOBS.c.heartbeat_at < cutoff)
                .values(state="failed", error=INTERRUPTED, running=None, finished_at=self._now())
            ).rowcount
        if reaped:
            log.warning("verify_all_interrupted", jobs=reaped)

    def _prune(self, keep_id: str) -> None:
        with self._ctx.engine.begin() as conn:
            old = conn.execute(
                select(VERIFY_JOBS.c.job_id)
                .where(VERIFY_JOBS.c.running.is_(None), VERIFY_JOBS.c.job_id != keep_id)
                .order_by(VERIFY_JOBS.c.started_at.desc())
                .offset(KEEP - 1)
            ).scalars()
            doomed = list(old)
            if doomed:
                conn.execute(delete(VERIFY_JOBS).where(VERIFY_JOBS.c.job_id.in_(doomed)))

    def _record(self, job_id: str, **values: Any) -> None:
        with self._ctx.engine.begin() as conn:
            conn.execute(update(VERIFY_JOBS).where(VERIFY_JOBS.c.job_id == job_id).values(**values))

    def _run(self, job_id: str) -> None:
        checked = [0]
        done = threading.Event()

        def progress(count: int) -> None:
            checked[0] = count  # only memory here: the heartbeat thread writes it

        def heartbeat() -> None:
            # Progress goes to the database at most once a second, from a thread of its own,
            # so that verification never waits on a write and the heartbeat keeps coming
            # through the phases that report no progress (tree nodes, projections).
            while not done.wait(HEARTBEAT_SECONDS):
                try:
                    self._record(job_id, checked=checked[0], heartbeat_at=self._now())
                except Exception:  # a missed beat is retried next second
                    log.exception("verify_all_heartbeat_failed", job=job_id)

        beat = threading.Thread(target=heartbeat, name=f"verify-beat-{job_id}", daemon=True)
        beat.start()
        try:
            report = self._verifier(self._ctx, progress)
            outcome: dict[str, Any] = {"state": "done", "result": json.dumps(_summary(report))}
            log.info("verify_all", job=job_id, valid=report.valid, size=report.size)
        except LedgerError as exc:  # a known refusal (no ledger, unreadable key): its message says it
            outcome = {"state": "failed", "error": exc.message}
            log.warning("verify_all_failed", job=job_id, error=exc.message)
        except Exception as exc:  # a defect: the traceback goes to the log, the page gets its name
            outcome = {"state": "failed", "error": type(exc).__name__}
            log.exception("verify_all_failed", job=job_id)
        finally:
            done.set()
            beat.join()
        self._record(job_id, running=None, finished_at=self._now(), heartbeat_at=self._now(), **outcome)
