"""The browser's half of signing, checked against the ledger's own code.

* ``keys.rawToDer`` — WebCrypto's ECDSA P-256 ``r‖s`` to strict DER with low S — gives the
  same bytes as ``ledger.keys.ecdsa_raw_to_der`` on edge vectors (high S, a high bit that
  needs a 0x00, leading zero bytes).
* A P-256 key made in the browser (non-extractable) signs PAEs whose signatures the
  ledger's verifier accepts (strict DER, low S — about half of the raw signatures had a
  high S), and a statement drafted by the server and signed in the browser is appended.
* ``dsse.canonicalJson`` and ``dsse.pae`` give the ledger's bytes (format §3, §7), which the
  offline install path relies on.
"""

from __future__ import annotations

import base64
import json
import os
import unicodedata
from typing import Any

import pytest

from app.services import drafts, enrolment
from app.services.tokens import create_token
from ledger.canonical import encode
from ledger.envelope import PAYLOAD_TYPE, pae
from ledger.keys import PublicKey, ecdsa_raw_to_der
from tests.web.field_helpers import approve_device_keys, sealed_connector

pytestmark = pytest.mark.xdist_group("browser")
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: A technician party no browser test signs in as: its keys are this test's own.
PARTY = "TECH-02"


def _raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


VECTORS = [
    _raw(0x1234, P256_N - 5),  # high S → n − s; short r
    _raw(0x80 << 248, 0x80),  # high bit on r and s: both need a leading 0x00
    _raw(int.from_bytes(os.urandom(32), "big") >> 24, P256_N // 2),  # leading zero bytes; S exactly n/2
    _raw(P256_N - 1, P256_N // 2 + 1),  # the largest r; the smallest high S
]


def _module_page(page_for: Any) -> Any:
    page = page_for("technician")
    page.goto("/")  # any page of the site: the modules load from /static under its CSP
    return page


def test_raw_to_der_matches_the_ledger(page_for: Any) -> None:
    page = _module_page(page_for)
    got = page.evaluate(
        """async (vectors) => {
            const keys = await import("/static/js/keys.js");
            const { b64decode, b64encode } = await import("/static/js/dsse.js");
            return vectors.map((v) => b64encode(keys.rawToDer(b64decode(v))));
        }""",
        [base64.b64encode(v).decode() for v in VECTORS],
    )
    assert [base64.b64decode(g) for g in got] == [ecdsa_raw_to_der(v) for v in VECTORS]


def test_a_browser_p256_key_signs_what_the_ledger_accepts(live: Any, page_for: Any) -> None:
    page = _module_page(page_for)
    subject, _ = sealed_connector(live)
    made = page.evaluate(
        """async (party) => {
            const keys = await import("/static/js/keys.js");
            const record = await keys.createKey(party, { prefer: keys.P256 });
            return { spki: record.spki, keyid: record.keyid, algorithm: record.algorithm,
                     extractable: record.pair.privateKey.extractable };
        }""",
        f"party:{PARTY}",
    )
    assert made["algorithm"] == "ecdsa-p256-sha256"
    assert made["extractable"] is False
    key = PublicKey.from_spki_der(base64.b64decode(made["spki"]))
    assert key.keyid == made["keyid"]

    # Many signatures: WebCrypto's S is high about half of the time; every one must verify
    # under the ledger's strict rule (DER, minimal integers, low S).
    payloads = [os.urandom(40 + i) for i in range(24)]
    signatures = page.evaluate(
        """async ([party, payloads]) => {
            const keys = await import("/static/js/keys.js");
            const { b64decode, PAYLOAD_TYPE } = await import("/static/js/dsse.js");
            const record = await keys.loadKey(party);
            const out = [];
            for (const p of payloads) {
                out.push((await keys.signPayload(record, PAYLOAD_TYPE, b64decode(p))).sig);
            }
            return out;
        }""",
        [f"party:{PARTY}", [base64.b64encode(p).decode() for p in payloads]],
    )
    for payload, sig in zip(payloads, signatures, strict=True):
        key.verify(base64.b64decode(sig), pae(PAYLOAD_TYPE, payload))

    # Enrolled and approved, the key signs a server-drafted statement that is appended.
    submitted = enrolment.submit_enrolment(live.ctx, PARTY, made["spki"], "Chromium P-256 (test)")
    assert submitted.algorithm == "ecdsa-p256-sha256"
    assert approve_device_keys(live, f"party:{PARTY}") >= 1
    draft = drafts.draft(
        live.ctx, PARTY, kind="seal.inspected", subject=subject, data={"observed": []}, place="MFR-01"
    ).as_dict()
    envelope = page.evaluate(
        """async ([party, draft]) => {
            const keys = await import("/static/js/keys.js");
            const dsse = await import("/static/js/dsse.js");
            const record = await keys.loadKey(party);
            const payload = dsse.b64decode(draft.payload);
            const signature = await keys.signPayload(record, draft.payloadType, payload);
            return dsse.envelope(draft.payloadType, payload, [signature]);
        }""",
        [f"party:{PARTY}", draft],
    )
    token = create_token(live.ctx, PARTY, roles=["technician"])[0]
    answer = page.request.post(
        f"{live.url}/api/v1/statements",
        data=json.dumps(envelope),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status == 201, answer.text()
    assert answer.json()["receipts"][0]["index"] >= 0


def test_canonical_json_and_pae_match_the_ledger(page_for: Any) -> None:
    page = _module_page(page_for)
    # NFD input (the browser normalises to NFC), control characters, U+2028, quotes and
    # backslashes, integers at the limits, and member names whose UTF-16 order differs
    # from their code-point order (U+1F600 sorts before U+FF61 in UTF-16).
    value = {
        "text": 'Su\u0308d \u0007\b\t\n\f\r\u001f\u007f \u2028 "q" \\ €',
        "numbers": [0, -7, 9007199254740991, -9007199254740991],
        "flags": [True, False, None],
        "\uff61": 1,
        "\U0001f600": 2,
        "e\u0301": {"nested": []},
    }
    got = page.evaluate(
        """async (value) => {
            const dsse = await import("/static/js/dsse.js");
            const bytes = dsse.canonicalBytes(value);
            return { canonical: dsse.b64encode(bytes),
                     pae: dsse.b64encode(dsse.pae(dsse.PAYLOAD_TYPE, bytes)) };
        }""",
        value,
    )
    nfc = json.loads(unicodedata.normalize("NFC", json.dumps(value, ensure_ascii=False)))
    expected = encode(nfc)
    assert base64.b64decode(got["canonical"]) == expected
    assert base64.b64decode(got["pae"]) == pae(PAYLOAD_TYPE, expected)
