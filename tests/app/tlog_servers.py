"""Real processes for the witness and monitoring tests: `custody serve`, `custody witness serve`,
a stub HTTP peer that serves doctored answers, ledger copies and the `custody` script.

Nothing here mocks our code: servers are the real commands in subprocesses; the stub is
a network peer that lies (what an attacker controls), used only for adversarial answers.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.cli_run import Run, clean_env
from tests.cli_runner import run_in_process
from tests.helpers import KEY_PASSPHRASE, LOG_PASSPHRASE, LedgerFixture, new_ledger_fixture

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")
WITNESS_PASSPHRASE = "test-witness-passphrase"
ERROR_LINE = re.compile(r"error: \S.* \[[a-z0-9_.]+\]")


def env(**overrides: str | None) -> dict[str, str]:
    """The caller's environment without CUSTODY_* settings, plus the test passphrases."""
    passphrases: dict[str, str | None] = {
        "CUSTODY_LOG_KEY_PASSPHRASE": LOG_PASSPHRASE,
        "CUSTODY_KEY_PASSPHRASE": KEY_PASSPHRASE,
        "CUSTODY_WITNESS_KEY_PASSPHRASE": WITNESS_PASSPHRASE,
    }
    return clean_env(**{**passphrases, **overrides})


def custody(
    *args: object, cwd: Path, extra_env: dict[str, str | None] | None = None, timeout: float = 120
) -> Run:
    """``custody ARGS`` through the script's entry point, in this process (tests/cli_runner.py);
    the servers it talks to are real processes. ``timeout`` bounds the servers' answers only."""
    del timeout
    argv = tuple(str(a) for a in args)
    code, stdout, stderr = run_in_process(argv, cwd=cwd, env=env(**(extra_env or {})))
    return Run(code, stdout.decode("utf-8"), stderr.decode("utf-8", "replace"), argv)


def ok(run: Run) -> Run:
    assert run.code == 0, str(run)
    assert "Traceback" not in run.err, str(run)
    return run


def failed(run: Run, code: int, *fragments: str) -> str:
    """Exactly one `error: … [code]` line on stderr, the exit code, every fragment in it."""
    assert run.code == code, str(run)
    assert "Traceback" not in run.err, str(run)
    lines = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, str(run)
    assert ERROR_LINE.fullmatch(lines[0]), str(run)
    for fragment in fragments:
        assert fragment in lines[0], str(run)
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, *, method: str = "GET", body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a request; HTTP errors are answers too."""
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


# --------------------------------------------------------------------------
# Server processes


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: list[str]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return int(self.proc.returncode)


def _wait_for_line(
    proc: subprocess.Popen[bytes], pattern: re.Pattern[str], deadline: float
) -> tuple[str, list[str]]:
    assert proc.stderr is not None
    seen: list[str] = []
    buffer = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *lines, rest = buffer.split(b"\n")
            buffer = rest
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                seen.append(line)
                match = pattern.search(line)
                if match:
                    return match.group(1), seen
        elif proc.poll() is not None:
            break
    raise AssertionError(f"server did not start (exit {proc.poll()}): {seen} {buffer!r}")


def start_ledger_server(db_url: str, cwd: Path, key_dir: Path) -> Server:
    """`custody serve` on a free port; returns once /api/v1/health answers 200."""
    port = free_port()
    proc = subprocess.Popen(
        [str(CUSTODY), "serve", "--db", db_url, "--port", str(port)],
        cwd=cwd,
        env=env(CUSTODY_KEY_DIR=str(key_dir), CUSTODY_LOG_FORMAT="console"),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"custody serve exited {proc.returncode}: {err}")
        try:
            if http(f"{url}/api/v1/health")[0] == 200:
                return Server(proc, url, [])
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("custody serve did not come up")


LISTENING = re.compile(r"listening on (http://\S+?)/ ")


def start_witness(key_dir: Path, state: Path, log_vkeys: list[str], cwd: Path) -> Server:
    """`custody witness serve --port 0`; the URL is read from its start-up line."""
    args = [str(CUSTODY), "witness", "serve", "--key-dir", str(key_dir), "--state", str(state), "--port", "0"]
    for vkey in log_vkeys:
        args += ["--log-vkey", vkey]
    proc = subprocess.Popen(
        args, cwd=cwd, env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url, log = _wait_for_line(proc, LISTENING, time.monotonic() + 60)
    return Server(proc, url, log)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------
# A lying peer


Answer = tuple[int, str, bytes]


class StubPeer:
    """Serves fixed (or computed) answers per path; records the paths it was asked for."""

    def __init__(self, routes: Mapping[str, Answer | Callable[[], Answer]]) -> None:
        self.routes = routes
        self.requests: list[str] = []
        self.bodies: list[bytes] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                stub.bodies.append(self.rfile.read(length))
                self.do_GET()

            def do_GET(self) -> None:
                stub.requests.append(self.path)
                route = stub.routes.get(self.path.split("?", 1)[0])
                status, ctype, body = (
                    (route() if callable(route) else route)
                    if route is not None
                    else (404, "text/plain", b"no\n")
                )
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StubPeer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def text(body: str | bytes, status: int = 200) -> Answer:
    return status, "text/plain; charset=utf-8", body.encode() if isinstance(body, str) else body


def as_json(value: Any, status: int = 200) -> Answer:
    return status, "application/json", json.dumps(value).encode()


# --------------------------------------------------------------------------
# Ledgers


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory}/ledger.db"


def snapshot(source: LedgerFixture, source_dir: Path, target_dir: Path) -> LedgerFixture:
    """A consistent copy of a SQLite ledger and its key files: same origin, same log key."""
    target_dir.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source_dir / "ledger.db")
    dst = sqlite3.connect(target_dir / "ledger.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    shutil.copytree(source_dir / "keys", target_dir / "keys")
    return new_ledger_fixture(sqlite_url(target_dir), target_dir)


def grow(ledger: LedgerFixture, n: int, tag: str) -> int:
    """Append ``n`` party registrations (random nonces: two ledgers never append the same bytes)."""
    for i in range(n):
        ledger.append(ledger.register_envelope(f"{tag}-{i:02d}".upper()))
    return ledger.ctx.store.size()
