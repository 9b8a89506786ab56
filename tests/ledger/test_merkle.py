"""RFC 6962 / RFC 9162 §2.1 Merkle tree: vectors, probes, proof generation, mutations.

Negative cases are made by mutating a good case, with the mutation names of
transparency-dev/merkle: wrong-leaf, wrong-index, wrong-size, truncated-proof,
extended-proof, flipped-bit@k, swapped-elements, wrong-root.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ledger.errors import ConsistencyProofError, InclusionProofError
from ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    consistency_proof,
    consistency_ranges,
    frontier_nodes,
    hash_children,
    hash_leaf,
    inclusion_proof,
    inclusion_ranges,
    range_hash,
    range_nodes,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
TREE8 = json.loads((VECTORS / "rfc6962-tree8.json").read_text())
INCLUSION_PROBES = json.loads((VECTORS / "rfc6962-inclusion-probes.json").read_text())["probes"]
CONSISTENCY_PROBES = json.loads((VECTORS / "rfc6962-consistency-probes.json").read_text())["probes"]
DERIVED = json.loads((VECTORS / "derived-checkpoint-cosignature-proof.json").read_text())

LEAF_INPUTS = [bytes.fromhex(h) for h in TREE8["leaf_inputs_hex"]]
ROOTS = {int(size): bytes.fromhex(h) for size, h in TREE8["root_by_tree_size"].items()}
NODES = {
    (level, index): bytes.fromhex(h)
    for level, row in enumerate(TREE8["node_hashes_by_level"])
    for index, h in enumerate(row)
}

INCLUSION_MUTATIONS = (
    "wrong-leaf",
    "wrong-index",
    "wrong-size",
    "truncated-proof",
    "extended-proof",
    "flipped-bit@k",
    "swapped-elements",
    "wrong-root",
)
CONSISTENCY_MUTATIONS = (
    "wrong-size",
    "truncated-proof",
    "extended-proof",
    "flipped-bit@k",
    "swapped-elements",
    "wrong-root",
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------
# An independent reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 written as
# the RFC's recursion, over leaf hashes, with hashlib directly.


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = _k(n)
    return _node(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n <= 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [ref_mth(hashes)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, hashes[:k], complete), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def ref_proof(m: int, hashes: Sequence[bytes]) -> list[bytes]:
    return ref_subproof(m, hashes, True)


def leaf_hashes(count: int, tag: bytes = b"leaf") -> list[bytes]:
    return [hashlib.sha256(b"\x00" + tag + i.to_bytes(4, "big")).digest() for i in range(count)]


# --------------------------------------------------------------------------
# Hasher and the 8-leaf reference tree.


def test_hasher_vectors() -> None:
    empty, empty_leaf, leaf, node = TREE8["hasher_vectors"]
    assert bytes.fromhex(empty["hash"]) == EMPTY_ROOT
    assert hash_leaf(bytes.fromhex(empty_leaf["leaf_input_hex"])) == bytes.fromhex(empty_leaf["hash"])
    assert hash_leaf(b"") != EMPTY_ROOT
    assert hash_leaf(bytes.fromhex(leaf["leaf_input_hex"])) == bytes.fromhex(leaf["hash"])
    assert bytes.fromhex(leaf["leaf_input_hex"]) == b"L123456"
    # The node vector hashes raw 4-byte children, not 32-byte hashes.
    left, right = bytes.fromhex(node["left_hex"]), bytes.fromhex(node["right_hex"])
    assert (left, right) == (b"N123", b"N456")
    assert hash_children(left, right) == bytes.fromhex(node["hash"])


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_prefix_of_the_reference_tree(size: int) -> None:
    hashes = [hash_leaf(x) for x in LEAF_INPUTS]
    tree = MemoryTree(hashes)
    assert tree.root(size) == ROOTS[size]
    assert MemoryTree(hashes[:size]).root() == ROOTS[size]
    compact = CompactRange()
    for leaf in hashes[:size]:
        compact.append(leaf)
    assert compact.root() == ROOTS[size]
    assert ref_mth(hashes[:size]) == ROOTS[size]


def test_every_node_hash_of_the_reference_tree() -> None:
    hashes = [hash_leaf(x) for x in LEAF_INPUTS]
    tree = MemoryTree(hashes)
    assert tree.fetch(NODES.keys()) == NODES
    # The nodes CompactRange reports as completed are exactly the perfect nodes.
    compact = CompactRange()
    created: dict[tuple[int, int], bytes] = {}
    for leaf in hashes:
        new = compact.append(leaf)
        assert new[0] == ((0, compact.size - 1), leaf)
        created.update(new)
    assert created == NODES


@pytest.mark.parametrize("size", range(9))
def test_frontier_and_compact_range_from_vector_nodes(size: int) -> None:
    ids = frontier_nodes(size)
    # Left to right, strictly decreasing levels, covering [0, size) exactly.
    begin = 0
    for level, index in ids:
        assert index << level == begin
        begin += 1 << level
    assert begin == size
    assert [level for level, _ in ids] == sorted({level for level, _ in ids}, reverse=True)
    compact = CompactRange(size, [NODES[node] for node in ids])
    assert compact.root() == ROOTS[size]
    assert CompactRange.load(size, lambda wanted: {n: NODES[n] for n in wanted}).root() == ROOTS[size]


def test_compact_range_rejects_a_wrong_number_of_hashes() -> None:
    with pytest.raises(ValueError, match="one hash per set bit"):
        CompactRange(3, [NODES[(1, 0)]])
    with pytest.raises(ValueError, match="one hash per set bit"):
        CompactRange(0, [NODES[(0, 0)]])


def test_compact_range_continues_a_loaded_tree() -> None:
    hashes = [hash_leaf(x) for x in LEAF_INPUTS]
    for size in range(9):
        compact = CompactRange.load(size, lambda wanted: {n: NODES[n] for n in wanted})
        for leaf in hashes[size:]:
            compact.append(leaf)
        assert compact.size == 8
        assert compact.root() == ROOTS[8]


def test_generated_proofs_match_the_vector_proofs() -> None:
    tree = MemoryTree(hash_leaf(x) for x in LEAF_INPUTS)
    b64 = base64.b64decode
    happy = [p for p in INCLUSION_PROBES if p["desc"] == "happy path" and p["treeSize"] == 8]
    assert happy
    for probe in happy:
        proof = tree.inclusion_proof(probe["leafIdx"], probe["treeSize"])
        assert proof == [b64(x) for x in probe["proof"] or []]
        assert tree.root(probe["treeSize"]) == b64(probe["root"])
    consistent = [p for p in CONSISTENCY_PROBES if p["desc"] == "happy path" and p["size1"] > 0]
    for probe in consistent:
        assert tree.consistency_proof(probe["size1"], probe["size2"]) == [
            b64(x) for x in probe["proof"] or []
        ]
    assert len(DERIVED["consistency_to_8"]) == 7
    for item in DERIVED["consistency_to_8"]:
        assert tree.consistency_proof(item["size1"], item["size2"]) == [b64(x) for x in item["proof"]]
        assert tree.root(item["size1"]) == b64(item["root1"])
    # Proof elements are node hashes of the vector tree wherever the range is perfect.
    for index in range(8):
        for (begin, end), element in zip(
            inclusion_ranges(index, 8), tree.inclusion_proof(index, 8), strict=True
        ):
            width = end - begin
            assert width & (width - 1) == 0
            assert element == NODES[(width.bit_length() - 1, begin // width)]


def test_proof_ranges_name_the_vector_nodes() -> None:
    assert inclusion_ranges(0, 8) == [(1, 2), (2, 4), (4, 8)]
    assert inclusion_ranges(6, 7) == [(4, 6), (0, 4)]
    assert consistency_ranges(3, 8) == [(2, 3), (3, 4), (0, 2), (4, 8)]
    assert consistency_ranges(4, 8) == [(4, 8)]
    assert range_nodes(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert range_nodes(4, 8) == [(2, 1)]
    assert range_hash(0, 7, NODES) == ROOTS[7]
    assert range_hash(4, 7, NODES) == hash_children(NODES[(1, 2)], NODES[(0, 6)])


# --------------------------------------------------------------------------
# The 196 probes of transparency-dev/merkle.


def _probe_id(probe: dict[str, Any], kind: str) -> str:
    path = probe["source_file"].removeprefix(f"testdata/{kind}/")
    return f"{path.rsplit('/', 1)[0]}/{probe['desc']}"


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def test_probe_files_are_complete() -> None:
    assert len(INCLUSION_PROBES) == 98
    assert len(CONSISTENCY_PROBES) == 98
    assert sum(not p["wantErr"] for p in INCLUSION_PROBES) == 6
    assert sum(not p["wantErr"] for p in CONSISTENCY_PROBES) == 6


@pytest.mark.parametrize("probe", INCLUSION_PROBES, ids=[_probe_id(p, "inclusion") for p in INCLUSION_PROBES])
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    args = (
        _b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        [_b64(x) for x in probe["proof"] or []],
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(InclusionProofError):
            verify_inclusion(*args)
    else:
        assert verify_inclusion(*args) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime


@pytest.mark.parametrize(
    "probe", CONSISTENCY_PROBES, ids=[_probe_id(p, "consistency") for p in CONSISTENCY_PROBES]
)
def test_consistency_probe(probe: dict[str, Any]) -> None:
    args = (
        probe["size1"],
        probe["size2"],
        [_b64(x) for x in probe["proof"] or []],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ConsistencyProofError):
            verify_consistency(*args)
    else:
        assert verify_consistency(*args) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime


# --------------------------------------------------------------------------
# Proof generation against the RFC recursion and against verification.

MAX_EXHAUSTIVE = 40
_BIG_HASHES = leaf_hashes(MAX_EXHAUSTIVE)
_BIG_TREE = MemoryTree(_BIG_HASHES)


def test_roots_match_the_rfc_recursion_up_to_40_leaves() -> None:
    compact = CompactRange()
    assert compact.root() == EMPTY_ROOT == _BIG_TREE.root(0)
    for size in range(1, MAX_EXHAUSTIVE + 1):
        compact.append(_BIG_HASHES[size - 1])
        expected = ref_mth(_BIG_HASHES[:size])
        assert _BIG_TREE.root(size) == expected
        assert compact.root() == expected
        assert range_hash(0, size, _BIG_TREE.fetch(range_nodes(0, size))) == expected


def test_every_inclusion_proof_up_to_40_leaves() -> None:
    for size in range(1, MAX_EXHAUSTIVE + 1):
        root = _BIG_TREE.root(size)
        for index in range(size):
            proof = _BIG_TREE.inclusion_proof(index, size)
            assert proof == ref_path(index, _BIG_HASHES[:size]), (index, size)
            assert verify_inclusion(_BIG_HASHES[index], index, size, proof, root) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
            assert root_from_inclusion_proof(_BIG_HASHES[index], index, size, proof) == root


def test_every_consistency_proof_up_to_40_leaves() -> None:
    for new in range(1, MAX_EXHAUSTIVE + 1):
        new_root = _BIG_TREE.root(new)
        for old in range(1, new + 1):
            proof = _BIG_TREE.consistency_proof(old, new)
            assert proof == ref_proof(old, _BIG_HASHES[:new]), (old, new)
            assert verify_consistency(old, new, proof, _BIG_TREE.root(old), new_root) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime


def test_proof_ranges_are_made_of_perfect_nodes() -> None:
    for size in range(1, MAX_EXHAUSTIVE + 1):
        ranges = [r for i in range(size) for r in inclusion_ranges(i, size)]
        ranges += [r for m in range(1, size + 1) for r in consistency_ranges(m, size)]
        for begin, end in ranges:
            nodes = range_nodes(begin, end)
            position = begin
            for level, index in nodes:
                assert index << level == position
                position += 1 << level
            assert position == end
            assert range_hash(begin, end, _BIG_TREE.fetch(nodes)) == ref_mth(_BIG_HASHES[begin:end])


def test_proofs_from_a_node_fetcher_ask_only_for_perfect_nodes() -> None:
    asked: list[tuple[int, int]] = []

    def fetch(ids: Any) -> dict[tuple[int, int], bytes]:
        asked.extend(ids)
        return _BIG_TREE.fetch(ids)

    assert inclusion_proof(5, 37, fetch) == ref_path(5, _BIG_HASHES[:37])
    assert consistency_proof(11, 37, fetch) == ref_proof(11, _BIG_HASHES[:37])
    assert asked
    # Only perfect subtrees that lie wholly inside the tree of size 37.
    assert all((index + 1) << level <= 37 for level, index in asked)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 4), (8, 8)])
def test_inclusion_proof_for_a_leaf_outside_the_tree_is_refused(index: int, size: int) -> None:
    with pytest.raises(InclusionProofError):
        inclusion_ranges(index, size)


@pytest.mark.parametrize(("old", "new"), [(0, 0), (0, 5), (6, 5), (-1, 3)])
def test_consistency_proof_for_impossible_sizes_is_refused(old: int, new: int) -> None:
    with pytest.raises(ConsistencyProofError):
        consistency_ranges(old, new)


def test_consistency_between_equal_sizes_is_an_empty_proof() -> None:
    for size in (1, 2, 7, 8):
        assert _BIG_TREE.consistency_proof(size, size) == []
        root = _BIG_TREE.root(size)
        assert verify_consistency(size, size, [], root, root) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size, size, [root], root, root)
        with pytest.raises(ConsistencyProofError):
            verify_consistency(size, size, [], root, _BIG_TREE.root(size + 1))


# --------------------------------------------------------------------------
# Mutations of a good case.


@dataclass(frozen=True)
class InclusionCase:
    leaf: bytes
    index: int
    size: int
    proof: tuple[bytes, ...]
    root: bytes

    def verify(self) -> None:
        return verify_inclusion(self.leaf, self.index, self.size, list(self.proof), self.root)


@dataclass(frozen=True)
class ConsistencyCase:
    old: int
    new: int
    proof: tuple[bytes, ...]
    old_root: bytes
    new_root: bytes

    def verify(self) -> None:
        return verify_consistency(self.old, self.new, list(self.proof), self.old_root, self.new_root)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


def _flip_proof(proof: tuple[bytes, ...], bit: int) -> tuple[bytes, ...]:
    element, offset = divmod(bit, 256)
    return (*proof[:element], _flip(proof[element], offset), *proof[element + 1 :])


def _swap(proof: tuple[bytes, ...], a: int, b: int) -> tuple[bytes, ...]:
    items = list(proof)
    items[a], items[b] = items[b], items[a]
    return tuple(items)


OTHER_HASH = hashlib.sha256(b"not in any tree").digest()


def inclusion_mutants(
    case: InclusionCase, tree: MemoryTree, name: str, choose: Callable[[Sequence[Any]], Any]
) -> list[tuple[str, InclusionCase]]:
    """Negative cases named ``name`` made from the good ``case``; ``choose`` picks among options."""
    size, index, proof = case.size, case.index, case.proof
    if name == "wrong-leaf":
        return [(name, replace(case, leaf=choose([OTHER_HASH, _flip(case.leaf, 0), _flip(case.leaf, 255)])))]
    if name == "wrong-index":
        options = [i for i in (index - 1, index + 1, index ^ 2, index ^ 1, size, -1) if i != index]
        return [(name, replace(case, index=choose(options)))]
    if name == "wrong-size":
        # The claim becomes "leaf at index of the tree of size s'" with that
        # tree's real root; the proof of another size must not prove it. (With
        # the old root kept, a size whose path has the same shape would verify:
        # RFC 9162 binds the size to the root only through the checkpoint.)
        out = []
        for s in sorted({index, size - 1, size + 1, size * 2, size // 2, tree.size}):
            if s == size or s < 0:
                continue
            if s <= index:  # the leaf is not in a tree of that size at all
                out.append((name, replace(case, size=s)))
            elif s <= tree.size and tree.inclusion_proof(index, s) != list(proof):
                out.append((name, replace(case, size=s, root=tree.root(s))))
        return [choose(out)] if out else []
    if name == "truncated-proof":
        return [(name, replace(case, proof=proof[:-1]))] if proof else []
    if name == "extended-proof":
        extra = choose([OTHER_HASH, case.leaf, case.root, proof[-1] if proof else OTHER_HASH])
        position = choose([0, len(proof)])
        return [(name, replace(case, proof=(*proof[:position], extra, *proof[position:])))]
    if name == "flipped-bit@k":
        if not proof:
            return []
        bit = choose(range(256 * len(proof)))
        return [(f"flipped-bit@{bit}", replace(case, proof=_flip_proof(proof, bit)))]
    if name == "swapped-elements":
        pairs = [(a, b) for a in range(len(proof)) for b in range(a + 1, len(proof)) if proof[a] != proof[b]]
        return [(name, replace(case, proof=_swap(proof, *choose(pairs))))] if pairs else []
    if name == "wrong-root":
        other = choose([OTHER_HASH, _flip(case.root, 7), tree.root(size - 1), EMPTY_ROOT])
        return [(name, replace(case, root=other))] if other != case.root else []
    raise AssertionError(name)


def consistency_mutants(
    case: ConsistencyCase, tree: MemoryTree, name: str, choose: Callable[[Sequence[Any]], Any]
) -> list[tuple[str, ConsistencyCase]]:
    old, new, proof = case.old, case.new, case.proof
    if name == "wrong-size":
        out = []
        for m, n in sorted(
            {(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1), (old * 2, new), (new, old)}
        ):
            if (m, n) == (old, new):
                continue
            if not 1 <= m <= n:  # no consistency proof exists for these sizes
                out.append((name, replace(case, old=m, new=n)))
            elif n <= tree.size and tree.consistency_proof(m, n) != list(proof):
                out.append((name, replace(case, old=m, new=n, old_root=tree.root(m), new_root=tree.root(n))))
        return [choose(out)] if out else []
    if name == "truncated-proof":
        return [(name, replace(case, proof=proof[:-1]))] if proof else []
    if name == "extended-proof":
        extra = choose([OTHER_HASH, case.old_root, case.new_root])
        position = choose([0, len(proof)])
        return [(name, replace(case, proof=(*proof[:position], extra, *proof[position:])))]
    if name == "flipped-bit@k":
        if not proof:
            return []
        bit = choose(range(256 * len(proof)))
        return [(f"flipped-bit@{bit}", replace(case, proof=_flip_proof(proof, bit)))]
    if name == "swapped-elements":
        pairs = [(a, b) for a in range(len(proof)) for b in range(a + 1, len(proof)) if proof[a] != proof[b]]
        return [(name, replace(case, proof=_swap(proof, *choose(pairs))))] if pairs else []
    if name == "wrong-root":
        which = choose(["old", "new"])
        if which == "old":
            other = choose([OTHER_HASH, _flip(case.old_root, 3), case.new_root])
            return [(name, replace(case, old_root=other))] if other != case.old_root else []
        other = choose([OTHER_HASH, _flip(case.new_root, 3), case.old_root])
        return [(name, replace(case, new_root=other))] if other != case.new_root else []
    raise AssertionError(name)


def _all_mutants(
    make: Callable[..., list[tuple[str, Any]]], case: Any, tree: MemoryTree, name: str
) -> list[tuple[str, Any]]:
    """Every mutant ``make`` can produce, by enumerating each choice it offers.

    Long option lists (the bit positions of ``flipped-bit@k``) are thinned to
    every 13th option plus the last, which still reaches every proof element.
    """
    results: list[tuple[str, Any]] = []
    pending: list[list[int]] = [[]]
    while pending:
        script = pending.pop()
        position = 0

        def choose(options: Sequence[Any], script: list[int] = script) -> Any:
            nonlocal position
            options = list(options)
            if len(options) > 64:
                options = [*options[::13], options[-1]]
            if position < len(script):
                pick = script[position]
            else:
                pick = 0
                for alternative in range(1, len(options)):
                    pending.append([*script[:position], alternative])
                script.append(0)
            position += 1
            return options[pick]

        results.extend(make(case, tree, name, choose))
    return results


@pytest.mark.parametrize("mutation", INCLUSION_MUTATIONS)
def test_inclusion_mutants_of_every_proof_in_a_13_leaf_tree_are_rejected(mutation: str) -> None:
    hashes = leaf_hashes(13, b"thirteen")
    tree = MemoryTree(hashes)
    produced = 0
    for size in range(1, 14):
        root = tree.root(size)
        for index in range(size):
            good = InclusionCase(hashes[index], index, size, tuple(tree.inclusion_proof(index, size)), root)
            assert good.verify() is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
            for label, bad in _all_mutants(inclusion_mutants, good, tree, mutation):
                produced += 1
                with pytest.raises(InclusionProofError):
                    bad.verify()
                assert label.startswith(mutation.removesuffix("k"))
    assert produced > 0


@pytest.mark.parametrize("mutation", CONSISTENCY_MUTATIONS)
def test_consistency_mutants_of_every_proof_in_a_13_leaf_tree_are_rejected(mutation: str) -> None:
    hashes = leaf_hashes(13, b"thirteen")
    tree = MemoryTree(hashes)
    produced = 0
    for new in range(1, 14):
        for old in range(1, new + 1):
            good = ConsistencyCase(
                old, new, tuple(tree.consistency_proof(old, new)), tree.root(old), tree.root(new)
            )
            assert good.verify() is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
            for label, bad in _all_mutants(consistency_mutants, good, tree, mutation):
                produced += 1
                with pytest.raises(ConsistencyProofError):
                    bad.verify()
                assert label.startswith(mutation.removesuffix("k"))
    assert produced > 0


# --------------------------------------------------------------------------
# Properties over any sequence of appended leaves.

leaf_lists = st.lists(st.binary(max_size=12), min_size=2, max_size=70, unique=True)
NEEDS_PROOF = ("truncated-proof", "flipped-bit@k", "swapped-elements")


@FAST
@given(leaves=leaf_lists, data=st.data())
def test_property_every_inclusion_proof_verifies_and_mutants_do_not(leaves: list[bytes], data: Any) -> None:
    hashes = [hash_leaf(x) for x in leaves]
    tree = MemoryTree(hashes)
    name = data.draw(st.sampled_from(INCLUSION_MUTATIONS), label="mutation")
    # Mutations of the proof itself need a tree of two leaves or more.
    smallest = 2 if name in NEEDS_PROOF else 1
    size = data.draw(st.integers(min(smallest, len(hashes)), len(hashes)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    root = tree.root(size)
    assert root == ref_mth(hashes[:size])
    good = InclusionCase(hashes[index], index, size, tuple(tree.inclusion_proof(index, size)), root)
    assert good.verify() is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
    mutants = inclusion_mutants(good, tree, name, lambda options: data.draw(st.sampled_from(list(options))))
    assume(mutants)
    for label, bad in mutants:
        event(label.split("@")[0] + ("@k" if "@" in label else ""))
        with pytest.raises(InclusionProofError):
            bad.verify()


@FAST
@given(leaves=leaf_lists, data=st.data())
def test_property_every_consistency_proof_verifies_and_mutants_do_not(leaves: list[bytes], data: Any) -> None:
    hashes = [hash_leaf(x) for x in leaves]
    tree = MemoryTree(hashes)
    name = data.draw(st.sampled_from(CONSISTENCY_MUTATIONS), label="mutation")
    # Mutations of the proof itself need old < new (equal sizes have an empty proof).
    if name in NEEDS_PROOF:
        new = data.draw(st.integers(2, len(hashes)), label="new")
        old = data.draw(st.integers(1, new - 1), label="old")
    else:
        new = data.draw(st.integers(1, len(hashes)), label="new")
        old = data.draw(st.integers(1, new), label="old")
    good = ConsistencyCase(old, new, tuple(tree.consistency_proof(old, new)), tree.root(old), tree.root(new))
    assert list(good.proof) == ref_proof(old, hashes[:new])
    assert good.verify() is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
    mutants = consistency_mutants(good, tree, name, lambda options: data.draw(st.sampled_from(list(options))))
    assume(mutants)
    for label, bad in mutants:
        event(label.split("@")[0] + ("@k" if "@" in label else ""))
        with pytest.raises(ConsistencyProofError):
            bad.verify()


@settings(max_examples=40, deadline=None)
@given(leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=33))
def test_property_a_growing_tree_stays_consistent_with_all_its_past_roots(leaves: list[bytes]) -> None:
    tree = MemoryTree()
    past: list[bytes] = []
    for leaf in leaves:
        tree.append(hash_leaf(leaf))
        past.append(tree.root())
        size = tree.size
        for old in range(1, size + 1):
            proof = tree.consistency_proof(old, size)
            assert verify_consistency(old, size, proof, past[old - 1], past[-1]) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime
        index = size - 1
        assert verify_inclusion(hash_leaf(leaf), index, size, tree.inclusion_proof(index), past[-1]) is None  # type: ignore[func-returns-value]  # the None return is checked at runtime


@given(
    leaf=st.binary(min_size=32, max_size=32),
    index=st.integers(-(2**64), 2**64),
    size=st.integers(-(2**64), 2**64),
    proof=st.lists(st.binary(max_size=40), max_size=70),
    root=st.binary(max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_property_verify_inclusion_returns_none_or_raises_its_own_error(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    try:
        result = verify_inclusion(leaf, index, size, proof, root)  # type: ignore[func-returns-value]  # the None return is checked at runtime
    except InclusionProofError:
        return
    assert result is None


@given(
    old=st.integers(-(2**64), 2**64),
    new=st.integers(-(2**64), 2**64),
    proof=st.lists(st.binary(max_size=40), max_size=70),
    old_root=st.binary(max_size=40),
    new_root=st.binary(max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_property_verify_consistency_returns_none_or_raises_its_own_error(
    old: int, new: int, proof: list[bytes], old_root: bytes, new_root: bytes
) -> None:
    try:
        result = verify_consistency(old, new, proof, old_root, new_root)  # type: ignore[func-returns-value]  # the None return is checked at runtime
    except ConsistencyProofError:
        return
    assert result is None
