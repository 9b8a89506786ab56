// Command kclcheck checks Konnektor Custody Ledger checkpoints and proofs with
// Go's reference implementations, golang.org/x/mod/sumdb/note and sumdb/tlog.
//
// It is the other side of tests/app/test_go_interop.py: DESIGN requires that
// these packages accept our checkpoints and proofs as they are. It reads one
// JSON request on standard input:
//
//	{
//	  "vkey": "<name>+<hex8>+<base64 key>",       the log's verifier key
//	  "checkpoint": "<signed note text>",          C2SP tlog-checkpoint
//	  "inclusion": [{"index", "size", "leaf_hash", "root", "proof": [hex…]}…],
//	  "consistency": [{"old_size", "old_root", "new_size", "new_root", "proof": [hex…]}…],
//	  "entries_hex": ["<raw entry bytes, hex>"…],  optional, entries_start onwards
//	  "entries_start": 0                           optional
//	}
//
// and checks, collecting every failure rather than stopping at the first:
//
//  1. note.Open accepts the checkpoint against the vkey alone (other keys'
//     signature lines, e.g. witness cosignatures, are unknown and ignored);
//  2. the body is "<origin>\n<size>\n<base64 root>\n" (extension lines may
//     follow), origin = the key name, size in canonical decimal, root 32 bytes
//     in canonical standard base64;
//  3. every inclusion proof passes tlog.CheckRecord against its own root, and
//     every consistency proof passes tlog.CheckTree;
//  4. all roots claimed for one tree size agree — the checkpoint's included —
//     and every proof is anchored to the checkpoint: its tree size is the
//     checkpoint's, or a verified consistency proof chain leads from it there;
//  5. with entries: tlog.RecordHash of each entry equals the leaf hash that
//     proofs claim for its index; when the entries start at 0, Go rebuilds the
//     tree (tlog.StoredHashes), and its tree hash for every size involved, and
//     its own proofs (tlog.ProveRecord, tlog.ProveTree), must equal ours.
//
// It prints {"ok": bool, "errors": [...], ...} and exits 0 when every check
// passed, 1 when any failed, 2 when the request itself is unusable.
//
// Build in GOPATH mode against the Debian package golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=$tmp:/usr/share/gocode go build -o kclcheck .
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusionProof struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Proof    []string `json:"proof"`
}

type consistencyProof struct {
	OldSize int64    `json:"old_size"`
	OldRoot string   `json:"old_root"`
	NewSize int64    `json:"new_size"`
	NewRoot string   `json:"new_root"`
	Proof   []string `json:"proof"`
}

type request struct {
	VKey         string             `json:"vkey"`
	Checkpoint   string             `json:"checkpoint"`
	Inclusion    []inclusionProof   `json:"inclusion"`
	Consistency  []consistencyProof `json:"consistency"`
	EntriesHex   []string           `json:"entries_hex"`
	EntriesStart int64              `json:"entries_start"`
}

type checkpointInfo struct {
	Origin     string   `json:"origin"`
	Size       int64    `json:"size"`
	Root       string   `json:"root"`
	Extensions []string `json:"extensions"`
}

type result struct {
	OK         bool            `json:"ok"`
	Errors     []string        `json:"errors"`
	Checkpoint *checkpointInfo `json:"checkpoint"`
	Verified   []string        `json:"verified_signatures"`
	Unverified []string        `json:"unverified_signatures"`
	Checked    map[string]int  `json:"checked"`
}

var (
	canonicalSize = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	lowerHex64    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

type checker struct {
	res *result
	// Every root claimed for a tree size, and who claimed it first.
	roots     map[int64]tlog.Hash
	rootClaim map[int64]string
}

func (c *checker) fail(format string, args ...interface{}) {
	c.res.Errors = append(c.res.Errors, fmt.Sprintf(format, args...))
}

func (c *checker) count(what string) { c.res.Checked[what]++ }

func parseHash(what, s string) (tlog.Hash, error) {
	var h tlog.Hash
	if !lowerHex64.MatchString(s) {
		return h, fmt.Errorf("%s %q is not 64 lowercase hex digits", what, s)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("%s: %v", what, err)
	}
	copy(h[:], b)
	return h, nil
}

func parseHashes(what string, list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for i, s := range list {
		h, err := parseHash(fmt.Sprintf("%s element %d", what, i), s)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// claimRoot records that `who` says the tree of `size` has root `root`.
func (c *checker) claimRoot(size int64, root tlog.Hash, who string) {
	if prev, ok := c.roots[size]; ok {
		if prev != root {
			c.fail("root mismatch at size %d: %s says %x, %s says %x",
				size, c.rootClaim[size], prev[:], who, root[:])
		}
		return
	}
	c.roots[size] = root
	c.rootClaim[size] = who
}

// openCheckpoint runs steps 1 and 2; it returns nil if the checkpoint is unusable.
func (c *checker) openCheckpoint(vkey, msg string) *checkpointInfo {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		c.fail("note.NewVerifier(%q): %v", vkey, err)
		return nil
	}
	n, err := note.Open([]byte(msg), note.VerifierList(verifier))
	if err != nil {
		c.fail("note.Open: %v", err)
		return nil
	}
	c.count("signatures")
	for _, s := range n.Sigs {
		c.res.Verified = append(c.res.Verified, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	for _, s := range n.UnverifiedSigs {
		c.res.Unverified = append(c.res.Unverified, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
	}
	if !strings.HasSuffix(n.Text, "\n") {
		c.fail("checkpoint body does not end in a newline")
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		c.fail("checkpoint body has %d lines, needs origin, size and root", len(lines))
		return nil
	}
	info := &checkpointInfo{Origin: lines[0], Extensions: lines[3:]}
	if info.Extensions == nil {
		info.Extensions = []string{}
	}
	ok := true
	if info.Origin != verifier.Name() {
		c.fail("checkpoint origin %q is not the key name %q", info.Origin, verifier.Name())
		ok = false
	}
	if !canonicalSize.MatchString(lines[1]) {
		c.fail("checkpoint size %q is not a canonical decimal number", lines[1])
		ok = false
	} else if size, err := strconv.ParseInt(lines[1], 10, 64); err != nil {
		c.fail("checkpoint size %q: %v", lines[1], err)
		ok = false
	} else {
		info.Size = size
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	switch {
	case err != nil:
		c.fail("checkpoint root %q is not base64: %v", lines[2], err)
		ok = false
	case len(root) != tlog.HashSize:
		c.fail("checkpoint root is %d bytes, not %d", len(root), tlog.HashSize)
		ok = false
	case base64.StdEncoding.EncodeToString(root) != lines[2]:
		c.fail("checkpoint root %q is not canonical base64", lines[2])
		ok = false
	default:
		info.Root = hex.EncodeToString(root)
	}
	for i, ext := range info.Extensions {
		if ext == "" {
			c.fail("checkpoint extension line %d is empty", i+1)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	var h tlog.Hash
	copy(h[:], root)
	c.claimRoot(info.Size, h, "the checkpoint")
	c.res.Checkpoint = info
	return info
}

func (c *checker) checkInclusion(i int, p inclusionProof) bool {
	who := fmt.Sprintf("inclusion[%d] (index %d, size %d)", i, p.Index, p.Size)
	leaf, err := parseHash("leaf_hash", p.LeafHash)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	root, err := parseHash("root", p.Root)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	proof, err := parseHashes("proof", p.Proof)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	c.count("inclusion")
	if err := tlog.CheckRecord(proof, p.Size, root, p.Index, leaf); err != nil {
		c.fail("%s: tlog.CheckRecord: %v", who, err)
		return false
	}
	c.claimRoot(p.Size, root, who)
	return true
}

func (c *checker) checkConsistency(i int, p consistencyProof) bool {
	who := fmt.Sprintf("consistency[%d] (%d -> %d)", i, p.OldSize, p.NewSize)
	oldRoot, err := parseHash("old_root", p.OldRoot)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	newRoot, err := parseHash("new_root", p.NewRoot)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	proof, err := parseHashes("proof", p.Proof)
	if err != nil {
		c.fail("%s: %v", who, err)
		return false
	}
	c.count("consistency")
	if err := tlog.CheckTree(proof, p.NewSize, newRoot, p.OldSize, oldRoot); err != nil {
		c.fail("%s: tlog.CheckTree: %v", who, err)
		return false
	}
	c.claimRoot(p.OldSize, oldRoot, who)
	c.claimRoot(p.NewSize, newRoot, who)
	return true
}

// memoryHashes is a tlog.HashReader over all stored hashes of a tree.
type memoryHashes []tlog.Hash

func (m memoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not available (have %d)", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

func hexList(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h[:])
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (c *checker) checkEntries(req *request) {
	if len(req.EntriesHex) == 0 {
		return
	}
	if req.EntriesStart < 0 {
		c.fail("entries_start %d is negative", req.EntriesStart)
		return
	}
	leafByIndex := map[int64]string{}
	for i, p := range req.Inclusion {
		if prev, ok := leafByIndex[p.Index]; ok && prev != p.LeafHash {
			c.fail("inclusion[%d]: leaf hash for index %d differs from another proof's", i, p.Index)
		}
		leafByIndex[p.Index] = p.LeafHash
	}
	var stored memoryHashes
	rebuild := req.EntriesStart == 0
	for i, s := range req.EntriesHex {
		index := req.EntriesStart + int64(i)
		raw, err := hex.DecodeString(s)
		if err != nil {
			c.fail("entries_hex[%d]: %v", i, err)
			return
		}
		c.count("entries")
		h := tlog.RecordHash(raw)
		if claimed, ok := leafByIndex[index]; ok {
			c.count("leaf_hashes")
			if claimed != hex.EncodeToString(h[:]) {
				c.fail("entry %d: tlog.RecordHash gives %x, the inclusion proof says %s", index, h[:], claimed)
			}
		}
		if rebuild {
			more, err := tlog.StoredHashesForRecordHash(index, h, stored)
			if err != nil {
				c.fail("tlog.StoredHashesForRecordHash(%d): %v", index, err)
				return
			}
			stored = append(stored, more...)
		}
	}
	if !rebuild {
		return
	}
	have := int64(len(req.EntriesHex))
	// Go's own tree hash for every size that anyone claimed a root for.
	sizes := make([]int64, 0, len(c.roots))
	for size := range c.roots {
		sizes = append(sizes, size)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	for _, size := range sizes {
		if size > have || size == 0 {
			continue
		}
		th, err := tlog.TreeHash(size, stored)
		if err != nil {
			c.fail("tlog.TreeHash(%d): %v", size, err)
			continue
		}
		c.count("tree_hashes")
		if want := c.roots[size]; th != want {
			c.fail("tlog.TreeHash(%d) over the entries is %x, %s says %x",
				size, th[:], c.rootClaim[size], want[:])
		}
	}
	// Go's own proofs must be ours, element for element.
	for i, p := range req.Inclusion {
		if p.Size > have || p.Index < 0 || p.Index >= p.Size {
			continue
		}
		proof, err := tlog.ProveRecord(p.Size, p.Index, stored)
		if err != nil {
			c.fail("inclusion[%d]: tlog.ProveRecord: %v", i, err)
			continue
		}
		c.count("go_proofs_compared")
		if !equalStrings(hexList(proof), p.Proof) {
			c.fail("inclusion[%d]: differs from tlog.ProveRecord(%d, %d) = %v",
				i, p.Size, p.Index, hexList(proof))
		}
	}
	for i, p := range req.Consistency {
		if p.NewSize > have || p.OldSize < 1 || p.OldSize > p.NewSize {
			continue
		}
		proof, err := tlog.ProveTree(p.NewSize, p.OldSize, stored)
		if err != nil {
			c.fail("consistency[%d]: tlog.ProveTree: %v", i, err)
			continue
		}
		c.count("go_proofs_compared")
		if !equalStrings(hexList(proof), p.Proof) {
			c.fail("consistency[%d]: differs from tlog.ProveTree(%d, %d) = %v",
				i, p.NewSize, p.OldSize, hexList(proof))
		}
	}
}

func run(req *request) *result {
	res := &result{
		Errors:     []string{},
		Verified:   []string{},
		Unverified: []string{},
		Checked:    map[string]int{},
	}
	c := &checker{res: res, roots: map[int64]tlog.Hash{}, rootClaim: map[int64]string{}}

	// Steps 1-2.
	cp := c.openCheckpoint(req.VKey, req.Checkpoint)

	// Step 3.
	incOK := make([]bool, len(req.Inclusion))
	for i, p := range req.Inclusion {
		incOK[i] = c.checkInclusion(i, p)
	}
	conOK := make([]bool, len(req.Consistency))
	for i, p := range req.Consistency {
		conOK[i] = c.checkConsistency(i, p)
	}

	// Step 4: root agreement is checked as roots are claimed; now anchoring.
	if cp != nil {
		anchored := map[int64]bool{cp.Size: true}
		for changed := true; changed; {
			changed = false
			for i, p := range req.Consistency {
				if conOK[i] && anchored[p.NewSize] && !anchored[p.OldSize] {
					anchored[p.OldSize] = true
					changed = true
				}
			}
		}
		for i, p := range req.Inclusion {
			if incOK[i] && !anchored[p.Size] {
				c.fail("inclusion[%d]: tree size %d is not linked to the checkpoint (size %d) "+
					"by consistency proofs", i, p.Size, cp.Size)
			}
		}
		for i, p := range req.Consistency {
			if conOK[i] && !anchored[p.NewSize] {
				c.fail("consistency[%d]: new size %d is not linked to the checkpoint (size %d)",
					i, p.NewSize, cp.Size)
			}
		}
	}

	// Step 5.
	c.checkEntries(req)

	res.OK = len(res.Errors) == 0
	return res
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kclcheck: reading stdin: %v\n", err)
		os.Exit(2)
	}
	var req request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		out, _ := json.Marshal(map[string]interface{}{
			"ok": false, "errors": []string{"unusable request: " + err.Error()},
		})
		fmt.Println(string(out))
		os.Exit(2)
	}
	res := run(&req)
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		fmt.Fprintf(os.Stderr, "kclcheck: %v\n", err)
		os.Exit(2)
	}
	fmt.Println(string(out))
	if !res.OK {
		os.Exit(1)
	}
}
