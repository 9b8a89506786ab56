package main

// Verifying a log from its bytes alone (port of ledger/verify.py: prepare_entry
// and LogVerifier.feed_prepared / finish; earlier checkpoints are not ported,
// a bundle has exactly one checkpoint).
//
// Per entry, in order:
//
//  1. the bytes parse as a canonical kcl/entry/v1 with a valid envelope and statement;
//  2. the entry's index is the next one (gaps, duplicates and swaps show here);
//  3. prev is the leaf hash of the previous entry about the same subject;
//  4. the statement's nonce has not been used before (replay);
//  5. the statement is admitted by Admit — keys valid at this index, roles,
//     guard rules — exactly as at append time;
//  6. every signature verifies;
//  7. the leaf joins the Merkle tree.
//
// At the end: the log is not empty (fail closed), and its root at the
// checkpoint's size equals the checkpoint's root.
//
// PrepareEntry (step 1 and the state-free parts of steps 5 and 6) runs in
// many goroutines at once; FeedPrepared only replays, in log order.

import (
	"encoding/hex"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Rejection is why admission refused an entry: the code (or rule id), the
// message, and whether it is a guard rule (verify.Rejection).
type Rejection struct {
	Code, Message string
	IsRule        bool
}

// rejectionOf sorts an admission error the way feed_prepared's except
// clauses do: a RuleViolation (a rule.* code) gives (rule, reason, true),
// any other LedgerError (code, message, false). ok is false for an error
// that is not a LedgerError (Python's "except Exception").
func rejectionOf(err error) (r Rejection, ok bool) {
	le, isLedger := err.(*LedgerError)
	if !isLedger {
		return Rejection{}, false
	}
	return Rejection{Code: le.Code, Message: le.Msg, IsRule: strings.HasPrefix(le.Code, "rule.")}, true
}

// ---------------------------------------------------------------------------
// The key cache

// KeyCache holds public keys by key id, wherever they were seen (a key id
// commits to its key, so a cached key may check any signature claiming that
// id; whether the key may sign at that index is the replay's decision).
// It is safe for concurrent use and cheap to read: Get is an atomic load and
// a map lookup, without locks, once a key has been published to readers.
type KeyCache struct {
	read   atomic.Value // map[string]PublicKey, never modified once stored
	mu     sync.Mutex
	all    map[string]PublicKey // every key (guarded by mu)
	misses int                  // lookups that found a key only in all
}

// NewKeyCache returns an empty cache.
func NewKeyCache() *KeyCache {
	c := &KeyCache{all: map[string]PublicKey{}}
	c.read.Store(map[string]PublicKey{})
	return c
}

// Get returns the key with this id, or nil.
func (c *KeyCache) Get(keyid string) PublicKey {
	if k, ok := c.read.Load().(map[string]PublicKey)[keyid]; ok {
		return k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.all[keyid]
	if !ok {
		return nil
	}
	// The readers' map is stale: publish a copy once enough lookups missed
	// it (amortised O(1) per lookup).
	c.misses++
	if c.misses*4 >= len(c.all) {
		fresh := make(map[string]PublicKey, len(c.all))
		for id, key := range c.all {
			fresh[id] = key
		}
		c.read.Store(fresh)
		c.misses = 0
	}
	return k
}

// Learn remembers a key (dict.setdefault: a known id keeps its key).
func (c *KeyCache) Learn(k PublicKey) {
	if k == nil {
		return
	}
	id := k.KeyID()
	c.mu.Lock()
	if _, ok := c.all[id]; !ok {
		c.all[id] = k
	}
	c.mu.Unlock()
}

// ---------------------------------------------------------------------------
// Preparing entries

// PreparedEntry is an entry read and checked as far as possible without the
// log's state (verify.PreparedEntry).
//
// Statement is nil when the bytes are unreadable (ErrCode, ErrMessage say
// why). Rejected is a failure of the state-free part of admission (kind,
// subject type, data schema), Validated says that part ran. Signatures maps
// key ids to whether that signature verified, for the keys known where the
// entry was read; signatures not in it are checked after replay resolves
// their keys. Position, ProofChecked and ProofFindings come from a partial
// bundle's inclusion proof.
type PreparedEntry struct {
	Leaf          []byte
	Index         int64
	Prev          *string
	RecordedAt    string
	Envelope      *Envelope
	Statement     *Statement
	ErrCode       string
	ErrMessage    string
	Rejected      *Rejection
	Validated     bool
	Signatures    map[string]bool
	Position      *int64
	ProofChecked  bool
	ProofFindings []Finding
}

// KEY_KINDS are the kinds that describe a key (verify._KEY_KINDS).
var KEY_KINDS = map[string]bool{GENESIS_KIND: true, "key.added": true}

// PARTIAL_HINT is added to admission findings of a partial log, where replay
// sees only the exported entries.
const PARTIAL_HINT = " (in a partial bundle this also shows when an entry it depends on is missing, format §15)"

// learnKey remembers the key a genesis or key.added statement describes
// (verify._learn_key). The cache is keyed by the id computed from the key
// itself, so a lying keyid field is harmless.
func learnKey(st *Statement, keys *KeyCache) {
	var described Object
	if st.Kind == GENESIS_KIND {
		m, ok := st.Data["key"].(map[string]any)
		if !ok {
			return
		}
		described = m
	} else {
		described = st.Data
	}
	spki, ok := described["spki"].(string)
	if !ok {
		return
	}
	der, err := B64Decode(spki, "spki")
	if err != nil {
		return
	}
	key, err := PublicKeyFromSPKI(der)
	if err != nil {
		return
	}
	keys.Learn(key)
}

// PrepareEntry is step 1 of the verifier, plus the state-free checks of
// steps 5 (with validate: kind and data schema) and 6 (with keys: every
// signature by a key in the cache, to which genesis and key.added
// statements add theirs). Pure function of the bytes (and the cache): safe
// to run in many goroutines at once (verify.prepare_entry).
func PrepareEntry(raw []byte, validate bool, keys *KeyCache) *PreparedEntry {
	leaf := HashLeaf(raw)
	entry, err := ParseEntry(raw)
	if err != nil {
		p := &PreparedEntry{Leaf: leaf, Index: -1}
		if le, ok := err.(*LedgerError); ok {
			p.ErrCode, p.ErrMessage = le.Code, le.Msg
		} else {
			p.ErrCode, p.ErrMessage = "input.entry", err.Error()
		}
		return p
	}
	st := &entry.Statement
	p := &PreparedEntry{
		Leaf:       leaf,
		Index:      entry.Index,
		Prev:       entry.Prev,
		RecordedAt: entry.RecordedAt,
		Envelope:   &entry.Envelope,
		Statement:  st,
	}
	if validate {
		if _, err := ValidateStatement(st); err != nil {
			r, ok := rejectionOf(err)
			if !ok {
				panic(err) // Python lets a non-LedgerError through
			}
			p.Rejected = &r
		} else {
			p.Validated = true
		}
	}
	if keys != nil {
		if p.Validated && KEY_KINDS[st.Kind] {
			learnKey(st, keys)
		}
		var message []byte
		for _, sig := range entry.Envelope.Signatures {
			key := keys.Get(sig.KeyID)
			if key == nil {
				continue
			}
			if message == nil {
				message = entry.Envelope.SignedBytes()
			}
			if p.Signatures == nil {
				p.Signatures = make(map[string]bool, len(entry.Envelope.Signatures))
			}
			p.Signatures[sig.KeyID] = key.Verify(sig.Sig, message) == nil
		}
	}
	return p
}

// ---------------------------------------------------------------------------
// The log verifier

// sigTask is a signature whose key was not in the cache where the entry was
// read: checked by the verifier once replay has resolved the key.
type sigTask struct {
	index   int64
	keyid   string
	key     PublicKey
	message []byte
	sig     []byte
}

// sigChunkSize is LogVerifier's chunk_size: deferred signatures are checked
// in batches of this many, as Python's InlineSignatureChecker does.
const sigChunkSize = 1024

// LogVerifier is the streaming verifier (verify.LogVerifier); see the file
// comment for the steps.
type LogVerifier struct {
	state            *LedgerState
	checkpoint       *Checkpoint
	partial          bool
	logVkey          *string
	tasks            []sigTask
	rng              CompactRange
	rootAtCheckpoint []byte
	nextIndex        int64
	count            int64
	lastIndex        int64
	// heads: subject → position in headLeaves of the leaf hash of the last
	// entry about it (a slice of arrays keeps the map free of pointers into
	// entry buffers).
	heads      map[string]int
	headLeaves [][32]byte
	// nonces: the 16 decoded nonce bytes (base64url is canonical, so equal
	// bytes mean equal text); nonceText for a nonce that does not decode.
	nonces    map[[16]byte]struct{}
	nonceText map[string]struct{}
	findings  []Finding
	warnings  []Finding
}

// NewLogVerifier starts a verifier; checkpoint and logVkey may be nil.
// partial: a partial log (format §15), whose entries carry inclusion proofs.
func NewLogVerifier(checkpoint *Checkpoint, logVkey *string, partial bool) *LogVerifier {
	return &LogVerifier{
		state:      NewLedgerState(),
		checkpoint: checkpoint,
		partial:    partial,
		logVkey:    logVkey,
		lastIndex:  -1,
		heads:      map[string]int{},
		nonces:     map[[16]byte]struct{}{},
		nonceText:  map[string]struct{}{},
	}
}

// Size is the number of entries read so far.
func (v *LogVerifier) Size() int64 { return v.count }

// State is the replay state (the trust state and the custody state).
func (v *LogVerifier) State() *LedgerState { return v.state }

func (v *LogVerifier) find(index *int64, code, message string, expected, found *string) {
	v.findings = append(v.findings, Finding{Index: index, Code: code, Message: message, Expected: expected, Found: found})
}

func stPtrInt(i int64) *int64 { return &i }

func stPtrStr(s string) *string { return &s }

func stItoa(i int64) *string { s := strconv.FormatInt(i, 10); return &s }

// FeedPrepared replays one entry read by PrepareEntry (or the bundle code).
func (v *LogVerifier) FeedPrepared(item *PreparedEntry) {
	position := v.count
	v.count++
	leaf := item.Leaf
	if v.partial {
		// Inclusion in the checkpoint's tree replaces recomputing the tree.
		if !item.ProofChecked {
			var where *int64
			if item.Statement != nil {
				where = stPtrInt(item.Index)
			} else if item.Position != nil {
				where = stPtrInt(*item.Position)
			}
			v.find(where, "proof.missing", "a partial log needs an inclusion proof for every entry", nil, nil)
		}
		v.findings = append(v.findings, item.ProofFindings...)
	} else {
		// Step 7 first: the tree is over the bytes as they are, valid or not.
		v.rng.Append(leaf)
		if v.checkpoint != nil && v.rng.Size() == v.checkpoint.Size {
			v.rootAtCheckpoint = v.rng.Root()
		}
	}
	// Step 1.
	st, env := item.Statement, item.Envelope
	if st == nil || env == nil {
		code, message := item.ErrCode, item.ErrMessage
		if code == "" {
			code, message = "input.entry", "unreadable"
		}
		var where *int64
		if v.partial {
			if item.Position != nil {
				where = stPtrInt(*item.Position)
			}
		} else {
			where = stPtrInt(v.nextIndex)
		}
		v.find(where, code, fmt.Sprintf("entry at position %d is unreadable", position),
			stPtrStr("canonical kcl/entry/v1 bytes with a valid envelope and statement"), stPtrStr(message))
		v.nextIndex++
		return
	}
	index := item.Index
	// Step 2.
	if v.partial {
		if index <= v.lastIndex {
			v.find(stPtrInt(index), "entry.index", "entry index breaks the ascending order (duplicate or out of order)",
				stPtrStr(fmt.Sprintf("an index above %d", v.lastIndex)), stItoa(index))
		} else if position == 0 && index != 0 {
			v.find(stPtrInt(index), "bundle.incomplete", "a partial log must begin with the genesis entry",
				stPtrStr("index 0 first"), stItoa(index))
		}
		if index > v.lastIndex {
			v.lastIndex = index
		}
	} else if index != v.nextIndex {
		what := "gap before it"
		if index < v.nextIndex {
			what = "duplicate or out of order"
		}
		v.find(stPtrInt(index), "entry.index", "entry index breaks the sequence ("+what+")",
			stItoa(v.nextIndex), stItoa(index))
	}
	v.nextIndex = index + 1
	// Step 3.
	slot, known := v.heads[st.Subject]
	var foundPrev string
	hasPrev := item.Prev != nil && *item.Prev != ""
	if item.Prev != nil {
		foundPrev = *item.Prev
	}
	var linked bool
	if known {
		linked = item.Prev != nil && stHexEquals(v.headLeaves[slot][:], foundPrev)
	} else {
		linked = item.Prev == nil
	}
	if !linked {
		expected := "null"
		if known {
			expected = hex.EncodeToString(v.headLeaves[slot][:])
		}
		found := "null"
		if hasPrev {
			found = foundPrev
		}
		v.find(stPtrInt(index), "chain.prev", "prev does not link to the previous entry about "+st.Subject,
			stPtrStr(expected), stPtrStr(found))
	}
	if known {
		copy(v.headLeaves[slot][:], leaf)
	} else {
		var h [32]byte
		copy(h[:], leaf)
		v.heads[strings.Clone(st.Subject)] = len(v.headLeaves)
		v.headLeaves = append(v.headLeaves, h)
	}
	// Step 4.
	if nonce, ok := stNonceBytes(st.Nonce); ok {
		if _, seen := v.nonces[nonce]; seen {
			v.find(stPtrInt(index), "statement.replayed", "statement nonce was used before (replay)", nil, stPtrStr(st.Nonce))
		} else {
			v.nonces[nonce] = struct{}{}
		}
	} else {
		if _, seen := v.nonceText[st.Nonce]; seen {
			v.find(stPtrInt(index), "statement.replayed", "statement nonce was used before (replay)", nil, stPtrStr(st.Nonce))
		} else {
			v.nonceText[strings.Clone(st.Nonce)] = struct{}{}
		}
	}
	// Step 5.
	rejected := item.Rejected
	var ctx *Context
	if rejected == nil {
		var err error
		ctx, err = v.admit(index, env, st, item)
		if err != nil {
			if r, ok := rejectionOf(err); ok {
				rejected = &r
			} else if !v.partial {
				panic(err) // Python re-raises outside a partial replay
			} else {
				rejected = &Rejection{Code: "replay.state_unknown", Message: stExceptionText(err)}
			}
		}
	}
	if rejected != nil || ctx == nil {
		r := Rejection{Code: "replay.state_unknown", Message: "not admitted"}
		if rejected != nil {
			r = *rejected
		}
		hint := ""
		if v.partial {
			hint = PARTIAL_HINT
		}
		var what, expected string
		if r.IsRule {
			what, expected = st.Kind+" is not allowed here"+hint, r.Code+" holds"
		} else {
			what, expected = st.Kind+" is not admissible"+hint, "an admissible statement"
		}
		v.find(stPtrInt(index), r.Code, what, stPtrStr(expected), stPtrStr(r.Message))
		return
	}
	for _, w := range ctx.Warnings {
		v.warnings = append(v.warnings, Finding{Index: stPtrInt(index), Code: "warning", Message: w})
	}
	// Step 6: signatures checked where the entry was read count now; the
	// rest is deferred and checked in batches.
	checked := item.Signatures
	var message []byte
	for _, rk := range ctx.Keys {
		verified, ok := checked[rk.Signature.KeyID]
		if !ok {
			if message == nil {
				message = env.SignedBytes()
			}
			v.tasks = append(v.tasks, sigTask{index: index, keyid: rk.Key.KeyID, key: rk.Key.PublicKey,
				message: message, sig: rk.Signature.Sig})
		} else if !verified {
			v.signatureFailed(index, rk.Key.KeyID)
		}
	}
	if len(v.tasks) >= sigChunkSize {
		v.flush()
	}
	if !v.partial {
		if err := ApplyEntry(v.state, ctx, leaf); err != nil {
			panic(err) // Python raises: a full replay never fails to apply an admitted entry
		}
		return
	}
	if text, failed := v.applyPartial(ctx, leaf); failed {
		v.find(stPtrInt(index), "replay.state_unknown", st.Kind+" cannot be replayed"+PARTIAL_HINT,
			stPtrStr("state the replay knows"), stPtrStr(text))
	}
}

// admit runs Admit. A panic carrying a LedgerError is that error (Python
// raises where Go code may panic, e.g. deep in a custody rule); any other
// panic becomes an error in a partial replay (Python's "except Exception"
// there) and propagates in a full one.
func (v *LogVerifier) admit(index int64, env *Envelope, st *Statement, item *PreparedEntry) (ctx *Context, err error) {
	defer func() {
		if p := recover(); p != nil {
			if le, ok := p.(*LedgerError); ok {
				ctx, err = nil, le
				return
			}
			if !v.partial {
				panic(p)
			}
			ctx, err = nil, stPanicError{p}
		}
	}()
	return Admit(v.state, index, env, st, item.RecordedAt, false, item.Validated)
}

// applyPartial applies an admitted entry of a partial replay; any error or
// panic is reported, never raised.
func (v *LogVerifier) applyPartial(ctx *Context, leaf []byte) (text string, failed bool) {
	defer func() {
		if p := recover(); p != nil {
			text, failed = stExceptionText(stPanicError{p}), true
		}
	}()
	if err := ApplyEntry(v.state, ctx, leaf); err != nil {
		return stExceptionText(err), true
	}
	return "", false
}

// stPanicError carries a recovered panic as an error.
type stPanicError struct{ value any }

func (e stPanicError) Error() string { return fmt.Sprint(e.value) }

// stExceptionText is Python's f"{type(exc).__name__}: {exc}". A LedgerError
// gets the Python class name of its code; a Go panic or other error cannot
// match Python's (KeyError, TypeError, …) and is named by its Go kind.
func stExceptionText(err error) string {
	switch e := err.(type) {
	case *LedgerError:
		if strings.HasPrefix(e.Code, "rule.") {
			// str(RuleViolation) is "rule: reason".
			return "RuleViolation: " + e.Code + ": " + e.Msg
		}
		name, ok := stErrorClasses[e.Code]
		if !ok {
			name = "LedgerError"
		}
		return name + ": " + e.Msg
	case stPanicError:
		if re, ok := e.value.(runtime.Error); ok {
			return "RuntimeError: " + re.Error()
		}
		if inner, ok := e.value.(error); ok {
			return stExceptionText(inner)
		}
		return "Exception: " + e.Error()
	default:
		return "Exception: " + err.Error()
	}
}

// stErrorClasses: ledger/errors.py class names by code.
var stErrorClasses = map[string]string{
	"ledger.error":                 "LedgerError",
	"input.invalid":                "InvalidInput",
	"input.json":                   "CanonicalJSONError",
	"input.json.malformed":         "MalformedJSON",
	"input.json.trailing_data":     "TrailingData",
	"input.json.duplicate_key":     "DuplicateKey",
	"input.json.float":             "FloatNotAllowed",
	"input.json.integer_range":     "IntegerOutOfRange",
	"input.json.not_nfc":           "NotNFC",
	"input.json.unsupported_value": "UnsupportedValue",
	"input.json.not_canonical":     "NotCanonical",
	"input.timestamp":              "InvalidTimestamp",
	"input.base64":                 "InvalidBase64",
	"input.identifier":             "InvalidIdentifier",
	"input.envelope":               "MalformedEnvelope",
	"input.envelope.payload_type":  "WrongPayloadType",
	"input.statement":              "MalformedStatement",
	"input.unknown_version":        "UnknownVersion",
	"input.statement.unknown_kind": "UnknownKind",
	"input.statement.data":         "InvalidData",
	"input.entry":                  "MalformedEntry",
	"input.key":                    "MalformedKey",
	"input.key.algorithm":          "UnsupportedAlgorithm",
	"input.key.passphrase":         "WrongPassphrase",
	"input.note":                   "MalformedNote",
	"input.vkey":                   "MalformedVerifierKey",
	"input.checkpoint":             "MalformedCheckpoint",
	"input.proof":                  "MalformedProof",
	"input.not_found":              "NotFound",
	"auth.denied":                  "AuthorizationError",
	"auth.signature_invalid":       "InvalidSignature",
	"auth.key_unknown":             "UnknownKey",
	"auth.key_revoked":             "KeyRevoked",
	"auth.signer_mismatch":         "SignerMismatch",
	"auth.signature_missing":       "MissingSignature",
	"auth.role_missing":            "MissingRole",
	"rule.violation":               "RuleViolation",
	"conflict":                     "Conflict",
	"conflict.replayed_statement":  "ReplayedStatement",
	"conflict.ledger_exists":       "LedgerExists",
	"conflict.log_busy":            "LogBusy",
	"verify.failed":                "VerificationFailed",
	"verify.inclusion_proof":       "InclusionProofError",
	"verify.consistency_proof":     "ConsistencyProofError",
	"verify.note":                  "NoteVerificationError",
	"verify.checkpoint":            "CheckpointMismatch",
}

func (v *LogVerifier) signatureFailed(index int64, keyid string) {
	v.find(stPtrInt(index), "auth.signature_invalid", "a signature does not verify",
		stPtrStr("a valid signature by key "+keyid), stPtrStr("an invalid signature"))
}

// flush checks the deferred signatures (on every core) and reports the
// failures in task order, as Python's inline checker does.
func (v *LogVerifier) flush() {
	tasks := v.tasks
	if len(tasks) == 0 {
		return
	}
	v.tasks = nil
	ok := make([]bool, len(tasks))
	workers := runtime.GOMAXPROCS(0)
	if workers > len(tasks)/16 {
		workers = len(tasks)/16 + 1
	}
	if workers <= 1 {
		for i := range tasks {
			ok[i] = tasks[i].key.Verify(tasks[i].sig, tasks[i].message) == nil
		}
	} else {
		var next int64 = -1
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(atomic.AddInt64(&next, 1))
					if i >= len(tasks) {
						return
					}
					ok[i] = tasks[i].key.Verify(tasks[i].sig, tasks[i].message) == nil
				}
			}()
		}
		wg.Wait()
	}
	for i := range tasks {
		if !ok[i] {
			v.signatureFailed(tasks[i].index, tasks[i].keyid)
		}
	}
}

// Finish completes the checks and returns every finding (sorted stably by
// index, log-wide ones first), the warnings, and the root: of the whole log,
// or for a partial log the checkpoint's root (nil without a checkpoint).
func (v *LogVerifier) Finish() (findings []Finding, warnings []Finding, root []byte) {
	v.flush()
	if v.count == 0 {
		v.find(nil, "log.empty", "no entries: an empty or missing log verifies nothing", nil, nil)
	}
	cp := v.checkpoint
	if v.partial {
		if cp != nil {
			root = cp.Root
		}
	} else {
		root = v.rng.Root()
	}
	if cp != nil && v.count > 0 && !v.partial {
		size := v.rng.Size()
		if cp.Size > size {
			v.find(stPtrInt(size), "checkpoint.size", "the log is shorter than its checkpoint (truncated)",
				stItoa(cp.Size), stItoa(size))
		} else {
			if cp.Size < size {
				v.find(stPtrInt(cp.Size), "checkpoint.size", "entries beyond the checkpoint are not covered by it",
					stItoa(cp.Size), stItoa(size))
			}
			if v.rootAtCheckpoint == nil || string(v.rootAtCheckpoint) != string(cp.Root) {
				var found *string
				if len(v.rootAtCheckpoint) > 0 {
					found = stPtrStr(hex.EncodeToString(v.rootAtCheckpoint))
				}
				v.find(nil, "checkpoint.root",
					fmt.Sprintf("the root of the first %d entries differs from the checkpoint", cp.Size),
					stPtrStr(hex.EncodeToString(cp.Root)), found)
			}
		}
	}
	origin := v.state.Origin
	if cp != nil && v.count > 0 && origin != nil && cp.Origin != *origin {
		v.find(stPtrInt(0), "checkpoint.origin", "checkpoint origin differs from genesis",
			stPtrStr(*origin), stPtrStr(cp.Origin))
	}
	if v.logVkey != nil && v.state.LogVkey != nil && !SameVkey(*v.logVkey, *v.state.LogVkey) {
		v.find(stPtrInt(0), "genesis.log_key", "the log key declared in genesis is not the one given",
			stPtrStr(*v.logVkey), stPtrStr(*v.state.LogVkey))
	}
	sort.SliceStable(v.findings, func(i, j int) bool {
		return stSortIndex(v.findings[i].Index) < stSortIndex(v.findings[j].Index)
	})
	return v.findings, v.warnings, root
}

func stSortIndex(i *int64) int64 {
	if i == nil {
		return -1
	}
	return *i
}

// stHexEquals: s is the lowercase hex of b (no allocation).
func stHexEquals(b []byte, s string) bool {
	const digits = "0123456789abcdef"
	if len(s) != 2*len(b) {
		return false
	}
	for i, c := range b {
		if s[2*i] != digits[c>>4] || s[2*i+1] != digits[c&0x0f] {
			return false
		}
	}
	return true
}

// stNonceBytes decodes a 22-character unpadded base64url nonce to its 16
// bytes; ok is false for anything else (then the text itself is the key).
func stNonceBytes(s string) (out [16]byte, ok bool) {
	if len(s) != 22 {
		return out, false
	}
	var acc uint64
	bitsHeld := 0
	n := 0
	for i := 0; i < 22; i++ {
		c := s[i]
		var d byte
		switch {
		case c >= 'A' && c <= 'Z':
			d = c - 'A'
		case c >= 'a' && c <= 'z':
			d = c - 'a' + 26
		case c >= '0' && c <= '9':
			d = c - '0' + 52
		case c == '-':
			d = 62
		case c == '_':
			d = 63
		default:
			return out, false
		}
		acc = acc<<6 | uint64(d)
		bitsHeld += 6
		if bitsHeld >= 8 {
			bitsHeld -= 8
			if n < 16 {
				out[n] = byte(acc >> uint(bitsHeld))
			}
			n++
		}
	}
	// 22 × 6 = 132 bits = 16 bytes + 4 bits that must be zero (canonical).
	if n != 16 || acc&((1<<uint(bitsHeld))-1) != 0 {
		return out, false
	}
	return out, true
}
