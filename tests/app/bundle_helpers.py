"""Helpers for the bundle tests: demo ledgers, bundles as parts, zips and directories, forgeries.

A bundle is handled as :class:`Parts` (the bytes of each member, the JSON
lines as lists) so a test can tamper with it the way an attacker holding the
file would, then write it out as a zip or a directory. Forged entries are
what a compromised server holding the log key could produce: correctly
signed statements appended at the end of the log, with a checkpoint signed
by the real log key over the forged log.
"""

from __future__ import annotations

import stat
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from app.services.context import LedgerContext
from app.services.demo import build_demo
from app.services.signing import signed_statement
from ledger import bundle
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.entry import Entry, encode_entry
from ledger.keys import SigningKey
from ledger.merkle import MemoryTree, hash_leaf
from ledger.note import Ed25519NoteSigner
from ledger.times import parse_timestamp
from tests.helpers import settings_for

DEMO_CONNECTORS = 20


@dataclass
class Parts:
    """The members of a bundle; ``proofs`` is None for a full bundle."""

    vkey: bytes
    checkpoint: bytes
    entries: list[bytes]
    proofs: list[bytes] | None = None
    extra: dict[str, bytes] = field(default_factory=dict)

    def members(self) -> list[tuple[str, bytes]]:
        out = [
            ("log.vkey", self.vkey),
            ("checkpoint", self.checkpoint),
            ("entries.jsonl", b"".join(line + b"\n" for line in self.entries)),
        ]
        if self.proofs is not None:
            out.append(("proofs.jsonl", b"".join(line + b"\n" for line in self.proofs)))
        out.extend(self.extra.items())
        return out

    def copy(self) -> Parts:
        return replace(
            self,
            entries=list(self.entries),
            proofs=None if self.proofs is None else list(self.proofs),
            extra=dict(self.extra),
        )


def zip_info(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3
    info.external_attr = mode << 16
    return info


def write_zip(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members:
            archive.writestr(zip_info(name), data)
    return path


def write_dir(path: Path, members: Iterable[tuple[str, bytes]]) -> Path:
    path.mkdir(parents=True)
    for name, data in members:
        (path / name).write_bytes(data)
    return path


def read_zip(path: Path) -> Parts:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        proofs = archive.read("proofs.jsonl").splitlines() if "proofs.jsonl" in names else None
        return Parts(
            archive.read("log.vkey"),
            archive.read("checkpoint"),
            archive.read("entries.jsonl").splitlines(),
            proofs,
        )


@dataclass
class Log:
    """A whole log (entry bytes in order) and the key that signs its checkpoints."""

    entries: list[bytes]
    signer: Ed25519NoteSigner
    origin: str

    @property
    def vkey(self) -> str:
        return self.signer.vkey()

    def tree(self) -> MemoryTree:
        return MemoryTree(hash_leaf(raw) for raw in self.entries)

    def checkpoint(self, tree: MemoryTree | None = None) -> bytes:
        tree = tree or self.tree()
        return sign_checkpoint(Checkpoint(self.origin, tree.size, tree.root()), [self.signer]).encode()

    def full(self) -> Parts:
        return Parts(self.vkey.encode() + b"\n", self.checkpoint(), list(self.entries))

    def partial(self, indices: Sequence[int]) -> Parts:
        tree = self.tree()
        proofs = [
            bundle.proof_line_bytes(
                {
                    "index": index,
                    "size": tree.size,
                    "leaf_hash": hash_leaf(self.entries[index]).hex(),
                    "root": tree.root().hex(),
                    "proof": [p.hex() for p in tree.inclusion_proof(index)],
                }
            )[:-1]
            for index in sorted(indices)
        ]
        return Parts(
            self.vkey.encode() + b"\n",
            self.checkpoint(tree),
            [self.entries[i] for i in sorted(indices)],
            proofs,
        )

    def chain(self, subject: str) -> list[int]:
        return [i for i, raw in enumerate(self.entries) if Entry.parse(raw).statement.subject == subject]

    def forge(
        self,
        ctx: LedgerContext,
        *,
        kind: str,
        subject: str,
        by: str,
        data: dict[str, object],
        keys: list[SigningKey],
        prev: bytes | str | None = "auto",
    ) -> Log:
        """This log with one more entry, appended as a compromised server would."""
        last = Entry.parse(self.entries[-1])
        moment = parse_timestamp(last.recorded_at) + timedelta(seconds=1)
        envelope = signed_statement(
            ctx, kind=kind, subject=subject, by=by, data=data, keys=keys, at=_second(moment)
        )
        if prev == "auto":
            chain = self.chain(subject)
            prev = hash_leaf(self.entries[chain[-1]]) if chain else None
        assert prev is None or isinstance(prev, bytes)
        raw = encode_entry(index=len(self.entries), prev=prev, recorded_at=moment, envelope=envelope)
        return Log([*self.entries, raw], self.signer, self.origin)


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def demo(url: str, directory: Path, connectors: int = DEMO_CONNECTORS) -> LedgerContext:
    """A demo ledger (seed 1) with known passphrases; keys in ``directory``/keys."""
    ctx = LedgerContext.open(settings_for(url, directory))
    summary = build_demo(ctx, connectors, 1, verify_workers=1)
    assert summary.valid, summary.verification
    return ctx


def log_of(ctx: LedgerContext) -> Log:
    entries = list(ctx.store.entries())
    state = ctx.store.trust_state()
    assert state.origin is not None
    return Log(entries, Ed25519NoteSigner(state.origin, ctx.load_log_key()), state.origin)
