package main

// Ledger state and the one decision procedure for admitting a statement
// (port of ledger/state.py).
//
// Admit decides whether a signed statement may become entry index given the
// state built from entries 0 … index-1; ApplyEntry then moves the state
// forward. The verifier calls them on replay exactly as the Python store
// does at append time. The state types (LedgerState, PartyRecord,
// KeyRecord, Context) are declared in types.go.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// GENESIS_KIND is the kind of entry 0.
const GENESIS_KIND = "ledger.genesis"

// Genesis introduces the key that signs it; every other statement is signed
// by keys added earlier. The trust module registers how to read that key.
var selfKeyReaders = map[string]func(st *Statement, index int64) (map[string]*KeyRecord, error){}

// RegisterSelfKeys is state.register_self_keys.
func RegisterSelfKeys(kind string, reader func(st *Statement, index int64) (map[string]*KeyRecord, error)) {
	selfKeyReaders[kind] = reader
}

var warners []func(state *LedgerState, ctx *Context) []string

// RegisterWarner adds a check whose findings are flagged on an entry but
// never reject it (rule 12); state.register_warner.
func RegisterWarner(w func(state *LedgerState, ctx *Context) []string) {
	warners = append(warners, w)
}

// resolveKeys maps each signature to the key record it claims; unknown or
// revoked keys are errors (state.resolve_keys).
// buf, when not nil, is where the result goes (it saves an allocation).
func resolveKeys(state *LedgerState, env *Envelope, st *Statement, index int64, buf []ResolvedKey) ([]ResolvedKey, error) {
	var own map[string]*KeyRecord
	if reader := selfKeyReaders[st.Kind]; reader != nil {
		var err error
		if own, err = reader(st, index); err != nil {
			return nil, err
		}
	}
	resolved := buf[:0]
	if cap(buf) < len(env.Signatures) {
		resolved = make([]ResolvedKey, 0, len(env.Signatures))
	}
	for _, sig := range env.Signatures {
		key := state.Keys[sig.KeyID]
		if key == nil {
			key = own[sig.KeyID]
		}
		if key == nil || key.AddedAt > index {
			return nil, Errf("auth.key_unknown", "key %s… is not registered at index %d", stPrefix(sig.KeyID, 16), index)
		}
		if !key.UsableAt(index) {
			return nil, Errf("auth.key_revoked", "key %s… of %s was revoked at index %s",
				stPrefix(sig.KeyID, 16), key.Party, stOptInt(key.RevokedAt))
		}
		resolved = append(resolved, ResolvedKey{Signature: sig, Key: key})
	}
	return resolved, nil
}

// verifySignatures checks every resolved signature over the envelope's PAE
// (state.verify_signatures); the first failure is returned.
func verifySignatures(env *Envelope, resolved []ResolvedKey) error {
	message := env.SignedBytes()
	for _, r := range resolved {
		if err := r.Key.PublicKey.Verify(r.Signature.Sig, message); err != nil {
			return err
		}
	}
	return nil
}

// checkRoles: the author (and a counterparty, for two-party kinds) signed
// and holds a fitting role (state.check_roles).
func checkRoles(state *LedgerState, st *Statement, spec *KindSpec, signers map[string]bool) error {
	roles := state.RolesOf(st.By)
	if st.Kind == GENESIS_KIND {
		roles = map[string]bool{"admin": true}
	}
	if !signers[st.By] {
		return Errf("auth.signature_missing", "%s is the author but did not sign", st.By)
	}
	if !stIntersects(roles, spec.Roles) {
		return Errf("auth.role_missing", "%s needs one of the roles %s for %s",
			st.By, strings.Join(stSortedKeys(spec.Roles), ", "), spec.Name)
	}
	if spec.CounterpartyField != "" {
		other, present := st.Data[spec.CounterpartyField]
		otherStr, isStr := other.(string)
		if isStr && otherStr == st.By {
			return Errf("input.statement.data", "%s: %s must be another party than the author",
				spec.Name, spec.CounterpartyField)
		}
		// Python: other not in signers (signers holds strings only).
		text := stPyStr(other, present)
		if !isStr || !signers[otherStr] {
			message := fmt.Sprintf("%s needs the countersignature of %s", spec.Name, text)
			if spec.CounterpartyRule != "" {
				return Errf(spec.CounterpartyRule, "%s", message)
			}
			return Errf("auth.signature_missing", "%s", message)
		}
		if !stIntersects(state.RolesOf(text), spec.CounterpartyRoles) {
			return Errf("auth.role_missing", "%s needs one of the roles %s to countersign %s",
				text, strings.Join(stSortedKeys(spec.CounterpartyRoles), ", "), spec.Name)
		}
	}
	return nil
}

// ValidateStatement checks kind, subject type and data schema: what needs
// no state (state.validate_statement).
func ValidateStatement(st *Statement) (*KindSpec, error) {
	spec, err := registryGet(st.Kind)
	if err != nil {
		return nil, err
	}
	subjectType := st.SubjectType()
	found := false
	for _, t := range spec.SubjectTypes {
		if t == subjectType {
			found = true
			break
		}
	}
	if !found {
		return nil, Errf("input.statement.data", "%s is about a %s, not %s",
			spec.Name, strings.Join(spec.SubjectTypes, " or "), pyStr(st.Subject))
	}
	if spec.Schema != nil {
		if err := spec.Schema.Validate(st.Data, "data"); err != nil {
			return nil, err
		}
	}
	return spec, nil
}

// Admit decides whether st may be entry index; it returns the reason if not
// (state.admit):
//
//  1. The kind exists and the data fits its schema (skipped when validated:
//     the caller already ran ValidateStatement on this statement).
//  2. The log starts with genesis, and only once.
//  3. Every signature is by a key registered and not revoked at index and
//     (unless checkCrypto is false) verifies.
//  4. The author, and the counterparty of a two-party kind, signed and hold
//     a role the kind allows.
//  5. The kind's guard rules hold in the current state.
func Admit(state *LedgerState, index int64, env *Envelope, st *Statement, recordedAt string, checkCrypto, validated bool) (*Context, error) {
	// Step 1.
	var spec *KindSpec
	var err error
	if validated {
		spec, err = registryGet(st.Kind)
	} else {
		spec, err = ValidateStatement(st)
	}
	if err != nil {
		return nil, err
	}
	// Step 2.
	if state.Origin == nil && st.Kind != GENESIS_KIND {
		return nil, Errf("rule.genesis_first", "the first entry of a ledger must be its genesis")
	}
	if state.Origin != nil && st.Kind == GENESIS_KIND {
		return nil, Errf("rule.genesis_first", "the ledger already has its genesis entry")
	}
	// Step 3. The context and its keys share one allocation.
	box := &admitBox{}
	resolved, err := resolveKeys(state, env, st, index, box.keys[:0])
	if err != nil {
		return nil, err
	}
	if checkCrypto {
		if err := verifySignatures(env, resolved); err != nil {
			return nil, err
		}
	}
	signers := signersOf(resolved)
	// Step 4.
	if err := checkRoles(state, st, spec, signers); err != nil {
		return nil, err
	}
	// Step 5.
	ctx := &box.ctx
	*ctx = Context{
		Index:      index,
		Statement:  st,
		Spec:       spec,
		Signers:    signers,
		RecordedAt: recordedAt,
		Keys:       resolved,
	}
	if spec.Check != nil {
		if err := spec.Check(state, ctx); err != nil {
			return nil, err
		}
	}
	var warnings []string
	for _, w := range warners {
		warnings = append(warnings, w(state, ctx)...)
	}
	if len(warnings) > 0 {
		ctx.Warnings = warnings
	}
	return ctx, nil
}

type admitBox struct {
	ctx  Context
	keys [2]ResolvedKey
}

// The signer set of a context is never modified (a frozenset in Python), so
// the one-party sets of single-signature entries are shared.
var (
	singleSignersMu sync.Mutex
	singleSigners   = map[string]map[string]bool{}
)

// signersOf is the set of parties whose keys signed.
func signersOf(resolved []ResolvedKey) map[string]bool {
	if len(resolved) == 1 {
		party := resolved[0].Key.Party
		singleSignersMu.Lock()
		set, ok := singleSigners[party]
		if !ok {
			set = map[string]bool{party: true}
			singleSigners[party] = set
		}
		singleSignersMu.Unlock()
		return set
	}
	signers := make(map[string]bool, len(resolved))
	for _, r := range resolved {
		signers[r.Key.Party] = true
	}
	return signers
}

// ApplyEntry moves state past an admitted statement whose entry has the
// leaf hash leaf (state.apply).
func ApplyEntry(state *LedgerState, ctx *Context, leaf []byte) error {
	ctx.LeafHash = leaf
	if ctx.Spec.Apply != nil {
		if err := ctx.Spec.Apply(state, ctx); err != nil {
			return err
		}
	}
	if ctx.Index+1 > state.Size {
		state.Size = ctx.Index + 1
	}
	return nil
}

// ---------------------------------------------------------------------------
// Small helpers that reproduce Python's string forms in messages.

func stIntersects(a, b map[string]bool) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	for k, v := range a {
		if v && b[k] {
			return true
		}
	}
	return false
}

// stPrefix is Python's s[:n] for the ASCII strings it is used on (key ids).
func stPrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a code point boundary, as Python slices code points.
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// stOptInt is str() of an int or None.
func stOptInt(v *int64) string {
	if v == nil {
		return "None"
	}
	return strconv.FormatInt(*v, 10)
}

// stPyStr is Python's str() of a JSON value (present=false: a missing dict
// entry, which .get() turns into None).
func stPyStr(v any, present bool) string {
	if !present {
		return "None"
	}
	switch x := v.(type) {
	case string:
		return x
	default:
		return stPyRepr(v)
	}
}

// stPyRepr is Python's repr() of a JSON value.
func stPyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case string:
		return pyStr(x)
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			parts[i] = stPyRepr(item)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		// Python keeps insertion order; decoded canonical JSON has its keys
		// sorted (by UTF-16 code units, equal to code point order for the
		// keys met in practice), so sorted order is the insertion order.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyStr(k) + ": " + stPyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}
