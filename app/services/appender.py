"""Group commit for the HTTP service: many concurrent requests, few transactions.

Appends are serialised per log, so one transaction per request would cap
throughput at one commit (and its fsync) per statement. Instead every
request puts its unit (one envelope, or a client's all-or-nothing batch)
on a queue; one thread takes everything that is waiting, appends it as one
transaction with :meth:`LogStore.append_units` — each unit still decided on
its own — and wakes each request with its own result. Nothing is delayed
on purpose: a lone request is committed at once; under load the queue
fills while the previous transaction commits, and batches grow by themselves.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import structlog

from app.errors import OperationalError
from app.logstore import AppendResult, LogStore
from ledger.envelope import Envelope

log = structlog.get_logger("custody.appender")


@dataclass
class _Job:
    envelopes: Sequence[Envelope]
    future: Future[AppendResult] = field(default_factory=Future)


class AppenderStopped(OperationalError):
    code = "operational.appender_stopped"


class GroupAppender:
    def __init__(self, store: LogStore, *, max_statements: int = 500, timeout: float = 60.0) -> None:
        self._store = store
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._max = max_statements
        self._timeout = timeout
        self._thread = threading.Thread(target=self._run, name="group-appender", daemon=True)
        self._started = False
        self._stopped = False
        self._lock = threading.Lock()

    def submit(self, envelopes: Sequence[Envelope]) -> AppendResult:
        """Append one all-or-nothing unit; block until it is committed or refused."""
        with self._lock:
            if self._stopped:
                raise AppenderStopped("the service is shutting down")
            if not self._started:
                self._thread.start()
                self._started = True
        job = _Job(envelopes)
        self._queue.put(job)
        return job.future.result(timeout=self._timeout)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            started = self._started
        if started:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs, count = [job], len(job.envelopes)
            while count < self._max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                jobs.append(more)
                count += len(more.envelopes)
            try:
                outcomes = self._store.append_units([j.envelopes for j in jobs])
            except BaseException as exc:
                log.error("group_append_failed", error=type(exc).__name__, units=len(jobs))
                for j in jobs:
                    j.future.set_exception(exc)
                continue
            for j, outcome in zip(jobs, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    j.future.set_exception(outcome)
                else:
                    j.future.set_result(outcome)
