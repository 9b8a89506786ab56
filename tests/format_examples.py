"""Worked examples and generated tables for ``docs/format.md``.

Everything here is built deterministically with the real ``ledger`` code from
FIXED inputs (keys from fixed seeds, fixed times, fixed nonces), so the
examples in the specification are exactly what the implementation produces.
``tests/test_format_doc.py`` regenerates them, fails if the document differs,
and re-verifies the examples independently of ``ledger``.

The document carries each generated block between markers::

    <!-- example:NAME -->
    ...generated...
    <!-- /example:NAME -->

(``table:NAME`` markers work the same way). Usage, from the repository root::

    python -m tests.format_examples --write   # rewrite the blocks in docs/format.md
    python -m tests.format_examples --check   # exit 1 if docs/format.md is stale
    python -m tests.format_examples           # print every block
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ledger import canonical, envelope, ids, note, statement
from ledger.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.entry import ENTRY_V1, Entry, encode_entry
from ledger.envelope import PAYLOAD_TYPE, Envelope, sign_envelope
from ledger.keys import Algorithm, SigningKey
from ledger.kinds import REGISTRY, ROLES, KindSpec
from ledger.merkle import MemoryTree, hash_children, hash_leaf
from ledger.note import CosignatureSigner, Ed25519NoteSigner, cosignature_message, parse_vkey, sign_note
from ledger.schema import Base64, ListOf, Obj, Validator, describe
from ledger.statement import STATEMENT_V1, new_statement
from ledger.trust import TRUST_KINDS, key_description
from ledger.verify import verify_entries

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "format.md"

# --------------------------------------------------------------------------
# Fixed inputs. These keys are PUBLIC TEST KEYS: never use them for anything else.

ORIGIN = "custody.example.com/ledger"
ADMIN = "party:ADMIN-01"
WAREHOUSE = "party:WH-ESSEN-01"
WITNESS_NAME = "witness.example.com/auditor-1"

ADMIN_SEED = bytes([0x01]) * 32
LOG_SEED = bytes([0x02]) * 32
WAREHOUSE_SEED = bytes([0x03]) * 32
#: RFC 8032 §7.1 TEST 1 secret key.
WITNESS_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
P256_SCALAR = int("04" * 32, 16)
BRAINPOOL_SCALAR = int("05" * 32, 16)


def _t(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


#: (kind, subject, data builder key, place, at, nonce, recorded_at) of the three example entries.
GENESIS_AT = _t("2026-11-28T10:00:00.000+0000")
GENESIS_RECORDED = _t("2026-11-28T10:00:00.250+0000")
PARTY_AT = _t("2026-11-28T10:05:00.000+0000")
PARTY_RECORDED = _t("2026-11-28T10:05:01.500+0000")
KEY_AT = _t("2026-11-28T10:05:30.000+0000")
KEY_RECORDED = _t("2026-11-28T10:05:31.000+0000")
COSIGN_TIME = int(_t("2026-11-28T10:20:00.000+0000").timestamp())

NONCES = (bytes(range(0, 16)), bytes(range(16, 32)), bytes(range(32, 48)))


def _ed25519(seed: bytes) -> SigningKey:
    return SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(seed))


def _ecdsa(scalar: int, curve: ec.EllipticCurve) -> SigningKey:
    return SigningKey(ec.derive_private_key(scalar, curve))


# --------------------------------------------------------------------------
# Building the example ledger.


@dataclass
class ExampleLedger:
    """The raw values behind the examples (for the generator's own checks)."""

    admin: SigningKey
    log_key: SigningKey
    warehouse: SigningKey
    witness: SigningKey
    p256: SigningKey
    brainpool: SigningKey
    log_signer: Ed25519NoteSigner
    cosigner: CosignatureSigner
    envelopes: list[Envelope] = field(default_factory=list)
    entries: list[bytes] = field(default_factory=list)
    tree: MemoryTree = field(default_factory=MemoryTree)
    multi_envelope: Envelope | None = None
    checkpoint: Checkpoint | None = None
    checkpoint_note: str = ""
    cosigned_note: str = ""


def build_ledger() -> ExampleLedger:
    admin = _ed25519(ADMIN_SEED)
    log_key = _ed25519(LOG_SEED)
    warehouse = _ed25519(WAREHOUSE_SEED)
    witness = _ed25519(WITNESS_SEED)
    log_signer = Ed25519NoteSigner(ORIGIN, log_key)
    ex = ExampleLedger(
        admin=admin,
        log_key=log_key,
        warehouse=warehouse,
        witness=witness,
        p256=_ecdsa(P256_SCALAR, ec.SECP256R1()),
        brainpool=_ecdsa(BRAINPOOL_SCALAR, ec.BrainpoolP256R1()),
        log_signer=log_signer,
        cosigner=CosignatureSigner(WITNESS_NAME, witness, COSIGN_TIME),
    )
    specs: list[tuple[str, str, dict[str, Any], str | None, datetime, bytes, datetime]] = [
        (
            "ledger.genesis",
            f"ledger:{ORIGIN}",
            {
                "origin": ORIGIN,
                "log_vkey": log_signer.vkey(),
                "admin": ADMIN,
                "name": "Konnektor-Verwaltung",
                "key": key_description(admin.public_key),
            },
            None,
            GENESIS_AT,
            NONCES[0],
            GENESIS_RECORDED,
        ),
        (
            "party.registered",
            WAREHOUSE,
            {"name": "Warenlager Essen Süd", "roles": ["warehouse"]},
            "location:HQ-BERLIN",
            PARTY_AT,
            NONCES[1],
            PARTY_RECORDED,
        ),
        (
            "key.added",
            WAREHOUSE,
            key_description(warehouse.public_key),
            None,
            KEY_AT,
            NONCES[2],
            KEY_RECORDED,
        ),
    ]
    heads: dict[str, bytes] = {}
    for index, (kind, subject, data, place, at, nonce, recorded) in enumerate(specs):
        stmt = new_statement(kind=kind, subject=subject, by=ADMIN, data=data, at=at, nonce=nonce, place=place)
        env = sign_envelope(stmt.to_bytes(), [admin])
        raw = encode_entry(index=index, prev=heads.get(subject), recorded_at=recorded, envelope=env)
        heads[subject] = hash_leaf(raw)
        ex.envelopes.append(env)
        ex.entries.append(raw)
        ex.tree.append(hash_leaf(raw))
    ex.multi_envelope = sign_envelope(ex.envelopes[1].payload, [admin, ex.p256, ex.brainpool])
    ex.checkpoint = Checkpoint(ORIGIN, ex.tree.size, ex.tree.root())
    ex.checkpoint_note = sign_checkpoint(ex.checkpoint, [log_signer])
    ex.cosigned_note = sign_note(ex.checkpoint.body(), [log_signer, ex.cosigner])
    _self_check(ex)
    return ex


def _self_check(ex: ExampleLedger) -> None:
    """The examples must pass the real verifier (which replays admission exactly as
    the log does at append time), or they would document a broken log."""
    assert ex.checkpoint is not None
    assert ex.cosigned_note.startswith(ex.checkpoint_note)
    opened = open_checkpoint(
        ex.cosigned_note.encode("utf-8"),
        parse_vkey(ex.log_signer.vkey()),
        [parse_vkey(ex.cosigner.vkey())],
        required_cosignatures=1,
    )
    summary = verify_entries(ex.entries, checkpoint=opened.checkpoint, log_vkey=ex.log_signer.vkey())
    assert summary.size == 3
    assert summary.root == ex.checkpoint.root
    for raw in ex.entries:
        assert Entry.parse(raw).raw == raw


# --------------------------------------------------------------------------
# Rendering helpers.


def _fence(lang: str, text: str) -> str:
    """A fenced code block; ``text`` is shown as-is and gets one final newline if it lacks one."""
    if "```" in text:
        raise ValueError("example text must not contain a code fence")
    body = text if text.endswith("\n") else text + "\n"
    return f"```{lang}\n{body}```\n"


def _hex_lines(data: bytes, width: int = 32) -> str:
    return "\n".join(data[i : i + width].hex() for i in range(0, len(data), width))


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _key_info(key: SigningKey, **extra: str) -> dict[str, str]:
    info = dict(extra)
    info["algorithm"] = key.algorithm.value
    if key.algorithm is Algorithm.ED25519:
        info["seed"] = key.raw_ed25519_seed().hex()
        info["public_key"] = key.public_key.raw_ed25519.hex()
    info["spki"] = key.public_key.spki_der.hex()
    info["keyid"] = key.keyid
    return info


# --------------------------------------------------------------------------
# The examples.


def example_blocks(ex: ExampleLedger) -> dict[str, str]:
    assert ex.checkpoint is not None
    assert ex.multi_envelope is not None
    env1 = ex.envelopes[1]
    leaves = [hash_leaf(raw) for raw in ex.entries]
    keys = {
        "admin": _key_info(ex.admin, party=ADMIN),
        "warehouse": _key_info(ex.warehouse, party=WAREHOUSE),
        "p256": {**_key_info(ex.p256), "private_scalar": f"{P256_SCALAR:064x}"},
        "brainpool": {**_key_info(ex.brainpool), "private_scalar": f"{BRAINPOOL_SCALAR:064x}"},
        "log": {
            "note_name": ORIGIN,
            "algorithm": "ed25519",
            "seed": ex.log_key.raw_ed25519_seed().hex(),
            "public_key": ex.log_key.public_key.raw_ed25519.hex(),
            "note_key_id": f"{ex.log_signer.key_id:08x}",
        },
        "witness": {
            "note_name": WITNESS_NAME,
            "algorithm": "ed25519",
            "seed": ex.witness.raw_ed25519_seed().hex(),
            "public_key": ex.witness.public_key.raw_ed25519.hex(),
            "note_key_id": f"{ex.cosigner.key_id:08x}",
        },
    }
    formulas = [
        ("root(1)", "L0", ex.tree.root(1)),
        ("root(2)", "SHA-256(0x01 ‖ L0 ‖ L1)", ex.tree.root(2)),
        ("root(3)", "SHA-256(0x01 ‖ root(2) ‖ L2)", ex.tree.root(3)),
    ]
    width = max(len(formula) for _, formula, _ in formulas)
    tree_lines = [f"{name} = {formula.ljust(width)} = {value.hex()}" for name, formula, value in formulas]
    assert ex.tree.root(2) == hash_children(leaves[0], leaves[1])
    assert ex.tree.root(3) == hash_children(ex.tree.root(2), leaves[2])
    inclusion = {
        "index": 1,
        "size": 3,
        "leaf_hash": leaves[1].hex(),
        "root": ex.tree.root(3).hex(),
        "proof": [p.hex() for p in ex.tree.inclusion_proof(1, 3)],
    }
    consistency = {
        "old_size": 2,
        "old_root": ex.tree.root(2).hex(),
        "new_size": 3,
        "new_root": ex.tree.root(3).hex(),
        "proof": [p.hex() for p in ex.tree.consistency_proof(2, 3)],
    }
    blocks = {
        "keys": _fence("json", _pretty(keys)),
        "statement": _fence("json", env1.payload.decode("utf-8")),
        "statement-hex": _fence("text", _hex_lines(env1.payload)),
        "pae": _fence("text", _hex_lines(env1.signed_bytes)),
        "envelope": _fence("json", _pretty(env1.to_json())),
        "envelope-multi": _fence("json", _pretty(ex.multi_envelope.to_json())),
        "entry-0": _fence("json", ex.entries[0].decode("utf-8")),
        "entry-1": _fence("json", ex.entries[1].decode("utf-8")),
        "entry-2": _fence("json", ex.entries[2].decode("utf-8")),
        "leaf-hashes": _fence(
            "text",
            "\n".join(f"L{i} = SHA-256(0x00 ‖ entry-{i}) = {leaf.hex()}" for i, leaf in enumerate(leaves)),
        ),
        "tree": _fence("text", "\n".join(tree_lines)),
        "inclusion-proof": _fence("json", _pretty(inclusion)),
        "consistency-proof": _fence("json", _pretty(consistency)),
        "vkey": _fence("text", ex.log_signer.vkey()),
        "checkpoint-body": _fence("text", ex.checkpoint.body()),
        "checkpoint": _fence("text", ex.checkpoint_note),
        "witness-vkey": _fence("text", ex.cosigner.vkey()),
        "cosignature-message": _fence(
            "text", cosignature_message(ex.checkpoint.body().encode("utf-8"), COSIGN_TIME).decode("utf-8")
        ),
        "checkpoint-cosigned": _fence("text", ex.cosigned_note),
    }
    return {f"example:{name}": text for name, text in blocks.items()}


# --------------------------------------------------------------------------
# Tables generated from the code.


def _describe(validator: Validator) -> str:
    text = validator.describe()
    if isinstance(validator, Base64):
        text += f", at most {validator.max_bytes} bytes decoded"
    if isinstance(validator, ListOf) and validator.unique:
        text += ", no duplicates"
    return text


def schema_rows(schema: Obj, prefix: str = "") -> list[tuple[str, str, str]]:
    """``describe`` rows of a schema, with nested objects expanded as ``outer.inner``."""
    rows = []
    validators = {name: validator for name, _, validator in schema.fields()}
    for name, presence, _ in describe(schema):
        validator = validators[name]
        rows.append((f"{prefix}{name}", presence, _describe(validator)))
        if isinstance(validator, Obj):
            rows += schema_rows(validator, f"{prefix}{name}.")
        elif isinstance(validator, ListOf) and isinstance(validator.item, Obj):
            # The members of each item, so that a verifier can check them from the spec alone.
            rows += schema_rows(validator.item, f"{prefix}{name}[].")
    return rows


def _roles(roles: Iterable[str]) -> str:
    ordered = [r for r in ROLES if r in set(roles)]
    return ", ".join(f"`{r}`" for r in ordered) or "—"


def _subject_types(spec: KindSpec) -> tuple[str, ...]:
    value: object = spec.subject_type
    return (value,) if isinstance(value, str) else tuple(value)  # type: ignore[arg-type]


def kind_summary_table(specs: Iterable[KindSpec]) -> str:
    rows = []
    for spec in specs:
        counter = "—"
        if spec.counterparty_field is not None:
            counter = f"`data.{spec.counterparty_field}`, roles {_roles(spec.counterparty_roles)}"
        subjects = " or ".join(f"`{t}:`" for t in _subject_types(spec))
        rows.append((f"`{spec.name}`", subjects, _roles(spec.roles), counter, spec.summary))
    return _table(("Kind", "Subject", "Author roles", "Countersignature", "Summary"), rows)


def data_table(spec: KindSpec) -> str:
    rows = [(f"`{name}`", presence, text) for name, presence, text in schema_rows(spec.schema)]
    return _table(("`data` field", "Presence", "Value"), rows)


def table_blocks() -> dict[str, str]:
    patterns = ids._PATTERNS
    forms = {
        "connector": "connector:<VENDOR>:<SERIAL>",
        "seal": "seal:<SEAL-ID>",
        "party": "party:<ID>",
        "location": "location:<ID>",
        "ledger": "ledger:<origin>",
    }
    subjects = _table(
        ("Type", "Subject form", "Pattern of everything after `<type>:` (full match)"),
        [
            (f"`{kind}`", f"`{forms.get(kind, kind + ':<id>')}`", f"`{patterns[kind].pattern}`")
            for kind in ids.SUBJECT_TYPES
        ],
    )
    identifiers = _table(
        ("Identifier", "Where", "Value"),
        [
            ("statement version", "`v` of a statement", f"`{STATEMENT_V1}`"),
            ("entry version", "`v` of an entry", f"`{ENTRY_V1}`"),
            ("DSSE payload type", "`payloadType` of an envelope", f"`{PAYLOAD_TYPE}`"),
            ("PAE prefix", "DSSE pre-authentication encoding", "`DSSEv1`"),
            (
                "note signature type",
                "checkpoint signature by the log key",
                f"`0x{note.SIG_ED25519:02x}` (Ed25519)",
            ),
            (
                "note signature type",
                "witness cosignature",
                f"`0x{note.SIG_COSIGNATURE_V1:02x}` (tlog-cosignature v1)",
            ),
            (
                "cosignature header",
                "first line of the cosigned message",
                f"`{note.COSIGNATURE_HEADER.strip()}`",
            ),
        ],
    )
    limits = _table(
        ("Limit", "Value"),
        [
            ("statement nonce", f"exactly {statement.NONCE_BYTES} bytes"),
            ("signatures per envelope", f"1–{envelope.MAX_SIGNATURES}"),
            ("canonical JSON nesting", f"at most {canonical.MAX_DEPTH} enclosing arrays/objects per value"),
            ("canonical JSON integers", f"{canonical.MIN_SAFE_INTEGER} … {canonical.MAX_SAFE_INTEGER}"),
            ("signature lines per note", f"at most {note.MAX_SIGNATURES}"),
            ("note size", f"at most {note.MAX_NOTE_BYTES} bytes"),
        ],
    )
    # Key and signature encodings per algorithm (a new Algorithm fails here until it is documented).
    details = {
        Algorithm.ED25519: (
            "RFC 8410: id-Ed25519 (OID 1.3.101.112), no parameters, 32-byte key; "
            "the DER is `302a300506032b6570032100 ‖ key`",
            "PureEd25519 (RFC 8032 §5.1) over `m`, 64 bytes",
        ),
        Algorithm.ECDSA_P256_SHA256: (
            "RFC 5480: id-ecPublicKey (1.2.840.10045.2.1), namedCurve secp256r1 (1.2.840.10045.3.1.7), "
            "uncompressed point `04 ‖ X ‖ Y`",
            "ECDSA (FIPS 186-4) with SHA-256 over `m`, strict DER `ECDSA-Sig-Value`, low S (s ≤ n/2)",
        ),
        Algorithm.ECDSA_BP256R1_SHA256: (
            "RFC 5480/RFC 5639: id-ecPublicKey, namedCurve brainpoolP256r1 (1.3.36.3.3.2.8.1.1.7), "
            "uncompressed point `04 ‖ X ‖ Y`",
            "ECDSA with SHA-256 over `m`, strict DER `ECDSA-Sig-Value`, low S (s ≤ n/2)",
        ),
    }
    algorithms = _table(
        ("`algorithm`", "Public key (SubjectPublicKeyInfo, DER)", "Signature over message `m`"),
        [(f"`{a.value}`", *details[a]) for a in Algorithm],
    )
    blocks = {
        "subjects": subjects,
        "identifiers": identifiers,
        "limits": limits,
        "algorithms": algorithms,
        "roles": ", ".join(f"`{r}`" for r in ROLES) + "\n",
        "trust-kinds": kind_summary_table(TRUST_KINDS),
    }
    for spec in TRUST_KINDS:
        blocks[f"data-{spec.name}"] = data_table(spec)
    custody_specs = [spec for spec in REGISTRY if spec not in TRUST_KINDS]
    blocks["custody-kinds"] = kind_summary_table(custody_specs)
    blocks["custody-transitions"] = _table(
        ("Kind", "Allowed in state → resulting state"),
        [
            (
                f"`{spec.name}`",
                "; ".join(f"{a} → {b}" if a != b else f"{a} (unchanged)" for a, b in spec.transitions)
                or "see text",
            )
            for spec in custody_specs
        ],
    )
    blocks["custody-epcis"] = _table(
        ("Kind", "EPCIS event type", "action", "bizStep (CBV)", "disposition (CBV)"),
        [
            (
                f"`{spec.name}`",
                spec.epcis.event_type,
                spec.epcis.action or "—",
                spec.epcis.biz_step or "—",
                spec.epcis.disposition or "— (from the data)",
            )
            for spec in custody_specs
            if spec.epcis is not None
        ],
    )
    blocks["custody-data"] = "\n".join(f"#### `{spec.name}`\n\n{data_table(spec)}" for spec in custody_specs)
    return {f"table:{name}": text for name, text in blocks.items()}


def build_blocks() -> dict[str, str]:
    """Every generated block of docs/format.md, keyed ``example:NAME`` / ``table:NAME``."""
    return {**example_blocks(build_ledger()), **table_blocks()}


# --------------------------------------------------------------------------
# The document.

MARKER = re.compile(r"<!-- (example|table):([A-Za-z0-9._-]+) -->\n(.*?)<!-- /\1:\2 -->", re.S)


def extract(doc: str) -> dict[str, str]:
    """The generated blocks as they stand in ``doc``; a block may appear only once."""
    found: dict[str, str] = {}
    for match in MARKER.finditer(doc):
        key = f"{match[1]}:{match[2]}"
        if key in found:
            raise ValueError(f"block {key} appears twice in the document")
        found[key] = match[3]
    return found


def render(doc: str, blocks: Mapping[str, str]) -> str:
    """``doc`` with every marked block replaced by its generated text."""
    present = extract(doc)
    unknown = sorted(set(present) - set(blocks))
    missing = sorted(set(blocks) - set(present))
    if unknown or missing:
        raise ValueError(f"document markers: unknown {unknown}, missing {missing}")

    def replace(match: re.Match[str]) -> str:
        key = f"{match[1]}:{match[2]}"
        return f"<!-- {key} -->\n{blocks[key]}<!-- /{key} -->"

    return MARKER.sub(replace, doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="rewrite the generated blocks of docs/format.md")
    group.add_argument("--check", action="store_true", help="exit 1 if docs/format.md is stale")
    args = parser.parse_args(argv)
    blocks = build_blocks()
    if not (args.write or args.check):
        for key, text in blocks.items():
            sys.stdout.write(f"<!-- {key} -->\n{text}<!-- /{key} -->\n\n")
        return 0
    current = DOC.read_text(encoding="utf-8")
    updated = render(current, blocks)
    if args.check:
        if updated != current:
            sys.stderr.write(f"{DOC} is stale: run python -m tests.format_examples --write\n")
            return 1
        return 0
    if updated != current:
        DOC.write_text(updated, encoding="utf-8")
        sys.stdout.write(f"rewrote the generated blocks of {DOC}\n")
    else:
        sys.stdout.write(f"{DOC} is up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
