"""Reading bundle entries on every core: strict parsing, schemas, signatures and proofs.

Verifying an entry is mostly work that needs no ledger state — parsing the
canonical bytes, the kind's schema, the Ed25519/ECDSA signatures, the
inclusion proof — and a little that does (the replay). Workers here do the
former for chunks of lines (:func:`ledger.bundle.prepare_bundle_entry`) and
hand back compact tuples; the main process only replays.

Each worker is one process with its own pipe, and chunks go round-robin, so
results come back in order and each worker is told exactly once about every
key the replay has learned (a key id commits to its key, so a signature can
be checked by anyone who holds the key; whether the key may sign at that
index is the replay's decision). At most ``depth`` chunks per worker are in
flight, which bounds memory however long the bundle is.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import os
import traceback
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing.connection import Connection
from typing import Any

from ledger.bundle import Wire, prepare_bundle_entry, to_wire
from ledger.checkpoint import Checkpoint
from ledger.keys import PublicKey
from ledger.verify import KeyCache

Chunk = tuple[list[bytes], list[bytes | None]]
"""Entry lines and, for a partial bundle, the proof line of each (else None)."""


class WorkerFailed(RuntimeError):
    """A worker process died or raised: a bug, reported as an internal error."""


def prepare_chunk(
    chunk: Chunk, anchor: Checkpoint | None, partial: bool, keys: KeyCache, announced: Iterable[bytes] = ()
) -> list[Wire]:
    for spki in announced:
        key = PublicKey.from_spki_der(spki)
        keys.setdefault(key.keyid, key)
    lines, proofs = chunk
    return [
        to_wire(prepare_bundle_entry(raw, proof, anchor, partial=partial, keys=keys))
        for raw, proof in zip(lines, proofs, strict=True)
    ]


def _serve(tasks: Any, results: Connection, anchor: Checkpoint | None, partial: bool) -> None:
    keys: KeyCache = {}
    while True:
        message = tasks.get()
        if message is None:
            return
        chunk, announced = message
        try:
            prepared = prepare_chunk(chunk, anchor, partial, keys, announced)
            # marshal: several times faster than pickle for plain tuples, and
            # these bytes only ever travel between our own processes.
            results.send_bytes(marshal.dumps(("ok", prepared)))
        except Exception:  # reported to the main process, which stops
            results.send_bytes(marshal.dumps(("error", traceback.format_exc(limit=5))))


class PreparePool:
    """``workers`` processes preparing chunks in order; a context manager."""

    def __init__(self, workers: int, anchor: Checkpoint | None, partial: bool, depth: int = 2) -> None:
        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        # Tasks go through a queue (its feeder thread never blocks the main
        # process), results come back through a pipe read in order: a worker
        # blocked on sending a result can never hold up the main process's sends.
        self._tasks: list[Any] = []
        self._results: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            tasks = context.Queue()
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(  # type: ignore[attr-defined]
                target=_serve, args=(tasks, sender, anchor, partial), daemon=True
            )
            process.start()
            sender.close()
            self._tasks.append(tasks)
            self._results.append(receiver)
            self._procs.append(process)
        self._depth = depth
        self._sent_keys = [0] * workers
        self._next = 0
        self._pending: deque[int] = deque()

    def _send(self, chunk: Chunk, spkis: Sequence[bytes]) -> None:
        worker = self._next
        self._next = (self._next + 1) % len(self._tasks)
        announced = list(spkis[self._sent_keys[worker] :])
        self._sent_keys[worker] = len(spkis)
        self._tasks[worker].put((chunk, announced))
        self._pending.append(worker)

    def _receive(self) -> list[Wire]:
        worker = self._pending.popleft()
        try:
            status, payload = marshal.loads(self._results[worker].recv_bytes())  # noqa: S302 - our own worker
        except (EOFError, OSError) as exc:
            raise WorkerFailed(f"bundle worker {worker} stopped: {exc}") from None
        if status != "ok":
            raise WorkerFailed(f"bundle worker {worker} failed:\n{payload}")
        result: list[Wire] = payload
        return result

    def run(self, chunks: Iterable[Chunk], spkis: Sequence[bytes]) -> Iterator[list[Wire]]:
        """Prepared chunks in input order. ``spkis`` may grow while this runs (keys the replay learns)."""
        limit = self._depth * len(self._tasks)
        for chunk in chunks:
            if len(self._pending) >= limit:
                yield self._receive()
            self._send(chunk, spkis)
        while self._pending:
            yield self._receive()

    def close(self) -> None:
        for tasks in self._tasks:
            with contextlib.suppress(OSError, ValueError):
                tasks.put(None)
        for process in self._procs:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for tasks in self._tasks:
            tasks.close()
            tasks.cancel_join_thread()
        for receiver in self._results:
            receiver.close()

    def __enter__(self) -> PreparePool:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            for process in self._procs:
                process.terminate()
        self.close()
