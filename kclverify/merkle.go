package main

// The RFC 6962 / RFC 9162 §2.1 Merkle tree: hashing, the compact range of a
// growing tree and inclusion proofs (port of ledger/merkle.py, the parts a
// bundle verifier needs; consistency proofs are ported for completeness).

import (
	"crypto/sha256"
	"encoding/hex"
	"math/bits"
)

// Domain separation: a leaf can never be mistaken for an interior node.
const (
	LEAF_PREFIX = 0x00
	NODE_PREFIX = 0x01
	HASH_SIZE   = 32
)

// EMPTY_ROOT is MTH({}), the SHA-256 of the empty string.
var EMPTY_ROOT = func() []byte { h := sha256.Sum256(nil); return h[:] }()

// HashLeaf is SHA-256(0x00 ‖ data).
func HashLeaf(data []byte) []byte {
	h := sha256.New()
	h.Write([]byte{LEAF_PREFIX})
	h.Write(data)
	return h.Sum(make([]byte, 0, HASH_SIZE))
}

// HashChildren is SHA-256(0x01 ‖ left ‖ right).
func HashChildren(left, right []byte) []byte {
	var buf [1 + 2*HASH_SIZE]byte
	b := buf[:0]
	b = append(b, NODE_PREFIX)
	b = append(b, left...)
	b = append(b, right...)
	sum := sha256.Sum256(b)
	return sum[:]
}

// splitPoint is the largest power of two strictly smaller than n (n ≥ 2).
func splitPoint(n int64) int64 {
	return int64(1) << (bits.Len64(uint64(n-1)) - 1)
}

func merkleCheckHash(value []byte, what string, code string) error {
	if len(value) != HASH_SIZE {
		return Errf(code, "%s must be a %d-byte hash", what, HASH_SIZE)
	}
	return nil
}

const (
	tlCodeInclusionProof   = "verify.inclusion_proof"
	tlCodeConsistencyProof = "verify.consistency_proof"
)

// RootFromInclusionProof computes the root an inclusion proof implies
// (RFC 9162 §2.1.3.2); a malformed proof is a verify.inclusion_proof error.
func RootFromInclusionProof(leaf []byte, index, size int64, path [][]byte) ([]byte, error) {
	if err := merkleCheckHash(leaf, "leaf hash", tlCodeInclusionProof); err != nil {
		return nil, err
	}
	for _, element := range path {
		if err := merkleCheckHash(element, "proof element", tlCodeInclusionProof); err != nil {
			return nil, err
		}
	}
	// Step 1: the index must lie inside the tree.
	if !(0 <= index && index < size) {
		return nil, Errf(tlCodeInclusionProof, "leaf index %d is outside a tree of size %d", index, size)
	}
	// Step 2-3: walk up from the leaf.
	fn, sn, r := index, size-1, leaf
	for _, p := range path {
		// Step 4a: a proof longer than the path is invalid.
		if sn == 0 {
			return nil, Errf(tlCodeInclusionProof, "inclusion proof is longer than the path to the root")
		}
		// Step 4b.
		if fn&1 == 1 || fn == sn {
			r = HashChildren(p, r)
			if fn&1 == 0 {
				for fn != 0 && fn&1 == 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = HashChildren(r, p)
		}
		// Step 4c.
		fn >>= 1
		sn >>= 1
	}
	// Step 5: a proof shorter than the path is invalid.
	if sn != 0 {
		return nil, Errf(tlCodeInclusionProof, "inclusion proof is shorter than the path to the root")
	}
	return r, nil
}

// verifyInclusion: nil if path shows leaf at index under root.
func verifyInclusion(leaf []byte, index, size int64, path [][]byte, root []byte) error {
	if err := merkleCheckHash(root, "root", tlCodeInclusionProof); err != nil {
		return err
	}
	computed, err := RootFromInclusionProof(leaf, index, size, path)
	if err != nil {
		return err
	}
	if string(computed) != string(root) {
		return Errf(tlCodeInclusionProof, "inclusion proof gives root %s, expected %s",
			hex.EncodeToString(computed), hex.EncodeToString(root))
	}
	return nil
}

type compactNode struct {
	level int
	hash  [HASH_SIZE]byte
}

// CompactRange is the right edge of a growing tree: O(log n) hashes, enough
// to append and get the root (merkle.CompactRange without the node ids a
// store needs).
type CompactRange struct {
	size  int64
	stack []compactNode
}

// Append adds a leaf hash.
func (r *CompactRange) Append(leaf []byte) {
	var node compactNode
	copy(node.hash[:], leaf)
	var buf [1 + 2*HASH_SIZE]byte
	buf[0] = NODE_PREFIX
	for len(r.stack) > 0 && r.stack[len(r.stack)-1].level == node.level {
		left := r.stack[len(r.stack)-1]
		r.stack = r.stack[:len(r.stack)-1]
		copy(buf[1:], left.hash[:])
		copy(buf[1+HASH_SIZE:], node.hash[:])
		node.hash = sha256.Sum256(buf[:])
		node.level++
	}
	r.stack = append(r.stack, node)
	r.size++
}

// Size is the number of leaves appended.
func (r *CompactRange) Size() int64 { return r.size }

// Root is MTH of the leaves appended so far.
func (r *CompactRange) Root() []byte {
	if len(r.stack) == 0 {
		return append([]byte(nil), EMPTY_ROOT...)
	}
	result := append([]byte(nil), r.stack[len(r.stack)-1].hash[:]...)
	for i := len(r.stack) - 2; i >= 0; i-- {
		result = HashChildren(r.stack[i].hash[:], result)
	}
	return result
}
