package main

import (
	"strings"
	"testing"
)

func custodySealCtx(kind, subject, by string, index int64, data Object) *Context {
	st := &Statement{Kind: kind, Subject: subject, At: "2025-01-01T00:00:00Z", By: by, Data: data, Nonce: strings.Repeat("A", 22)}
	return &Context{Index: index, Statement: st, Spec: Registry[kind], Signers: custodySet(by), RecordedAt: "2025-01-01T00:00:00Z"}
}

func TestSealBatchReceived(t *testing.T) {
	state := NewLedgerState()
	data := Object{"series": "KC", "first": int64(1), "count": int64(MAX_BATCH), "supplier": "S"}
	ctx := custodySealCtx("seal.received", "seal:KC00000017", "party:WH", 7, data)
	spec := Registry["seal.received"]
	if err := spec.Schema.Validate(data, "data"); err != nil {
		t.Fatal(err)
	}
	if err := spec.Check(state, ctx); err != nil {
		t.Fatal(err)
	}
	if err := spec.Apply(state, ctx); err != nil {
		t.Fatal(err)
	}
	seals := custody(state).Seals
	if seals.Len() != MAX_BATCH {
		t.Fatalf("%d seals", seals.Len())
	}
	last := seals.Get("KC0010000" + custodyMustCheck(t, "KC0010000"))
	if last == nil || last.Status != SEAL_IN_STOCK || last.Holder != "party:WH" || last.ReceivedIndex != 7 || last.LastIndex != 7 || last.IssuedTo != nil {
		t.Errorf("last seal of the batch: %+v", last)
	}
	// The same batch again: rule.seal_unique names the first five.
	err := spec.Check(state, ctx)
	want := "seal ids already on the ledger: ['KC00000017', 'KC00000025', 'KC00000033', 'KC00000041', 'KC0000005X']"
	if le, ok := err.(*LedgerError); !ok || le.Code != "rule.seal_unique" || le.Msg != want {
		t.Errorf("again: %v", err)
	}
}

func custodyMustCheck(t *testing.T, payload string) string {
	c, err := checkCharacter(payload)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubjectSeal(t *testing.T) {
	ctx := custodySealCtx("seal.lost", "seal:KC0001237X", "party:WH", 1, Object{})
	if _, err := subjectSeal(ctx); err == nil || err.(*LedgerError).Code != "input.statement.data" || err.Error() != "'KC0001237X': check character does not match" {
		t.Errorf("subjectSeal: %v", err)
	}
	ctx.Statement.Subject = "seal:KC0001237H"
	if id, err := subjectSeal(ctx); err != nil || id != "KC0001237H" {
		t.Errorf("subjectSeal: %q %v", id, err)
	}
}

func BenchmarkSealBatchReceived(b *testing.B) {
	data := Object{"series": "KC", "first": int64(1), "count": int64(MAX_BATCH), "supplier": "S"}
	spec := Registry["seal.received"]
	for i := 0; i < b.N; i++ {
		state := NewLedgerState()
		ctx := custodySealCtx("seal.received", "seal:KC00000017", "party:WH", 7, data)
		if err := spec.Check(state, ctx); err != nil {
			b.Fatal(err)
		}
		if err := spec.Apply(state, ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTimeFlagsAndHistory(b *testing.B) {
	state := NewLedgerState()
	s := "connector:X:1"
	r := NewConnectorRecord(s, "X", "1", "p", IN_STOCK, "party:WH", nil, "1")
	custody(state).Connectors.Put(s, r)
	st := &Statement{Kind: "lost", Subject: s, At: "2025-01-01T00:00:00Z", By: "party:WH"}
	ctx := &Context{Statement: st, Spec: &KindSpec{Name: "lost"}, RecordedAt: "2025-01-01T00:00:01.000Z", LeafHash: make([]byte, 32)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(timeFlags(state, ctx)) != 0 {
			b.Fatal("flag")
		}
		before := IN_STOCK
		if err := noteHistory(r, ctx, &before, &before); err != nil {
			b.Fatal(err)
		}
		if len(r.History) > 1024 {
			r.History = r.History[:0]
		}
	}
}
