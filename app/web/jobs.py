"""Verify-all as a background job of the server process, polled by the auditor's page.

A full verification takes seconds to minutes; a request must not wait that
long. The job runs :func:`app.services.verification.verify_ledger` in a
thread and publishes its progress; the page polls a JSON endpoint. Jobs live
in the memory of one server process (a poll that reaches another worker
process answers 404 and the page says so); one runs at a time per process —
starting another while one runs returns the running one.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from app.services.context import LedgerContext
from app.services.verification import verify_ledger

log = structlog.get_logger("custody.web")
KEEP = 20


@dataclass
class VerifyJob:
    job_id: str
    started_by: str
    size: int
    started: float = field(default_factory=time.monotonic)
    state: str = "running"  # running | done | failed
    checked: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    finished: float | None = None

    def progress(self) -> int:
        """0–100: entries are most of the work; the last 10 % are tree nodes and projections."""
        if self.state != "running":
            return 100
        if self.size <= 0:
            return 0
        return min(90, self.checked * 90 // self.size)

    def as_dict(self) -> dict[str, Any]:
        result = self.result or {}
        return {
            "job": self.job_id,
            "state": self.state,
            "progress": self.progress(),
            "size": self.size,
            "checked": self.checked if self.state == "running" else self.size,
            "seconds": round((self.finished or time.monotonic()) - self.started, 2),
            "valid": result.get("valid") if self.state == "done" else None,
            "checkpoint_size": result.get("checkpoint_size"),
            "root": result.get("root"),
            "findings": (result.get("findings") or [])[:50],
            "findings_count": len(result.get("findings") or []),
            "warnings_count": len(result.get("warnings") or []),
            "error": self.error,
        }


class VerifyJobs:
    def __init__(self) -> None:
        self._jobs: dict[str, VerifyJob] = {}
        self._lock = threading.Lock()

    def start(self, ctx: LedgerContext, party: str) -> VerifyJob:
        with self._lock:
            running = next((j for j in self._jobs.values() if j.state == "running"), None)
            if running is not None:
                return running
            job = VerifyJob(secrets.token_urlsafe(12), party, ctx.store.size())
            self._jobs[job.job_id] = job
            for old in sorted(self._jobs.values(), key=lambda j: j.started)[:-KEEP]:
                self._jobs.pop(old.job_id, None)
        threading.Thread(target=self._run, args=(ctx, job), name=f"verify-{job.job_id}", daemon=True).start()
        return job

    def get(self, job_id: str) -> VerifyJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _run(self, ctx: LedgerContext, job: VerifyJob) -> None:
        def progress(count: int) -> None:
            job.checked = count

        try:
            # One worker: a process pool inside the server would compete with requests.
            report = verify_ledger(ctx, workers=1, progress=progress)
            job.result = report.as_dict()
            job.state = "done"
            log.info("verify_all", job=job.job_id, by=job.started_by, valid=report.valid, size=report.size)
        except Exception as exc:
            job.error = getattr(exc, "message", None) or type(exc).__name__
            job.state = "failed"
            log.exception("verify_all_failed", job=job.job_id)
        finally:
            job.finished = time.monotonic()
