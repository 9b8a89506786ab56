"""A constant-rate (open-loop) HTTP load generator for `custody bench http`.

wrk is closed-loop: each connection sends its next request only when the
previous answer is in, so a slow server is sent *less* and its slow moments
are under-sampled ("coordinated omission"). A latency target at a fixed
request rate needs the opposite: request i is due at ``start + i / rate``
whatever happened before, and its latency is counted from that due time,
so a stall shows up in every request that had to wait behind it.

Standard library only (asyncio, HTTP/1.1 keep-alive over a pool of
connections); at a few hundred requests per second it needs a few per cent
of one core, so it does not compete with the server it measures.

    python bench/paced_load.py --url http://127.0.0.1:8000/api/v1/scan \\
        --rate 200 --duration 30 --bodies FILE [--method POST] [--connections 32]

FILE holds lines "<API token>\\t<JSON body>" (token may be empty), used in
turn (and cycled: reads may repeat). A request that finds its keep-alive
connection closed by the server before any answer (uvicorn closes idle ones
after 5 s) is sent again on a new connection, as HTTP clients do — so use
this for idempotent requests such as scans; the resend stays in the latency
and is counted. Prints one line "PACED_JSON {…}" with
the achieved rate, responses by status, errors, and latency percentiles in
milliseconds, both from the due time ("latency") and from the moment the
request was written ("service").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


class StaleConnection(ConnectionError):
    """The connection was closed before any answer: not an error of the request."""


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Pool:
    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: asyncio.LifoQueue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.LifoQueue()
        self.opened = 0

    async def get(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            return await asyncio.open_connection(self.host, self.port)
        return await self.idle.get()

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.idle.put_nowait(conn)

    def discard(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        self.opened -= 1
        conn[1].close()


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    try:
        writer.write(request)
        await writer.drain()
    except (ConnectionResetError, BrokenPipeError):
        raise StaleConnection from None
    try:
        status_line = await reader.readline()
    except ConnectionResetError:
        raise StaleConnection from None
    if not status_line:
        raise StaleConnection
    status = int(status_line.split(b" ", 2)[1])
    length = None
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("response without Content-Length")
    await reader.readexactly(length)
    return status


async def run(args: argparse.Namespace) -> dict[str, object]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    requests = []
    with open(args.bodies, encoding="utf-8") as handle:
        for line in handle:
            token, _, body = line.rstrip("\n").partition("\t")
            data = body.encode()
            head = [f"{args.method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
            if token:
                head.append(f"Authorization: Bearer {token}")
            if args.method != "GET":
                head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
            payload = data if args.method != "GET" else b""
            requests.append(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    if not requests:
        raise SystemExit("no requests in the bodies file")
    pool = Pool(host, port, args.connections)
    total = int(args.rate * args.duration)
    latency: list[float] = []
    service: list[float] = []
    statuses: dict[str, int] = {}
    errors = retried = 0
    loop = asyncio.get_running_loop()

    async def one(number: int, due: float) -> None:
        nonlocal errors, retried
        request = requests[number % len(requests)]
        conn = await pool.get()
        sent = loop.time()
        for attempt in (1, 2):
            try:
                status = await asyncio.wait_for(exchange(*conn, request), args.timeout)
                break
            except StaleConnection:
                # The server closed an idle keep-alive connection (uvicorn does after 5 s):
                # what every HTTP client does — send again on a new connection; the time
                # this costs stays in the latency.
                pool.discard(conn)
                if attempt == 2:
                    errors += 1
                    return
                retried += 1
                conn = await pool.get()
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                pool.discard(conn)
                return
        done = loop.time()
        pool.put(conn)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        latency.append((done - due) * 1000)
        service.append((done - sent) * 1000)

    # Open the connections before the clock starts, so the first requests do not pay for them.
    warm = [await pool.get() for _ in range(min(args.connections, 8))]
    for conn in warm:
        pool.put(conn)
    start = loop.time() + 0.2
    wall = time.perf_counter()
    tasks = []
    late = 0
    for number in range(total):
        due = start + number / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1  # the generator itself fell behind: reported, not hidden
        tasks.append(asyncio.create_task(one(number, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - wall - 0.2
    return {
        "tool": "bench/paced_load.py (open loop, latency from the due time)",
        "target_rate": args.rate,
        "requests": total,
        "seconds": round(elapsed, 2),
        "achieved_rate": round(len(latency) / elapsed, 1) if elapsed > 0 else 0.0,
        "statuses": statuses,
        "errors": errors,
        "resent_on_closed_keepalive": retried,
        "sent_late": late,
        "connections_used": pool.opened,
        "latency_ms_p50": round(percentile(latency, 0.50), 2),
        "latency_ms_p90": round(percentile(latency, 0.90), 2),
        "latency_ms_p99": round(percentile(latency, 0.99), 2),
        "latency_ms_max": round(max(latency, default=0.0), 2),
        "service_ms_p50": round(percentile(service, 0.50), 2),
        "service_ms_p99": round(percentile(service, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True, help="Requests per second.")
    parser.add_argument("--duration", type=float, required=True, help="Seconds.")
    parser.add_argument("--bodies", required=True, help='File of "<token>\\t<body>" lines.')
    parser.add_argument("--method", default="POST")
    parser.add_argument("--connections", type=int, default=32, help="Most connections open at once.")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print("PACED_JSON " + json.dumps(result, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
