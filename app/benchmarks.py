"""Benchmarks behind ``custody bench …``. Figures go to docs/benchmarks.md, never into tests.

Every benchmark works on a fresh ledger it creates itself (keys in a
temporary directory, random passphrases held in memory), so it can never
touch real keys or a real ledger by accident.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.parallel import default_workers, signature_checker
from app.services.context import LedgerContext
from app.services.setup import init_ledger
from app.services.signing import signed_statement
from app.services.trust import add_key, register_party
from app.services.verification import verify_ledger
from app.settings import Settings
from ledger.checkpoint import open_checkpoint
from ledger.custody.ids import seal_id
from ledger.envelope import Envelope
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from ledger.note import parse_vkey
from ledger.verify import LogVerifier

BENCH_ADMIN = "BENCH-ADMIN"
SIGNERS = 8


@dataclass
class BenchLedger:
    ctx: LedgerContext
    signers: list[tuple[str, SigningKey]]


@contextmanager
def fresh_ledger(db: str | None) -> Iterator[BenchLedger]:
    """A new ledger (SQLite in a temp dir unless ``db`` names an empty database)."""
    with tempfile.TemporaryDirectory(prefix="custody-bench-") as tmp:
        url = db or f"sqlite:///{tmp}/bench.db"
        settings = Settings(
            database_url=url,
            key_dir=Path(tmp) / "keys",
            log_key_passphrase=SecretStr(os.urandom(16).hex()),
            key_passphrase=SecretStr(os.urandom(16).hex()),
            origin="bench.custody.local/ledger",
        )
        ctx = LedgerContext.open(settings)
        from app.db import migrate

        migrate(ctx.engine)
        if ctx.store.size() != 0:
            raise InvalidInput("benchmarks need an empty database; they create their own ledger")
        init_ledger(ctx, origin=None, admin_id=BENCH_ADMIN, admin_name="Benchmark administration")
        admin = ctx.load_actor_key(BENCH_ADMIN)
        signers = []
        for number in range(SIGNERS):
            party = f"BENCH-SIGNER-{number:02d}"
            key = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
            register_party(ctx, admin, BENCH_ADMIN, party, f"Benchmark warehouse {number}", ["warehouse"])
            add_key(ctx, admin, BENCH_ADMIN, party, key.public_key)
            signers.append((party, key))
        try:
            yield BenchLedger(ctx, signers)
        finally:
            ctx.engine.dispose()


def synthetic_statements(ledger: BenchLedger, n: int, offset: int = 0) -> list[Envelope]:
    """``n`` independent custody statements (a one-seal ``seal.received`` each), round-robin signed.

    Each statement has its own subject, passes the schema and the guard
    rules (the seal must be new), and writes a projection row: the full
    append path, without rules that would make statements depend on each other.
    """
    envelopes = []
    for number in range(offset, offset + n):
        party, key = ledger.signers[number % len(ledger.signers)]
        series = _SERIES[number // 10_000_000]
        first = number % 10_000_000
        envelopes.append(
            signed_statement(
                ledger.ctx,
                kind="seal.received",
                subject=f"seal:{seal_id(series, first)}",
                by=f"party:{party}",
                data={"series": series, "first": first, "count": 1, "supplier": "Benchmark seals"},
                keys=[key],
            )
        )
    return envelopes


_SERIES = ["KB", "KC", "KD", "KE", "KF", "KG", "KH", "KJ"]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def bench_append(n: int, batch: int, db: str | None, report: Callable[[str], None]) -> dict[str, Any]:
    if n < 1 or batch < 1:
        raise InvalidInput("--n and --batch must be positive")
    with fresh_ledger(db) as ledger:
        writer = ledger.ctx.writer()
        latencies, signing_s = [], 0.0
        for begin in range(0, n, batch):
            # Statements are signed batch by batch (so a million of them never
            # sit in memory at once) and only the append itself is timed.
            t0 = time.perf_counter()
            envelopes = synthetic_statements(ledger, min(batch, n - begin), begin)
            signing_s += time.perf_counter() - t0
            t0 = time.perf_counter()
            writer.append(envelopes)
            latencies.append((time.perf_counter() - t0) * 1000)
            if len(latencies) % 200 == 0:
                report(f"{begin + batch} statements appended")
        report(f"signing took {signing_s:.2f}s (not part of the append figure)")
        elapsed = sum(latencies) / 1000
        dialect = ledger.ctx.engine.dialect.name
        size = ledger.ctx.store.size()
    return {
        "bench": "append",
        "db": dialect,
        "n": n,
        "batch": batch,
        "seconds": round(elapsed, 3),
        "statements_per_s": round(n / elapsed, 1),
        "batch_ms_p50": round(statistics.median(latencies), 2),
        "batch_ms_p99": round(_percentile(latencies, 0.99), 2),
        "log_size": size,
    }


def ed25519_verify_rate(seconds: float = 2.0) -> float:
    """Single-core Ed25519 verifications per second (key object reused, ~300-byte message)."""
    key = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    message = os.urandom(300)
    signature = key.sign(message)
    public = key.public_key
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(500):
            public.verify(signature, message)
        count += 500
    return count / (time.perf_counter() - started)


def bench_verify(
    n: int, workers: int | None, db: str | None, report: Callable[[str], None]
) -> dict[str, Any]:
    cores = default_workers()
    workers = cores if workers is None else workers
    with fresh_ledger(db) as ledger:
        writer = ledger.ctx.writer()
        report(f"building a ledger of {n} statements …")
        for begin in range(0, n, 1000):
            writer.append(synthetic_statements(ledger, min(1000, n - begin), begin))
        store = ledger.ctx.store
        entries = list(store.entries())
        state = store.trust_state()
        assert state.log_vkey is not None
        log_key = parse_vkey(state.log_vkey)
        checkpoint = open_checkpoint(store.checkpoint().encode(), log_key).checkpoint
        rate = ed25519_verify_rate()
        report(f"raw Ed25519 verify, one core: {rate:,.0f}/s")
        checker = signature_checker(workers)
        started = time.perf_counter()
        verifier = LogVerifier(checkpoint=checkpoint, log_vkey=state.log_vkey, signature_checker=checker)
        verifier.feed_all(entries)
        verifier.finish()
        stream_s = time.perf_counter() - started
        close = getattr(checker, "close", None)
        if close:
            close()
        stream_rate = len(entries) / stream_s
        report(f"stream verification ({workers} workers): {stream_rate:,.0f} entries/s")
        started = time.perf_counter()
        result = verify_ledger(ledger.ctx, workers=workers)
        db_s = time.perf_counter() - started
        if not result.valid:
            raise InvalidInput(f"benchmark ledger failed verification: {result.findings[:3]}")
        db_rate = len(entries) / db_s
        report(f"database verification (entries, checkpoints, tree nodes): {db_rate:,.0f} entries/s")
    target = cores * rate
    return {
        "bench": "verify",
        "entries": len(entries),
        "cores": cores,
        "workers": workers,
        "ed25519_verify_per_s_one_core": round(rate, 1),
        "stream_verify_entries_per_s": round(stream_rate, 1),
        "db_verify_entries_per_s": round(db_rate, 1),
        "ratio_to_cores_x_ed25519": round(stream_rate / target, 3),
    }


def bench_proofs(db: str, samples: int, report: Callable[[str], None]) -> dict[str, Any]:
    """Latency of inclusion and consistency proofs from an existing database."""
    import random

    settings = Settings(database_url=db)
    ctx = LedgerContext.open(settings)
    ctx.require_initialised()
    store = ctx.store
    size = store.size()
    rng = random.Random(1)
    inclusion, consistency = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        store.inclusion_proof(index, size)
        inclusion.append((time.perf_counter() - t0) * 1000)
        old = rng.randrange(1, size + 1)
        t0 = time.perf_counter()
        store.consistency_proof(old, size)
        consistency.append((time.perf_counter() - t0) * 1000)
    report(f"{samples} proofs each from a log of {size} entries")
    return {
        "bench": "proofs",
        "db": ctx.engine.dialect.name,
        "log_size": size,
        "samples": samples,
        "inclusion_ms_p50": round(statistics.median(inclusion), 3),
        "inclusion_ms_p99": round(_percentile(inclusion, 0.99), 3),
        "consistency_ms_p50": round(statistics.median(consistency), 3),
        "consistency_ms_p99": round(_percentile(consistency, 0.99), 3),
    }


# ----------------------------------------------------------------------
# HTTP: `custody bench http` (docs/benchmarks.md, "HTTP service")

BENCH_DIR = Path(__file__).resolve().parent.parent / "bench"
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class HttpBenchOptions:
    #: Statements pre-signed for the POST run (more than it can send: each is sent once).
    n: int = 100_000
    duration: int = 30
    warmup: int = 5
    connections: int = 32
    threads: int = 2
    workers: int = 2
    #: An empty database to use; default: a fresh PostgreSQL database made with ``pg_admin``.
    db: str | None = None
    pg_admin: str = DEFAULT_PG_ADMIN
    scan_rate: float = 200.0
    scan_duration: int = 30
    keep: bool = False


@contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (``kcl_bench_…``), dropped afterwards."""
    from sqlalchemy import create_engine, text

    from app.db import normalise_url

    name = f"kcl_bench_{os.urandom(6).hex()}"
    admin = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base, _, _ = admin_url.rpartition("/")
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _custody_command() -> list[str]:
    import shutil
    import sys

    script = Path(sys.executable).parent / "custody"
    return [str(script)] if script.exists() else [shutil.which("custody") or "custody"]


@dataclass
class RunningServer:
    url: str
    pid: int


@contextmanager
def running_server(
    ctx: LedgerContext, workers: int, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[RunningServer]:
    """``custody serve --workers N`` on a free port for ``ctx``'s ledger, stopped with SIGINT."""
    import signal
    import subprocess
    import urllib.request

    settings = ctx.settings
    assert settings.log_key_passphrase is not None
    env = {
        **os.environ,
        "CUSTODY_DATABASE_URL": settings.database_url,
        "CUSTODY_KEY_DIR": str(settings.resolved_key_dir()),
        "CUSTODY_LOG_KEY_PASSPHRASE": settings.log_key_passphrase.get_secret_value(),
        "CUSTODY_LOG_FORMAT": "json",
        **(extra_env or {}),
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own `custody` script, fixed arguments
            [*_custody_command(), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise InvalidInput(f"the server exited with {process.returncode}; see {log_path}")
                try:
                    health = f"{url}/api/v1/health"  # http://127.0.0.1:<port>, built here
                    with urllib.request.urlopen(health, timeout=2) as answer:  # noqa: S310
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise InvalidInput(f"the server did not answer within 60 s; see {log_path}")
                time.sleep(0.2)
            _wait_for_workers(log_path, workers, deadline)
            yield RunningServer(url, process.pid)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@dataclass
class CpuSnapshot:
    """CPU time so far (seconds) of the machine and of the parties to an HTTP benchmark."""

    wall: float
    busy: float
    server: float
    postgres: float
    children: float


def _proc_cpu(stat: str) -> tuple[int, str, float]:
    """(ppid, comm, user+system seconds) from the text of /proc/PID/stat."""
    close = stat.rindex(")")
    fields = stat[close + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), stat[stat.index("(") + 1 : close], (int(fields[11]) + int(fields[12])) / ticks


def cpu_snapshot(server_pid: int) -> CpuSnapshot | None:
    """Where the CPU went (Linux /proc): the server's process tree, PostgreSQL, our children."""
    import resource

    try:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
        procs: dict[int, tuple[int, str, float]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                        procs[int(name)] = _proc_cpu(handle.read())
                except OSError:
                    continue
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    tree, changed = {server_pid}, True
    while changed:
        more = {pid for pid, (ppid, _, _) in procs.items() if ppid in tree} - tree
        changed = bool(more)
        tree |= more
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        wall=time.monotonic(),
        busy=(sum(values) - idle) / ticks,
        server=sum(procs[pid][2] for pid in tree if pid in procs),
        postgres=sum(cpu for _, comm, cpu in procs.values() if comm.startswith("postgres")),
        children=usage.ru_utime + usage.ru_stime,
    )


def cpu_report(before: CpuSnapshot | None, after: CpuSnapshot | None) -> dict[str, float] | None:
    """Cores used on average between two snapshots; "other" is load from outside the benchmark."""
    if before is None or after is None:
        return None
    seconds = after.wall - before.wall
    busy = (after.busy - before.busy) / seconds
    server = (after.server - before.server) / seconds
    postgres = (after.postgres - before.postgres) / seconds
    tool = (after.children - before.children) / seconds
    return {
        "machine_busy_cores": round(busy, 2),
        "server_cores": round(server, 2),
        "postgres_cores": round(postgres, 2),
        "load_tool_cores": round(tool, 2),
        "other_cores": round(max(0.0, busy - server - postgres - tool), 2),
    }


def _wait_for_workers(log_path: Path, workers: int, deadline: float) -> None:
    """Every worker process has logged ``service_started`` (not just the first to answer)."""
    import json

    while True:
        started = set()
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"service_started"' in line:
                try:
                    started.add(json.loads(line).get("pid"))
                except ValueError:
                    continue
        if len(started) >= workers:
            return
        if time.monotonic() > deadline:
            raise InvalidInput(f"only {len(started)} of {workers} workers started; see {log_path}")
        time.sleep(0.2)


def _tool_json(output: str, marker: str) -> dict[str, Any]:
    import json

    for line in output.splitlines():
        if line.startswith(marker):
            value: dict[str, Any] = json.loads(line[len(marker) :])
            return value
    raise InvalidInput(f"the load tool printed no {marker.strip()} line:\n{output[-2000:]}")


def _write_bodies(path: Path, rows: list[tuple[str, Envelope]]) -> None:
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for token, envelope in rows:
            handle.write(token + "\t" + json.dumps(envelope.to_json(), separators=(",", ":")) + "\n")


def run_wrk(
    url: str, bodies: Path, *, threads: int, connections: int, duration: int
) -> tuple[dict[str, Any], str]:
    """wrk with bench/post_statements.lua; returns its WRK_JSON summary and its full output."""
    import shutil
    import subprocess

    wrk = shutil.which("wrk")
    if wrk is None:
        raise InvalidInput("`custody bench http` needs wrk: run bench/install-tools.sh (apt-get install wrk)")
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(BENCH_DIR / "post_statements.lua"),
        url,
        "--",
        str(bodies),
        str(threads),
    ]
    done = subprocess.run(  # noqa: S603 - wrk from PATH, arguments built here
        command, capture_output=True, text=True, check=False, timeout=duration + 120
    )
    if done.returncode != 0:
        raise InvalidInput(f"wrk failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return _tool_json(done.stdout, "WRK_JSON "), done.stdout


def run_paced(url: str, bodies: Path, *, rate: float, duration: int, method: str = "POST") -> dict[str, Any]:
    """bench/paced_load.py in its own process (its own core time, its own GIL)."""
    import subprocess
    import sys

    command = [
        sys.executable,
        str(BENCH_DIR / "paced_load.py"),
        "--url",
        url,
        "--rate",
        str(rate),
        "--duration",
        str(duration),
        "--bodies",
        str(bodies),
        "--method",
        method,
    ]
    done = subprocess.run(  # noqa: S603 - this interpreter and our own script
        command, capture_output=True, text=True, check=False, timeout=duration + 120
    )
    if done.returncode != 0:
        raise InvalidInput(f"paced load failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return _tool_json(done.stdout, "PACED_JSON ")


def _scan_available(url: str) -> bool:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=5) as answer:  # noqa: S310
        spec = json.load(answer)
    return "/api/v1/scan" in spec.get("paths", {})


def bench_http(options: HttpBenchOptions, report: Callable[[str], None]) -> dict[str, Any]:
    """Single-statement POSTs (wrk, closed loop) and scan lookups (paced, open loop) over HTTP."""
    import shutil

    from app.services.tokens import create_token

    if shutil.which("wrk") is None:
        raise InvalidInput("`custody bench http` needs wrk: run bench/install-tools.sh (apt-get install wrk)")
    if options.n < 1000 or options.duration < 1:
        raise InvalidInput("--n must be at least 1000 and --duration positive")
    with ExitStack() as stack:
        db = options.db or stack.enter_context(fresh_postgres(options.pg_admin))
        ledger = stack.enter_context(fresh_ledger(db))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="custody-bench-http-")))
        ctx = ledger.ctx
        # One token per signing party: each warehouse submits its own statements, as in
        # production, and each token has its own rate-limit bucket (defaults apply).
        token_of = {
            party: create_token(ctx, party, roles=["warehouse"], label="bench")[0]
            for party, _ in ledger.signers
        }
        admin_token = create_token(ctx, BENCH_ADMIN, label="bench")[0]
        warm_n = min(options.n // 4, 8_000)
        report(f"signing {options.n + warm_n:,} statements …")
        started = time.perf_counter()
        envelopes = synthetic_statements(ledger, options.n + warm_n)
        rows = [
            (token_of[ledger.signers[number % len(ledger.signers)][0]], envelope)
            for number, envelope in enumerate(envelopes)
        ]
        _write_bodies(tmp / "warmup.txt", rows[:warm_n])
        _write_bodies(tmp / "bodies.txt", rows[warm_n:])
        report(f"signed in {time.perf_counter() - started:.1f}s (not measured)")
        size_before = ctx.store.size()
        checkpoints_before = len(ctx.store.checkpoint_sizes())
        log_path = tmp / "server.log"
        result: dict[str, Any] = {
            "bench": "http",
            "db": ctx.engine.dialect.name,
            "workers": options.workers,
            "cores": os.cpu_count(),
            "load_average_before": [round(v, 2) for v in os.getloadavg()],
        }
        with running_server(ctx, options.workers, log_path) as server:
            report(f"server up at {server.url} ({options.workers} workers); warm-up {options.warmup}s …")
            warm, _ = run_wrk(
                server.url,
                tmp / "warmup.txt",
                threads=options.threads,
                connections=options.connections,
                duration=options.warmup,
            )
            report(
                f"POST /api/v1/statements: wrk -t{options.threads} -c{options.connections} "
                f"-d{options.duration}s --latency …"
            )
            before = cpu_snapshot(server.pid)
            summary, text_out = run_wrk(
                server.url,
                tmp / "bodies.txt",
                threads=options.threads,
                connections=options.connections,
                duration=options.duration,
            )
            cpu = cpu_report(before, cpu_snapshot(server.pid))
            report(text_out.split("WRK_JSON", 1)[0].rstrip())
            seconds = summary["duration_us"] / 1e6
            created = int(summary["statuses"].get("201", 0))
            errors = summary["errors"]
            latency = summary["latency_us"]
            result["post"] = {
                "tool": "wrk 4.1.0 + bench/post_statements.lua",
                "threads": options.threads,
                "connections": options.connections,
                "seconds": round(seconds, 2),
                "requests": summary["requests"],
                "created_201": created,
                "statuses": summary["statuses"],
                # Socket errors and timeouts, plus every answer other than 201.
                "errors": sum(v for k, v in errors.items() if k != "status")
                + sum(v for k, v in summary["statuses"].items() if k != "201"),
                "socket_errors": {k: v for k, v in errors.items() if v and k != "status"},
                "threads_ran_out_of_bodies": summary["threads_exhausted"],
                "statements_per_s": round(created / seconds, 1),
                "latency_ms_p50": round(latency["p50"] / 1000, 2),
                "latency_ms_p90": round(latency["p90"] / 1000, 2),
                "latency_ms_p99": round(latency["p99"] / 1000, 2),
                "latency_ms_p999": round(latency["p999"] / 1000, 2),
                "latency_ms_max": round(latency["max"] / 1000, 2),
                "cpu": cpu,
            }
            if _scan_available(server.url):
                result["scan"] = _bench_scan(server, tmp, ledger, admin_token, options, report)
            else:
                report("POST /api/v1/scan is not in this build: scan benchmark not run")
                result["scan"] = None
        report("verifying the ledger …")
        size_after = ctx.store.size()
        groups = len(ctx.store.checkpoint_sizes()) - checkpoints_before
        verification = verify_ledger(ctx)
        if not verification.valid:
            raise InvalidInput(f"benchmark ledger failed verification: {verification.findings[:3]}")
        appended = size_after - size_before
        acknowledged = created + int(warm["statuses"].get("201", 0))
        # wrk stops the clock with requests still in flight: the server completes them.
        unacknowledged = appended - acknowledged
        result["ledger"] = {
            "size": size_after,
            "appended": appended,
            "acknowledged_201": acknowledged,
            "appended_after_the_clock_stopped": unacknowledged,
            "statements_per_commit": round(appended / groups, 1) if groups else None,
            "verified": verification.valid,
        }
        if not 0 <= unacknowledged <= 2 * options.connections:
            raise InvalidInput(f"{acknowledged} statements acknowledged but {appended} appended")
        result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
        if options.keep:
            kept = Path(tempfile.mkdtemp(prefix="custody-bench-http-log-"))
            shutil.copy(log_path, kept / "server.log")
            report(f"server log kept in {kept / 'server.log'}")
    return result


def _bench_scan(
    server: RunningServer,
    tmp: Path,
    ledger: BenchLedger,
    token: str,
    options: HttpBenchOptions,
    report: Callable[[str], None],
) -> dict[str, Any]:
    """Scan lookups of seals the POST run appended, at a fixed request rate."""
    import json

    from sqlalchemy import func, select

    from app.tables import ENTRIES

    total = max(1, int(options.scan_rate * options.scan_duration))
    # Seals the POST run appended, in random order (scans of things that exist).
    with ledger.ctx.engine.connect() as conn:
        subjects = [
            str(s)
            for (s,) in conn.execute(
                select(ENTRIES.c.subject)
                .where(ENTRIES.c.kind == "seal.received")
                .order_by(func.random())
                .limit(min(total, 20_000))
            )
        ]
    if not subjects:
        raise InvalidInput("no seals in the log to scan")
    with open(tmp / "scans.txt", "w", encoding="utf-8") as handle:
        for subject in subjects:
            handle.write(token + "\t" + json.dumps({"input": subject.removeprefix("seal:")}) + "\n")
    report(f"POST /api/v1/scan at {options.scan_rate:g} requests/s for {options.scan_duration}s …")
    before = cpu_snapshot(server.pid)
    result = run_paced(
        f"{server.url}/api/v1/scan", tmp / "scans.txt", rate=options.scan_rate, duration=options.scan_duration
    )
    result["cpu"] = cpu_report(before, cpu_snapshot(server.pid))
    result["log_size"] = ledger.ctx.store.size()
    return result


def bench_labels(n: int, db: str | None, report: Callable[[str], None]) -> dict[str, Any]:
    """Seal labels: N seals issued on a fresh ledger, then printed into one PDF per layout (and as ZPL).

    Each figure is one `render_seal_labels` call, as `custody labels seals` makes it: read the
    seals and their issuing entries, open the label key, sign every payload, render. The split
    below times collecting + signing and rendering the PDF from those values separately.
    """
    from app.services import custody
    from app.services import labels as label_service
    from labels.layouts import LAYOUTS, layout_named
    from labels.pdf import render_labels_pdf

    if n < 1:
        raise InvalidInput("--n must be positive")
    with fresh_ledger(db) as ledger:
        ctx = ledger.ctx
        party, key = ledger.signers[0]
        for first in range(0, n, 10_000):
            count = min(10_000, n - first)
            custody.receive_seals(
                ctx, party, key, series="KT", first=first, count=count, supplier="Benchmark seals"
            )
        ids = [seal_id("KT", number) for number in range(n)]
        for begin in range(0, n, 1000):
            custody.issue_seals(ctx, party, key, ids[begin : begin + 1000], party)
        report(f"{n} seals issued")
        label_service.init_label_key(ctx)
        figures: dict[str, Any] = {}
        for layout in (each.name for each in LAYOUTS):  # every layout: each must stay ≤ 2 MB
            t0 = time.perf_counter()
            rendered = label_service.render_seal_labels(ctx, layout=layout)
            seconds = time.perf_counter() - t0
            figures[layout] = {
                "labels_per_s": round(n / seconds, 1),
                "seconds": round(seconds, 3),
                "bytes": len(rendered.content),
                "pages": rendered.pages,
            }
            report(f"{layout}: {n / seconds:.0f} labels/s, {len(rendered.content)} bytes")
        t0 = time.perf_counter()
        zpl = label_service.render_seal_labels(ctx, layout="thermal-62x29", fmt="zpl")
        zpl_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        values, _ = label_service.seal_labels(ctx)
        collect_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_labels_pdf(values, layout_named("zweckform-3474"))
        render_seconds = time.perf_counter() - t0
    sheet = figures["zweckform-3474"]
    return {
        "bench": "labels",
        "n": n,
        "labels_per_s": sheet["labels_per_s"],
        "pdf_bytes": sheet["bytes"],
        "layouts": figures,
        "zpl_labels_per_s": round(n / zpl_seconds, 1),
        "zpl_bytes": len(zpl.content),
        "collect_and_sign_per_s": round(n / collect_seconds, 1),
        "render_pdf_per_s": round(n / render_seconds, 1),
    }


# --------------------------------------------------------------------------
# Export bundles: offline verification of a bundle (custody bench bundle)


def _verify_bundle_child(path: str, workers: int, conn: Any) -> None:
    """Run in a fresh process, so its peak RSS is the verifier's alone."""
    import resource

    from app.services.bundle_verify import verify_bundle

    load = os.getloadavg()[0]
    started = time.perf_counter()
    result = verify_bundle(Path(path), workers=workers)
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    conn.send(
        {
            "valid": result.valid,
            "findings": [f.as_dict() for f in result.findings[:3]],
            "entries": result.entries,
            "seconds": seconds,
            "rss_main_kb": own.ru_maxrss,
            "rss_worker_kb": children.ru_maxrss,
            "cpu_main_s": own.ru_utime + own.ru_stime,
            "cpu_workers_s": children.ru_utime + children.ru_stime,
            "load_before": load,
            "load_after": os.getloadavg()[0],
        }
    )
    conn.close()


def _verify_bundle_with_kclverify(binary: Path, path: Path, workers: int) -> dict[str, Any]:
    """Run the Go verifier on ``path``; its own wall time, CPU time and peak RSS (wait4)."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    # Output goes to a file, not a pipe: a report with many findings must not block the child.
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(  # noqa: S603 - the binary the operator named, fixed arguments
            [str(binary), str(path), "--json", "--workers", str(workers)], stdout=out, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        error = child.stderr.read().decode(errors="replace") if child.stderr else ""
        if child.returncode not in (0, 1):
            raise InvalidInput(f"kclverify failed ({child.returncode}): {error.strip()}")
        out.seek(0)
        result = json.loads(out.read())
    return {
        "valid": result["valid"],
        "findings": result["findings"][:3],
        "entries": result["entries"],
        "seconds": seconds,
        "rss_main_kb": usage.ru_maxrss,
        "rss_worker_kb": 0,
        "cpu_main_s": usage.ru_utime + usage.ru_stime,
        "cpu_workers_s": 0.0,
        "load_before": load,
        "load_after": os.getloadavg()[0],
    }


def kclverify_ed25519_rate(binary: Path) -> float:
    """Go's single-core Ed25519 verify rate, measured by the kclverify binary itself."""
    out = subprocess.run(  # noqa: S603 - the binary the operator named, fixed arguments
        [str(binary), "--bench-ed25519"], capture_output=True, text=True, check=True, timeout=60
    )
    return float(json.loads(out.stdout)["ed25519_verify_per_s_one_core"])


def bench_bundle(
    n: int,
    bundle: Path | None,
    workers: int | None,
    db: str | None,
    report: Callable[[str], None],
    kclverify: Path | None = None,
) -> dict[str, Any]:
    """Verify an N-entry full bundle offline; entries/s beside cores × Ed25519 rate, and peak RSS.

    With ``bundle`` naming an existing file it is reused (e.g. an export of
    the 1M-entry ledger); otherwise a fresh ledger of ``n`` synthetic
    statements is built and exported there (or to a temporary file).
    """
    import multiprocessing

    from app.services.export import export_all

    cores = default_workers()
    workers = cores if workers is None else workers
    with ExitStack() as stack:
        if bundle is None:
            bundle = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="custody-bench-"))) / "b.zip"
        if not bundle.exists():
            with fresh_ledger(db) as ledger:
                report(f"building a ledger of {n} statements …")
                writer = ledger.ctx.writer()
                for begin in range(0, n, 1000):
                    writer.append(synthetic_statements(ledger, min(1000, n - begin), begin))
                    if (begin // 1000) % 100 == 99:
                        report(f"{begin + 1000} statements appended")
                started = time.perf_counter()
                export_all(ledger.ctx, bundle)
                report(f"exported {bundle} in {time.perf_counter() - started:.1f}s")
        rate = ed25519_verify_rate()
        report(f"raw Ed25519 verify, one core: {rate:,.0f}/s")
        go_rate = None
        if kclverify is not None:
            go_rate = kclverify_ed25519_rate(kclverify)
            report(f"Go's Ed25519 verify (kclverify), one core: {go_rate:,.0f}/s")
            measured = _verify_bundle_with_kclverify(kclverify, bundle, workers)
        else:
            context = multiprocessing.get_context("spawn")
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_verify_bundle_child, args=(str(bundle), workers, sender))
            child.start()
            sender.close()
            measured = receiver.recv()
            child.join()
        size = bundle.stat().st_size
    if not measured["valid"]:
        raise InvalidInput(f"benchmark bundle failed verification: {measured['findings']}")
    entries = measured["entries"]
    per_s = entries / measured["seconds"]
    report(f"bundle verification ({workers} workers): {per_s:,.0f} entries/s")
    go_figures: dict[str, Any] = {}
    if go_rate is not None:
        # The Go verifier's own Ed25519 is the fair yardstick for it: the ratio
        # says how close it gets to doing nothing but verifying signatures.
        go_figures = {
            "verifier": "kclverify",
            "ed25519_go_verify_per_s_one_core": round(go_rate, 1),
            "ratio_to_cores_x_go_ed25519": round(per_s / (cores * go_rate), 3),
        }
    return {
        "bench": "bundle",
        **go_figures,
        "entries": entries,
        "bundle_bytes": size,
        "cores": cores,
        "workers": workers,
        "seconds": round(measured["seconds"], 2),
        "verify_entries_per_s": round(per_s, 1),
        "ed25519_verify_per_s_one_core": round(rate, 1),
        "ratio_to_cores_x_ed25519": round(per_s / (cores * rate), 3),
        "peak_rss_main_mb": round(measured["rss_main_kb"] / 1024, 1),
        "peak_rss_worker_mb": round(measured["rss_worker_kb"] / 1024, 1),
        "cpu_us_per_entry_main": round(measured["cpu_main_s"] / entries * 1e6, 1),
        "cpu_us_per_entry_workers": round(measured["cpu_workers_s"] / entries * 1e6, 1),
        "load_average": [round(measured["load_before"], 2), round(measured["load_after"], 2)],
    }
