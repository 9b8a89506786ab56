package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// The known answers in custody_connector_vectors_test.go were produced by the
// Python reference (ledger/custody/connector.py) with a script that runs, for
// every statement of a scenario, validate_statement, check_roles, the kind's
// check and apply (admit without keys), and records the error code and
// message — or, when admitted, the whole custody state afterwards.

type ccVectorOp struct {
	Op         string         `json:"op"`
	Subject    string         `json:"subject"`
	Roles      []string       `json:"roles"`
	ID         string         `json:"id"`
	Status     string         `json:"status"`
	Holder     string         `json:"holder"`
	IssuedTo   *string        `json:"issued_to"`
	Field      string         `json:"field"`
	Value      *string        `json:"value"`
	Kind       string         `json:"kind"`
	By         string         `json:"by"`
	Data       map[string]any `json:"data"`
	At         string         `json:"at"`
	Place      *string        `json:"place"`
	Signers    []string       `json:"signers"`
	RecordedAt string         `json:"recorded_at"`
	Nonce      string         `json:"nonce"`
	Expect     struct {
		Index   int64  `json:"index"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Schema  bool   `json:"schema"`
		State   any    `json:"state"`
	} `json:"expect"`
}

// ccTestJSON turns encoding/json's json.Number into int64 (or a string), as the canonical decoder would.
func ccTestJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		return x.String()
	case []any:
		for i := range x {
			x[i] = ccTestJSON(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = ccTestJSON(x[k])
		}
	}
	return v
}

// ccTestCheckRoles mirrors state.check_roles (ported by the state part; a
// copy here keeps this test independent of it).
func ccTestCheckRoles(state *LedgerState, st *Statement, spec *KindSpec, signers map[string]bool) error {
	sortedRoles := func(m map[string]bool) string {
		var r []string
		for k := range m {
			r = append(r, k)
		}
		sort.Strings(r)
		return strings.Join(r, ", ")
	}
	intersects := func(a, b map[string]bool) bool {
		for k := range a {
			if b[k] {
				return true
			}
		}
		return false
	}
	if !signers[st.By] {
		return Errf("auth.signature_missing", "%s is the author but did not sign", st.By)
	}
	if !intersects(state.RolesOf(st.By), spec.Roles) {
		return Errf("auth.role_missing", "%s needs one of the roles %s for %s", st.By, sortedRoles(spec.Roles), spec.Name)
	}
	if spec.CounterpartyField != "" {
		other, _ := st.Data[spec.CounterpartyField].(string)
		if other == st.By {
			return Errf("input.statement.data", "%s: %s must be another party than the author", spec.Name, spec.CounterpartyField)
		}
		if !signers[other] {
			if spec.CounterpartyRule != "" {
				return Errf(spec.CounterpartyRule, "%s needs the countersignature of %s", spec.Name, other)
			}
			return Errf("auth.signature_missing", "%s needs the countersignature of %s", spec.Name, other)
		}
		if !intersects(state.RolesOf(other), spec.CounterpartyRoles) {
			return Errf("auth.role_missing", "%s needs one of the roles %s to countersign %s", other, sortedRoles(spec.CounterpartyRoles), spec.Name)
		}
	}
	return nil
}

func ccTestStrs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ccTestSnapshot is the custody state as the Python script dumps it (asdict / to_json).
func ccTestSnapshot(state *LedgerState) any {
	c := custody(state)
	connectors := map[string]any{}
	c.Connectors.Each(func(key string, r *ConnectorRecord) {
		certs := []any{}
		for _, cert := range r.Certificates {
			certs = append(certs, map[string]any{"iccsn": cert.Iccsn, "not_after": cert.NotAfter})
		}
		var inspection any
		if i := r.LastInspection; i != nil {
			inspection = map[string]any{
				"nonce": i.Nonce, "index": i.Index, "by": i.By, "place": i.Place, "at": i.At,
				"expected": ccTestStrs(i.Expected), "observed": ccTestStrs(i.Observed), "results": i.Results,
				"conformant": i.Conformant,
			}
		}
		var last any
		if n := len(r.History); n > 0 {
			h := r.History[n-1]
			last = map[string]any{
				"index": h.Index, "leaf_hash": h.LeafHash, "kind": h.Kind, "by": h.By,
				"state_before": h.StateBefore, "state_after": h.StateAfter, "corrected_by": h.CorrectedBy,
			}
		}
		connectors[key] = map[string]any{
			"subject": r.Subject, "vendor": r.Vendor, "serial": r.Serial, "product_code": r.ProductCode,
			"state": r.State, "custodian": r.Custodian, "certificates": certs, "firmware": r.Firmware,
			"seal_status": r.SealStatus, "seals": ccTestStrs(r.Seals), "ever_sealed": r.EverSealed,
			"smck_bound": r.SmckBound, "location": r.Location, "bin": r.Bin, "practice": r.Practice,
			"last_inspection": inspection, "open_incident": r.OpenIncident,
			"joined_incidents": ccTestStrs(r.JoinedIncidents), "state_before_incident": r.StateBeforeIncident,
			"last_at": r.LastAt, "history_len": len(r.History), "history_last": last,
		}
	})
	seals := map[string]any{}
	c.Seals.Each(func(key string, s *SealRecord) {
		seals[key] = map[string]any{
			"seal_id": s.SealId, "status": s.Status, "holder": s.Holder, "received_index": s.ReceivedIndex,
			"issued_to": s.IssuedTo, "connector": s.Connector, "last_index": s.LastIndex,
		}
	})
	incidents := map[string]any{}
	c.Incidents.Each(func(key string, i *IncidentRecord) {
		incidents[key] = map[string]any{
			"incident_id": i.IncidentId, "connector": i.Connector, "category": i.Category,
			"reported_by": i.ReportedBy, "opened_index": i.OpenedIndex, "description": i.Description,
			"status": i.Status, "quarantined_by": i.QuarantinedBy, "released_by": i.ReleasedBy,
			"investigation": i.Investigation, "closed_index": i.ClosedIndex,
		}
	})
	raw, err := json.Marshal(map[string]any{"connectors": connectors, "seals": seals, "incidents": incidents})
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		panic(err)
	}
	return out
}

// ccTestStep runs one statement like the Python script: schema, roles, check, apply.
func ccTestStep(state *LedgerState, st *Statement, signers map[string]bool, recordedAt string, index int64) (err error, schema bool) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	spec, err := ValidateStatement(st)
	if err != nil {
		return err, true
	}
	if err := ccTestCheckRoles(state, st, spec, signers); err != nil {
		return err, false
	}
	ctx := &Context{Index: index, Statement: st, Spec: spec, Signers: signers, RecordedAt: recordedAt}
	if spec.Check != nil {
		if err := spec.Check(state, ctx); err != nil {
			return err, false
		}
	}
	leaf := sha256.Sum256([]byte(fmt.Sprintf("leaf %d", index)))
	ctx.LeafHash = leaf[:]
	if spec.Apply != nil {
		if err := spec.Apply(state, ctx); err != nil {
			return err, false
		}
	}
	return nil, false
}

func TestConnectorKnownAnswers(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(ccConnectorVectors))
	dec.UseNumber()
	var scenarios map[string][]ccVectorOp
	if err := dec.Decode(&scenarios); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(scenarios))
	for name := range scenarios {
		names = append(names, name)
	}
	sort.Strings(names)
	steps := 0
	for _, name := range names {
		state := NewLedgerState()
		for _, op := range scenarios[name] {
			switch op.Op {
			case "party":
				state.Parties[op.Subject] = &PartyRecord{Subject: op.Subject, Name: op.Subject, Roles: ccSet(op.Roles)}
			case "seal":
				seal := NewSealRecord(op.ID, op.Status, op.Holder, 0)
				seal.IssuedTo = op.IssuedTo
				custody(state).Seals.Put(op.ID, seal)
			case "set":
				record := custody(state).Connectors.Get(op.Subject)
				switch op.Field {
				case "state":
					record.State = *op.Value
				case "open_incident":
					record.OpenIncident = op.Value
				case "state_before_incident":
					record.StateBeforeIncident = op.Value
				default:
					t.Fatalf("unknown field %s", op.Field)
				}
			case "step":
				steps++
				data := ccTestJSON(op.Data).(map[string]any)
				st := &Statement{Kind: op.Kind, Subject: op.Subject, At: op.At, By: op.By, Data: data, Nonce: op.Nonce, Place: op.Place}
				before := ccTestSnapshot(state)
				err, schema := ccTestStep(state, st, ccSet(op.Signers), op.RecordedAt, op.Expect.Index)
				where := fmt.Sprintf("%s #%d %s", name, op.Expect.Index, op.Kind)
				if op.Expect.Code == "ok" {
					if err != nil {
						t.Errorf("%s: want ok, got %v", where, err)
						continue
					}
					var want any // plain float64 numbers, like the snapshot
					raw, _ := json.Marshal(op.Expect.State)
					_ = json.Unmarshal(raw, &want)
					if got := ccTestSnapshot(state); !reflect.DeepEqual(got, want) {
						g, _ := json.Marshal(got)
						w, _ := json.Marshal(op.Expect.State)
						t.Errorf("%s: state differs\n got %s\nwant %s", where, g, w)
					}
					continue
				}
				le, ok := err.(*LedgerError)
				if !ok {
					t.Errorf("%s: want %s %q, got %v", where, op.Expect.Code, op.Expect.Message, err)
					continue
				}
				if le.Code != op.Expect.Code || schema != op.Expect.Schema {
					t.Errorf("%s: want %s (schema %v), got %s (schema %v): %s", where, op.Expect.Code, op.Expect.Schema, le.Code, schema, le.Msg)
				} else if !schema && le.Msg != op.Expect.Message {
					// Schema messages belong to schema.go; compare the rules' own.
					t.Errorf("%s: message\n got %q\nwant %q", where, le.Msg, op.Expect.Message)
				}
				if !reflect.DeepEqual(before, ccTestSnapshot(state)) {
					t.Errorf("%s: a refused statement changed the state", where)
				}
			}
		}
	}
	if steps < 170 {
		t.Fatalf("only %d steps", steps)
	}
}

func TestConnectorKindsRegistered(t *testing.T) {
	want := map[string]struct {
		roles        string
		counterparty string
		cpRoles      string
		cpRule       string
	}{
		"connector.commissioned": {roles: "manufacturer"},
		"smck.bound":             {roles: "manufacturer"},
		"seal.applied":           {roles: "manufacturer technician"},
		"seal.inspected":         {roles: "auditor carrier manufacturer technician warehouse"},
		"seal.removed":           {roles: "manufacturer technician"},
		"stored":                 {roles: "manufacturer warehouse"},
		"shipped":                {roles: "manufacturer warehouse"},
		"custody.transferred": {roles: "carrier manufacturer technician warehouse", counterparty: "to",
			cpRoles: "carrier manufacturer technician warehouse", cpRule: "rule.transfer_needs_both_signatures"},
		"received":         {roles: "manufacturer technician warehouse"},
		"installed":        {roles: "technician"},
		"ti.registered":    {roles: "practice technician"},
		"firmware.updated": {roles: "manufacturer technician"},
		"lzv.applied":      {roles: "manufacturer technician"},
		"service.visit":    {roles: "technician"},
		"deregistered":     {roles: "practice technician"},
		"removed":          {roles: "technician"},
		"returned.shipped": {roles: "carrier technician warehouse"},
		"decommissioned":   {roles: "manufacturer warehouse"},
		"destroyed": {roles: "manufacturer warehouse", counterparty: "witness",
			cpRoles: "auditor manufacturer warehouse", cpRule: "rule.destroy_requires_witness"},
	}
	join := func(m map[string]bool) string {
		var r []string
		for k, v := range m {
			if v {
				r = append(r, k)
			}
		}
		sort.Strings(r)
		return strings.Join(r, " ")
	}
	for name, w := range want {
		spec := Registry[name]
		if spec == nil {
			t.Errorf("%s not registered", name)
			continue
		}
		if !reflect.DeepEqual(spec.SubjectTypes, []string{"connector"}) || spec.Check == nil || spec.Apply == nil || spec.Schema == nil {
			t.Errorf("%s: incomplete spec", name)
		}
		if join(spec.Roles) != w.roles || spec.CounterpartyField != w.counterparty ||
			join(spec.CounterpartyRoles) != w.cpRoles || spec.CounterpartyRule != w.cpRule {
			t.Errorf("%s: roles %q counterparty %q %q %q", name, join(spec.Roles), spec.CounterpartyField,
				join(spec.CounterpartyRoles), spec.CounterpartyRule)
		}
	}
}

func TestConnectorHelpers(t *testing.T) {
	if got := pyStrList([]string{"KC00000017", "a'b", `q"'`, "t\u00e9\n\x01"}); got != `['KC00000017', "a'b", 'q"\'', 'té\n\x01']` {
		t.Errorf("ccPyList: %s", got)
	}
	if got := pyStrList(nil); got != "[]" {
		t.Errorf("pyStrList(nil): %s", got)
	}
	for _, c := range []struct{ a, b, q int64 }{{7, 2, 3}, {-7, 2, -4}, {-8, 2, -4}, {0, 5, 0}, {-1, 86400000000, -1}} {
		if got := ccFloorDiv(c.a, c.b); got != c.q {
			t.Errorf("floor %d // %d = %d, want %d", c.a, c.b, got, c.q)
		}
	}
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }
	for _, c := range []struct{ in, want string }{
		{"2028-02-29T12:00:00.5Z", "2032-02-29T12:00:00.5Z"},
		{"2096-02-29T00:00:00Z", "2100-02-28T00:00:00Z"},
		{"2021-03-31T23:59:59Z", "2025-03-31T23:59:59Z"},
	} {
		got, err := addYears(day(c.in), MIN_VALIDITY_YEARS)
		if err != nil || !got.Equal(day(c.want)) {
			t.Errorf("addYears(%s) = %v %v", c.in, got, err)
		}
	}
	// Past year 9999: the calendar's last instant, as connector.add_years.
	if got, err := addYears(day("9996-01-01T00:00:00Z"), 4); err != nil || !got.Equal(day("9999-12-31T23:59:59.999999Z")) {
		t.Errorf("addYears past 9999: %v %v", got, err)
	}
	if got := ccMicros(day("0001-01-01T00:00:00.000001Z")) - ccMicros(day("9999-12-31T23:59:59.999999Z")); got != -315537897599999998 {
		t.Errorf("micros span %d", got)
	}
}
