package main

// Port of ledger/custody/common.py: building blocks shared by the custody
// kinds — fields, guards, history, time flags (rule 12).
//
// Every connector kind goes through connectorKind, which adds the checks
// common to all of them, in this order:
//
//  1. the connector exists (or, for commissioning, does not);
//  2. rule 3 — nothing after destroyed but a correction;
//  3. rule 2 — no shipping, installation or operation of a blocked unit;
//  4. the state machine allows the kind in the current state;
//  5. where the kind requires it, the author is the current custodian;
//  6. the kind's own guard rules.
//
// Its apply step records the entry in the connector's history, moves the
// state machine and remembers the latest event time (rule 12).

import (
	"encoding/hex"
	"strings"
	"time"
)

// TIME_TOLERANCE — rule 12: event times may lag (offline sync) but not run
// ahead or backwards by more than this.
const TIME_TOLERANCE = 5 * time.Minute

var BLOCKED_STATES = map[string]bool{SUSPECT: true, QUARANTINED: true, LOST: true, DECOMMISSIONED: true, DESTROYED: true}

// Roles.
const (
	MANUFACTURER = "manufacturer"
	WAREHOUSE    = "warehouse"
	CARRIER      = "carrier"
	TECHNICIAN   = "technician"
	PRACTICE     = "practice"
	AUDITOR      = "auditor"
	// CUSTODY_ADMIN is common.py's ADMIN ("admin"), renamed: trust.py also has
	// a module constant ADMIN (frozenset({"admin"})) that takes the Go name.
	CUSTODY_ADMIN = "admin"
)

// SealIdField validates a seal id (2 letters, 7 digits, check character).
type SealIdField struct{}

func (SealIdField) Validate(value any, path string) error {
	text, ok := value.(string)
	if !ok {
		return Errf("input.statement.data", "%s: expected a seal id", path)
	}
	if _, _, err := parseSealId(text); err != nil {
		return Errf("input.statement.data", "%s: %s", path, custodyErrText(err))
	}
	return nil
}

var (
	SEAL_ID            = &SealIdField{}
	SEAL_LIST          = &ListOfV{Item: SEAL_ID, MinItems: 1, MaxItems: 16, Unique: true}
	SEAL_LIST_OR_EMPTY = &ListOfV{Item: SEAL_ID, MinItems: 0, MaxItems: 16, Unique: true}
	PARTY              = &SubjectV{SubjectType: "party"}
	LOCATION           = &SubjectV{SubjectType: "location"}
	DIGEST             = &HexV{Length: 32}
	NOTE               = &TextV{MinLength: 1, MaxLength: 1000}
	SHORT              = &TextV{MinLength: 1, MaxLength: 80}
	ICCSN              = &TextV{MinLength: 10, MaxLength: 20, Pattern: FullMatch(`[0-9]{10,20}`)}
	NONCE_REF          = &TextV{MinLength: 22, MaxLength: 22, Pattern: FullMatch(`[A-Za-z0-9_-]{22}`)}
	INCIDENT_ID        = &TextV{MinLength: 1, MaxLength: 24, Pattern: FullMatch(`INC-[0-9]{1,15}`)}
)

// custodyErrText is Python's str(exc) of a LedgerError: its message.
func custodyErrText(err error) string {
	if le, ok := err.(*LedgerError); ok {
		return le.Msg
	}
	return err.Error()
}

// custodyStateUnknown stands for a Python exception that is not a
// LedgerError (KeyError, AssertionError, …): the verifier turns it into
// replay.state_unknown in a partial replay. Only reachable when a check and
// its apply step disagree, which they do not on the same state.
func custodyStateUnknown(format string, args ...any) error {
	return Errf("replay.state_unknown", format, args...)
}

// custodyTime parses a timestamp like Python's parse_timestamp, which keeps
// microseconds only (a datetime): comparisons are made at that precision.
func custodyTime(text, what string) (time.Time, error) {
	t, err := ParseTimestamp(text, what)
	if err != nil {
		return time.Time{}, err
	}
	if t.Nanosecond()%1000 != 0 { // ParseTimestamp already truncates; be sure
		t = t.Truncate(time.Microsecond)
	}
	return t, nil
}

// custodyTimeSlot remembers the last timestamp parsed in one place (the
// latest event time of a connector, the log time of a batch of entries), so
// that replay does not parse the same text again and again.
type custodyTimeSlot struct {
	text string
	t    time.Time
	ok   bool
}

func (s *custodyTimeSlot) parse(text, what string) (time.Time, error) {
	if s.ok && s.text == text {
		return s.t, nil
	}
	t, err := custodyTime(text, what)
	if err != nil {
		return t, err
	}
	s.text, s.t, s.ok = text, t, true
	return t, nil
}

// custodySet builds a set of strings.
func custodySet(values ...string) map[string]bool {
	set := make(map[string]bool, len(values))
	for _, v := range values {
		set[v] = true
	}
	return set
}

// custodyStr returns a pointer to a copy of s (Python str for a "str | None").
func custodyStr(s string) *string { return &s }

// custodyOptEq compares two "str | None" values like Python's ==.
func custodyOptEq(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// connector returns the record of the statement's connector, or
// rule.unknown_connector.
func connector(state *LedgerState, ctx *Context) (*ConnectorRecord, error) {
	record := custody(state).Connectors.Get(ctx.Statement.Subject)
	if record == nil {
		return nil, Errf("rule.unknown_connector", "%s was never commissioned", ctx.Statement.Subject)
	}
	return record, nil
}

// sealSet is Python's seal_set: frozenset(values or ()). values is a JSON
// list ([]any of strings), a []string, or nil.
func sealSet(values any) map[string]bool {
	switch v := values.(type) {
	case nil:
		return map[string]bool{}
	case []string:
		return custodySet(v...)
	case []any:
		set := make(map[string]bool, len(v))
		for _, item := range v {
			set[item.(string)] = true
		}
		return set
	}
	panic("sealSet: not a list of strings")
}

// atOf is the statement's event time (Python at_of).
func atOf(ctx *Context) (time.Time, error) {
	return custodyTime(ctx.Statement.At, "at")
}

// Guard is a connector kind's own guard rule; Effect its own apply step.
type Guard func(state *LedgerState, ctx *Context, record *ConnectorRecord) error
type Effect func(state *LedgerState, ctx *Context, record *ConnectorRecord) error

func noGuard(state *LedgerState, ctx *Context, record *ConnectorRecord) error { return nil }

// Refusal is one entry of connector_kind's refuse mapping: the guard rule
// (rule id and reason) that explains a refusal in a state.
type Refusal struct {
	Rule   string
	Reason string
}

// ConnectorKindOptions are connector_kind's keyword arguments.
//
// Transitions maps each state the kind is allowed in to the next state ("" =
// None: unchanged). Refuse names states where a specific guard rule, rather
// than the generic rule.state_transition, explains the refusal. Guard and
// Effect may be nil (Python's _no_guard). Python's epcis, summary and the
// documentation-only KindSpec.transitions have no place in the Go KindSpec.
type ConnectorKindOptions struct {
	Roles             map[string]bool
	Schema            *ObjV
	Transitions       map[string]string
	Refuse            map[string]Refusal
	Guard             Guard
	Effect            Effect
	CustodianOnly     bool
	BlockedAction     bool
	Summary           string
	CounterpartyField string
	CounterpartyRoles map[string]bool
	CounterpartyRule  string
}

// connectorKind registers a connector kind (Python connector_kind).
func connectorKind(name string, opts ConnectorKindOptions) *KindSpec {
	refusals := map[string]Refusal{}
	for state, refusal := range opts.Refuse {
		refusals[state] = refusal
	}
	transitions := opts.Transitions
	guard := opts.Guard
	if guard == nil {
		guard = noGuard
	}
	effect := opts.Effect
	if effect == nil {
		effect = noGuard
	}
	custodianOnly, blockedAction := opts.CustodianOnly, opts.BlockedAction

	check := func(state *LedgerState, ctx *Context) error {
		record, err := connector(state, ctx)
		if err != nil {
			return err
		}
		if record.State == DESTROYED {
			return Errf("rule.nothing_after_destroyed", "%s is destroyed; only a correction may follow", record.Subject)
		}
		if blockedAction && BLOCKED_STATES[record.State] {
			return Errf("rule.blocked_state", "cannot record %s while %s is %s", name, record.Subject, record.State)
		}
		if refusal, ok := refusals[record.State]; ok {
			return Errf(refusal.Rule, "%s is %s: %s", record.Subject, record.State, refusal.Reason)
		}
		if _, ok := transitions[record.State]; !ok {
			return Errf("rule.state_transition", "cannot record %s while %s is %s", name, record.Subject, record.State)
		}
		if custodianOnly && ctx.Statement.By != record.Custodian {
			return Errf("rule.custodian_only", "%s must be recorded by the custodian %s, not %s", name, record.Custodian, ctx.Statement.By)
		}
		return guard(state, ctx, record)
	}

	apply := func(state *LedgerState, ctx *Context) error {
		record, err := connector(state, ctx)
		if err != nil {
			return err
		}
		before := record.State
		after, ok := transitions[before]
		if !ok { // Python: KeyError from transitions[before]
			return custodyStateUnknown("KeyError: %s", pyStr(before))
		}
		if after == "" {
			after = before
		}
		record.State = after
		if err := effect(state, ctx, record); err != nil {
			return err
		}
		if err := noteHistory(record, ctx, custodyStr(before), custodyStr(record.State)); err != nil {
			return err
		}
		custody(state).Connectors.Put(record.Subject, record)
		return nil
	}

	counterpartyRoles := map[string]bool{}
	for role := range opts.CounterpartyRoles {
		counterpartyRoles[role] = true
	}
	roles := map[string]bool{}
	for role := range opts.Roles {
		roles[role] = true
	}
	return RegisterKind(&KindSpec{
		Name:              name,
		SubjectTypes:      []string{"connector"},
		Roles:             roles,
		Schema:            opts.Schema,
		Check:             check,
		Apply:             apply,
		CounterpartyField: opts.CounterpartyField,
		CounterpartyRoles: counterpartyRoles,
		CounterpartyRule:  opts.CounterpartyRule,
	})
}

// noteHistory records an entry in the connector's history and remembers the
// latest event time and place. before/after nil = Python None.
//
// Strings kept in the long-lived state are copied out of the statement
// (strings.Clone), so that they never pin a decoder's buffer, and states and
// kinds share one copy each.
func noteHistory(record *ConnectorRecord, ctx *Context, before, after *string) error {
	kind := ctx.Statement.Kind
	if ctx.Spec != nil && ctx.Spec.Name == kind {
		kind = ctx.Spec.Name
	} else {
		kind = strings.Clone(kind)
	}
	record.History = append(record.History, &HistoryItem{
		Index:       ctx.Index,
		LeafHash:    hex.EncodeToString(ctx.LeafHash),
		Kind:        kind,
		By:          strings.Clone(ctx.Statement.By),
		StateBefore: custodyStatePtr(before),
		StateAfter:  custodyStatePtr(after),
	})
	if record.LastAt == nil {
		record.LastAt = custodyStr(strings.Clone(ctx.Statement.At))
	} else {
		at, err := atOf(ctx)
		if err != nil {
			return err
		}
		last, err := record.lastAtSlot.parse(*record.LastAt, "last_at")
		if err != nil {
			return err
		}
		if at.After(last) {
			record.LastAt = custodyStr(strings.Clone(ctx.Statement.At))
		}
	}
	if ctx.Statement.Place != nil {
		record.Location = custodyStr(strings.Clone(*ctx.Statement.Place))
	}
	return nil
}

// custodyStates holds one shared, never modified *string per connector
// state, for the StateBefore/StateAfter of history items.
var custodyStates = func() map[string]*string {
	m := make(map[string]*string, len(CONNECTOR_STATES))
	for _, s := range CONNECTOR_STATES {
		m[s] = custodyStr(s)
	}
	return m
}()

// custodyStatePtr returns the shared pointer for a connector state (p's value
// otherwise); nil stays nil.
func custodyStatePtr(p *string) *string {
	if p == nil {
		return nil
	}
	if shared, ok := custodyStates[*p]; ok {
		return shared
	}
	return p
}

// timeFlags — rule 12: flag (never reject) event times in the future or out
// of order. A Warner cannot return an error: an unparsable timestamp (which
// entry and statement parsing already exclude) panics with the LedgerError
// Python would raise.
func timeFlags(state *LedgerState, ctx *Context) []string {
	var flags []string
	at, err := atOf(ctx)
	if err != nil {
		panic(err)
	}
	recorded, err := custody(state).recordedSlot.parse(ctx.RecordedAt, "recorded_at")
	if err != nil {
		panic(err)
	}
	if at.After(recorded.Add(TIME_TOLERANCE)) {
		flags = append(flags, "rule.event_time: event time "+ctx.Statement.At+" is ahead of the log time "+ctx.RecordedAt)
	}
	// A two-party statement carries the time its first party signed; the
	// second may countersign after later events, which is not disorder.
	if ctx.Statement.SubjectType() == "connector" && ctx.Spec.CounterpartyField == "" {
		record := custody(state).Connectors.Get(ctx.Statement.Subject)
		var last *string
		if record != nil {
			last = record.LastAt
		}
		if last != nil {
			lastAt, err := record.lastAtSlot.parse(*last, "last_at")
			if err != nil {
				panic(err)
			}
			if at.Add(TIME_TOLERANCE).Before(lastAt) {
				flags = append(flags, "rule.event_time: event time "+ctx.Statement.At+" is before the previous event about "+ctx.Statement.Subject+" ("+*last+")")
			}
		}
	}
	return flags
}

func init() {
	RegisterWarner(timeFlags)
}
