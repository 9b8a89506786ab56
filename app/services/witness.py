"""A third party's witness: key files, the persisted state, the add-checkpoint HTTP endpoint.

The decision itself is :func:`ledger.witness.add_checkpoint`; this module
keeps the witness's state in a JSON file and guarantees the tlog-witness
rule that checking the old size and recording the new checkpoint are one
atomic step that is durable *before* the cosignature leaves the process:

1. one lock (per process) serialises requests; ``<state>.lock`` (flock)
   keeps a second process off the same state file;
2. the new state is written to a temporary file, fsynced and renamed over
   the state file (then the directory is fsynced);
3. only then is the in-memory state advanced and the cosignature returned.

A crash at any point leaves the old or the new state on disk; if it is the
old one, the cosignature was never sent. So the witness never cosigns two
conflicting checkpoints, across restarts too.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.keyfiles import read_key_file, resolve_passphrase, write_key_file
from app.services.statefile import StateLock, read_state_text, write_atomically
from ledger.errors import InvalidInput, LedgerError
from ledger.keys import Algorithm, SigningKey
from ledger.note import SIG_COSIGNATURE_V1, SIG_ED25519, Ed25519Verifier, parse_vkey
from ledger.witness import (
    MAX_REQUEST_BYTES,
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    Cosigned,
    WitnessKey,
    WitnessState,
    add_checkpoint,
    parse_add_checkpoint,
)

KEY_FILE = "witness-key.pem"
VKEY_FILE = "witness.vkey"
PASSPHRASE_ENV = "CUSTODY_WITNESS_KEY_PASSPHRASE"  # noqa: S105 (the variable's name, not a secret)


# --------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class WitnessInit:
    vkey: str
    key_file: Path
    vkey_file: Path


def init_witness(name: str, key_dir: Path, passphrase: bytes, entropy: bytes) -> WitnessInit:
    """Create the witness key (encrypted PEM, 0600) and its vkey file; never overwrite either."""
    key = SigningKey.generate(Algorithm.ED25519, entropy)
    witness = WitnessKey(name, key)
    key_file, vkey_file = key_dir / KEY_FILE, key_dir / VKEY_FILE
    if vkey_file.exists():
        raise InvalidInput(f"{vkey_file} already exists: this directory already holds a witness key")
    write_key_file(key_file, key, passphrase)
    write_atomically(vkey_file, witness.vkey() + "\n", mode=0o644)
    return WitnessInit(witness.vkey(), key_file, vkey_file)


def load_witness_key(key_dir: Path, passphrase_value: str | None) -> WitnessKey:
    """Read ``witness.vkey`` (name) and ``witness-key.pem``; they must belong together."""
    vkey_file = key_dir / VKEY_FILE
    try:
        vkey = vkey_file.read_text("utf-8").strip()
    except FileNotFoundError:
        raise InvalidInput(f"no witness key in {key_dir}: run `custody witness init` first") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {vkey_file}: {exc}") from None
    verifier = parse_vkey(vkey)
    passphrase = resolve_passphrase(passphrase_value, "witness key", PASSPHRASE_ENV)
    key = read_key_file(key_dir / KEY_FILE, passphrase)
    witness = WitnessKey(verifier.name, key)
    if witness.vkey() != vkey:
        raise InvalidInput(f"{vkey_file} does not belong to the key in {key_dir / KEY_FILE}")
    return witness


def parse_log_vkeys(vkeys: Sequence[str]) -> list[Ed25519Verifier]:
    """The log keys a witness follows (type 0x01), at least one."""
    if not vkeys:
        raise InvalidInput("a witness needs at least one --log-vkey")
    keys = []
    for vkey in vkeys:
        key = parse_vkey(vkey.strip())
        if key.signature_type != SIG_ED25519:
            raise InvalidInput(f"--log-vkey {vkey!r} is not a log (checkpoint) key of type 0x01")
        keys.append(key)
    return keys


# --------------------------------------------------------------------------
# The witness


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def _text(status: int, message: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (message.replace("\n", " ") + "\n").encode("utf-8"))


class Witness:
    """One witness key, the logs it follows, and its state file (held locked while open)."""

    def __init__(
        self,
        key: WitnessKey,
        logs: Sequence[Ed25519Verifier],
        state_path: Path,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.key = key
        self.logs = list(logs)
        self.state_path = state_path
        self._clock = clock or (lambda: int(time.time()))
        self._lock = threading.Lock()
        self._file_lock = StateLock(state_path).acquire()
        try:
            self.state = self._load()
        except BaseException:
            self._file_lock.release()
            raise

    def close(self) -> None:
        # Wait for a decision in flight to be persisted (and answered) before letting go.
        with self._lock:
            self._file_lock.release()

    def __enter__(self) -> Witness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self) -> WitnessState:
        text = read_state_text(self.state_path)
        if text is None:
            return WitnessState(self.key.vkey(), {})
        try:
            state = WitnessState.from_json(text)
        except InvalidInput as exc:
            raise InvalidInput(f"witness state {self.state_path}: {exc.message}") from None
        if state.witness_vkey != self.key.vkey():
            raise InvalidInput(
                f"witness state {self.state_path} belongs to {state.witness_vkey}, not to {self.key.vkey()}"
            )
        return state

    def cosign(self, request: AddCheckpoint) -> Cosigned:
        """Decide, persist durably, then return: raises the refusal otherwise."""
        with self._lock:
            decision = add_checkpoint(self.state, request, self.logs, self.key, self._clock())
            new_state = self.state.with_record(decision.record)
            write_atomically(self.state_path, new_state.to_json())
            self.state = new_state
            return decision

    def handle(self, body: bytes) -> Answer:
        """An add-checkpoint request body → the HTTP answer tlog-witness prescribes."""
        try:
            decision = self.cosign(parse_add_checkpoint(body))
        except LedgerError as exc:
            status = getattr(exc, "status", None)
            current = getattr(exc, "current_size", None)
            if status == 409 and isinstance(current, int):
                return Answer(409, SIZE_CONTENT_TYPE, f"{current}\n".encode("ascii"))
            if isinstance(status, int):
                return _text(status, f"{exc.message} [{exc.code}]")
            if isinstance(exc, InvalidInput):
                return _text(400, f"{exc.message} [{exc.code}]")
            return _text(500, f"the witness could not record the checkpoint: {exc.message} [{exc.code}]")
        return Answer(200, "text/plain; charset=utf-8", decision.lines.encode("utf-8"))

    def describe(self) -> str:
        lines = [f"witness {self.key.vkey()}"]
        for key in self.logs:
            lines.append(f"log {key.vkey()} cosigned size {self.state.size_of(key.name)}")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# HTTP (stdlib): POST /add-checkpoint; GET / describes the witness.


def _handler(witness: Witness, log: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "kcl-witness"
        sys_version = ""
        protocol_version = "HTTP/1.1"
        timeout = 30  # seconds a client may take to send its request

        def _send(self, answer: Answer) -> None:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/add-checkpoint":
                self._send(_text(404, "not found: POST /add-checkpoint"))
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(_text(411, "Content-Length required"))
                return
            if not 0 <= length <= MAX_REQUEST_BYTES:
                self.close_connection = True
                self._send(_text(413, "request body too large"))
                return
            body = self.rfile.read(length)
            answer = witness.handle(body)
            log(f"add-checkpoint {answer.status} {answer.body.decode('utf-8', 'replace').strip()[:200]}")
            self._send(answer)

        def do_GET(self) -> None:
            if self.path.rstrip("/") != "":
                self._send(_text(404, "not found"))
                return
            with witness._lock:
                text = witness.describe()
            self._send(Answer(200, "text/plain; charset=utf-8", text.encode("utf-8")))

        def log_message(self, format: str, *args: object) -> None:
            return  # one line per request is logged by do_POST

    return Handler


def make_server(witness: Witness, host: str, port: int) -> ThreadingHTTPServer:
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    server = ThreadingHTTPServer((host, port), _handler(witness, log))
    server.daemon_threads = True
    return server


def cosignature_key_check(vkey: str) -> Ed25519Verifier:
    """A witness vkey given on a command line: type 0x04."""
    key = parse_vkey(vkey.strip())
    if key.signature_type != SIG_COSIGNATURE_V1:
        raise InvalidInput(f"witness vkey {vkey!r} is not a cosignature key (type 0x04)")
    return key
