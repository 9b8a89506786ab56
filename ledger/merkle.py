"""The RFC 6962 / RFC 9162 §2.1 Merkle tree: hashing, proofs, verification.

Storage-agnostic: proofs are assembled from *perfect* subtree hashes, named
by ``(level, index)`` — the node covering leaves
``[index·2^level, (index+1)·2^level)``. A caller asks which nodes a proof
needs, fetches exactly those (O(log n) of them, in one round trip), and
hands them back. Perfect nodes never change once the tree has grown past
them, which is why a store can keep them append-only.

Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from ledger.errors import ConsistencyProofError, InclusionProofError

#: Domain separation: a leaf can never be mistaken for an interior node.
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
#: MTH({}) — the root of the empty tree, SHA-256 of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
"""A perfect subtree: ``(level, index)``, covering ``[index << level, (index + 1) << level)``."""

NodeFetcher = Callable[[Collection[NodeId]], Mapping[NodeId, bytes]]


def hash_leaf(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------
# Which subtrees a proof consists of.

Range = tuple[int, int]


def _range_nodes(begin: int, end: int, out: list[NodeId]) -> None:
    """Append the perfect nodes whose hashes make up MTH(D[begin:end]).

    ``begin`` is always aligned to the split structure of the RFC recursion,
    so a range is either one perfect node or a perfect left part plus a
    smaller right part.
    """
    size = end - begin
    while size & (size - 1):  # not a power of two
        k = split_point(size)
        out.append((k.bit_length() - 1, begin // k))
        begin += k
        size -= k
    out.append((size.bit_length() - 1, begin // size))


def range_nodes(begin: int, end: int) -> list[NodeId]:
    out: list[NodeId] = []
    _range_nodes(begin, end, out)
    return out


def range_hash(begin: int, end: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[begin:end]) from its perfect parts (see :func:`range_nodes`)."""
    parts = range_nodes(begin, end)
    result = nodes[parts[-1]]
    for node in reversed(parts[:-1]):
        result = hash_children(nodes[node], result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees of PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf-side first."""
    if not 0 <= index < size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of size {size}")
    ranges: list[Range] = []
    begin, end = 0, size
    while end - begin > 1:
        k = split_point(end - begin)
        if index < begin + k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The subtrees of PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1)."""
    if not 0 < old_size <= new_size:
        raise ConsistencyProofError(
            f"no consistency proof from size {old_size} to size {new_size} (need 0 < old ≤ new)"
        )
    ranges: list[Range] = []
    begin, end, m, complete = 0, new_size, old_size, True
    while m != end - begin:
        k = split_point(end - begin)
        if m <= k:
            ranges.append((begin + k, end))
            end = begin + k
        else:
            ranges.append((begin, begin + k))
            begin += k
            m -= k
            complete = False
    if not complete:
        ranges.append((begin, end))
    ranges.reverse()
    return ranges


def nodes_for(ranges: Iterable[Range]) -> set[NodeId]:
    needed: set[NodeId] = set()
    for begin, end in ranges:
        needed.update(range_nodes(begin, end))
    return needed


def _resolve(ranges: Sequence[Range], fetch: NodeFetcher) -> list[bytes]:
    nodes = fetch(nodes_for(ranges))
    return [range_hash(begin, end, nodes) for begin, end in ranges]


def inclusion_proof(index: int, size: int, fetch: NodeFetcher) -> list[bytes]:
    return _resolve(inclusion_ranges(index, size), fetch)


def consistency_proof(old_size: int, new_size: int, fetch: NodeFetcher) -> list[bytes]:
    return _resolve(consistency_ranges(old_size, new_size), fetch)


def root_of(size: int, fetch: NodeFetcher) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    return _resolve([(0, size)], fetch)[0]


# --------------------------------------------------------------------------
# Verification, RFC 9162 §2.1.3.2 and §2.1.4.2.


def _check_hash(value: bytes, what: str, error: type[Exception]) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise error(f"{what} must be a {HASH_SIZE}-byte hash")


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """Compute the root that an inclusion proof implies; raise if it is malformed."""
    _check_hash(leaf_hash, "leaf hash", InclusionProofError)
    for element in proof:
        _check_hash(element, "proof element", InclusionProofError)
    # Step 1: the index must lie inside the tree.
    if not 0 <= index < size:
        raise InclusionProofError(f"leaf index {index} is outside a tree of size {size}")
    # Step 2-3: walk up from the leaf.
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        # Step 4a: a proof longer than the path is invalid.
        if sn == 0:
            raise InclusionProofError("inclusion proof is longer than the path to the root")
        # Step 4b.
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        # Step 4c.
        fn >>= 1
        sn >>= 1
    # Step 5: a proof shorter than the path is invalid.
    if sn != 0:
        raise InclusionProofError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Return nothing if ``proof`` shows ``leaf_hash`` at ``index`` under ``root``; else raise."""
    _check_hash(root, "root", InclusionProofError)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise InclusionProofError(f"inclusion proof gives root {computed.hex()}, expected {root.hex()}")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Return nothing if ``proof`` shows the tree of ``old_size`` is a prefix of ``new_size``."""
    if old_size < 1:
        raise ConsistencyProofError("a consistency proof from the empty tree is meaningless")
    if old_size > new_size:
        raise ConsistencyProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        # Same tree: nothing to prove, the roots must simply be equal.
        if proof:
            raise ConsistencyProofError("equal sizes need an empty proof")
        if old_root != new_root:
            raise ConsistencyProofError("equal sizes but different roots")
        return
    _check_hash(old_root, "old root", ConsistencyProofError)
    _check_hash(new_root, "new root", ConsistencyProofError)
    for element in proof:
        _check_hash(element, "proof element", ConsistencyProofError)
    path = list(proof)
    # Step 1: an empty path proves nothing.
    if not path:
        raise ConsistencyProofError("empty consistency proof")
    # Step 2: a power-of-two old tree is itself a node of the new one.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # Step 3-4.
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    if sn != 0:
        raise ConsistencyProofError("consistency proof is shorter than needed")
    if fr != old_root:
        raise ConsistencyProofError(f"proof gives old root {fr.hex()}, expected {old_root.hex()}")
    if sr != new_root:
        raise ConsistencyProofError(f"proof gives new root {sr.hex()}, expected {new_root.hex()}")


# --------------------------------------------------------------------------
# Growing a tree.


def frontier_nodes(size: int) -> list[NodeId]:
    """The perfect subtrees whose roots summarise a tree of ``size`` leaves, left to right."""
    nodes: list[NodeId] = []
    begin = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, begin >> level))
            begin += 1 << level
    return nodes


class CompactRange:
    """The right edge of a growing tree: O(log n) hashes, enough to append and get the root."""

    __slots__ = ("_stack", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError("a compact range of this size needs one hash per set bit")
        self.size = size
        self._stack: list[tuple[NodeId, bytes]] = list(zip(frontier_nodes(size), hashes, strict=True))

    @classmethod
    def load(cls, size: int, fetch: NodeFetcher) -> CompactRange:
        ids = frontier_nodes(size)
        nodes = fetch(ids)
        return cls(size, [nodes[node] for node in ids])

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """Add a leaf; return every perfect node it completes, the leaf first."""
        node: NodeId = (0, self.size)
        value = leaf_hash
        created = [(node, value)]
        while self._stack and self._stack[-1][0][0] == node[0]:
            (level, index), left = self._stack.pop()
            node, value = (level + 1, index >> 1), hash_children(left, value)
            created.append((node, value))
        self._stack.append((node, value))
        self.size += 1
        return created

    def copy(self) -> CompactRange:
        clone = CompactRange()
        clone.size, clone._stack = self.size, list(self._stack)
        return clone

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        result = self._stack[-1][1]
        for _, value in reversed(self._stack[:-1]):
            result = hash_children(value, result)
        return result


class MemoryTree:
    """A whole tree in memory: for tests, vectors and small exports."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._nodes: dict[NodeId, bytes] = {}
        self._range = CompactRange()
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return self._range.size

    def append(self, leaf_hash: bytes) -> None:
        self._nodes.update(self._range.append(leaf_hash))

    def fetch(self, ids: Collection[NodeId]) -> dict[NodeId, bytes]:
        return {node: self._nodes[node] for node in ids}

    def root(self, size: int | None = None) -> bytes:
        return root_of(self.size if size is None else size, self.fetch)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.size if size is None else size, self.fetch)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(old_size, self.size if new_size is None else new_size, self.fetch)
