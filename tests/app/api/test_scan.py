"""POST /scan: keyboard-wedge and QR input → the normalised id, its state and what comes next."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.custody.ids import seal_id
from ledger.kinds import REGISTRY
from tests.app.api.conftest import MFR, Api, assert_problem

#: A connector whose serial has both Y and Z (the letters a German layout swaps).
YZ_SUBJECT = "connector:SECUNET:KZY-0001"


def scan(api: Api, text: str, as_: str = "warehouse") -> dict[str, Any]:
    return dict(api.ok(api.post("/scan", {"input": text}, as_=as_)))


def allowed_in(subject_type: str, state: str) -> set[str]:
    """Independently of the service: every kind whose declared transitions start in ``state``."""
    return {
        spec.name
        for spec in REGISTRY
        if subject_type in spec.subject_types and any(before == state for before, _ in spec.transitions)
    }


def applied_seal(api: Api) -> dict[str, Any]:
    return dict(api.ok(api.get("/seals", status="APPLIED", limit=1))["items"][0])


def commission_yz(api: Api) -> None:
    data = {
        "vendor": "SECUNET",
        "serial": "KZY-0001",
        "product_code": "secunet konnektor 2.1.0",
        "hw_version": "2.0.0",
        "fw_version": "5.50.3",
        "production_date": "2026-11-30",
        "smck": [{"iccsn": "80276999990000000001", "not_after": "2031-11-30T00:00:00Z"}],
        "certification_id": "BSI-DSZ-CC-1140-V2",
    }
    envelope = api.sign("connector.commissioned", YZ_SUBJECT, MFR, data)
    api.ok(api.post("/statements", envelope, as_="manufacturer"), 201)


def test_a_clean_seal_scan(api: Api) -> None:
    seal = applied_seal(api)
    result = scan(api, seal["seal_id"] + "\r\n")  # scanners end with Enter
    assert result == {
        "input": seal["seal_id"] + "\r\n",
        "normalised": seal["seal_id"],
        "kind": "seal",
        "id": seal["seal_id"],
        "subject": f"seal:{seal['seal_id']}",
        "repaired": False,
        "known": True,
        "state": "APPLIED",
        "custodian": seal["holder"],
        "connector": seal["connector"],
        "connector_state": api.ok(api.get(f"/connectors/{seal['connector']}"))["state"],
        "expected_next": result["expected_next"],
        "from_label_url": False,
        "label": None,
    }
    # An applied seal is scanned for its connector: what comes next is the connector's next step.
    assert set(result["expected_next"]) == allowed_in("connector", result["connector_state"])


@pytest.mark.parametrize(
    "form",
    [
        lambda s: s.lower(),
        lambda s: f"{s[:2]} {s[2:5]} {s[5:9]} {s[9:]}",
        lambda s: f"  {s[:2]}-{s[2:5]}-{s[5:9]}-{s[9:]}  ",
        lambda s: f"https://custody.example.org/s/{s}",
        lambda s: f"https://custody.example.org/s/{s.lower()}?lang=de",
        lambda s: f"HTTPSÖ--CUSTODY.EXAMPLE.ORG-S-{s}",
        lambda s: f"Siegel {s} geprüft",
    ],
    ids=["lower", "spaced", "dashes", "qr-url", "qr-url-lower", "qr-url-german-layout", "in-text"],
)
def test_seal_scans_in_other_forms(api: Api, form: Any) -> None:
    seal = applied_seal(api)["seal_id"]
    result = scan(api, form(seal))
    assert (result["kind"], result["id"], result["known"], result["state"]) == ("seal", seal, True, "APPLIED")
    assert result["repaired"] is False  # the characters of the id itself were as printed


def test_label_urls_are_recognised(api: Api) -> None:
    seal = applied_seal(api)["seal_id"]
    assert scan(api, f"https://custody.example.org/s/{seal}")["from_label_url"] is True
    garbled = scan(api, f"HTTPSÖ--HOST-S-{seal}")
    assert (garbled["id"], garbled["from_label_url"]) == (seal, True)


def test_a_seal_in_stock_says_what_comes_next(api: Api) -> None:
    stock = api.ok(api.get("/seals", status="IN_STOCK", limit=1))["items"][0]
    result = scan(api, stock["seal_id"])
    assert (result["state"], result["connector"], result["custodian"]) == ("IN_STOCK", None, stock["holder"])
    assert (
        set(result["expected_next"])
        == allowed_in("seal", "IN_STOCK")
        == {
            "seal.issued",
            "seal.voided",
            "seal.lost",
        }
    )
    assert result["expected_next"][0] == "seal.issued"  # the normal flow first, side exits last
    assert result["expected_next"][-1] == "seal.lost"


def test_a_connector_scan_with_a_german_layout(api: Api) -> None:
    subject = api.connector("IN_STOCK", "WH-ESSEN-01")
    vendor, serial = subject.split(":")[1:]
    clean = scan(api, f"{vendor}:{serial}")
    garbled = scan(api, f"{vendor}Ö{serial}")
    assert (clean["kind"], clean["id"], clean["known"], clean["repaired"]) == (
        "connector",
        subject,
        True,
        False,
    )
    assert (garbled["id"], garbled["known"], garbled["repaired"]) == (subject, True, True)
    assert garbled["normalised"] == f"{vendor}:{serial}"
    assert garbled["state"] == "IN_STOCK"
    assert garbled["custodian"] == "party:WH-ESSEN-01"
    assert scan(api, subject.lower())["id"] == subject
    assert set(clean["expected_next"]) == allowed_in("connector", "IN_STOCK")
    assert clean["expected_next"][0] == "shipped"  # IN_STOCK → IN_TRANSIT comes first


def test_expected_next_follows_the_state_machine(api: Api) -> None:
    in_transit = scan(api, api.connector("IN_TRANSIT").removeprefix("connector:"))
    assert in_transit["expected_next"][0] == "received"
    assert set(in_transit["expected_next"]) == allowed_in("connector", "IN_TRANSIT")
    received = scan(api, api.connector("RECEIVED").removeprefix("connector:"))
    assert {"seal.inspected", "stored", "installed"} <= set(received["expected_next"])
    assert set(received["expected_next"]) == allowed_in("connector", "RECEIVED")
    assert "shipped" not in received["expected_next"]
    destroyed = scan(api, api.connector("DESTROYED").removeprefix("connector:"))
    assert (destroyed["known"], destroyed["expected_next"]) == (True, [])
    lost = scan(api, api.connector("LOST").removeprefix("connector:"))
    assert lost["expected_next"] == []


def test_y_and_z_swapped_in_a_connector_serial(api: Api) -> None:
    commission_yz(api)
    swapped = scan(api, "SECUNET:KYZ-0001")
    assert (swapped["kind"], swapped["id"], swapped["known"], swapped["repaired"]) == (
        "connector",
        YZ_SUBJECT,
        True,
        True,
    )
    assert swapped["state"] == "PRODUCED"
    assert swapped["expected_next"][0] == "smck.bound"
    # A US-layout scanner on a German-layout computer: ':' → 'Ö', '-' → 'ß', Y ⇄ Z.
    wedge = scan(api, "SECUNETÖKYZß0001")
    assert (wedge["id"], wedge["known"], wedge["repaired"], wedge["normalised"]) == (
        YZ_SUBJECT,
        True,
        True,
        "SECUNET:KZY-0001",
    )
    literal = scan(api, "SECUNET:KZY-0001")
    assert (literal["id"], literal["repaired"]) == (YZ_SUBJECT, False)


def test_an_unknown_but_well_formed_id(api: Api) -> None:
    seal = seal_id("WX", 1234567)
    result = scan(api, seal)
    assert (result["kind"], result["id"], result["known"], result["state"]) == ("seal", seal, False, None)
    assert result["expected_next"] == []
    unit = scan(api, "SECUNET:NOT-ON-THE-LEDGER")
    assert (unit["kind"], unit["id"], unit["known"]) == (
        "connector",
        "connector:SECUNET:NOT-ON-THE-LEDGER",
        False,
    )


@pytest.mark.parametrize("text", ["garbage!", "@@@###", "ZZZ", "   ", "{}", "\x00\x01", "ÄÖÜ" * 100])
def test_garbage_is_a_valid_question_with_an_unknown_answer(api: Api, text: str) -> None:
    result = scan(api, text)
    assert (result["kind"], result["id"], result["known"], result["expected_next"]) == (
        "unknown",
        None,
        False,
        [],
    )
    assert result["input"] == text


def test_a_wrong_check_character_is_not_repaired_into_another_seal(api: Api) -> None:
    seal = applied_seal(api)["seal_id"]
    for wrong in "0123456789ABCDEFGHJKMNPQRSTVWX":
        if wrong != seal[-1]:
            result = scan(api, seal[:-1] + wrong)
            assert (result["kind"], result["id"]) == ("unknown", None), wrong


def test_scan_errors_and_roles(api: Api) -> None:
    assert_problem(api.post("/scan", {"input": ""}), 422, "input.request")
    assert_problem(api.post("/scan", {"input": "K" * 2049}), 422, "input.request")
    assert_problem(api.post("/scan", {}), 422, "input.request")
    assert_problem(api.post("/scan", {"input": "KC", "extra": 1}), 422, "input.request")
    assert_problem(api.post("/scan", {"input": 42}), 422, "input.request")
    assert_problem(api.post("/scan", ["KC"]), 422, "input.request")
    response = api.client.post(
        "/api/v1/scan",
        content=b"{not json",
        headers={**api.headers("warehouse"), "content-type": "application/json"},
    )
    assert_problem(response, 422, "input.request")
    huge = api.client.post(
        "/api/v1/scan",
        content=b'{"input": "' + b"K" * 2_100_000 + b'"}',
        headers={**api.headers("warehouse"), "content-type": "application/json"},
    )
    assert_problem(huge, 413, "http.too_large")
    assert_problem(api.post("/scan", {"input": "KC"}, as_=None), 401, "auth.token_missing")
    assert_problem(api.post("/scan", {"input": "KC"}, as_="practice"), 403, "auth.forbidden")
    assert_problem(api.get("/scan"), 405, "http.method_not_allowed")
