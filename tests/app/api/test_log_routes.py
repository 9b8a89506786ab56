"""The public log endpoints serve what the CLI prints, and it verifies with the vkey alone."""

from __future__ import annotations

from httpx import Response

from ledger.checkpoint import open_checkpoint
from ledger.encoding import hex_decode
from ledger.merkle import hash_leaf, verify_consistency, verify_inclusion
from ledger.note import parse_vkey
from tests.app.api.conftest import PREFIX, Api, assert_problem


def _public(api: Api, path: str, **params: object) -> str:
    response: Response = api.client.get(PREFIX + path, params=params)  # no token: these are public
    assert response.status_code == 200, response.text
    return response.text


def test_health_and_me(api: Api) -> None:
    health = api.ok(api.client.get(PREFIX + "/health"))
    assert health == {"status": "ok", "log_size": api.size()}
    me = api.ok(api.get("/me", as_="technician"))
    assert (me["party"], me["roles"]) == ("party:TECH-01", ["technician"])
    assert_problem(api.client.get(PREFIX + "/me"), 401, "auth.token_missing")
    invalid = api.client.get(PREFIX + "/me", headers={"Authorization": "Bearer kcl_not-a-token"})
    assert_problem(invalid, 401, "auth.token_invalid")
    assert invalid.headers["www-authenticate"].startswith("Bearer")


def test_checkpoint_and_vkey_are_plain_text_and_verify(api: Api) -> None:
    vkey = _public(api, "/log/vkey").strip()
    verifier = parse_vkey(vkey)
    response = api.client.get(PREFIX + "/log/checkpoint")
    assert response.headers["content-type"].startswith("text/plain")
    checkpoint = open_checkpoint(response.text.encode(), verifier).checkpoint
    assert checkpoint.size == api.size()
    assert checkpoint.root == api.ctx.store.root(checkpoint.size)
    older = open_checkpoint(_public(api, "/log/checkpoint", size=5).encode(), verifier).checkpoint
    assert older.size == 5
    assert_problem(api.client.get(PREFIX + "/log/checkpoint", params={"size": 10**9}), 404, "input.not_found")


def test_entries_page_through_the_stored_bytes(api: Api) -> None:
    size = api.size()
    seen: list[str] = []
    start: int | None = 0
    while start is not None:
        page = api.ok(api.get("/log/entries", as_="auditor", start=start, limit=997))
        assert page["start"] == start
        seen.extend(page["entries"])
        start = page["next"]
    assert len(seen) == size
    assert [text.encode() for text in seen[:50]] == list(api.ctx.store.entries(0, 50))
    assert seen[-1].encode() == api.ctx.store.entry(size - 1)
    for params in ({"start": -1}, {"limit": 0}, {"limit": 10**6}, {"start": "x"}):
        assert_problem(api.get("/log/entries", **params), 422, "input.request")


def test_proofs_verify_against_signed_checkpoints(api: Api) -> None:
    verifier = parse_vkey(_public(api, "/log/vkey").strip())
    size = api.size()
    head = open_checkpoint(_public(api, "/log/checkpoint").encode(), verifier).checkpoint
    for index in (0, 1, size // 2, size - 1):
        proof = api.ok(api.client.get(PREFIX + "/log/proof/inclusion", params={"index": index}))
        assert (proof["index"], proof["size"], proof["root"]) == (index, size, head.root.hex())
        leaf = hash_leaf(api.ctx.store.entry(index))
        assert proof["leaf_hash"] == leaf.hex()
        verify_inclusion(leaf, index, size, [hex_decode(p, "proof", 32) for p in proof["proof"]], head.root)
    old = open_checkpoint(_public(api, "/log/checkpoint", size=7).encode(), verifier).checkpoint
    proof = api.ok(api.client.get(PREFIX + "/log/proof/consistency", params={"old": 7}))
    assert (proof["old_size"], proof["new_size"]) == (7, size)
    assert (proof["old_root"], proof["new_root"]) == (old.root.hex(), head.root.hex())
    verify_consistency(7, size, [hex_decode(p, "proof", 32) for p in proof["proof"]], old.root, head.root)


def test_proof_requests_outside_the_log_are_client_errors(api: Api) -> None:
    size = api.size()
    for path, params in (
        ("/log/proof/inclusion", {"index": size}),
        ("/log/proof/inclusion", {"index": 3, "size": 2}),
        ("/log/proof/inclusion", {"index": 0, "size": size + 1}),
        ("/log/proof/consistency", {"old": size + 1}),
        ("/log/proof/consistency", {"old": 9, "new": 8}),
    ):
        response = api.client.get(PREFIX + path, params=params)
        assert 400 <= response.status_code < 500, (path, params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for path, params in (("/log/proof/inclusion", {"index": -1}), ("/log/proof/consistency", {"old": 0})):
        assert_problem(api.client.get(PREFIX + path, params=params), 422, "input.request")
