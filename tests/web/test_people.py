"""People who sign in: passwords (scrypt), one-time links, roles bound to the party's, the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.services import people, sessions
from app.services.people import SignInFailed
from app.services.trust import revoke_role
from app.tables import WEB_USERS
from app.web.throttle import SignInThrottle
from ledger.errors import Conflict, InvalidInput, NotFound
from tests.helpers import ADMIN, LedgerFixture
from tests.web.conftest import PASSWORD


@pytest.fixture
def ledger(sqlite_ledger: LedgerFixture) -> LedgerFixture:
    sqlite_ledger.party("WH-01", ["warehouse", "carrier"])
    return sqlite_ledger


def test_password_hash_carries_its_parameters_and_verifies_in_constant_time(ledger: LedgerFixture) -> None:
    stored = people.hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", people.SCRYPT_N, people.SCRYPT_R, people.SCRYPT_P)
    assert (len(salt), len(digest)) == (22, 43)  # 16 and 32 bytes, base64url
    assert people.check_password(PASSWORD, stored)
    assert not people.check_password(PASSWORD + "x", stored)
    assert not people.check_password(PASSWORD, None)
    assert not people.check_password(PASSWORD, "md5$whatever")
    assert people.hash_password(PASSWORD) != stored  # a fresh salt each time
    with pytest.raises(InvalidInput):
        people.hash_password("short")


def test_add_and_authenticate(ledger: LedgerFixture) -> None:
    ctx = ledger.ctx
    person = people.add_person(
        ctx, "Anna", "WH-01", roles=["warehouse"], password=PASSWORD, display_name="Anna A."
    )
    assert (person.login, person.party, person.roles) == ("anna", "party:WH-01", frozenset({"warehouse"}))
    with ctx.engine.connect() as conn:
        row = conn.execute(select(WEB_USERS.c.password_hash)).scalar()
    assert row is not None
    assert PASSWORD not in row
    assert people.authenticate_password(ctx, "ANNA", PASSWORD).login == "anna"
    for login, password in (("anna", "wrong password"), ("nobody", PASSWORD), ("bad login!", PASSWORD)):
        with pytest.raises(SignInFailed) as refused:
            people.authenticate_password(ctx, login, password)
        assert refused.value.message == "wrong login or password"  # the same for every reason
    with pytest.raises(Conflict):
        people.add_person(ctx, "anna", "WH-01", password=PASSWORD)
    with pytest.raises(InvalidInput, match="does not hold"):
        people.add_person(ctx, "bert", "WH-01", roles=["auditor"], password=PASSWORD)
    with pytest.raises(NotFound):
        people.add_person(ctx, "bert", "NOPE-01", password=PASSWORD)
    people.disable_person(ctx, "anna")
    with pytest.raises(SignInFailed):
        people.authenticate_password(ctx, "anna", PASSWORD)


def test_roles_follow_the_ledger(ledger: LedgerFixture) -> None:
    ctx = ledger.ctx
    person = people.add_person(ctx, "anna", "WH-01", password=PASSWORD)
    assert people.effective_roles(ctx, person) == {"warehouse", "carrier"}
    revoke_role(ctx, ledger.admin_key, ADMIN, "WH-01", "carrier")
    assert people.effective_roles(ctx, person) == {"warehouse"}


def test_one_time_link_is_single_use_and_expires(ledger: LedgerFixture) -> None:
    ctx = ledger.ctx
    people.add_person(ctx, "anna", "WH-01")  # no password: links only
    with pytest.raises(SignInFailed):
        people.authenticate_password(ctx, "anna", PASSWORD)
    token, _ = people.create_link(ctx, "anna")
    with ctx.engine.connect() as conn:
        assert token not in json.dumps([list(r) for r in conn.execute(select(WEB_USERS))])
    assert people.redeem_link(ctx, token).login == "anna"
    with pytest.raises(SignInFailed):
        people.redeem_link(ctx, token)
    short, _ = people.create_link(ctx, "anna", timedelta(seconds=1))
    # The stepping clock advances a second per reading: by now the link has expired.
    for _ in range(3):
        ctx.clock()
    with pytest.raises(SignInFailed):
        people.redeem_link(ctx, short)
    first, _ = people.create_link(ctx, "anna")
    second, _ = people.create_link(ctx, "anna")
    with pytest.raises(SignInFailed):
        people.redeem_link(ctx, first)  # replaced by the newer link
    people.disable_person(ctx, "anna")
    with pytest.raises(SignInFailed):
        people.redeem_link(ctx, second)


def test_sessions_end_on_sign_out_and_when_disabled(ledger: LedgerFixture) -> None:
    ctx = ledger.ctx
    person = people.add_person(ctx, "anna", "WH-01", roles=["warehouse"], password=PASSWORD)
    cookie, session = sessions.create_session(ctx, person)
    assert sessions.session_for(ctx, cookie) == session
    assert sessions.session_for(ctx, cookie + "x") is None
    sessions.end_session(ctx, cookie)
    assert sessions.session_for(ctx, cookie) is None
    other, _ = sessions.create_session(ctx, person)
    people.disable_person(ctx, "anna")
    assert sessions.session_for(ctx, other) is None
    people.enable_person(ctx, "anna")
    expiring, _ = sessions.create_session(ctx, person, timedelta(seconds=1))
    sessions.forget_cached()
    for _ in range(3):
        ctx.clock()
    assert sessions.session_for(ctx, expiring) is None


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def test_cli(
    ledger: LedgerFixture, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db = ledger.ctx.settings.database_url
    monkeypatch.setattr("sys.stdin", _Stdin(PASSWORD + "\n"))
    code, out, _ = _run(
        capsys,
        "user",
        "add",
        "anna",
        "--party",
        "WH-01",
        "--role",
        "warehouse",
        "--password-stdin",
        "--db",
        db,
    )
    assert code == 0, out
    assert people.authenticate_password(ledger.ctx, "anna", PASSWORD).party == "party:WH-01"
    code, out, _ = _run(capsys, "user", "list", "--json", "--db", db)
    assert (code, [p["login"] for p in json.loads(out)]) == (0, ["anna"])
    assert "scrypt" not in out
    code, out, err = _run(capsys, "user", "link", "anna", "--db", db)
    assert code == 0
    assert "/login/link/" in out
    assert "valid once" in err
    monkeypatch.setattr("sys.stdin", _Stdin("short\n"))
    code, _, err = _run(capsys, "user", "add", "bert", "--party", "WH-01", "--password-stdin", "--db", db)
    assert code == 2
    assert err.startswith("error: ")
    assert err.count("\n") == 1
    monkeypatch.setattr("sys.stdin", _Stdin(""))
    code, _, err = _run(capsys, "user", "add", "bert", "--party", "WH-01", "--db", db)
    assert code == 2
    assert "--password-stdin" in err
    code, _, err = _run(capsys, "user", "disable", "nobody", "--db", db)
    assert code == 2
    assert err.strip() == "error: unknown login nobody [input.not_found]"
    code, out, _ = _run(capsys, "user", "disable", "anna", "--db", db)
    assert code == 0
    assert people.get_person(ledger.ctx, "anna").disabled


class _Stdin:
    """A non-terminal stdin with fixed content."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines(keepends=True)

    def readline(self) -> str:
        return self._lines.pop(0) if self._lines else ""

    def isatty(self) -> bool:
        return False


def test_token_demo_also_prints_demo_people(
    ledger: LedgerFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ledger.ctx.settings.database_url
    code, out, _ = _run(capsys, "token", "demo", "--json", "--db", db)
    assert code == 0
    shown = json.loads(out)
    assert set(shown) == {"url", "tokens", "people"}  # "url" and "tokens" as before
    assert {p["login"] for p in shown["people"]} == {"admin", "warehouse", "carrier"}
    warehouse = next(p for p in shown["people"] if p["login"] == "warehouse")
    assert people.authenticate_password(ledger.ctx, "warehouse", warehouse["password"]).party == "party:WH-01"
    # Again: fresh passwords, the old ones stop working.
    code, out, _ = _run(capsys, "token", "demo", "--db", db)
    assert code == 0
    assert "Demo people for the web pages" in out
    with pytest.raises(SignInFailed):
        people.authenticate_password(ledger.ctx, "warehouse", warehouse["password"])


def test_sign_in_throttle() -> None:
    throttle = SignInThrottle(max_failures=3, window=60)
    for moment in (1.0, 2.0, 3.0):
        assert throttle.allowed("Anna", now=moment)
        throttle.failed("anna", now=moment)
    assert not throttle.allowed("anna", now=4.0)
    assert throttle.allowed("bert", now=4.0)
    assert throttle.allowed("anna", now=62.0)  # the first failure has aged out
    throttle.succeeded("anna")
    assert throttle.allowed("anna", now=4.0)


def test_a_locked_login_unlocks_on_time_however_often_it_is_tried() -> None:
    """Refused attempts are not failures: trying on a schedule cannot keep a login locked."""
    throttle = SignInThrottle(max_failures=3, window=60)
    for moment in (1.0, 2.0, 3.0):
        throttle.failed("anna", now=moment)
    for moment in range(4, 61, 5):  # an attacker keeps trying while it is locked
        assert not throttle.allowed("anna", now=float(moment))
        throttle.failed("anna", now=float(moment))
    assert throttle.allowed("anna", now=63.5)  # 60 s after the third real failure


def test_the_throttle_forgets_old_logins_first_never_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.web.throttle.MAX_LOGINS", 10)
    throttle = SignInThrottle(max_failures=2, window=1000)
    for number in range(9):
        throttle.failed(f"user{number}", now=1.0 + number)
    throttle.failed("anna", now=20.0)
    throttle.failed("anna", now=21.0)
    assert not throttle.allowed("anna", now=22.0)
    for number in range(9, 40):  # many more logins fail once each, filling the table again and again
        throttle.failed(f"user{number}", now=30.0 + number)
        # A full table sheds its oldest entries, never the whole of it, and stays bounded.
        assert 0 < len(throttle._failures) <= 10
    assert throttle.allowed("user0", now=80.0)  # long forgotten (its one failure was the oldest)
    throttle.failed("bert", now=80.0)
    throttle.failed("bert", now=81.0)
    throttle.failed("carl", now=82.0)
    assert not throttle.allowed("bert", now=83.0)  # a recent lockout survives newer entries
