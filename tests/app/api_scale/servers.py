"""`custody serve` as real processes for the scale-out tests: start, wait until up, read logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.app.tlog_servers import free_port
from tests.helpers import LOG_PASSPHRASE, LedgerFixture


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def _custody() -> list[str]:
    script = Path(sys.executable).parent / "custody"
    assert script.exists(), f"the custody script is not installed next to {sys.executable}"
    return [str(script)]


@contextmanager
def serve(
    ledger: LedgerFixture,
    tmp_path: Path,
    name: str,
    workers: int = 1,
    env_extra: dict[str, str] | None = None,
) -> Iterator[Server]:
    """`custody serve` as its own process group; stopped with SIGINT (what Ctrl-C sends)."""
    settings = ledger.ctx.settings
    env = {
        **os.environ,
        "CUSTODY_DATABASE_URL": settings.database_url,
        "CUSTODY_KEY_DIR": str(settings.resolved_key_dir()),
        "CUSTODY_LOG_KEY_PASSPHRASE": LOG_PASSPHRASE,
        "CUSTODY_LOG_FORMAT": "json",
        **(env_extra or {}),
    }
    env.pop("CUSTODY_KEY_PASSPHRASE", None)  # a server signs checkpoints only, with the log key
    port = free_port()
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out, open(tmp_path / f"{name}.err", "wb") as err:
        process = subprocess.Popen(
            [*_custody(), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        yield Server(f"http://127.0.0.1:{port}", process, log)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until_up(server: Server, workers: int, deadline: float) -> None:
    """Every worker process of the server has started (its `service_started` log line) and health answers."""
    while True:
        assert server.process.poll() is None, f"server exited: {server.log.with_suffix('.err').read_text()}"
        started = {
            record["pid"] for record in log_records(server) if record.get("event") == "service_started"
        }
        if len(started) >= workers:
            try:
                if httpx.get(f"{server.url}/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        assert time.monotonic() < deadline, f"server did not come up: {server.log.read_text()[-2000:]}"
        time.sleep(0.2)


def log_records(server: Server) -> list[dict[str, Any]]:
    """The server's stdout so far: every complete line must be one JSON object."""
    text = server.log.read_text(encoding="utf-8")
    records = []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # a line still being written
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"event", "level", "timestamp", "pid"} <= set(record), line
        records.append(record)
    return records
