"""`custody verify BUNDLE`: verify an export bundle offline — no database, no network.

1. Open the bundle (a zip or a directory) without trusting it: only the v1
   members, plain top-level names, no symlinks, no duplicates, no encrypted
   or exotic members, declared sizes within limits and plausible compression
   ratios, no overlapping zip members. Anything else is unusable input.
2. The log key: ``vkey`` if given (pinned), else the bundle's own
   ``log.vkey`` — and the report says that it was not pinned.
3. The checkpoint note: signed by the log key, and cosigned by at least
   ``required_cosignatures`` of the trusted ``witnesses``.
4. ``entries.jsonl`` (with ``proofs.jsonl`` for a partial bundle) is
   streamed line by line: worker processes read and check each entry as far
   as no state is needed (:mod:`app.bundle_workers`), and the
   :class:`~ledger.verify.LogVerifier` replays them in order. Memory holds
   the replay state, never the bundle.

Every break is a finding with its index, what was expected and what was
found; the report lists them all.
"""

from __future__ import annotations

import contextlib
import gc
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from app.bundle_workers import Chunk, PreparePool, prepare_chunk
from app.parallel import default_workers
from ledger import bundle
from ledger.bundle import BundleError, Layout, Line
from ledger.checkpoint import Checkpoint, Cosignature, open_checkpoint, parse_checkpoint_unverified
from ledger.custody.records import custody
from ledger.errors import Finding, InvalidInput, LedgerError, VerificationFailed
from ledger.note import SIG_COSIGNATURE_V1, Ed25519Verifier, parse_vkey
from ledger.verify import KeyCache, LogVerifier, same_vkey

_BLOCK = 1 << 20
#: A member larger than this must not claim to compress better than MAX_RATIO (zip bombs).
_RATIO_FLOOR = 1 << 20
MAX_RATIO = 200
#: Bundles whose entries.jsonl is smaller than this are verified in one process.
_INLINE_BELOW = 1 << 20
CHUNK = 512


# --------------------------------------------------------------------------
# Opening a bundle safely


class Source(Protocol):
    layout: Layout

    def size_of(self, name: str) -> int: ...

    def read_small(self, name: str, limit: int) -> bytes: ...

    def blocks(self, name: str) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class ZipSource:
    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
            raise BundleError(f"{path} is not a readable zip archive ({_reason(exc)})") from None
        except NotImplementedError as exc:  # zipfile: a member needs a newer zip version than it reads
            raise BundleError(f"{path} needs an unsupported zip feature ({exc})") from None
        try:
            self.layout = self._check(path)
        except BaseException:
            self._zip.close()
            raise

    def _check(self, path: Path) -> Layout:
        infos = self._zip.infolist()
        for info in infos:
            problem = bundle.member_problem(info.filename)
            if problem is not None:
                raise BundleError(f"hostile bundle: {problem}")
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise BundleError(f"hostile bundle: member {info.filename!r} is a symbolic link")
            # Many writers (Python's writestr among them) set permission bits only: type 0 is a file.
            if info.is_dir() or (info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG)):
                raise BundleError(f"bundle member {info.filename!r} is not a regular file")
            if info.flag_bits & 0x1:
                raise BundleError(f"bundle member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BundleError(f"bundle member {info.filename!r} uses an unsupported compression method")
            if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise BundleError(
                    f"bundle member {info.filename!r} claims {info.file_size} bytes from "
                    f"{info.compress_size} compressed (a zip bomb?)"
                )
        layout = bundle.check_members(info.filename for info in infos)
        # Members must not overlap (overlapping entries are another bomb).
        total = path.stat().st_size
        ordered = sorted(infos, key=lambda i: i.header_offset)
        for info, following in zip(ordered, [*ordered[1:], None], strict=True):
            end = info.header_offset + info.compress_size
            limit = following.header_offset if following is not None else total
            if end > limit:
                raise BundleError(f"bundle member {info.filename!r} overlaps another or runs past the file")
        self._infos = {info.filename: info for info in infos}
        return layout

    def size_of(self, name: str) -> int:
        return int(self._infos[name].file_size)

    def read_small(self, name: str, limit: int) -> bytes:
        if self.size_of(name) > limit:
            raise BundleError(f"bundle member {name} is larger than {limit} bytes")
        return b"".join(self.blocks(name))

    def blocks(self, name: str) -> Iterator[bytes]:
        info = self._infos[name]
        read = 0
        try:
            with self._zip.open(info) as member:
                while block := member.read(_BLOCK):
                    read += len(block)
                    if read > info.file_size:
                        raise BundleError(f"bundle member {name} is longer than it declares")
                    yield block
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise BundleError(f"bundle member {name} is corrupt ({_reason(exc)})") from None
        except NotImplementedError as exc:  # zipfile: a newer zip version than it reads
            raise BundleError(f"bundle member {name} needs an unsupported zip feature ({exc})") from None

    def close(self) -> None:
        self._zip.close()


class DirectorySource:
    def __init__(self, path: Path) -> None:
        self._path = path
        names = []
        with os.scandir(path) as listing:
            for item in listing:
                problem = bundle.member_problem(item.name)
                if problem is not None:
                    raise BundleError(f"hostile bundle: {problem}")
                if item.is_symlink():
                    raise BundleError(f"hostile bundle: member {item.name!r} is a symbolic link")
                if not item.is_file(follow_symlinks=False):
                    raise BundleError(f"bundle member {item.name!r} is not a regular file")
                names.append(item.name)
        self.layout = bundle.check_members(names)

    def _open(self, name: str) -> int:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(self._path / name, flags)
        except OSError as exc:
            raise BundleError(f"cannot read bundle member {name}: {exc.strerror or exc}") from None

    def size_of(self, name: str) -> int:
        return (self._path / name).lstat().st_size

    def read_small(self, name: str, limit: int) -> bytes:
        data = b"".join(self.blocks(name, limit + 1))
        if len(data) > limit:
            raise BundleError(f"bundle member {name} is larger than {limit} bytes")
        return data

    def blocks(self, name: str, limit: int | None = None) -> Iterator[bytes]:
        fd = self._open(name)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BundleError(f"bundle member {name!r} is not a regular file")
            read = 0
            while block := os.read(fd, _BLOCK):
                read += len(block)
                yield block
                if limit is not None and read >= limit:
                    return
        finally:
            os.close(fd)

    def close(self) -> None:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_bundle(path: Path) -> Source:
    """A zip file or a directory, checked as described in the module docstring."""
    if path.is_dir():
        return DirectorySource(path)
    if path.is_file():
        return ZipSource(path)
    raise BundleError(f"no bundle at {path}")


# --------------------------------------------------------------------------
# The report


@dataclass
class BundleReport:
    path: str
    partial: bool = False
    entries: int = 0
    checkpoint_size: int | None = None
    root: str | None = None
    origin: str | None = None
    vkey: str = ""
    vkey_pinned: bool = False
    bundle_vkey: str = ""
    witnesses: int = 0
    required_cosignatures: int = 0
    cosignatures: list[Cosignature] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "bundle": self.path,
            "kind": "partial" if self.partial else "full",
            "entries": self.entries,
            "checkpoint_size": self.checkpoint_size,
            "root": self.root,
            "origin": self.origin,
            "vkey": self.vkey,
            "vkey_pinned": self.vkey_pinned,
            "bundle_vkey": self.bundle_vkey,
            "witnesses": self.witnesses,
            "required_cosignatures": self.required_cosignatures,
            "cosignatures": [
                {"name": c.name, "key_id": f"{c.key_id:08x}", "timestamp": c.timestamp}
                for c in self.cosignatures
            ],
            "subjects": self.subjects,
            "findings": [f.as_dict() for f in self.findings],
            "warnings": [w.as_dict() for w in self.warnings],
        }


# --------------------------------------------------------------------------
# Verification


def _log_key(text: str, what: str) -> Ed25519Verifier:
    try:
        return parse_vkey(text)
    except LedgerError as exc:
        raise InvalidInput(f"{what}: {exc.message}") from None


def witness_keys(vkeys: Sequence[str]) -> list[Ed25519Verifier]:
    keys = []
    for text in vkeys:
        key = _log_key(text, f"witness key {text!r}")
        if key.signature_type != SIG_COSIGNATURE_V1:
            raise InvalidInput(f"witness key {text!r} is not a cosignature key (type 0x04)")
        keys.append(key)
    return keys


def verify_bundle(
    path: Path,
    *,
    vkey: str | None = None,
    witnesses: Sequence[str] = (),
    required_cosignatures: int = 0,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> BundleReport:
    """Verify the bundle at ``path``; findings go into the report. Unusable input raises."""
    witness_list = witness_keys(witnesses)
    if not 0 <= required_cosignatures <= len(witness_list):
        raise InvalidInput(
            f"--require-cosignatures {required_cosignatures} needs at least that many --witness keys "
            f"({len(witness_list)} given)"
        )
    pinned = vkey is not None
    if pinned:
        assert vkey is not None
        log_key = _log_key(vkey.strip(), "--vkey")
    source = open_bundle(path)
    try:
        report = BundleReport(str(path), partial=source.layout.partial, vkey_pinned=pinned)
        report.witnesses, report.required_cosignatures = len(witness_list), required_cosignatures
        report.bundle_vkey = bundle.read_vkey(source.read_small(bundle.VKEY, bundle.MAX_VKEY_BYTES))
        if not pinned:
            # Nothing else to verify with: an unreadable copy makes the bundle unusable.
            log_key = _log_key(report.bundle_vkey, "log.vkey of the bundle")
        report.vkey = log_key.vkey()
        if pinned and not same_vkey(report.vkey, report.bundle_vkey):
            report.findings.append(
                Finding(
                    None,
                    "bundle.log_vkey",
                    "the bundle's log.vkey is not the trusted log key",
                    report.vkey,
                    report.bundle_vkey,
                )
            )
        note = source.read_small(bundle.CHECKPOINT, bundle.MAX_CHECKPOINT_BYTES)
        checkpoint, anchor = _open_checkpoint(note, log_key, witness_list, required_cosignatures, report)
        if anchor is not None:
            report.checkpoint_size, report.origin = anchor.size, anchor.origin
            report.root = anchor.root.hex()
        verifier = LogVerifier(checkpoint=checkpoint, log_vkey=report.vkey, partial=source.layout.partial)
        _stream(source, verifier, anchor, workers, report, progress)
        report.entries = verifier.size
        try:
            verifier.finish()
        except VerificationFailed as failed:
            report.findings.extend(failed.findings)
        report.warnings.extend(verifier.warnings)
        if report.partial:
            report.subjects = sorted(subject for subject, _ in custody(verifier.state).connectors)
    finally:
        source.close()
    report.findings.sort(key=lambda f: -1 if f.index is None else f.index)
    return report


def _open_checkpoint(
    note: bytes,
    log_key: Ed25519Verifier,
    witnesses: list[Ed25519Verifier],
    required: int,
    report: BundleReport,
) -> tuple[Checkpoint | None, Checkpoint | None]:
    """(the verified checkpoint or None, the checkpoint to check proofs against or None)."""
    try:
        opened = open_checkpoint(note, log_key, witnesses)
    except LedgerError as exc:
        report.findings.append(
            Finding(
                None,
                "checkpoint.signature",
                "the checkpoint does not verify under the log key",
                None,
                exc.message,
            )
        )
        try:
            unverified = parse_checkpoint_unverified(note.decode("utf-8", errors="replace"))
        except LedgerError:
            return None, None
        return None, unverified
    report.cosignatures = list(opened.cosignatures)
    if len(opened.cosignatures) < required:
        report.findings.append(
            Finding(
                None,
                "checkpoint.cosignatures",
                "too few trusted witnesses cosigned the checkpoint",
                str(required),
                str(len(opened.cosignatures)),
            )
        )
    return opened.checkpoint, opened.checkpoint


def _stream(
    source: Source,
    verifier: LogVerifier,
    anchor: Checkpoint | None,
    workers: int | None,
    report: BundleReport,
    progress: Callable[[int], None] | None,
) -> None:
    partial = source.layout.partial
    count = default_workers() if workers is None else workers
    chunks = _chunks(source, partial, report)
    spkis: list[bytes] = []
    keys = verifier.state.keys

    def learn() -> None:
        if len(keys) > len(spkis):
            spkis.extend(record.public_key.spki_der for record in islice(keys.values(), len(spkis), None))

    def replay(results: list[Any]) -> None:
        for wire in results:
            verifier.feed_prepared(bundle.from_wire(wire))
        learn()
        # The replay state only grows and holds no garbage cycles; frozen, the
        # cyclic collector stops re-walking millions of live records.
        gc.freeze()
        if progress is not None:
            progress(verifier.size)

    try:
        # Small bundles are not worth starting processes for, unless workers were asked for.
        if count <= 1 or (workers is None and source.size_of(bundle.ENTRIES) < _INLINE_BELOW):
            cache: KeyCache = {}
            for chunk in chunks:
                replay(prepare_chunk(chunk, anchor, partial, cache))
            return
        with PreparePool(count, anchor, partial) as pool:
            for results in pool.run(chunks, spkis):
                replay(results)
    finally:
        gc.unfreeze()


def _line_finding(report: BundleReport, member: str, line: Line) -> None:
    report.findings.append(Finding(None, "bundle.line", f"{member}: {line.problem}"))


def _chunks(source: Source, partial: bool, report: BundleReport) -> Iterator[Chunk]:
    entry_lines = bundle.split_lines(source.blocks(bundle.ENTRIES), bundle.MAX_ENTRY_LINE)
    proof_lines = bundle.split_lines(source.blocks(bundle.PROOFS), bundle.MAX_PROOF_LINE) if partial else None
    lines: list[bytes] = []
    proofs: list[bytes | None] = []
    for line in entry_lines:
        if line.problem is not None:
            _line_finding(report, bundle.ENTRIES, line)
        proof: bytes | None = None
        if proof_lines is not None:
            # Taken even for an entry line that is dropped below: proof line j belongs to
            # entry line j (format §15.1), so one bad entry line must not shift every later
            # entry onto its neighbour's proof.
            proof_line = next(proof_lines, None)
            if proof_line is not None:
                if proof_line.problem is not None:
                    _line_finding(report, bundle.PROOFS, proof_line)
                proof = proof_line.data or None
        if not line.data:
            continue
        lines.append(line.data)
        proofs.append(proof)
        if len(lines) >= CHUNK:
            yield lines, proofs
            lines, proofs = [], []
    if lines:
        yield lines, proofs
    if proof_lines is not None:
        for extra in proof_lines:
            index = None
            with contextlib.suppress(LedgerError):
                index = bundle.parse_proof_line(extra.data).index
            report.findings.append(
                Finding(
                    index,
                    "bundle.entry_missing",
                    f"proofs.jsonl line {extra.number} has no entry in entries.jsonl (truncated?)",
                )
            )
