"""The log key in an HSM (app/hsm.py), on a real SoftHSM2 token: nothing is mocked.

One token per test process (session scope; the tests share it, so they run in one
xdist group); each test makes its keys under labels of its own. SOFTHSM2_CONF must
point at the token directory before the PKCS#11 module is first loaded in the
process, which the ``token`` fixture does before any test touches the module.

Without SoftHSM2 (scripts/install-test-deps.sh installs it) these tests skip with
the reason — except under CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app import hsm
from app.services.context import LedgerContext
from app.services.tokens import create_token
from app.settings import Settings
from ledger.checkpoint import open_checkpoint
from ledger.custody.ids import seal_id
from ledger.errors import WrongPassphrase
from ledger.keys import Algorithm, SigningKey
from ledger.note import Ed25519NoteSigner, parse_vkey
from ledger.receipt import verify_receipt
from tests.app.api_scale.servers import log_records, serve, wait_until_up
from tests.cli_run import Run, clean_env
from tests.cli_runner import run_in_process
from tests.helpers import ADMIN, KEY_PASSPHRASE, LOG_PASSPHRASE, ORIGIN, LedgerFixture, SteppingClock

pytestmark = pytest.mark.xdist_group("softhsm")

MODULE_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib64/pkcs11/libsofthsm2.so"),
)
TOKEN_LABEL = "custody-test"
USER_PIN = "5678-user"
SO_PIN = "1234-so"


def softhsm_unavailable(reason: str) -> None:
    """Skip with ``reason`` — or fail under CI=true, where SoftHSM2 must be installed."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the HSM tests need SoftHSM2 under CI=true: {reason}")
    pytest.skip(f"HSM tests skipped: {reason} (run scripts/install-test-deps.sh)")


@dataclass(frozen=True)
class Token:
    module: Path
    conf: Path

    def config(self, key_label: str, pin: str = USER_PIN) -> hsm.HsmConfig:
        return hsm.HsmConfig(self.module, TOKEN_LABEL, key_label, pin)

    def settings(self, db_url: str, key_dir: Path, key_label: str, **extra: Any) -> Settings:
        return Settings(
            database_url=db_url,
            key_dir=key_dir,
            key_passphrase=SecretStr(KEY_PASSPHRASE),
            origin=ORIGIN,
            hsm_module=self.module,
            hsm_token_label=TOKEN_LABEL,
            hsm_key_label=key_label,
            hsm_pin=SecretStr(USER_PIN),
            **extra,
        )

    def env(self, key_label: str, **overrides: str | None) -> dict[str, str]:
        """A command's environment: no CUSTODY_* of the caller, this token and key."""
        settings: dict[str, str | None] = {
            "SOFTHSM2_CONF": str(self.conf),
            "CUSTODY_HSM_MODULE": str(self.module),
            "CUSTODY_HSM_TOKEN_LABEL": TOKEN_LABEL,
            "CUSTODY_HSM_KEY_LABEL": key_label,
            "CUSTODY_HSM_PIN": USER_PIN,
            "CUSTODY_KEY_PASSPHRASE": KEY_PASSPHRASE,
            "CUSTODY_ORIGIN": ORIGIN,
        }
        return clean_env(**{**settings, **overrides})


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    module = next((m for m in MODULE_CANDIDATES if m.is_file()), None)
    if module is None:
        softhsm_unavailable(f"no libsofthsm2.so in {', '.join(map(str, MODULE_CANDIDATES))}")
    assert module is not None
    util = shutil.which("softhsm2-util")
    if util is None:
        softhsm_unavailable("softhsm2-util is not on PATH")
    assert util is not None
    try:
        import pkcs11  # noqa: F401
    except ImportError:
        softhsm_unavailable("the python-pkcs11 package is not installed (pip install -e .)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    init = subprocess.run(
        [util, "--init-token", "--free", "--label", TOKEN_LABEL, "--so-pin", SO_PIN, "--pin", USER_PIN],
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        softhsm_unavailable(
            f"softhsm2-util --init-token failed: {init.stderr.strip() or init.stdout.strip()}"
        )
    # SoftHSM reads its configuration when the module is initialised: set it before any
    # test of this process loads the module, and keep it (a loaded module stays loaded).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        try:
            yield Token(module, conf)
        finally:
            hsm.close_sessions()


def new_label(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------
# Running the CLI and the raw token


def custody(token: Token, cwd: Path, key_label: str, *args: object, **env: str | None) -> Run:
    """``custody ARGS`` in this process (tests/cli_runner.py), stdin empty."""
    argv = tuple(str(a) for a in args)
    code, out, err = run_in_process(list(argv), cwd=cwd, env=token.env(key_label, **env))
    return Run(code, out.decode(), err.decode("utf-8", "replace"), argv)


def custody_process(token: Token, cwd: Path, key_label: str, *args: object, **env: str | None) -> Run:
    script = Path(sys.executable).with_name("custody")
    proc = subprocess.run(
        [str(script), *map(str, args)],
        cwd=cwd,
        env=token.env(key_label, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return Run(
        proc.returncode, proc.stdout.decode(), proc.stderr.decode("utf-8", "replace"), tuple(map(str, args))
    )


def ok(run: Run) -> Run:
    assert run.code == 0, run
    assert "Traceback" not in run.err, run
    assert "error:" not in run.err, run
    return run


def assert_error(run: Run, exit_code: int, code: str, *fragments: str) -> str:
    """Exactly one stderr line ``error: <message> [<code>]``, the exit code, no traceback."""
    assert run.code == exit_code, run
    lines = run.err.splitlines()
    assert len(lines) == 1, run
    assert lines[0].startswith("error: "), run
    assert lines[0].endswith(f" [{code}]"), run
    for fragment in fragments:
        assert fragment in lines[0], run
    return lines[0]


# What the tests do on the token behind the application's back, in a process of their
# own (PKCS#11 login state belongs to a process: this one's stays the application's).
_RAW_SCRIPT = """
import json, sys
import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

module, token_label, pin, label, operation = sys.argv[1:6]
lib = pkcs11.lib(module)
with lib.get_token(token_label=token_label).open(rw=True, user_pin=pin) as session:
    if operation == "facts":
        private = session.get_key(ObjectClass.PRIVATE_KEY, label=label)
        facts = {}
        for name in ("SENSITIVE", "EXTRACTABLE", "ALWAYS_SENSITIVE", "NEVER_EXTRACTABLE", "LOCAL"):
            facts[name] = bool(private[getattr(Attribute, name)])
        try:
            private[Attribute.VALUE]
            facts["value"] = "readable"
        except pkcs11.PKCS11Error as exc:
            facts["value"] = type(exc).__name__
        print(json.dumps(facts))
    elif operation == "ed25519-pair":
        curve = {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")}
        params = session.create_domain_parameters(KeyType.EC_EDWARDS, curve, local=True)
        params.generate_keypair(store=True, label=label, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN)
    elif operation == "p256-pair":
        curve = {Attribute.EC_PARAMS: encode_named_curve_parameters("1.2.840.10045.3.1.7")}
        params = session.create_domain_parameters(KeyType.EC, curve, local=True)
        params.generate_keypair(store=True, label=label)
    elif operation == "destroy":
        for obj in list(session.get_objects({Attribute.LABEL: label})):
            obj.destroy()
"""


def raw(token: Token, label: str, operation: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", _RAW_SCRIPT, str(token.module), TOKEN_LABEL, USER_PIN, label, operation],
        env={**os.environ, "SOFTHSM2_CONF": str(token.conf)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout


def hsm_ledger(token: Token, tmp_path: Path, key_label: str) -> LedgerFixture:
    """An SQLite ledger initialised (`custody init`) with the HSM key as its log key."""
    ok(custody(token, tmp_path, key_label, "init", "--db", f"sqlite:///{tmp_path}/l.db", "--origin", ORIGIN))
    settings = token.settings(f"sqlite:///{tmp_path}/l.db", tmp_path / "keys", key_label)
    ctx = LedgerContext.open(settings, clock=SteppingClock())
    admin_key = ctx.load_actor_key(ADMIN)
    return LedgerFixture(ctx, admin_key, {ADMIN: admin_key})


def seal(ledger: LedgerFixture, party: str, number: int):  # type: ignore[no-untyped-def]
    return ledger.statement(
        "seal.received",
        f"seal:{seal_id('KH', number)}",
        party,
        {"series": "KH", "first": number, "count": 1, "supplier": "HSM test seals"},
    )


# --------------------------------------------------------------------------
# Generating, and the whole path on an HSM log key


def test_generate_init_append_and_verify_with_the_hsm_key(token: Token, tmp_path: Path) -> None:
    label = new_label("log")
    generated = ok(custody(token, tmp_path, label, "hsm", "generate", "--json")).json()
    vkey = generated["vkey"]
    assert parse_vkey(vkey).name == ORIGIN
    assert generated["uri"] == f"pkcs11:token={TOKEN_LABEL};object={label};type=private"
    assert (generated["sensitive"], generated["extractable"]) == (True, False)
    assert (generated["always_sensitive"], generated["never_extractable"], generated["local"]) == (True,) * 3
    assert len(bytes.fromhex(generated["key_id"])) == 16
    assert generated["token_serial"]

    # The token itself says the private key never left it and cannot be read.
    facts = json.loads(raw(token, label, "facts"))
    assert facts == {
        "SENSITIVE": True,
        "EXTRACTABLE": False,
        "ALWAYS_SENSITIVE": True,
        "NEVER_EXTRACTABLE": True,
        "LOCAL": True,
        "value": "AttributeSensitive",
    }

    # The text form: the vkey on stdout, what was made on stderr.
    shown = ok(custody(token, tmp_path, label, "hsm", "show"))
    assert shown.out.strip() == vkey
    assert "sensitive, not extractable" in shown.err

    # init: genesis declares the HSM key; no log key file is written.
    db = f"sqlite:///{tmp_path}/l.db"
    init = ok(custody(token, tmp_path, label, "init", "--db", db, "--origin", ORIGIN, "--json")).json()
    assert init["vkey"] == vkey
    assert init["log_key"] == generated["uri"]
    assert init["log_key_file"] is None
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [f"{ADMIN}.pem"]
    again = ok(custody(token, tmp_path, label, "init", "--db", db, "--json")).json()
    assert (again["created"], again["log_key"], again["vkey"]) == (False, generated["uri"], vkey)

    # Appends through the services (register a party, add its key, its statements).
    settings = token.settings(db, tmp_path / "keys", label)
    ctx = LedgerContext.open(settings, clock=SteppingClock())
    admin_key = ctx.load_actor_key(ADMIN)
    ledger = LedgerFixture(ctx, admin_key, {ADMIN: admin_key})
    ledger.party("WH-01", ["warehouse"])
    result = ledger.append(*(seal(ledger, "WH-01", n) for n in range(5)))
    assert result.size == 8
    note = ctx.store.checkpoint()
    assert open_checkpoint(note.encode(), parse_vkey(vkey)).checkpoint.size == 8
    ctx.engine.dispose()

    # And through the CLI, then everything verifies: the database, and an export bundle
    # against the vkey published at generation.
    ok(
        custody(
            token, tmp_path, label, "party", "add", "WH-02", "--name", "Lager 2", "--as", ADMIN, "--db", db
        )
    )
    ok(custody(token, tmp_path, label, "verify", "--db", db, "--vkey", vkey, "--workers", "1"))
    bundle = tmp_path / "all.zip"
    ok(custody(token, tmp_path, label, "export", "--all", "--out", bundle, "--db", db))
    verified = ok(custody(token, tmp_path, label, "verify", bundle, "--vkey", vkey, "--workers", "1"))
    assert "(pinned)" in verified.out
    assert "valid; full bundle" in verified.out


def test_generate_refuses_a_label_in_use(token: Token, tmp_path: Path) -> None:
    label = new_label("taken")
    first = ok(custody(token, tmp_path, label, "hsm", "generate", "--json")).json()
    again = custody(token, tmp_path, label, "hsm", "generate")
    assert_error(again, 2, "conflict.hsm_key_exists", repr(label), "refusing")
    assert ok(custody(token, tmp_path, label, "hsm", "show", "--json")).json()["vkey"] == first["vkey"]


def test_import_moves_a_pem_log_key_onto_the_token(token: Token, tmp_path: Path) -> None:
    """A ledger made with a PEM log key goes on with the same key from the HSM."""
    from tests.helpers import new_ledger_fixture

    db = f"sqlite:///{tmp_path}/l.db"
    pem_ledger = new_ledger_fixture(db, tmp_path)
    pem_ledger.party("WH-01", ["warehouse"])
    vkey = pem_ledger.ctx.store.trust_state().log_vkey
    assert vkey is not None
    pem_ledger.ctx.engine.dispose()

    label = new_label("imported")
    key_file = tmp_path / "keys" / "log-key.pem"

    def import_pem(*extra: str) -> Run:
        return custody(
            token,
            tmp_path,
            label,
            "hsm",
            "import",
            "--key-file",
            key_file,
            *extra,
            CUSTODY_LOG_KEY_PASSPHRASE=LOG_PASSPHRASE,
        )

    imported = ok(import_pem("--json")).json()
    assert imported["vkey"] == vkey
    # Sensitive and non-extractable from now on; the token records the key came from outside.
    assert (imported["sensitive"], imported["extractable"], imported["local"]) == (True, False, False)
    assert json.loads(raw(token, label, "facts"))["value"] == "AttributeSensitive"

    ctx = LedgerContext.open(token.settings(db, tmp_path / "keys", label), clock=SteppingClock())
    admin_key = ctx.load_actor_key(ADMIN)
    ledger = LedgerFixture(ctx, admin_key, {ADMIN: admin_key, "WH-01": pem_ledger.keys["WH-01"]})
    size = ledger.append(seal(ledger, "WH-01", 1)).size
    assert open_checkpoint(ctx.store.checkpoint().encode(), parse_vkey(vkey)).checkpoint.size == size

    twice = import_pem()
    assert_error(twice, 2, "conflict.hsm_key_exists")


# --------------------------------------------------------------------------
# The key object: concurrent signing, lost sessions, fork


def test_signatures_from_many_threads_all_verify(token: Token) -> None:
    label = new_label("threads")
    key = hsm.generate_key(token.config(label))
    public = key.public_key
    failures: list[str] = []

    def sign(worker: int) -> None:
        for n in range(50):
            message = f"checkpoint {worker}/{n}\n".encode()
            try:
                public.verify(key.sign(message), message)
            except Exception as exc:  # reported below, not lost in the thread
                failures.append(repr(exc))

    threads = [threading.Thread(target=sign, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures[:3]


def test_a_key_signs_on_after_its_session_was_logged_out(token: Token) -> None:
    key = hsm.generate_key(token.config(new_label("reopen")))
    hsm.close_sessions()  # what another key's PIN change, or a restarted HSM, does to the session
    message = b"after the logout\n"
    key.public_key.verify(key.sign(message), message)


def test_a_key_replaced_under_its_label_is_not_used(token: Token) -> None:
    """After a lost session the label is looked up again: it must still name the same key."""
    label = new_label("replaced")
    key = hsm.generate_key(token.config(label))
    raw(token, label, "destroy")
    hsm.close_sessions()
    with pytest.raises(hsm.HsmError, match="reopening the HSM log key failed: no private key labelled"):
        key.sign(b"gone\n")
    raw(token, label, "ed25519-pair")
    hsm.close_sessions()
    with pytest.raises(hsm.HsmError, match="changed while this process was running"):
        key.sign(b"another key\n")


def test_a_forked_child_does_not_use_the_parents_session(token: Token) -> None:
    key = hsm.generate_key(token.config(new_label("fork")))
    pid = os.fork()
    if pid == 0:  # the child: must refuse, whatever happens
        try:
            key.sign(b"from the child\n")
            code = 0
        except hsm.HsmError:
            code = 7
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    message = b"the parent still signs\n"
    key.public_key.verify(key.sign(message), message)


def test_the_hsm_key_signs_notes_like_a_key_file(token: Token) -> None:
    """Ed25519 is deterministic: the HSM's signature is the one the same key in software makes."""
    seed = os.urandom(32)
    software = SigningKey.generate(Algorithm.ED25519, seed)
    key = hsm.import_key(token.config(new_label("same")), seed)
    assert key.public_key == software.public_key
    hardware_signer, software_signer = Ed25519NoteSigner(ORIGIN, key), Ed25519NoteSigner(ORIGIN, software)
    assert hardware_signer.vkey() == software_signer.vkey()
    text = b"test.custody.local/ledger\n1\nAAAA\n"
    assert hardware_signer.sign(text) == software_signer.sign(text)


# --------------------------------------------------------------------------
# Errors: one line, a documented exit code, never a traceback


def test_configuration_errors_are_one_line_each(token: Token, tmp_path: Path) -> None:
    label = new_label("errors")
    ok(custody(token, tmp_path, label, "hsm", "generate"))

    wrong_pin = custody(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_PIN="0000-wrong")
    assert_error(wrong_pin, 2, "input.key.passphrase", "wrong user PIN", TOKEN_LABEL)
    no_pin = custody(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_PIN=None)
    assert_error(no_pin, 2, "input.invalid", "CUSTODY_HSM_PIN")
    missing = custody(token, tmp_path, new_label("absent"), "hsm", "show")
    assert_error(missing, 2, "input.hsm.key", "no private key labelled", "custody hsm generate")
    no_module = custody(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_MODULE=str(tmp_path / "nope.so"))
    assert_error(no_module, 2, "input.hsm.module", "nope.so", "does not exist")
    no_token = custody(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_TOKEN_LABEL="no-such-token")
    assert_error(no_token, 2, "input.hsm.token", "no-such-token", repr(TOKEN_LABEL))
    no_token_label = custody(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_TOKEN_LABEL=None)
    assert_error(no_token_label, 2, "input.invalid", "CUSTODY_HSM_TOKEN_LABEL")
    not_pkcs11 = tmp_path / "not-a-module.so"
    not_pkcs11.write_bytes(b"\x7fELF but not really")
    # A new process: a module that fails to load leaves nothing behind in this one.
    bad_module = custody_process(token, tmp_path, label, "hsm", "show", CUSTODY_HSM_MODULE=str(not_pkcs11))
    assert_error(bad_module, 3, "operational.hsm", "cannot load PKCS#11 module")


def test_a_label_must_name_exactly_one_ed25519_key(token: Token, tmp_path: Path) -> None:
    twice = new_label("twice")
    raw(token, twice, "ed25519-pair")
    raw(token, twice, "ed25519-pair")
    run = custody(token, tmp_path, twice, "hsm", "show")
    assert_error(run, 2, "input.hsm.key", "2 private keys are labelled", "exactly one")

    ecdsa = new_label("p256")
    raw(token, ecdsa, "p256-pair")
    run = custody(token, tmp_path, ecdsa, "hsm", "show")
    assert_error(run, 2, "input.key.algorithm", "not an Ed25519 key")


def test_init_with_a_bad_hsm_configuration_creates_nothing(token: Token, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/l.db"
    label = new_label("init")
    missing = custody(token, tmp_path, label, "init", "--db", db)
    assert_error(missing, 2, "input.hsm.key", "custody hsm generate")
    ok(custody(token, tmp_path, label, "hsm", "generate"))
    wrong_pin = custody(token, tmp_path, label, "init", "--db", db, CUSTODY_HSM_PIN="0000-wrong")
    assert_error(wrong_pin, 2, "input.key.passphrase")
    assert ok(custody(token, tmp_path, label, "status", "--db", db, "--json")).json()["initialised"] is False
    assert not (tmp_path / "keys" / "log-key.pem").exists()


def test_appends_and_serve_refuse_another_key_than_genesis_declares(token: Token, tmp_path: Path) -> None:
    label = new_label("genesis")
    ok(custody(token, tmp_path, label, "hsm", "generate"))
    ledger = hsm_ledger(token, tmp_path, label)
    size = ledger.ctx.store.size()
    ledger.ctx.engine.dispose()
    other = new_label("other")
    ok(custody(token, tmp_path, other, "hsm", "generate"))
    db = f"sqlite:///{tmp_path}/l.db"
    add = custody(token, tmp_path, other, "party", "add", "WH-09", "--name", "L", "--as", ADMIN, "--db", db)
    assert_error(add, 2, "input.key.log_key_mismatch", f"object={other}", "genesis declares")
    served = custody_process(token, tmp_path, other, "serve", "--db", db, "--port", "1")
    assert_error(served, 2, "input.key.log_key_mismatch")
    assert ok(custody(token, tmp_path, label, "status", "--db", db, "--json")).json()["size"] == size


def test_serve_refuses_to_start_with_a_bad_hsm_configuration(token: Token, tmp_path: Path) -> None:
    label = new_label("serve-bad")
    ok(custody(token, tmp_path, label, "hsm", "generate"))
    hsm_ledger(token, tmp_path, label).ctx.engine.dispose()
    db = f"sqlite:///{tmp_path}/l.db"
    # Real processes: were the check to pass, serve would run until stopped.
    for env, exit_code, code in [
        ({"CUSTODY_HSM_PIN": "0000-wrong"}, 2, "input.key.passphrase"),
        ({"CUSTODY_HSM_KEY_LABEL": new_label("absent")}, 2, "input.hsm.key"),
        ({"CUSTODY_HSM_MODULE": str(tmp_path / "nope.so")}, 2, "input.hsm.module"),
        ({"CUSTODY_HSM_TOKEN_LABEL": "no-such-token"}, 2, "input.hsm.token"),
    ]:
        run = custody_process(token, tmp_path, label, "serve", "--db", db, "--port", "1", **env)
        assert_error(run, exit_code, code)
        assert "serving" not in run.err


def test_the_check_in_a_subprocess_relays_errors_as_ours(token: Token) -> None:
    label = new_label("relay")
    key = hsm.generate_key(token.config(label))
    assert hsm.check_in_subprocess(token.config(label)) == key.public_key
    with pytest.raises(WrongPassphrase, match="wrong user PIN"):
        hsm.check_in_subprocess(token.config(label, pin="0000-wrong"))
    with pytest.raises(hsm.HsmKeyMissing):
        hsm.check_in_subprocess(token.config(new_label("absent")))


# --------------------------------------------------------------------------
# `custody serve --workers 2` on the HSM key


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.slow
def test_serve_with_two_workers_signs_receipts_on_the_hsm(token: Token, tmp_path: Path) -> None:
    label = new_label("serve")
    vkey = ok(custody(token, tmp_path, label, "hsm", "generate", "--json")).json()["vkey"]
    ledger = hsm_ledger(token, tmp_path, label)
    parties = ["WH-01", "WH-02"]
    tokens = {}
    for party in parties:
        ledger.party(party, ["warehouse"])
        tokens[party] = create_token(ledger.ctx, party, roles=["warehouse"], label="hsm test")[0]
    units = {party: [seal(ledger, party, 100 * i + n) for n in range(12)] for i, party in enumerate(parties)}
    env = {k: v for k, v in token.env(label).items() if k.startswith(("CUSTODY_HSM_", "SOFTHSM2_"))}
    answers: list[tuple[int, Any]] = []

    def post(party: str) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for envelope in units[party]:
                answer = client.post(
                    "/api/v1/statements",
                    json=envelope.to_json(),
                    headers={"Authorization": f"Bearer {tokens[party]}"},
                )
                answers.append((answer.status_code, answer.json()))

    with serve(ledger, tmp_path, "hsm", workers=2, env_extra=env) as server:
        wait_until_up(server, 2, time.monotonic() + 60)
        assert httpx.get(f"{server.url}/api/v1/log/vkey", timeout=10).text.strip() == vkey
        threads = [threading.Thread(target=post, args=(party,)) for party in parties]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        workers = {r["pid"] for r in log_records(server) if r.get("event") == "service_started"}
        if Path("/proc/self/maps").exists():
            # Each worker loaded the module itself; the process that started them never did.
            assert "libsofthsm2" not in _maps(server.process.pid)
            for pid in workers:
                assert "libsofthsm2" in _maps(pid), pid

    assert len(workers) == 2
    assert [status for status, _ in answers] == [201] * 24, answers[:3]
    log_key = parse_vkey(vkey)
    indices = []
    for _, body in answers:
        for receipt in body["receipts"]:
            verify_receipt(receipt, log_key)
            indices.append(receipt["index"])
    assert len(set(indices)) == 24
    ok(custody(token, tmp_path, label, "verify", "--db", f"sqlite:///{tmp_path}/l.db", "--vkey", vkey))
