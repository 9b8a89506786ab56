package main

// Export bundles, layout v1 (docs/format.md §15): members, lines, proofs,
// completeness (port of ledger/bundle.py; the wire format between Python
// processes is not needed here: goroutines share PreparedEntry values).

import (
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

const (
	VKEY       = "log.vkey"
	CHECKPOINT = "checkpoint"
	ENTRIES    = "entries.jsonl"
	PROOFS     = "proofs.jsonl"
)

// MEMBERS is every member of a v1 bundle, in the order an exporter writes them.
var MEMBERS = []string{VKEY, CHECKPOINT, ENTRIES, PROOFS}

// REQUIRED members of every bundle.
var REQUIRED = []string{VKEY, CHECKPOINT, ENTRIES}

const (
	MAX_VKEY_BYTES       = 4096
	MAX_CHECKPOINT_BYTES = MAX_NOTE_BYTES
	// Largest line of entries.jsonl (an entry) or proofs.jsonl (a proof) a verifier accepts.
	MAX_ENTRY_LINE = 1 << 20
	MAX_PROOF_LINE = 1 << 16
)

// tlCodeBundle is BundleError's code: the bundle cannot be read as a bundle at all (exit 2).
const tlCodeBundle = "input.bundle"

func bundleError(format string, args ...any) *LedgerError {
	return Errf(tlCodeBundle, format, args...)
}

var proofFields = []string{"index", "leaf_hash", "proof", "root", "size"} // sorted

// memberProblem says why name is not a plain top-level member name ("" if it is one).
func memberProblem(name string) string {
	if name == "" {
		return "empty member name"
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 {
			return "member name " + pyStr(name) + " contains control characters"
		}
	}
	second := rune(-1)
	if _, size := utf8.DecodeRuneInString(name); size < len(name) {
		second, _ = utf8.DecodeRuneInString(name[size:])
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, "\\") || second == ':' {
		return "absolute member path " + pyStr(name)
	}
	parts := strings.Split(strings.ReplaceAll(name, "\\", "/"), "/")
	for _, part := range parts {
		if part == ".." {
			return "member path " + pyStr(name) + " leaves the bundle (..)"
		}
	}
	if strings.Contains(name, "\\") || len(parts) > 1 {
		return "member " + pyStr(name) + " is not at the top level of the bundle"
	}
	return ""
}

// Layout is what checkMembers found: a partial bundle has proofs.jsonl.
type Layout struct {
	Partial bool
}

// checkMembers: exactly the v1 members, each once, with plain names.
func checkMembers(names []string) (Layout, error) {
	seen := map[string]bool{}
	for _, name := range names {
		if problem := memberProblem(name); problem != "" {
			return Layout{}, bundleError("hostile bundle: %s", problem)
		}
		if seen[name] {
			return Layout{}, bundleError("bundle member %s appears twice", pyStr(name))
		}
		seen[name] = true
		known := false
		for _, m := range MEMBERS {
			known = known || m == name
		}
		if !known {
			return Layout{}, bundleError("unexpected bundle member %s (a v1 bundle holds only %s)",
				pyStr(name), strings.Join(MEMBERS, ", "))
		}
	}
	var missing []string
	for _, m := range REQUIRED {
		if !seen[m] {
			missing = append(missing, m)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return Layout{}, bundleError("bundle lacks %s", strings.Join(missing, ", "))
	}
	return Layout{Partial: seen[PROOFS]}, nil
}

// readVkey is the text of a log.vkey member: one line ending in LF.
func readVkey(data []byte) (string, error) {
	if !utf8.Valid(data) {
		return "", bundleError("log.vkey is not UTF-8")
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") || strings.Contains(text[:len(text)-1], "\n") ||
		strings.Contains(text, "\r") || len(text) == 1 {
		return "", bundleError("log.vkey must be one line ending in LF")
	}
	return text[:len(text)-1], nil
}

// Line is one line of a JSON-lines member: its bytes without LF, or what is wrong with it.
type Line struct {
	Number  int64
	Data    []byte
	Problem string // "" when none
}

// lineSplitter is bundle.split_lines as a pull iterator over blocks of any
// size. Problems are reported on the line, never returned as errors: an
// empty line, a line longer than maxLine (its bytes are dropped), a last
// line without its LF (kept). Errors are the block source's (a corrupt member).
// Line data may alias a block: blocks must not be reused by the source.
type lineSplitter struct {
	next        func() ([]byte, error) // nil block and nil error at the end
	maxLine     int
	number      int64
	block       []byte
	start       int
	pending     [][]byte
	pendingSize int
	overlong    bool
	done        bool
}

func newLineSplitter(blocks func() ([]byte, error), maxLine int) *lineSplitter {
	return &lineSplitter{next: blocks, maxLine: maxLine}
}

func (s *lineSplitter) longer() Line {
	return Line{Number: s.number, Problem: "line " + strconv.FormatInt(s.number, 10) + " is longer than " + strconv.Itoa(s.maxLine) + " bytes"}
}

// Next returns the next line; ok is false at the end.
func (s *lineSplitter) Next() (line Line, ok bool, err error) {
	for !s.done {
		if s.block == nil {
			block, err := s.next()
			if err != nil {
				return Line{}, false, err
			}
			if block == nil {
				s.done = true
				break
			}
			s.block, s.start = block, 0
		}
		cut := -1
		if s.start < len(s.block) {
			if i := indexByte(s.block[s.start:], '\n'); i >= 0 {
				cut = s.start + i
			}
		}
		if cut < 0 {
			rest := s.block[s.start:]
			if len(rest) > 0 && !s.overlong {
				if s.pendingSize+len(rest) > s.maxLine {
					s.overlong, s.pending, s.pendingSize = true, nil, 0
				} else {
					s.pending = append(s.pending, rest)
					s.pendingSize += len(rest)
				}
			}
			s.block = nil
			continue
		}
		s.number++
		if s.overlong {
			line = s.longer()
		} else {
			piece := s.block[s.start:cut]
			data := piece
			if len(s.pending) > 0 {
				data = make([]byte, 0, s.pendingSize+len(piece))
				for _, p := range s.pending {
					data = append(data, p...)
				}
				data = append(data, piece...)
			}
			switch {
			case len(data) > s.maxLine:
				line = s.longer()
			case len(data) == 0:
				line = Line{Number: s.number, Problem: "line " + strconv.FormatInt(s.number, 10) + " is empty"}
			default:
				line = Line{Number: s.number, Data: data}
			}
		}
		s.pending, s.pendingSize, s.overlong = nil, 0, false
		s.start = cut + 1
		return line, true, nil
	}
	if len(s.pending) > 0 || s.overlong {
		s.number++
		if s.overlong {
			line = s.longer()
		} else {
			var data []byte
			for _, p := range s.pending {
				data = append(data, p...)
			}
			line = Line{Number: s.number, Data: data, Problem: "line " + strconv.FormatInt(s.number, 10) + " does not end in LF (truncated?)"}
		}
		s.pending, s.pendingSize, s.overlong = nil, 0, false
		return line, true, nil
	}
	return Line{}, false, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// ProofLine is a parsed line of proofs.jsonl.
type ProofLine struct {
	Index    int64
	Size     int64
	LeafHash []byte
	Root     []byte
	Path     [][]byte
}

func proofHex(value any, what string) ([]byte, error) {
	text, ok := value.(string)
	if !ok {
		return nil, Errf(tlCodeInvalidInput, "%s: not lowercase hex", what)
	}
	return HexDecode(text, what, HASH_SIZE)
}

// parseProofLine reads a line of proofs.jsonl: the inclusion-proof JSON of §9.3, strictly.
func parseProofLine(line []byte) (*ProofLine, error) {
	value, err := LoadsStrict(line)
	if err != nil {
		return nil, err
	}
	obj, isObj := value.(map[string]any)
	same := isObj && len(obj) == len(proofFields)
	for _, f := range proofFields {
		if same {
			_, same = obj[f]
		}
	}
	if !same {
		return nil, bundleError("an inclusion proof has exactly the fields %s", strings.Join(proofFields, ", "))
	}
	var numbers [2]int64
	for i, name := range []string{"index", "size"} {
		n, ok := obj[name].(int64)
		if !ok || n < 0 {
			return nil, bundleError("inclusion proof %s must be a non-negative integer", name)
		}
		numbers[i] = n
	}
	path, ok := obj["proof"].([]any)
	if !ok || len(path) > 64 {
		return nil, bundleError("inclusion proof path must be a list of at most 64 hashes")
	}
	leaf, err := proofHex(obj["leaf_hash"], "leaf_hash")
	if err != nil {
		return nil, err
	}
	root, err := proofHex(obj["root"], "root")
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(path))
	for i, p := range path {
		if hashes[i], err = proofHex(p, "proof"); err != nil {
			return nil, err
		}
	}
	return &ProofLine{Index: numbers[0], Size: numbers[1], LeafHash: leaf, Root: root, Path: hashes}, nil
}

func strp(s string) *string { return &s }

func int64p(n int64) *int64 { return &n }

func errMessage(err error) string {
	if le, ok := err.(*LedgerError); ok {
		return le.Msg
	}
	return err.Error()
}

// checkProof checks an entry's inclusion proof; it returns the index the
// proof names (nil if unreadable) and the findings. index is the index the
// entry claims (nil if it is unreadable), leaf the leaf hash of its bytes.
func checkProof(line []byte, index *int64, leaf []byte, anchor *Checkpoint) (*int64, []Finding) {
	if line == nil {
		return nil, []Finding{{Index: index, Code: "proof.missing", Message: "no inclusion proof for this entry in proofs.jsonl"}}
	}
	proof, err := parseProofLine(line)
	if err != nil {
		return nil, []Finding{{Index: index, Code: "proof.malformed", Message: "the inclusion proof is unreadable",
			Expected: strp("§9.3 JSON"), Found: strp(errMessage(err))}}
	}
	at := proof.Index
	if index != nil {
		at = *index
	}
	var findings []Finding
	if index != nil && proof.Index != *index {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.index", Message: "the proof is for another index",
			Expected: strp(strconv.FormatInt(*index, 10)), Found: strp(strconv.FormatInt(proof.Index, 10))})
	}
	if string(proof.LeafHash) != string(leaf) {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.leaf_hash", Message: "the entry bytes do not hash to the proof's leaf",
			Expected: strp(hex.EncodeToString(leaf)), Found: strp(hex.EncodeToString(proof.LeafHash))})
	}
	size, root := proof.Size, proof.Root
	if anchor != nil {
		size, root = anchor.Size, anchor.Root
	}
	if proof.Size != size {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.size", Message: "the proof is not for the checkpoint's size",
			Expected: strp(strconv.FormatInt(size, 10)), Found: strp(strconv.FormatInt(proof.Size, 10))})
	}
	if string(proof.Root) != string(root) {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.root", Message: "the proof is not for the checkpoint's root",
			Expected: strp(hex.EncodeToString(root)), Found: strp(hex.EncodeToString(proof.Root))})
	}
	computed, err := RootFromInclusionProof(leaf, at, size, proof.Path)
	if err != nil {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.inclusion", Message: "the entry is not included in the checkpoint",
			Expected: strp(hex.EncodeToString(root)), Found: strp(errMessage(err))})
	} else if string(computed) != string(root) {
		findings = append(findings, Finding{Index: int64p(at), Code: "proof.inclusion", Message: "the entry is not included in the checkpoint",
			Expected: strp(hex.EncodeToString(root)), Found: strp(hex.EncodeToString(computed))})
	}
	return int64p(proof.Index), findings
}

// prepareBundleEntry reads one line of entries.jsonl (and of proofs.jsonl)
// as far as no state is needed: strict parsing, the kind's schema, the
// signatures by keys in the cache and, for a partial bundle, the inclusion proof.
func prepareBundleEntry(raw []byte, proofLine []byte, anchor *Checkpoint, partial bool, keys *KeyCache) *PreparedEntry {
	prepared := PrepareEntry(raw, true, keys)
	if partial {
		var claimed *int64
		if prepared.Statement != nil {
			claimed = int64p(prepared.Index)
		}
		position, findings := checkProof(proofLine, claimed, prepared.Leaf, anchor)
		prepared.Position = position
		prepared.ProofChecked = true
		prepared.ProofFindings = findings
	}
	return prepared
}

// --------------------------------------------------------------------------
// What a partial export must contain (docs/format.md §15.4): exporter-side
// helpers, ported for completeness.

func partyStrings(value any, out map[string]bool) {
	switch v := value.(type) {
	case string:
		if strings.HasPrefix(v, "party:") {
			if CheckSubject(v, "party", "party") != nil {
				return
			}
			out[v] = true
		}
	case map[string]any:
		for _, item := range v {
			partyStrings(item, out)
		}
	case []any:
		for _, item := range v {
			partyStrings(item, out)
		}
	}
}

// neededParties: the parties a statement names: its author and every party: value in its data.
func neededParties(st *Statement) map[string]bool {
	found := map[string]bool{st.By: true}
	partyStrings(st.Data, found)
	return found
}

// carriedSeals: seal ids a connector entry puts on or takes off its housing.
func carriedSeals(st *Statement) map[string]bool {
	out := map[string]bool{}
	if st.SubjectType() != "connector" || (st.Kind != "seal.applied" && st.Kind != "seal.removed") {
		return out
	}
	if seals, ok := st.Data["seals"].([]any); ok {
		for _, s := range seals {
			if text, ok := s.(string); ok {
				out[text] = true
			}
		}
	}
	return out
}
