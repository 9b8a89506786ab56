package main

import (
	"strings"
	"testing"
)

// Unit tests of state.go and of the parts of verify.go that the Python
// known answers (verify_test.go) cannot reach with the trust kinds alone:
// two-party kinds, warners, panics in a partial replay, deferred signatures.

type stTestKey struct {
	id  string
	bad bool // every signature fails
}

func (k stTestKey) KeyID() string { return k.id }
func (k stTestKey) Verify(sig, m []byte) error {
	if k.bad || string(sig) == "bad" {
		return Errf("auth.signature_invalid", "signature does not verify")
	}
	return nil
}
func (k stTestKey) SPKI() []byte { return []byte(k.id) }

func stKeyID(c byte) string { return strings.Repeat(string([]byte{c}), 64) }

// testState: a genesis-replayed state with an admin, a warehouse and a carrier.
func stTestState() *LedgerState {
	st := NewLedgerState()
	origin := "test.origin"
	st.Origin = &origin
	for i, p := range []struct{ subject, role string }{
		{"party:ADMIN-01", "admin"}, {"party:WH-01", "warehouse"}, {"party:CAR-01", "carrier"},
	} {
		st.Parties[p.subject] = &PartyRecord{Subject: p.subject, Name: p.subject, Roles: stRoleSet(p.role), RegisteredAt: int64(i)}
		id := stKeyID(byte('a' + i))
		st.Keys[id] = &KeyRecord{KeyID: id, Party: p.subject, PublicKey: stTestKey{id: id}, AddedAt: int64(i)}
	}
	return st
}

// stIsolateWarners runs a test without the warners other files register
// (the custody time flags), restoring them afterwards.
func stIsolateWarners(t testing.TB) {
	saved := warners
	warners = nil
	t.Cleanup(func() { warners = saved })
}

func stWithKind(t *testing.T, spec *KindSpec) {
	RegisterKind(spec)
	t.Cleanup(func() { delete(Registry, spec.Name) })
}

func stStmt(kind, by string, data Object) *Statement {
	if data == nil {
		data = Object{}
	}
	return &Statement{Kind: kind, Subject: "party:WH-01", At: "2026-01-01T00:00:00Z", By: by, Data: data, Nonce: "AAECAwQFBgcICQoLDA0ODw"}
}

func stEnv(keys ...string) *Envelope {
	e := &Envelope{PayloadType: "application/vnd.kcl.statement.v1+json", Payload: []byte("{}")}
	for _, k := range keys {
		e.Signatures = append(e.Signatures, Signature{KeyID: k, Sig: []byte("ok")})
	}
	return e
}

func stErrCode(err error) string {
	if err == nil {
		return ""
	}
	return err.(*LedgerError).Code + ": " + err.Error()
}

func TestCheckRolesTwoParty(t *testing.T) {
	stIsolateWarners(t)
	stWithKind(t, &KindSpec{
		Name: "test.handover", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse", "carrier"),
		CounterpartyField: "to", CounterpartyRoles: stRoleSet("carrier", "technician"),
		CounterpartyRule: "rule.handover_needs_both",
	})
	stWithKind(t, &KindSpec{
		Name: "test.plain", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		CounterpartyField: "to", CounterpartyRoles: stRoleSet("carrier"),
	})
	state := stTestState()
	cases := []struct {
		kind string
		by   string
		data Object
		keys []string
		want string
	}{
		{"test.handover", "party:WH-01", Object{"to": "party:CAR-01"}, []string{stKeyID('b'), stKeyID('c')}, ""},
		{"test.handover", "party:WH-01", Object{"to": "party:CAR-01"}, []string{stKeyID('c')},
			"auth.signature_missing: party:WH-01 is the author but did not sign"},
		{"test.handover", "party:ADMIN-01", Object{"to": "party:CAR-01"}, []string{stKeyID('a'), stKeyID('c')},
			"auth.role_missing: party:ADMIN-01 needs one of the roles carrier, warehouse for test.handover"},
		{"test.handover", "party:WH-01", Object{"to": "party:WH-01"}, []string{stKeyID('b')},
			"input.statement.data: test.handover: to must be another party than the author"},
		{"test.handover", "party:WH-01", Object{"to": "party:CAR-01"}, []string{stKeyID('b')},
			"rule.handover_needs_both: test.handover needs the countersignature of party:CAR-01"},
		{"test.handover", "party:WH-01", Object{}, []string{stKeyID('b')},
			"rule.handover_needs_both: test.handover needs the countersignature of None"},
		{"test.plain", "party:WH-01", Object{"to": "party:CAR-01"}, []string{stKeyID('b')},
			"auth.signature_missing: test.plain needs the countersignature of party:CAR-01"},
		{"test.handover", "party:WH-01", Object{"to": "party:ADMIN-01"}, []string{stKeyID('b'), stKeyID('a')},
			"auth.role_missing: party:ADMIN-01 needs one of the roles carrier, technician to countersign test.handover"},
	}
	for i, c := range cases {
		_, err := Admit(state, 10, stEnv(c.keys...), stStmt(c.kind, c.by, c.data), "", true, true)
		if got := stErrCode(err); got != c.want {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

func TestResolveKeysAndCrypto(t *testing.T) {
	stIsolateWarners(t)
	stWithKind(t, &KindSpec{Name: "test.any", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse")})
	state := stTestState()
	revoked := int64(5)
	state.Keys[stKeyID('b')].RevokedAt = &revoked
	id := stKeyID('d')
	state.Keys[id] = &KeyRecord{KeyID: id, Party: "party:WH-01", PublicKey: stTestKey{id: id, bad: true}, AddedAt: 3}
	check := func(index int64, keys []string, crypto bool, want string) {
		t.Helper()
		_, err := Admit(state, index, stEnv(keys...), stStmt("test.any", "party:WH-01", nil), "", crypto, false)
		if got := stErrCode(err); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	check(4, []string{stKeyID('b')}, true, "")
	check(5, []string{stKeyID('b')}, true, "auth.key_revoked: key bbbbbbbbbbbbbbbb… of party:WH-01 was revoked at index 5")
	check(2, []string{stKeyID('d')}, true, "auth.key_unknown: key dddddddddddddddd… is not registered at index 2")
	check(3, []string{stKeyID('z')}, true, "auth.key_unknown: key zzzzzzzzzzzzzzzz… is not registered at index 3")
	check(3, []string{stKeyID('d')}, true, "auth.signature_invalid: signature does not verify")
	check(3, []string{stKeyID('d')}, false, "")
	// Without a genesis nothing else is admitted; with one, no second genesis.
	fresh := NewLedgerState()
	_, err := Admit(fresh, 0, stEnv(stKeyID('b')), stStmt("test.any", "party:WH-01", nil), "", false, true)
	if got := stErrCode(err); got != "rule.genesis_first: the first entry of a ledger must be its genesis" {
		t.Error(got)
	}
	// Step 1 runs unless validated: the subject type.
	s := stStmt("test.any", "party:WH-01", nil)
	s.Subject = "seal:S-1"
	_, err = Admit(state, 4, stEnv(stKeyID('b')), s, "", false, false)
	if got := stErrCode(err); got != "input.statement.data: test.any is about a party, not 'seal:S-1'" {
		t.Error(got)
	}
}

func TestWarnersAndApply(t *testing.T) {
	stIsolateWarners(t)
	applied := 0
	stWithKind(t, &KindSpec{Name: "test.warned", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		Apply: func(state *LedgerState, ctx *Context) error { applied++; return nil }})
	RegisterWarner(func(state *LedgerState, ctx *Context) []string {
		if ctx.Statement.Kind == "test.warned" {
			return []string{"first", "second"}
		}
		return nil
	})
	v := NewLogVerifier(nil, nil, false)
	*v.State() = *stTestState()
	v.nextIndex = 7
	v.FeedPrepared(&PreparedEntry{Leaf: make([]byte, 32), Index: 7, Envelope: stEnv(stKeyID('b')),
		Statement: stStmt("test.warned", "party:WH-01", nil), Validated: true, Signatures: map[string]bool{stKeyID('b'): true}})
	findings, warnings, _ := v.Finish()
	if len(findings) != 0 || len(warnings) != 2 || warnings[0].Message != "first" || *warnings[1].Index != 7 ||
		warnings[1].Code != "warning" || applied != 1 || v.State().Size != 8 {
		t.Fatalf("findings %v warnings %v applied %d size %d", findings, warnings, applied, v.State().Size)
	}
}

func TestPartialReplayTurnsPanicsIntoFindings(t *testing.T) {
	stIsolateWarners(t)
	stWithKind(t, &KindSpec{Name: "test.badcheck", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		Check: func(state *LedgerState, ctx *Context) error {
			var m map[string]int
			m["x"] = 1 // panics
			return nil
		}})
	stWithKind(t, &KindSpec{Name: "test.badapply", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		Apply: func(state *LedgerState, ctx *Context) error { return Errf("input.statement.data", "boom") }})
	stWithKind(t, &KindSpec{Name: "test.rulepanic", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		Check: func(state *LedgerState, ctx *Context) error { panic(Errf("rule.x", "raised deep down")) }})
	item := func(kind string, index int64) *PreparedEntry {
		s := stStmt(kind, "party:WH-01", nil)
		s.Nonce = string(rune('A'+index)) + s.Nonce[1:]
		s.Subject = "party:T-" + string(rune('0'+index))
		return &PreparedEntry{Leaf: make([]byte, 32), Index: index, Envelope: stEnv(stKeyID('b')), Statement: s,
			Validated: true, Signatures: map[string]bool{stKeyID('b'): true}, ProofChecked: true}
	}
	v := NewLogVerifier(nil, nil, true)
	*v.State() = *stTestState()
	v.count = 1 // not the first entry of the bundle
	v.FeedPrepared(item("test.badcheck", 5))
	v.FeedPrepared(item("test.badapply", 6))
	v.FeedPrepared(item("test.rulepanic", 7))
	findings, _, _ := v.Finish()
	if len(findings) != 3 {
		t.Fatalf("findings %s", stDumpFindings(findings))
	}
	f := findings[0]
	if f.Code != "replay.state_unknown" || f.Message != "test.badcheck is not admissible"+PARTIAL_HINT ||
		*f.Expected != "an admissible statement" || !strings.HasPrefix(*f.Found, "RuntimeError: assignment to entry in nil map") {
		t.Errorf("check panic: %s", stDumpFindings(findings[:1]))
	}
	f = findings[1]
	if f.Code != "replay.state_unknown" || f.Message != "test.badapply cannot be replayed"+PARTIAL_HINT ||
		*f.Expected != "state the replay knows" || *f.Found != "InvalidData: boom" {
		t.Errorf("apply error: %s", stDumpFindings(findings[1:2]))
	}
	f = findings[2]
	if f.Code != "rule.x" || f.Message != "test.rulepanic is not allowed here"+PARTIAL_HINT ||
		*f.Expected != "rule.x holds" || *f.Found != "raised deep down" {
		t.Errorf("rule panic: %s", stDumpFindings(findings[2:3]))
	}
	// A full replay does not hide a bug.
	full := NewLogVerifier(nil, nil, false)
	*full.State() = *stTestState()
	full.nextIndex = 5
	defer func() {
		if recover() == nil {
			t.Error("a panic in a full replay was swallowed")
		}
	}()
	full.FeedPrepared(item("test.badcheck", 5))
}

func TestDeferredSignaturesAreCheckedInOrder(t *testing.T) {
	stIsolateWarners(t)
	stWithKind(t, &KindSpec{Name: "test.signed", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse")})
	v := NewLogVerifier(nil, nil, false)
	*v.State() = *stTestState()
	const n = 2500
	v.nextIndex = 10
	bad := map[int64]bool{}
	for i := int64(10); i < 10+n; i++ {
		e := stEnv(stKeyID('b'))
		if i%97 == 0 || i == 10+n-1 {
			e.Signatures[0].Sig = []byte("bad")
			bad[i] = true
		}
		s := stStmt("test.signed", "party:WH-01", nil)
		var nonce [16]byte
		nonce[0], nonce[1] = byte(i>>8), byte(i)
		s.Nonce = stEncodeNonce(nonce)
		var prev *string
		if i > 10 {
			p := strings.Repeat("00", 32)
			prev = &p
		}
		// Half the entries come with their signature already checked.
		var sigs map[string]bool
		if i%2 == 0 {
			sigs = map[string]bool{stKeyID('b'): !bad[i]}
		}
		v.FeedPrepared(&PreparedEntry{Leaf: make([]byte, 32), Index: i, Prev: prev, Envelope: e, Statement: s,
			Validated: true, Signatures: sigs})
	}
	findings, _, _ := v.Finish()
	var got []int64
	for _, f := range findings {
		if f.Code != "auth.signature_invalid" || *f.Expected != "a valid signature by key "+stKeyID('b') ||
			*f.Found != "an invalid signature" || f.Message != "a signature does not verify" {
			t.Fatalf("finding %s", stDumpFindings([]Finding{f}))
		}
		got = append(got, *f.Index)
	}
	if len(got) != len(bad) {
		t.Fatalf("%d signature findings, want %d", len(got), len(bad))
	}
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] || !bad[got[i]] {
			t.Fatalf("findings out of order or wrong: %v", got)
		}
	}
}

func stEncodeNonce(b [16]byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	out := make([]byte, 0, 22)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			out = append(out, alphabet[(acc>>uint(bits))&63])
		}
	}
	out = append(out, alphabet[(acc<<uint(6-bits))&63])
	return string(out)
}

func BenchmarkFeedPrepared(b *testing.B) {
	stIsolateWarners(b)
	RegisterKind(&KindSpec{Name: "bench.kind", SubjectTypes: []string{"party"}, Roles: stRoleSet("warehouse"),
		Apply: func(state *LedgerState, ctx *Context) error { return nil }})
	defer delete(Registry, "bench.kind")
	subjects := make([]string, 1000)
	for i := range subjects {
		subjects[i] = "party:S-" + strings.Repeat("X", i%7) + string(rune('A'+i%26)) + string(rune('A'+i/26%26))
	}
	items := make([]*PreparedEntry, b.N)
	zero := strings.Repeat("00", 32)
	for i := range items {
		var prev *string
		if i >= len(subjects) {
			prev = &zero
		}
		s := stStmt("bench.kind", "party:WH-01", nil)
		s.Subject = subjects[i%len(subjects)]
		var nonce [16]byte
		nonce[0], nonce[1], nonce[2], nonce[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		s.Nonce = stEncodeNonce(nonce)
		items[i] = &PreparedEntry{Leaf: make([]byte, 32), Index: int64(10 + i), Prev: prev, Envelope: stEnv(stKeyID('b')), Statement: s,
			Validated: true, Signatures: map[string]bool{stKeyID('b'): true}}
	}
	v := NewLogVerifier(nil, nil, false)
	*v.State() = *stTestState()
	v.nextIndex = 10
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v.FeedPrepared(items[i])
	}
	b.StopTimer()
	if findings, _, _ := v.Finish(); len(findings) != 0 {
		b.Fatalf("%d findings, first %s", len(findings), stDumpFindings(findings[:1]))
	}
}
