from tests.helpers import LedgerFixture


def test_append_and_verify_on_each_backend(ledger: LedgerFixture) -> None:
    ledger.party("WH-ESSEN-01", ["warehouse"])
    result = ledger.append(ledger.register_envelope("CARRIER-01"), ledger.register_envelope("CARRIER-02"))
    assert [e.index for e in result.entries] == [3, 4]
    from app.services.verification import verify_ledger

    report = verify_ledger(ledger.ctx, workers=1)
    assert report.valid, report.findings
    assert report.size == 5
