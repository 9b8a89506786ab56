package main

import (
	"sort"
	"strings"
	"testing"
)

// Known answers from Python (ledger/custody/common.py SEAL_ID and seal_set).
func TestSealIdField(t *testing.T) {
	cases := []struct {
		value any
		want  string
	}{
		{int64(5), "data.seals[0]: expected a seal id"},
		{"KC0001237H", ""},
		{"KC0001237X", "data.seals[0]: 'KC0001237X': check character does not match"},
		{"kc", "data.seals[0]: 'kc' is not a seal id (two letters, 7 digits, check character)"},
		{nil, "data.seals[0]: expected a seal id"},
	}
	for _, c := range cases {
		err := SEAL_ID.Validate(c.value, "data.seals[0]")
		if c.want == "" {
			if err != nil {
				t.Errorf("%v: %v", c.value, err)
			}
			continue
		}
		le, ok := err.(*LedgerError)
		if !ok || le.Code != "input.statement.data" || le.Msg != c.want {
			t.Errorf("%v: got %v, want %q", c.value, err, c.want)
		}
	}
	if err := SEAL_LIST.Validate([]any{}, "data.seals"); err == nil {
		t.Error("SEAL_LIST accepts an empty list")
	}
	if err := SEAL_LIST_OR_EMPTY.Validate([]any{}, "data.seals"); err != nil {
		t.Errorf("SEAL_LIST_OR_EMPTY: %v", err)
	}
}

func TestSealSet(t *testing.T) {
	keys := func(m map[string]bool) string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return strings.Join(out, ",")
	}
	if keys(sealSet(nil)) != "" || keys(sealSet([]any{"A", "B", "A"})) != "A,B" || keys(sealSet([]string{"C"})) != "C" {
		t.Error("sealSet")
	}
}

// The order of connectorKind's checks, with Python's rule codes and messages
// (a kind registered the same way in Python gave these answers).
func TestConnectorKindCheckOrder(t *testing.T) {
	const name = "test.custody1.kind"
	spec := connectorKind(name, ConnectorKindOptions{
		Roles:       custodySet(WAREHOUSE),
		Schema:      &ObjV{},
		Transitions: map[string]string{IN_STOCK: IN_TRANSIT, SUSPECT: "", DESTROYED: "", LOST: ""},
		Refuse: map[string]Refusal{
			INSTALLED: {"rule.one_site_at_a_time", "installed at a site already"},
			SUSPECT:   {"rule.x", "never"},
		},
		Guard: func(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
			return Errf("rule.test_guard", "guarded")
		},
		CustodianOnly: true,
		BlockedAction: true,
	})
	defer delete(Registry, name)
	state := NewLedgerState()
	for sub, st := range map[string]string{"A": DESTROYED, "B": LOST, "C": INSTALLED, "D": PRODUCED, "E": IN_STOCK} {
		s := "connector:X:" + sub
		custody(state).Connectors.Put(s, NewConnectorRecord(s, "X", sub, "p", st, "party:WH", nil, "1"))
	}
	ctx := func(subject, by string) *Context {
		st := &Statement{Kind: name, Subject: subject, At: "2025-01-01T00:00:00Z", By: by, Data: Object{}, Nonce: strings.Repeat("A", 22)}
		return &Context{Index: 5, Statement: st, Spec: spec, Signers: custodySet(by), RecordedAt: "2025-01-01T00:00:00Z"}
	}
	cases := []struct{ sub, by, code, msg string }{
		{"A", "party:WH", "rule.nothing_after_destroyed", "connector:X:A is destroyed; only a correction may follow"},
		{"B", "party:WH", "rule.blocked_state", "cannot record test.custody1.kind while connector:X:B is LOST"},
		{"C", "party:WH", "rule.one_site_at_a_time", "connector:X:C is INSTALLED: installed at a site already"},
		{"D", "party:WH", "rule.state_transition", "cannot record test.custody1.kind while connector:X:D is PRODUCED"},
		{"E", "party:WH", "rule.test_guard", "guarded"},
		{"Z", "party:WH", "rule.unknown_connector", "connector:X:Z was never commissioned"},
		{"E", "party:MF", "rule.custodian_only", "test.custody1.kind must be recorded by the custodian party:WH, not party:MF"},
	}
	for _, c := range cases {
		err := spec.Check(state, ctx("connector:X:"+c.sub, c.by))
		le, ok := err.(*LedgerError)
		if !ok || le.Code != c.code || le.Msg != c.msg {
			t.Errorf("%s by %s: got %v, want %s %q", c.sub, c.by, err, c.code, c.msg)
		}
	}
	// Apply: transition, history, last_at, place.
	c := ctx("connector:X:E", "party:WH")
	place := "location:DOCK"
	c.Statement.Place = &place
	c.LeafHash = []byte{0xab, 0x01}
	if err := spec.Apply(state, c); err != nil {
		t.Fatal(err)
	}
	r := custody(state).Connectors.Get("connector:X:E")
	h := r.History[len(r.History)-1]
	if r.State != IN_TRANSIT || *r.LastAt != "2025-01-01T00:00:00Z" || *r.Location != place ||
		h.LeafHash != "ab01" || *h.StateBefore != IN_STOCK || *h.StateAfter != IN_TRANSIT || h.Index != 5 || h.CorrectedBy != nil {
		t.Errorf("apply: %+v %+v", r, h)
	}
	// "" in Transitions keeps the state.
	r.State = LOST
	r.Custodian = "party:WH"
	if err := spec.Apply(state, c); err != nil || r.State != LOST {
		t.Errorf("apply unchanged: %v %s", err, r.State)
	}
}

func TestTimeFlags(t *testing.T) {
	state := NewLedgerState()
	s := "connector:X:1"
	r := NewConnectorRecord(s, "X", "1", "p", IN_STOCK, "party:WH", nil, "1")
	last := "2025-01-01T10:00:00Z"
	r.LastAt = &last
	custody(state).Connectors.Put(s, r)
	one := &KindSpec{Name: "one"}
	two := &KindSpec{Name: "two", CounterpartyField: "to"}
	flags := func(spec *KindSpec, subject, at, recorded string) string {
		st := &Statement{Kind: spec.Name, Subject: subject, At: at, By: "party:WH"}
		return strings.Join(timeFlags(state, &Context{Statement: st, Spec: spec, RecordedAt: recorded}), "|")
	}
	if got := flags(one, s, "2025-01-01T09:55:00Z", "2025-01-01T10:00:00Z"); got != "" {
		t.Errorf("exactly 5 minutes before: %q", got)
	}
	if got := flags(one, s, "2025-01-01T09:54:59.999999Z", "2025-01-01T10:00:00Z"); got != "rule.event_time: event time 2025-01-01T09:54:59.999999Z is before the previous event about connector:X:1 (2025-01-01T10:00:00Z)" {
		t.Errorf("before: %q", got)
	}
	if got := flags(two, s, "2025-01-01T09:00:00Z", "2025-01-01T10:00:00Z"); got != "" {
		t.Errorf("two-party: %q", got)
	}
	if got := flags(one, "seal:KC0001237H", "2025-01-01T10:05:00.0000009Z", "2025-01-01T10:00:00Z"); got != "" {
		t.Errorf("ahead within a microsecond: %q", got)
	}
	if got := flags(one, "connector:X:2", "2025-01-01T10:05:00.000001Z", "2025-01-01T10:00:00Z"); got != "rule.event_time: event time 2025-01-01T10:05:00.000001Z is ahead of the log time 2025-01-01T10:00:00Z" {
		t.Errorf("ahead: %q", got)
	}
}
