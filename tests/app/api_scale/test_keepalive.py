"""Idle keep-alive connections outlive a reverse proxy's (CUSTODY_API_KEEPALIVE_SECONDS).

A proxy keeps idle upstream connections open (nginx: 60 s) and reuses them;
if the server closes one first, a request the proxy sends on it at that
moment fails with 502 — and a POST is not retried. So the server must keep
idle connections longer than the proxy (75 s by default; uvicorn's own
default is 5 s). Real `custody serve` processes, one raw socket each.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from app.settings import Settings
from tests.app.api_scale.servers import serve, wait_until_up
from tests.helpers import LedgerFixture

pytestmark = pytest.mark.slow

UVICORN_DEFAULT_KEEPALIVE = 5.0
REQUEST = b"GET /api/v1/health HTTP/1.1\r\nHost: custody.test\r\nConnection: keep-alive\r\n\r\n"


def _exchange(sock: socket.socket) -> bytes:
    """Send one request on ``sock`` and read one whole response (b"" if the server closed)."""
    sock.sendall(REQUEST)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
    length = int(next(value for name, value in headers.items() if name.lower() == b"content-length"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection mid-response"
        body += chunk
    return head


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def test_the_default_keeps_idle_connections_longer_than_uvicorns_five_seconds(
    sqlite_ledger: LedgerFixture, tmp_path: Path
) -> None:
    assert Settings().api_keepalive_seconds == 75
    with serve(sqlite_ledger, tmp_path, "default") as server:
        wait_until_up(server, 1, time.monotonic() + 60)
        with _connect(server.url) as sock:
            assert _exchange(sock).startswith(b"HTTP/1.1 200")
            time.sleep(UVICORN_DEFAULT_KEEPALIVE + 1.5)
            # Still open: the same connection answers again.
            assert _exchange(sock).startswith(b"HTTP/1.1 200")


def test_the_setting_decides_when_an_idle_connection_is_closed(
    sqlite_ledger: LedgerFixture, tmp_path: Path
) -> None:
    with serve(sqlite_ledger, tmp_path, "short", env_extra={"CUSTODY_API_KEEPALIVE_SECONDS": "1"}) as server:
        wait_until_up(server, 1, time.monotonic() + 60)
        with _connect(server.url) as sock:
            assert _exchange(sock).startswith(b"HTTP/1.1 200")
            time.sleep(2.5)
            # The server closed it after one idle second: the next read sees end-of-stream.
            try:
                answer = _exchange(sock)
            except (BrokenPipeError, ConnectionResetError):
                answer = b""
            assert answer == b""
