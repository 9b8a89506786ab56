package main

import (
	"strings"
	"testing"
)

func TestRecordsOrderAndAbsentKeys(t *testing.T) {
	r := NewRecords[SealRecord]()
	if r.Get("B") != nil {
		t.Fatal("Get of an absent key")
	}
	r.Put("C", NewSealRecord("C", SEAL_IN_STOCK, "party:X", 1))
	r.Put("B", NewSealRecord("B", SEAL_IN_STOCK, "party:X", 2))
	r.Put("A", NewSealRecord("A", SEAL_IN_STOCK, "party:X", 3))
	// Python dict order: B was touched first (by Get), then C, then A.
	if got := strings.Join(r.Keys(), ","); got != "B,C,A" {
		t.Errorf("Keys = %s", got)
	}
	keys, values := r.GetMany([]string{"A", "Z", "A", "C"})
	if strings.Join(keys, ",") != "A,Z,C" || values[0].ReceivedIndex != 3 || values[1] != nil || values[2].ReceivedIndex != 1 {
		t.Errorf("GetMany = %v %v", keys, values)
	}
	if r.Len() != 3 {
		t.Errorf("Len = %d", r.Len())
	}
	// Records are shared: a change to what Get returned is in the set.
	r.Get("A").Status = SEAL_ISSUED
	if r.Get("A").Status != SEAL_ISSUED {
		t.Error("records are not shared")
	}
}

func TestCertNotAfter(t *testing.T) {
	r := NewConnectorRecord("connector:X:1", "X", "1", "P", PRODUCED, "party:M", nil, "1")
	if r.CertNotAfter() != nil || r.SealStatus != UNSEALED {
		t.Fatal("defaults")
	}
	// Instants, not strings: .25 is before .5; equal instants keep the first.
	r.Certificates = []*Certificate{
		{Iccsn: "1", NotAfter: "2030-01-01T00:00:00.5Z"},
		{Iccsn: "2", NotAfter: "2030-01-01T00:00:00.25Z"},
		{Iccsn: "3", NotAfter: "2030-01-01T00:00:00.250000Z"},
		{Iccsn: "4", NotAfter: "2031-01-01T00:00:00Z"},
	}
	if got := r.CertNotAfter(); got == nil || *got != "2030-01-01T00:00:00.25Z" {
		t.Errorf("CertNotAfter = %v", got)
	}
	// Python keeps microseconds: these two are the same instant there.
	r.Certificates = []*Certificate{
		{Iccsn: "1", NotAfter: "2030-01-01T00:00:00.0000009Z"},
		{Iccsn: "2", NotAfter: "2030-01-01T00:00:00.0000001Z"},
	}
	if got := r.CertNotAfter(); got == nil || *got != "2030-01-01T00:00:00.0000009Z" {
		t.Errorf("CertNotAfter (microseconds) = %v", *got)
	}
}

func TestCustodyStateAndSubjects(t *testing.T) {
	state := NewLedgerState()
	if state.Custody != nil {
		t.Fatal("custody state before first use")
	}
	cs := custody(state)
	if custody(state) != cs {
		t.Fatal("custody() creates a new state each time")
	}
	if len(CustodySubjects(state)) != 0 {
		t.Fatal("subjects of an empty state")
	}
	for _, s := range []string{"connector:B:1", "connector:A:2", "connector:A:10"} {
		cs.Connectors.Put(s, NewConnectorRecord(s, "", "", "", PRODUCED, "", nil, ""))
	}
	cs.Connectors.Get("connector:0:0") // absent: not a subject
	if got := strings.Join(CustodySubjects(state), " "); got != "connector:A:10 connector:A:2 connector:B:1" {
		t.Errorf("CustodySubjects = %s", got)
	}
}
