"""Signature checks on every core: a process pool behind :class:`SignatureChecker`.

Verification is dominated by signature checks, which are independent of
each other; the replay (state, chains, rules) is sequential. The verifier
hands chunks of checks to this pool and keeps replaying while the workers
verify, so both run at once. At most ``2 × workers`` chunks are in flight,
which bounds memory however long the log is.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from multiprocessing.pool import AsyncResult, Pool

from ledger.keys import PublicKey
from ledger.verify import (
    InlineSignatureChecker,
    SigFailure,
    SignatureChecker,
    SigTask,
    check_signature_tasks,
)

_worker_cache: dict[bytes, PublicKey] = {}


def _check_chunk(tasks: list[SigTask]) -> list[SigFailure]:
    return check_signature_tasks(tasks, _worker_cache)


class PoolSignatureChecker:
    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        self._pool: Pool = context.Pool(workers)
        self._pending: deque[AsyncResult[list[SigFailure]]] = deque()
        self._limit = 2 * workers

    def submit(self, tasks: list[SigTask]) -> None:
        self._pending.append(self._pool.apply_async(_check_chunk, (tasks,)))

    def collect(self, wait: bool) -> list[SigFailure]:
        failed: list[SigFailure] = []
        while self._pending and (wait or self._pending[0].ready() or len(self._pending) > self._limit):
            failed.extend(self._pending.popleft().get())
        return failed

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def __enter__(self) -> PoolSignatureChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.terminate()
        self._pool.join()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def signature_checker(workers: int | None) -> SignatureChecker | PoolSignatureChecker:
    """Inline for one worker, a pool otherwise (``None`` = one per core)."""
    count = default_workers() if workers is None else workers
    if count <= 1:
        return InlineSignatureChecker()
    return PoolSignatureChecker(count)
