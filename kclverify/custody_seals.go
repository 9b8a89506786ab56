package main

// Port of ledger/custody/seals.py: seal lifecycle kinds (subject seal:<id>).
//
// IN_STOCK → ISSUED (to a named person) → APPLIED → REMOVED → RETAINED →
// DESTROYED, with VOID and LOST side exits. A seal id is single-use; applying
// and removing are recorded on the connector (custody_connector.go).

import "strings"

const MAX_BATCH = 10_000

func batchIds(series string, first, count int64) ([]string, error) {
	ids := make([]string, 0, count)
	for number := first; number < first+count; number++ {
		id, err := sealId(series, number)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// subjectSeal is the seal id of the statement's subject (the part after the
// first ':'), checked; input.statement.data if it is no valid seal id.
func subjectSeal(ctx *Context) (string, error) {
	ident := ctx.Statement.Subject
	if i := strings.IndexByte(ident, ':'); i >= 0 {
		ident = ident[i+1:]
	} else {
		ident = ""
	}
	if _, _, err := parseSealId(ident); err != nil {
		return "", Errf("input.statement.data", "%s", custodyErrText(err))
	}
	return ident, nil
}

func checkReceived(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	first, count := data["first"].(int64), data["count"].(int64)
	if first+count-1 > 9_999_999 {
		return Errf("input.statement.data", "the batch runs past number 9999999")
	}
	ids, err := batchIds(data["series"].(string), first, count)
	if err != nil {
		return err
	}
	if ctx.Statement.Subject != "seal:"+ids[0] {
		return Errf("input.statement.data", "subject must be seal:%s, the first seal of the batch", ids[0])
	}
	// Python: get_many(ids); the ids of a batch are distinct, so one Get
	// each has the same effect without get_many's de-duplication.
	seals := custody(state).Seals
	var existing []string
	for _, key := range ids {
		if seals.Get(key) != nil {
			existing = append(existing, key)
		}
	}
	if len(existing) > 0 {
		if len(existing) > 5 {
			existing = existing[:5]
		}
		return Errf("rule.seal_unique", "seal ids already on the ledger: %s", pyStrList(existing))
	}
	return nil
}

func applyReceived(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	seals := custody(state).Seals
	ids, err := batchIds(data["series"].(string), data["first"].(int64), data["count"].(int64))
	if err != nil {
		return err
	}
	by := strings.Clone(ctx.Statement.By) // one copy for the batch, not pinning the statement
	for _, ident := range ids {
		seal := NewSealRecord(ident, SEAL_IN_STOCK, by, ctx.Index)
		seal.LastIndex = ctx.Index
		seals.Put(ident, seal)
	}
	return nil
}

// sealKind registers a seal kind other than seal.received (Python seal_kind;
// its epcis mapping and summary are documentation only).
func sealKind(name string, roles map[string]bool, schema *ObjV, transitions map[string]string, holderOnly bool) *KindSpec {
	check := func(state *LedgerState, ctx *Context) error {
		ident, err := subjectSeal(ctx)
		if err != nil {
			return err
		}
		seal := custody(state).Seals.Get(ident)
		if seal == nil {
			return Errf("rule.unknown_seal", "seal %s is not on the ledger", ident)
		}
		if _, ok := transitions[seal.Status]; !ok {
			return Errf("rule.seal_state", "cannot record %s for a seal that is %s", name, seal.Status)
		}
		if holderOnly && seal.Holder != ctx.Statement.By {
			return Errf("rule.seal_holder", "seal %s is held by %s, not %s", ident, seal.Holder, ctx.Statement.By)
		}
		return nil
	}

	apply := func(state *LedgerState, ctx *Context) error {
		ident, err := subjectSeal(ctx)
		if err != nil {
			return err
		}
		seals := custody(state).Seals
		seal := seals.Get(ident)
		if seal == nil { // Python: assert seal is not None
			return custodyStateUnknown("AssertionError: ")
		}
		next, ok := transitions[seal.Status]
		if !ok { // Python: KeyError from transitions[seal.status]
			return custodyStateUnknown("KeyError: %s", pyStr(seal.Status))
		}
		seal.Status = next
		seal.LastIndex = ctx.Index
		if name == "seal.issued" {
			to := ctx.Statement.Data["to"].(string)
			seal.IssuedTo = custodyStr(to)
			seal.Holder = to
		}
		seals.Put(ident, seal)
		return nil
	}

	return RegisterKind(&KindSpec{
		Name:              name,
		SubjectTypes:      []string{"seal"},
		Roles:             roles,
		Schema:            schema,
		Check:             check,
		Apply:             apply,
		CounterpartyRoles: map[string]bool{},
	})
}

func init() {
	RegisterKind(&KindSpec{
		Name:         "seal.received",
		SubjectTypes: []string{"seal"},
		Roles:        custodySet(WAREHOUSE, MANUFACTURER),
		Schema: &ObjV{
			Required: map[string]Validator{
				"series":   &TextV{MinLength: 2, MaxLength: 2, Pattern: FullMatch(`[ABCDEFGHJKMNPQRSTVWX]{2}`)},
				"first":    &IntegerV{Minimum: 0, Maximum: 9_999_999},
				"count":    &IntegerV{Minimum: 1, Maximum: MAX_BATCH},
				"supplier": SHORT,
			},
			Optional: map[string]Validator{"lot": SHORT},
		},
		Check:             checkReceived,
		Apply:             applyReceived,
		CounterpartyRoles: map[string]bool{},
	})

	// A seal from stock is issued to a named person, who alone may apply it.
	sealKind(
		"seal.issued",
		custodySet(WAREHOUSE, MANUFACTURER),
		&ObjV{Required: map[string]Validator{"to": PARTY}},
		map[string]string{SEAL_IN_STOCK: SEAL_ISSUED},
		true,
	)
	// A removed seal is kept as evidence.
	sealKind(
		"seal.retained",
		custodySet(WAREHOUSE, MANUFACTURER, TECHNICIAN, AUDITOR),
		&ObjV{Required: map[string]Validator{"location": LOCATION}},
		map[string]string{SEAL_REMOVED: SEAL_RETAINED},
		false,
	)
	// A used or void seal is destroyed.
	sealKind(
		"seal.destroyed",
		custodySet(WAREHOUSE, MANUFACTURER, AUDITOR),
		&ObjV{Required: map[string]Validator{"method": SHORT}},
		map[string]string{SEAL_REMOVED: SEAL_DESTROYED, SEAL_RETAINED: SEAL_DESTROYED, SEAL_VOID: SEAL_DESTROYED},
		false,
	)
	// An unused seal is declared void (damaged, misprinted).
	sealKind(
		"seal.voided",
		custodySet(WAREHOUSE, MANUFACTURER, TECHNICIAN),
		&ObjV{Required: map[string]Validator{"reason": NOTE}},
		map[string]string{SEAL_IN_STOCK: SEAL_VOID, SEAL_ISSUED: SEAL_VOID},
		true,
	)
	// A seal went missing.
	sealKind(
		"seal.lost",
		custodySet(WAREHOUSE, MANUFACTURER, TECHNICIAN, CARRIER, AUDITOR),
		&ObjV{Required: map[string]Validator{"circumstances": NOTE}},
		map[string]string{SEAL_IN_STOCK: SEAL_LOST, SEAL_ISSUED: SEAL_LOST, SEAL_REMOVED: SEAL_LOST, SEAL_RETAINED: SEAL_LOST},
		false,
	)
}
