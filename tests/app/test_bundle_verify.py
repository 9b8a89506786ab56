"""`custody verify BUNDLE`: offline verification of export bundles, tampered and hostile.

The ledger is a demo ledger (20 connectors, seed 1, SQLite) plus a party
whose key was revoked. Every tamper class of the core issue (see
tests/app/test_tamper.py) is applied to a FULL bundle and to a PARTIAL bundle
(one connector) the way someone holding the file would: by rewriting its
members (or, for forgeries, as a compromised server holding the log key,
which appends a signed entry and signs a new checkpoint). Each is reported
at the index where it happened, with what was expected and found.

Hostile archives (absolute paths, traversal, symlinks, duplicates, extra or
missing members, truncation, corruption, zip bombs) are unusable input:
exit 2 and one line on stderr, before anything is verified.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import queries
from app.services.bundle_verify import BundleReport, verify_bundle
from app.services.context import LedgerContext
from app.services.export import export_all, export_connectors, needed_indices
from app.services.trust import add_key, register_party, revoke_key
from ledger import canonical
from ledger.bundle import BundleError
from ledger.entry import Entry
from ledger.errors import InvalidInput
from ledger.keys import Algorithm, SigningKey
from ledger.merkle import hash_leaf
from ledger.note import CosignatureSigner, Ed25519NoteSigner, sign_note
from tests.app.bundle_helpers import Log, Parts, demo, log_of, read_zip, write_dir, write_zip, zip_info
from tests.app.findings_helpers import Expect, assert_findings, describe
from tests.helpers import KEY_PASSPHRASE

REPO = Path(__file__).resolve().parents[2]
CUSTODY = REPO / ".venv" / "bin" / "custody"
if not CUSTODY.exists():
    CUSTODY = Path(sys.executable).with_name("custody")
ADMIN = "ADMIN-01"


@dataclass
class World:
    ctx: LedgerContext
    log: Log
    #: The connector of the partial bundles, in operation, and another one.
    x: str
    y: str
    chain: list[int]
    needed: list[int]
    gone: SigningKey
    tmp: Path

    @property
    def k(self) -> int:
        """The tampered entry: a middle entry of x's chain (``stored``)."""
        return self.chain[4]

    @property
    def s(self) -> int:
        """The next entry about x after k."""
        return self.chain[5]

    def key(self, party: str) -> SigningKey:
        return self.ctx.load_actor_key(party)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("bundles")
    ctx = demo(f"sqlite:///{tmp}/ledger.db", tmp)
    admin = ctx.load_actor_key(ADMIN)
    gone = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    register_party(ctx, admin, ADMIN, "GONE-01", "Ehemaliges Lager", ["warehouse"])
    add_key(ctx, admin, ADMIN, "GONE-01", gone.public_key)
    revoke_key(ctx, admin, ADMIN, "GONE-01", gone.keyid, "Laptop gestohlen")
    operating = [c["subject"] for c in queries.connectors(ctx.engine, state="IN_OPERATION")]
    x, y = operating[0], operating[1]
    log = log_of(ctx)
    chain = log.chain(x)
    assert [Entry.parse(log.entries[i]).statement.kind for i in chain[4:6]] == ["stored", "shipped"]
    needed = needed_indices(ctx, [x], len(log.entries))
    assert set(chain) <= set(needed)
    try:
        yield World(ctx, log, x, y, chain, needed, gone, tmp)
    finally:
        ctx.engine.dispose()


def _verify(parts: Parts, path: Path, *, as_dir: bool = False, **options: object) -> BundleReport:
    target = write_dir(path, parts.members()) if as_dir else write_zip(path, parts.members())
    return verify_bundle(target, workers=1, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Honest bundles


def test_the_exported_full_and_partial_bundles_verify(world: World, tmp_path: Path) -> None:
    full = export_all(world.ctx, tmp_path / "full.zip")
    report = verify_bundle(full.path, workers=1)
    assert report.valid, report.findings
    assert (report.entries, report.checkpoint_size, report.partial) == (len(world.log.entries),) * 2 + (
        False,
    )
    assert report.root == world.log.tree().root().hex()
    partial = export_connectors(world.ctx, [world.x], tmp_path / "x.zip")
    report = verify_bundle(partial.path, workers=1)
    assert report.valid, report.findings
    assert report.partial
    assert report.entries == len(world.needed)
    assert world.x in report.subjects
    # The bundle's own log.vkey was used, and the report says so.
    assert not report.vkey_pinned
    assert report.vkey == world.log.vkey


@pytest.mark.parametrize("kind", ["full", "partial"])
def test_worker_processes_find_what_one_process_finds(world: World, tmp_path: Path, kind: str) -> None:
    parts = world.log.full() if kind == "full" else world.log.partial(world.needed)
    assert _verify(parts, tmp_path / "ok.zip").valid
    tampered = _flip_signature(parts, world.k)
    path = write_zip(tmp_path / "bad.zip", tampered.members())
    inline, pooled = verify_bundle(path, workers=1), verify_bundle(path, workers=2)
    assert not inline.valid
    assert [f.as_dict() for f in pooled.findings] == [f.as_dict() for f in inline.findings]
    assert pooled.entries == inline.entries


def test_a_directory_bundle_verifies_like_the_zip(world: World, tmp_path: Path) -> None:
    assert _verify(world.log.partial(world.needed), tmp_path / "dir", as_dir=True).valid


# --------------------------------------------------------------------------
# The tamper matrix


@dataclass
class Tampered:
    parts: Parts
    expect: list[Expect]
    #: Exactly these findings (else: at least these, and none before the first index).
    exact: bool = True


def _entry_at(parts: Parts, index: int) -> int:
    """Line number (0-based) of entry ``index`` in the bundle."""
    return next(n for n, raw in enumerate(parts.entries) if Entry.parse(raw).index == index)


def _rewrite(raw: bytes, change: Callable[[dict[str, object]], None]) -> bytes:
    value = canonical.decode(raw)
    change(value)
    return canonical.encode(value)


def _flip_signature(parts: Parts, index: int) -> Parts:
    def change(value: dict[str, object]) -> None:
        signature = value["envelope"]["signatures"][0]  # type: ignore[index]
        sig = bytearray(base64.b64decode(signature["sig"]))
        sig[7] ^= 0x01
        signature["sig"] = base64.b64encode(bytes(sig)).decode()

    out = parts.copy()
    line = _entry_at(out, index)
    out.entries[line] = _rewrite(out.entries[line], change)
    return out


def _leaf(world: World, index: int) -> str:
    return hash_leaf(world.log.entries[index]).hex()


def _root_changed() -> Expect:
    return Expect(None, "checkpoint.root")


def flipped_byte_in_entry(world: World, parts: Parts) -> Tampered:
    """One bit of entry k's recorded_at: not signed, but hashed."""
    out = parts.copy()
    line = _entry_at(out, world.k)
    raw = out.entries[line]
    at = raw.index(b'Z"', raw.index(b'"recorded_at":"')) - 1
    out.entries[line] = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]
    new = hash_leaf(out.entries[line]).hex()
    chain = Expect(world.s, "chain.prev", new, _leaf(world, world.k))
    if parts.proofs is None:
        return Tampered(out, [_root_changed(), chain])
    return Tampered(
        out,
        [
            Expect(world.k, "proof.leaf_hash", new, _leaf(world, world.k)),
            Expect(world.k, "proof.inclusion"),
            chain,
        ],
    )


def flipped_byte_unreadable_entry(world: World, parts: Parts) -> Tampered:
    out = parts.copy()
    line = _entry_at(out, world.k)
    out.entries[line] = b"z" + out.entries[line][1:]
    unreadable = Expect(world.k, "input.*")
    if parts.proofs is None:
        return Tampered(out, [unreadable, _root_changed(), Expect(world.s, "chain.prev")], exact=False)
    return Tampered(
        out,
        [
            unreadable,
            Expect(world.k, "proof.leaf_hash"),
            Expect(world.k, "proof.inclusion"),
            Expect(world.s, "chain.prev"),
        ],
        exact=False,
    )


def flipped_byte_in_signature(world: World, parts: Parts) -> Tampered:
    out = _flip_signature(parts, world.k)
    new = hash_leaf(out.entries[_entry_at(out, world.k)]).hex()
    found = [
        Expect(world.k, "auth.signature_invalid"),
        Expect(world.s, "chain.prev", new, _leaf(world, world.k)),
    ]
    if parts.proofs is None:
        return Tampered(out, [*found, _root_changed()])
    return Tampered(out, [*found, Expect(world.k, "proof.leaf_hash"), Expect(world.k, "proof.inclusion")])


def deleted_middle_entry(world: World, parts: Parts) -> Tampered:
    out = parts.copy()
    line = _entry_at(out, world.k)
    del out.entries[line]
    chain = Expect(world.s, "chain.prev", _leaf(world, world.chain[3]), _leaf(world, world.k))
    if out.proofs is None:
        size = len(world.log.entries)
        return Tampered(
            out,
            [
                Expect(world.k + 1, "entry.index", str(world.k), str(world.k + 1)),
                chain,
                Expect(size - 1, "checkpoint.size", str(size), str(size - 1)),
            ],
            exact=False,
        )
    del out.proofs[line]
    return Tampered(out, [chain], exact=False)


def emptied_entry_line(world: World, parts: Parts) -> Tampered:
    """Entry k's line left empty: a bad line, and the chain through k broken."""
    out = parts.copy()
    out.entries[_entry_at(out, world.k)] = b""
    found = [
        Expect(None, "bundle.line"),
        Expect(world.s, "chain.prev", _leaf(world, world.chain[3]), _leaf(world, world.k)),
    ]
    if out.proofs is None:
        found.append(Expect(world.k + 1, "entry.index", str(world.k), str(world.k + 1)))
    return Tampered(out, found, exact=False)


def truncated_tail(world: World, parts: Parts) -> Tampered:
    out = parts.copy()
    if out.proofs is None:
        size = len(world.log.entries)
        del out.entries[-3:]
        return Tampered(out, [Expect(size - 3, "checkpoint.size", str(size), str(size - 3))])
    # The entries are cut, their proofs are still there: each missing entry is named.
    gone = [Entry.parse(raw).index for raw in out.entries[-2:]]
    del out.entries[-2:]
    return Tampered(out, [Expect(index, "bundle.entry_missing") for index in gone])


def swapped_entries(world: World, parts: Parts) -> Tampered:
    out = parts.copy()
    line = _entry_at(out, world.k)
    out.entries[line], out.entries[line + 1] = out.entries[line + 1], out.entries[line]
    after = Entry.parse(out.entries[line]).index
    if out.proofs is None:
        return Tampered(
            out,
            [
                Expect(world.k + 1, "entry.index", str(world.k), str(world.k + 1)),
                Expect(world.k, "entry.index", str(world.k + 2), str(world.k)),
                _root_changed(),
            ],
            exact=False,
        )
    # Proofs stay in place, so each entry now sits beside the other's proof.
    return Tampered(
        out,
        [
            Expect(world.k, "entry.index", f"an index above {after}", str(world.k)),
            Expect(world.k, "proof.index", str(world.k), str(after)),
            Expect(after, "proof.index", str(after), str(world.k)),
        ],
        exact=False,
    )


def duplicated_entry(world: World, parts: Parts) -> Tampered:
    out = parts.copy()
    line = _entry_at(out, world.k)
    nonce = Entry.parse(world.log.entries[world.k]).statement.nonce
    found = [Expect(world.k, "statement.replayed", None, nonce)]
    if out.proofs is None:
        # A copy at the end: x's chain has moved on since entry k.
        size = len(world.log.entries)
        out.entries.append(out.entries[line])
        return Tampered(
            out,
            [
                *found,
                Expect(world.k, "chain.prev", _leaf(world, world.chain[-1]), _leaf(world, world.chain[3])),
                Expect(world.k, "entry.index", str(size), str(world.k)),
                Expect(size, "checkpoint.size", str(size), str(size + 1)),
            ],
            exact=False,
        )
    out.entries.insert(line + 1, out.entries[line])
    out.proofs.insert(line + 1, out.proofs[line])
    chain = Expect(world.k, "chain.prev", _leaf(world, world.k), _leaf(world, world.chain[3]))
    return Tampered(out, [*found, chain, Expect(world.k, "entry.index")], exact=False)


def _inspection(world: World, subject: str) -> dict[str, object]:
    seals = queries.connector(world.ctx.engine, subject).seals
    return {
        "expected": seals,
        "observed": seals,
        "results": [{"seal": s, "result": "intact"} for s in seals],
        "checklist": "VVTT-1 Revision",
    }


def _forged(world: World, parts: Parts, log: Log, signer_party: str) -> Parts:
    """The forged log as a bundle: full, or x's partial bundle plus the forged entry and its signer."""
    if parts.proofs is None:
        return log.full()
    extra = set(log.chain(signer_party)) | {len(log.entries) - 1}
    return log.partial(sorted(set(world.needed) | extra))


def spliced_into_another_chain(world: World, parts: Parts) -> Tampered:
    """A signed inspection of x whose prev points into y's chain."""
    other = world.log.chain(world.y)[-1]
    log = world.log.forge(
        world.ctx,
        kind="seal.inspected",
        subject=world.x,
        by="party:AUDIT-01",
        data=_inspection(world, world.x),
        keys=[world.key("AUDIT-01")],
        prev=hash_leaf(world.log.entries[other]),
    )
    expect = Expect(len(world.log.entries), "chain.prev", _leaf(world, world.chain[-1]), _leaf(world, other))
    return Tampered(_forged(world, parts, log, "party:AUDIT-01"), [expect])


def signed_by_unregistered_key(world: World, parts: Parts) -> Tampered:
    stranger = SigningKey.generate(Algorithm.ED25519, os.urandom(32))
    log = world.log.forge(
        world.ctx, kind="seal.inspected", subject=world.x, by="party:AUDIT-01",
        data=_inspection(world, world.x), keys=[stranger],
    )  # fmt: skip
    return Tampered(
        _forged(world, parts, log, "party:AUDIT-01"), [Expect(len(world.log.entries), "auth.key_unknown")]
    )


def signed_by_revoked_key(world: World, parts: Parts) -> Tampered:
    log = world.log.forge(
        world.ctx, kind="seal.inspected", subject=world.x, by="party:GONE-01",
        data=_inspection(world, world.x), keys=[world.gone],
    )  # fmt: skip
    return Tampered(
        _forged(world, parts, log, "party:GONE-01"), [Expect(len(world.log.entries), "auth.key_revoked")]
    )


def signer_without_the_role(world: World, parts: Parts) -> Tampered:
    """A practice may not record seal inspections."""
    log = world.log.forge(
        world.ctx, kind="seal.inspected", subject=world.x, by="party:PX-001",
        data=_inspection(world, world.x), keys=[world.key("PX-001")],
    )  # fmt: skip
    return Tampered(
        _forged(world, parts, log, "party:PX-001"), [Expect(len(world.log.entries), "auth.role_missing")]
    )


CASES = [
    flipped_byte_in_entry,
    flipped_byte_unreadable_entry,
    flipped_byte_in_signature,
    deleted_middle_entry,
    emptied_entry_line,
    truncated_tail,
    swapped_entries,
    duplicated_entry,
    spliced_into_another_chain,
    signed_by_unregistered_key,
    signed_by_revoked_key,
    signer_without_the_role,
]


def assert_reported(report: BundleReport, tampered: Tampered) -> None:
    assert_findings(report, tampered.expect, tampered.exact)


@pytest.mark.parametrize("kind", ["full", "partial"])
@pytest.mark.parametrize("case", CASES, ids=[c.__name__.replace("_", "-") for c in CASES])
def test_tampering_with_a_bundle_is_reported_where_it_happened(
    world: World, tmp_path: Path, case: Callable[[World, Parts], Tampered], kind: str
) -> None:
    honest = world.log.full() if kind == "full" else world.log.partial(world.needed)
    tampered = case(world, honest)
    assert_reported(_verify(tampered.parts, tmp_path / "tampered.zip"), tampered)


def test_an_empty_entry_line_leaves_the_later_proofs_paired(world: World, tmp_path: Path) -> None:
    """Proof line j belongs to entry line j (format §15.1), also after a line that is dropped."""
    parts = world.log.partial(world.needed)
    parts.entries[_entry_at(parts, world.k)] = b""
    report = _verify(parts, tmp_path / "emptied.zip")
    codes = [f.code for f in report.findings]
    assert "bundle.line" in codes
    assert [c for c in codes if c.startswith("proof.") or c == "bundle.entry_missing"] == [], describe(
        report.findings
    )


def test_a_partial_bundle_cut_after_its_last_entry_cannot_be_told_apart(world: World, tmp_path: Path) -> None:
    """The documented limit of partial bundles (format §15): backward chains cannot show a missing tail."""
    parts = world.log.partial([i for i in world.needed if i != world.chain[-1]])
    assert _verify(parts, tmp_path / "cut.zip").valid


def test_a_partial_bundle_lacking_a_signers_key_is_reported_not_crashed(world: World, tmp_path: Path) -> None:
    kinds = {i: Entry.parse(world.log.entries[i]).statement for i in world.needed}
    commissioned = world.chain[0]
    maker = kinds[commissioned].by
    key_added = next(i for i in world.needed if kinds[i].subject == maker and kinds[i].kind == "key.added")
    parts = world.log.partial([i for i in world.needed if i != key_added])
    report = _verify(parts, tmp_path / "lacking.zip")
    assert not report.valid
    unknown = [f for f in report.findings if f.code == "auth.key_unknown"]
    assert unknown
    assert unknown[0].index == min(i for i in world.needed if i > key_added and kinds[i].by == maker)
    assert "an entry it depends on is missing" in unknown[0].message
    # What follows from the unknown key is reported too, never a traceback.
    assert any(f.code == "rule.unknown_connector" for f in report.findings)


def test_a_partial_bundle_without_genesis_is_reported(world: World, tmp_path: Path) -> None:
    parts = world.log.partial([i for i in world.needed if i != 0])
    report = _verify(parts, tmp_path / "nogenesis.zip")
    assert {(f.index, f.code) for f in report.findings} >= {
        (world.needed[1], "bundle.incomplete"),
        (world.needed[1], "rule.genesis_first"),
    }


# --------------------------------------------------------------------------
# Keys: pinned, wrong, witnesses


def test_a_pinned_key_is_reported_and_a_wrong_one_fails(world: World, tmp_path: Path) -> None:
    path = write_zip(tmp_path / "b.zip", world.log.partial(world.needed).members())
    pinned = verify_bundle(path, vkey=world.log.vkey, workers=1)
    assert pinned.valid
    assert pinned.vkey_pinned
    impostor = Ed25519NoteSigner(world.log.origin, SigningKey.generate(Algorithm.ED25519, os.urandom(32)))
    wrong = verify_bundle(path, vkey=impostor.vkey(), workers=1)
    assert not wrong.valid
    codes = {(f.index, f.code) for f in wrong.findings}
    assert {(None, "checkpoint.signature"), (None, "bundle.log_vkey"), (0, "genesis.log_key")} <= codes
    # A bundle re-signed by the impostor, with its vkey in log.vkey, fails on genesis.
    forged = world.log.partial(world.needed)
    forged_log = Log(world.log.entries, impostor, world.log.origin)
    forged = forged_log.partial(world.needed)
    report = _verify(forged, tmp_path / "impostor.zip")
    assert [(f.index, f.code) for f in report.findings] == [(0, "genesis.log_key")]
    pinned_codes = {f.code for f in _verify(forged, tmp_path / "impostor2.zip", vkey=world.log.vkey).findings}
    assert {"checkpoint.signature", "bundle.log_vkey"} <= pinned_codes


def test_an_unreadable_log_vkey_is_unusable_unless_a_key_is_pinned(world: World, tmp_path: Path) -> None:
    parts = world.log.partial(world.needed)
    parts.vkey = b"not a vkey\n"
    path = write_zip(tmp_path / "garbled.zip", parts.members())
    with pytest.raises(InvalidInput, match=r"log\.vkey of the bundle"):
        verify_bundle(path, workers=1)
    report = verify_bundle(path, vkey=world.log.vkey, workers=1)
    assert [(f.index, f.code, f.found) for f in report.findings] == [(None, "bundle.log_vkey", "not a vkey")]


def test_witness_cosignatures_are_counted_against_the_policy(world: World, tmp_path: Path) -> None:
    witnesses = [
        CosignatureSigner(
            f"witness.example/{n}", SigningKey.generate(Algorithm.ED25519, os.urandom(32)), 1795861200
        )
        for n in range(3)
    ]
    tree = world.log.tree()
    parts = world.log.full()
    body = parts.checkpoint.decode()
    text = body[: body.index("\n\n") + 1]
    parts.checkpoint = sign_note(text, [world.log.signer, witnesses[0], witnesses[1]]).encode()
    path = write_zip(tmp_path / "cosigned.zip", parts.members())
    vkeys = [w.vkey() for w in witnesses]
    ok = verify_bundle(path, witnesses=vkeys, required_cosignatures=2, workers=1)
    assert ok.valid, ok.findings
    assert {c.name for c in ok.cosignatures} == {"witness.example/0", "witness.example/1"}
    short = verify_bundle(path, witnesses=vkeys, required_cosignatures=3, workers=1)
    assert [(f.code, f.expected, f.found) for f in short.findings] == [("checkpoint.cosignatures", "3", "2")]
    # Unknown witnesses are ignored, never an error; k above the trusted witnesses is a usage error.
    assert verify_bundle(path, workers=1).valid
    with pytest.raises(InvalidInput, match="needs at least"):
        verify_bundle(path, witnesses=vkeys[:1], required_cosignatures=2, workers=1)
    with pytest.raises(InvalidInput, match="not a cosignature key"):
        verify_bundle(path, witnesses=[world.log.vkey], workers=1)
    assert tree.size == len(world.log.entries)


# --------------------------------------------------------------------------
# Hostile and broken archives: unusable input


def _honest_members(world: World) -> list[tuple[str, bytes]]:
    return world.log.partial(world.needed).members()


def _zip_with(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for info, data in members:
                archive.writestr(info if isinstance(info, zipfile.ZipInfo) else zip_info(info), data)
    return path


def hostile_absolute_path(world: World, tmp: Path) -> Path:
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [(n, d) for n, d in _honest_members(world)]
    members[0] = ("/log.vkey", members[0][1])
    return _zip_with(tmp / "b.zip", members)


def hostile_traversal(world: World, tmp: Path) -> Path:
    return _zip_with(
        tmp / "b.zip", [*_honest_members(world), ("../../etc/cron.d/evil", b"* * * * * root sh\n")]
    )


def hostile_symlink_member(world: World, tmp: Path) -> Path:
    members: list[tuple[zipfile.ZipInfo | str, bytes]] = [(n, d) for n, d in _honest_members(world)]
    members[1] = (zip_info("checkpoint", stat.S_IFLNK | 0o777), b"/etc/passwd")
    return _zip_with(tmp / "b.zip", members)


def hostile_duplicate_member(world: World, tmp: Path) -> Path:
    members = _honest_members(world)
    return _zip_with(tmp / "b.zip", [*members, ("entries.jsonl", b"")])


def hostile_extra_member(world: World, tmp: Path) -> Path:
    return _zip_with(tmp / "b.zip", [*_honest_members(world), ("README.txt", b"trust me\n")])


def hostile_missing_member(world: World, tmp: Path) -> Path:
    return _zip_with(tmp / "b.zip", [m for m in _honest_members(world) if m[0] != "checkpoint"])


def hostile_subdirectory(world: World, tmp: Path) -> Path:
    return _zip_with(tmp / "b.zip", [*_honest_members(world), ("extra/", b"")])


def hostile_truncated_zip(world: World, tmp: Path) -> Path:
    data = write_zip(tmp / "whole.zip", _honest_members(world)).read_bytes()
    (tmp / "b.zip").write_bytes(data[: len(data) // 2])
    return tmp / "b.zip"


def hostile_corrupt_member(world: World, tmp: Path) -> Path:
    path = write_zip(tmp / "b.zip", _honest_members(world))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("entries.jsonl")
    data = bytearray(path.read_bytes())
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def hostile_future_zip_version(world: World, tmp: Path) -> Path:
    """A member that needs a newer zip than Python reads (version 6.4): unusable, not a crash."""
    path = tmp / "b.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in _honest_members(world):
            info = zip_info(name)
            if name == "checkpoint":
                info.extract_version = 64
            archive.writestr(info, data)
    return path


def hostile_zip_bomb(world: World, tmp: Path) -> Path:
    path = tmp / "b.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zip_info("log.vkey"), world.log.vkey.encode() + b"\n")
        archive.writestr(zip_info("checkpoint"), world.log.checkpoint())
        with archive.open(zip_info("entries.jsonl"), "w", force_zip64=True) as member:
            block = b"\n" * (1 << 20)
            for _ in range(64):
                member.write(block)
    return path


def hostile_not_a_zip(world: World, tmp: Path) -> Path:
    (tmp / "b.zip").write_bytes(os.urandom(4096))
    return tmp / "b.zip"


def hostile_nothing_there(world: World, tmp: Path) -> Path:
    return tmp / "missing.zip"


def hostile_directory_symlink(world: World, tmp: Path) -> Path:
    directory = write_dir(tmp / "bundle", [m for m in _honest_members(world) if m[0] != "checkpoint"])
    (tmp / "elsewhere").write_bytes(world.log.checkpoint())
    (directory / "checkpoint").symlink_to(tmp / "elsewhere")
    return directory


def hostile_directory_extra(world: World, tmp: Path) -> Path:
    directory = write_dir(tmp / "bundle", _honest_members(world))
    (directory / "notes").mkdir()
    return directory


def hostile_oversized_checkpoint(world: World, tmp: Path) -> Path:
    members = [(n, d if n != "checkpoint" else d + os.urandom(2 << 20)) for n, d in _honest_members(world)]
    return _zip_with(tmp / "b.zip", list(members))


HOSTILE = {
    "absolute-path": (hostile_absolute_path, "absolute member path"),
    "dotdot-traversal": (hostile_traversal, "leaves the bundle"),
    "symlink-member": (hostile_symlink_member, "symbolic link"),
    "duplicate-member": (hostile_duplicate_member, "appears twice"),
    "extra-member": (hostile_extra_member, "unexpected bundle member"),
    "missing-member": (hostile_missing_member, "lacks checkpoint"),
    "subdirectory": (hostile_subdirectory, "not at the top level"),
    "truncated-zip": (hostile_truncated_zip, "not a readable zip"),
    "corrupt-member": (hostile_corrupt_member, "is corrupt"),
    "zip-bomb": (hostile_zip_bomb, "zip bomb"),
    "future-zip-version": (hostile_future_zip_version, "unsupported zip feature"),
    "not-a-zip": (hostile_not_a_zip, "not a readable zip"),
    "nothing-there": (hostile_nothing_there, "no bundle at"),
    "directory-symlink": (hostile_directory_symlink, "symbolic link"),
    "directory-subdirectory": (hostile_directory_extra, "not a regular file"),
    "oversized-checkpoint": (hostile_oversized_checkpoint, "larger than"),
}


@pytest.mark.parametrize("name", HOSTILE.keys())
def test_a_hostile_bundle_is_unusable_input(world: World, tmp_path: Path, name: str) -> None:
    make, words = HOSTILE[name]
    path = make(world, tmp_path)
    with pytest.raises(BundleError, match=words) as caught:
        verify_bundle(path, workers=2)
    assert caught.value.code == "input.bundle"
    # Nothing was extracted anywhere.
    assert not (tmp_path.parent / "etc").exists()


def _custody(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTODY_")}
    # Offline means offline: a database that cannot be reached must not matter.
    env["CUSTODY_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none"
    return subprocess.run(
        [str(CUSTODY), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False
    )


def test_the_command_rejects_every_hostile_bundle_with_one_line(world: World, tmp_path: Path) -> None:
    paths = {}
    for name, (make, _) in HOSTILE.items():
        (tmp_path / name).mkdir()
        paths[name] = make(world, tmp_path / name)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(
            zip(
                paths,
                pool.map(lambda p: _custody("verify", str(p), cwd=tmp_path), paths.values()),
                strict=False,
            )
        )
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert result.stdout == "", name
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (name, result.stderr)
        assert lines[0].startswith("error: "), (name, lines)
        assert lines[0].endswith("[input.bundle]"), (name, lines)
        assert HOSTILE[name][1] in lines[0], (name, lines)


# --------------------------------------------------------------------------
# The command: offline, JSON shape, exit codes


def test_custody_verify_bundle_json_and_exit_codes(world: World, tmp_path: Path) -> None:
    good = write_zip(tmp_path / "good.zip", world.log.partial(world.needed).members())
    result = _custody("verify", str(good), "--json", "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "valid", "bundle", "kind", "entries", "checkpoint_size", "root", "origin", "vkey",
        "vkey_pinned", "bundle_vkey", "witnesses", "required_cosignatures", "cosignatures",
        "subjects", "findings", "warnings",
    }  # fmt: skip
    assert report["valid"] is True
    assert report["kind"] == "partial"
    assert report["entries"] == len(world.needed)
    assert report["checkpoint_size"] == len(world.log.entries)
    assert report["vkey_pinned"] is False
    assert report["findings"] == []
    assert world.x in report["subjects"]
    assert not list(tmp_path.glob("*.db"))
    assert not (tmp_path / "var").exists()

    text = _custody("verify", str(good), cwd=tmp_path)
    assert text.returncode == 0
    assert "NOT pinned" in text.stdout
    assert text.stdout.strip().splitlines()[-1].startswith("valid; partial bundle")

    bad = write_zip(tmp_path / "bad.zip", _flip_signature(world.log.full(), world.k).members())
    result = _custody("verify", str(bad), "--json", "--vkey", world.log.vkey, cwd=tmp_path)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["vkey_pinned"] is True
    invalid = [f for f in report["findings"] if f["code"] == "auth.signature_invalid"]
    assert [f["index"] for f in invalid] == [world.k]
    assert set(invalid[0]) == {"index", "code", "message", "expected", "found"}
    assert result.stderr.strip().endswith("[verify.failed]")

    impostor = Ed25519NoteSigner(world.log.origin, SigningKey.generate(Algorithm.ED25519, os.urandom(32)))
    wrong = _custody("verify", str(good), "--vkey", impostor.vkey(), cwd=tmp_path)
    assert wrong.returncode == 1
    assert "checkpoint.signature" in wrong.stdout

    usage = _custody("verify", str(good), "--db", "sqlite:///x.db", cwd=tmp_path)
    assert usage.returncode == 2
    assert usage.stderr.strip().splitlines() == ["error: give a BUNDLE or --db, not both [cli.usage]"]
    garbled = _custody("verify", str(good), "--vkey", "not-a-vkey", cwd=tmp_path)
    assert garbled.returncode == 2
    assert len(garbled.stderr.strip().splitlines()) == 1


def test_read_back_of_an_export_matches_the_log(world: World, tmp_path: Path) -> None:
    exported = read_zip(export_connectors(world.ctx, [world.x], tmp_path / "x.zip").path)
    assert exported.entries == [world.log.entries[i] for i in world.needed]
    assert exported.vkey == world.log.vkey.encode() + b"\n"
    assert KEY_PASSPHRASE  # the demo keys were readable, or the fixture would have failed
