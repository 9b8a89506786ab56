"""Group commit for the HTTP service: many concurrent requests, few transactions.

Appends are serialised per log, so one transaction per request would cap
throughput at one commit (and its fsync) per statement. Instead every
request puts its unit (one envelope, or a client's all-or-nothing batch)
on a queue; one thread takes everything that is waiting, appends it as one
transaction with :meth:`LogStore.append_units` — each unit still decided on
its own — and wakes each request with its own result. Nothing is delayed
on purpose: a lone request is committed at once; under load the queue
fills while the previous transaction commits, and batches grow by themselves.
With several processes on one database, what queues up while this process
waits for the database's append lock joins the transaction once the lock is
held (``LogStore.append_units(more=…)``), so waiting makes groups larger
instead of adding transactions.
"""

from __future__ import annotations

import asyncio
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
        return self._enqueue(envelopes).result(timeout=self._timeout)

    async def submit_async(self, envelopes: Sequence[Envelope]) -> AppendResult:
        """:meth:`submit` for the event loop: wait for the commit without holding a thread."""
        future = asyncio.wrap_future(self._enqueue(envelopes))
        # Shielded: a caller that goes away must not cancel a unit the appender may be writing.
        return await asyncio.wait_for(asyncio.shield(future), self._timeout)

    def _enqueue(self, envelopes: Sequence[Envelope]) -> Future[AppendResult]:
        with self._lock:
            if self._stopped:
                raise AppenderStopped("the service is shutting down")
            if not self._started:
                self._thread.start()
                self._started = True
        job = _Job(envelopes)
        self._queue.put(job)
        return job.future

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
            jobs = [job]
            self._take(jobs)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        first = len(jobs)

        def more() -> list[Sequence[Envelope]]:
            # Called with the log's write lock held: whatever queued up while this
            # process waited for another one to commit joins this transaction.
            taken = len(jobs)
            self._take(jobs)
            return [j.envelopes for j in jobs[taken:]]

        try:
            outcomes = self._store.append_units([j.envelopes for j in jobs[:first]], more=more)
        except BaseException as exc:
            log.error("group_append_failed", error=type(exc).__name__, units=len(jobs))
            for j in jobs:
                _settle(j.future, exc)
            return
        for j, outcome in zip(jobs, outcomes, strict=True):
            _settle(j.future, outcome)

    def _take(self, jobs: list[_Job]) -> None:
        """Move waiting jobs into ``jobs`` (up to the statement limit), without blocking."""
        count = sum(len(j.envelopes) for j in jobs)
        while count < self._max:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                return
            if more is None:
                self._queue.put(None)
                return
            jobs.append(more)
            count += len(more.envelopes)


def _settle(future: Future[AppendResult], outcome: AppendResult | BaseException) -> None:
    """Hand a unit its outcome (a future someone cancelled meanwhile just drops it)."""
    if not future.set_running_or_notify_cancel():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
