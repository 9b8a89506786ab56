package main

// Connector lifecycle kinds: factory, sealing, storage, transport, site,
// return, end of life — the port of ledger/custody/connector.py.
//
// State machine (DESIGN §5):
//
//	PRODUCED → PERSONALISED → SEALED → IN_STOCK ⇄ IN_TRANSIT → RECEIVED → INSTALLED
//	  → IN_OPERATION → DEREGISTERED → REMOVED → RETURN_TRANSIT → RETURNED
//	  → DECOMMISSIONED → DESTROYED;   SUSPECT → QUARANTINED (incidents);   LOST
//
// Guard rules carry the ids of DESIGN §5 (rule.*). Every function keeps the
// order of checks and the messages of the Python module; InvalidData is
// Errf("input.statement.data", …), RuleViolation(rule, msg) is Errf(rule, msg).
// The EPCIS mappings and summaries of the Python kinds are documentation only
// (KindSpec has no field for them) and are not ported.

import (
	"sort"
	"strconv"
	"time"
)

// MIN_VALIDITY_YEARS — rule 4: a new installation needs this much gSMC-K validity left.
const MIN_VALIDITY_YEARS = 4

var SEAL_RESULTS = []string{"intact", "void_pattern", "torn", "missing", "mismatch"}

var CUSTODIAL_ROLES = ccRoles(MANUFACTURER, WAREHOUSE, CARRIER, TECHNICIAN)

// ACTIVE is every state but the terminal ones (DESTROYED, LOST), in Python's order.
var ACTIVE = []string{
	PRODUCED, PERSONALISED, SEALED, IN_STOCK, IN_TRANSIT, RECEIVED, INSTALLED, IN_OPERATION,
	DEREGISTERED, REMOVED, RETURN_TRANSIT, RETURNED, DECOMMISSIONED, SUSPECT, QUARANTINED,
}

const ccDataCode = "input.statement.data"

// same: transitions that leave the state as it is ("" is Python's None: unchanged).
func same(states ...string) map[string]string {
	m := make(map[string]string, len(states))
	for _, s := range states {
		m[s] = ""
	}
	return m
}

// addYears is Python's add_years: the same day and time `years` later; 29
// February becomes 28 February when the target year has none; past year 9999
// the calendar's last instant.
func addYears(moment time.Time, years int) (time.Time, error) {
	year := moment.Year() + years
	if year > 9999 {
		// Past the calendar's last year: its last instant (connector.add_years), so
		// the validity rule refuses an install dated 9996–9999.
		return time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC), nil
	}
	if year < 1 {
		return time.Time{}, Errf("replay.state_unknown", "ValueError: year %d is out of range", year)
	}
	day := moment.Day()
	if moment.Month() == time.February && day == 29 && !ccIsLeap(year) {
		day = 28
	}
	return time.Date(year, moment.Month(), day, moment.Hour(), moment.Minute(), moment.Second(),
		moment.Nanosecond(), time.UTC), nil
}

func ccIsLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// openIncident makes the connector SUSPECT under a new incident INC-<index>
// (rule 5, incident.reported).
func openIncident(state *LedgerState, ctx *Context, record *ConnectorRecord, category, description string) {
	incidentID := "INC-" + strconv.FormatInt(ctx.Index, 10)
	custody(state).Incidents.Put(incidentID,
		NewIncidentRecord(incidentID, record.Subject, category, ctx.Statement.By, ctx.Index, description))
	if record.OpenIncident != nil {
		// One investigation per unit: a further report joins the open one,
		// and its reporter is also barred from the release (rule 11).
		record.JoinedIncidents = append(record.JoinedIncidents, incidentID)
		return
	}
	if record.State != SUSPECT && record.State != QUARANTINED {
		before := record.State
		record.StateBeforeIncident = &before
	}
	record.State = SUSPECT
	record.OpenIncident = &incidentID
}

// --------------------------------------------------------------------------
// Factory: commissioning, gSMC-K binding, sealing.

var SMCK_ITEM = &ObjV{Required: map[string]Validator{"iccsn": ICCSN, "not_after": &TimestampV{}}}

func uniqueIccsns(value Object, path string) error {
	iccsns := ccField(value, "smck", "iccsn")
	if len(ccSet(iccsns)) != len(iccsns) {
		return Errf(ccDataCode, "%s.smck: ICCSNs must be unique", path)
	}
	return nil
}

func checkCommissioned(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	expected := "connector:" + ccStr(data["vendor"]) + ":" + ccStr(data["serial"])
	if ctx.Statement.Subject != expected {
		return Errf(ccDataCode, "subject must be %s (vendor and serial from data)", expected)
	}
	if custody(state).Connectors.Get(ctx.Statement.Subject) != nil {
		return Errf("rule.connector_exists", "%s was already commissioned", ctx.Statement.Subject)
	}
	return nil
}

func applyCommissioned(state *LedgerState, ctx *Context) error {
	data := ctx.Statement.Data
	var certificates []*Certificate
	smck, _ := data["smck"].([]any)
	for _, item := range smck {
		c, _ := item.(map[string]any)
		certificates = append(certificates, &Certificate{Iccsn: ccStr(c["iccsn"]), NotAfter: ccStr(c["not_after"])})
	}
	record := NewConnectorRecord(ctx.Statement.Subject, ccStr(data["vendor"]), ccStr(data["serial"]),
		ccStr(data["product_code"]), PRODUCED, ctx.Statement.By, certificates, ccStr(data["fw_version"]))
	after := PRODUCED
	if err := noteHistory(record, ctx, nil, &after); err != nil {
		return err
	}
	custody(state).Connectors.Put(record.Subject, record)
	return nil
}

func guardSmck(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	declared := map[string]bool{}
	for _, c := range record.Certificates {
		declared[c.Iccsn] = true
	}
	if !ccSetEqual(ccSet(ccStrings(ctx.Statement.Data["iccsns"])), declared) {
		return Errf("rule.smck_matches_commissioning", "bound gSMC-K cards differ from those commissioned")
	}
	return nil
}

func effectSmck(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	record.SmckBound = true
	return nil
}

func guardSealApplied(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	// Rule 7: a seal must be ISSUED to the applying person and never applied
	// before; a re-seal needs the old seals removed, and only a manufacturer
	// may re-seal a housing.
	if record.EverSealed {
		if len(record.Seals) > 0 {
			return Errf("rule.reseal_requires_removal", "%s still carries seals %s; record seal.removed first",
				record.Subject, pyStrList(ccSorted(record.Seals)))
		}
		if !state.RolesOf(ctx.Statement.By)[MANUFACTURER] {
			return Errf("rule.reseal_by_manufacturer", "only a manufacturer may re-seal a housing")
		}
	} else if record.State != PERSONALISED {
		return Errf("rule.state_transition", "a housing is first sealed after gSMC-K binding")
	}
	sealIDs, seals := custody(state).Seals.GetMany(ccStrings(ctx.Statement.Data["seals"]))
	for i, sealID := range sealIDs {
		seal := seals[i]
		if seal == nil {
			return Errf("rule.unknown_seal", "seal %s is not on the ledger", sealID)
		}
		if seal.Status != SEAL_ISSUED {
			return Errf("rule.seal_single_use", "seal %s is %s, not ISSUED (single use)", sealID, seal.Status)
		}
		if seal.IssuedTo == nil || *seal.IssuedTo != ctx.Statement.By {
			return Errf("rule.seal_issued_to_applier", "seal %s was issued to %s, not %s",
				sealID, pyOptional(seal.IssuedTo), ctx.Statement.By)
		}
	}
	return nil
}

func effectSealApplied(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	seals := custody(state).Seals
	applied := ccStrings(ctx.Statement.Data["seals"])
	for _, sealID := range applied {
		seal := seals.Get(sealID)
		if seal == nil { // Python: assert seal is not None (the guard saw every seal)
			return Errf("replay.state_unknown", "AssertionError: ")
		}
		subject := record.Subject
		seal.Status, seal.Connector, seal.LastIndex = SEAL_APPLIED, &subject, ctx.Index
		seals.Put(sealID, seal)
	}
	record.Seals = ccSorted(applied)
	record.EverSealed = true
	record.SealStatus = UNVERIFIED
	return nil
}

// --------------------------------------------------------------------------
// Seal checks.

func checkResults(value Object, path string) error {
	listed := ccField(value, "results", "seal")
	if len(ccSet(listed)) != len(listed) {
		return Errf(ccDataCode, "%s.results: one result per seal", path)
	}
	wanted := ccSet(ccStrings(value["expected"]))
	for _, s := range ccStrings(value["observed"]) {
		wanted[s] = true
	}
	if !ccSetEqual(ccSet(listed), wanted) {
		return Errf(ccDataCode, "%s.results: need exactly one result for every expected and observed seal", path)
	}
	return nil
}

// ccResults is {r["seal"]: r["result"] for r in data["results"]} (later entries win, as in Python).
func ccResults(data Object) map[string]string {
	results := map[string]string{}
	list, _ := data["results"].([]any)
	for _, item := range list {
		r, _ := item.(map[string]any)
		results[ccStr(r["seal"])] = ccStr(r["result"])
	}
	return results
}

func inspectionConformant(data Object) bool {
	results := ccResults(data)
	if !ccSetEqual(ccSet(ccStrings(data["observed"])), ccSet(ccStrings(data["expected"]))) {
		return false
	}
	for _, v := range results {
		if v != "intact" {
			return false
		}
	}
	return true
}

func guardInspected(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	expected := ccStrings(ctx.Statement.Data["expected"])
	if !ccSetEqual(ccSet(expected), ccSet(record.Seals)) {
		return Errf("rule.inspection_expects_ledger_seals", "expected seals %s differ from the ledger's %s",
			pyStrList(ccSorted(expected)), pyStrList(ccSorted(record.Seals)))
	}
	return nil
}

func effectInspected(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	st := ctx.Statement
	data := st.Data
	results := ccResults(data)
	conformant := inspectionConformant(data)
	var place *string
	if st.Place != nil {
		p := *st.Place
		place = &p
	}
	record.LastInspection = &Inspection{
		Nonce:      st.Nonce,
		Index:      ctx.Index,
		By:         st.By,
		Place:      place,
		At:         st.At,
		Expected:   ccSorted(ccStrings(data["expected"])),
		Observed:   ccSorted(ccStrings(data["observed"])),
		Results:    results,
		Conformant: conformant,
	}
	if conformant {
		record.SealStatus = INTACT_VERIFIED
		return nil
	}
	for _, v := range results {
		if v == "torn" || v == "void_pattern" {
			record.SealStatus = BROKEN
			return nil
		}
	}
	record.SealStatus = MISMATCH
	return nil
}

func guardSealRemoved(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	on := ccSet(record.Seals)
	var missing []string
	for s := range ccSet(ccStrings(ctx.Statement.Data["seals"])) { // seal_set(data["seals"])
		if !on[s] {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return Errf("rule.seal_on_connector", "seals %s are not on %s", pyStrList(ccSorted(missing)), record.Subject)
	}
	return nil
}

func effectSealRemoved(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	seals := custody(state).Seals
	removed := ccStrings(ctx.Statement.Data["seals"])
	for _, sealID := range removed {
		seal := seals.Get(sealID)
		if seal != nil {
			seal.Status, seal.Holder, seal.LastIndex = SEAL_REMOVED, ctx.Statement.By, ctx.Index
			seals.Put(sealID, seal)
		}
	}
	gone := ccSet(removed)
	remaining := []string{}
	for s := range ccSet(record.Seals) {
		if !gone[s] {
			remaining = append(remaining, s)
		}
	}
	record.Seals = ccSorted(remaining)
	if len(record.Seals) > 0 {
		record.SealStatus = BROKEN
	} else {
		record.SealStatus = UNSEALED
	}
	return nil
}

// --------------------------------------------------------------------------
// Warehouse and transport.

func effectStored(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	location := ccStr(ctx.Statement.Data["location"])
	record.Location = &location
	record.Bin = nil
	if bin, ok := ctx.Statement.Data["bin"].(string); ok { // data.get("bin")
		record.Bin = &bin
	}
	return nil
}

func guardSealedForTransport(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	if len(record.Seals) == 0 {
		return Errf("rule.ship_sealed", "%s carries no seals and cannot be shipped", record.Subject)
	}
	return nil
}

func effectShipped(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	record.SealStatus = UNVERIFIED
	record.Bin = nil
	return nil
}

var SHIPMENT = &ObjV{
	Required: map[string]Validator{"destination": LOCATION, "to": PARTY, "delivery_note": SHORT},
	Optional: map[string]Validator{"carton_seal": SEAL_ID},
}

func guardTransfer(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	// Rule 6: the releasing party must be the current custodian (both
	// signatures are enforced through counterparty_rule).
	if ctx.Statement.By != record.Custodian {
		return Errf("rule.transfer_from_custodian", "%s is not the custodian of %s (%s is)",
			ctx.Statement.By, record.Subject, record.Custodian)
	}
	declared := ccStrings(ctx.Statement.Data["seals"])
	if !ccSetEqual(ccSet(declared), ccSet(record.Seals)) {
		return Errf("rule.transfer_declares_ledger_seals", "declared seals %s differ from the ledger's %s",
			pyStrList(ccSorted(declared)), pyStrList(ccSorted(record.Seals)))
	}
	return nil
}

func effectTransfer(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	record.Custodian = ccStr(ctx.Statement.Data["to"])
	record.SealStatus = UNVERIFIED
	return nil
}

func effectReceived(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	// Rule 5: a receipt with other seal ids than shipped is recorded, and
	// raises an incident by itself — no one has to remember to report it.
	observed := ccSet(ccStrings(ctx.Statement.Data["seals_observed"]))
	current := ccSet(record.Seals)
	if ccSetEqual(observed, current) {
		record.SealStatus = UNVERIFIED
		return nil
	}
	record.SealStatus = MISMATCH
	var missing, extra []string
	for s := range current {
		if !observed[s] {
			missing = append(missing, s)
		}
	}
	for s := range observed {
		if !current[s] {
			extra = append(extra, s)
		}
	}
	openIncident(state, ctx, record, "seal_mismatch",
		"receipt seal mismatch: missing "+pyStrList(ccSorted(missing))+", unexpected "+pyStrList(ccSorted(extra)))
	return nil
}

// --------------------------------------------------------------------------
// At the practice.

func guardInstalled(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	statement, data := ctx.Statement, ctx.Statement.Data
	if statement.Place == nil {
		return Errf(ccDataCode, "installed needs the place (the practice's location)")
	}
	// Rule 1: the latest seal check is conformant, done on site by the
	// installing technician, over the seals the ledger knows — and no later
	// observation (a receipt with other seal ids) contradicts it.
	inspection := record.LastInspection
	if inspection == nil ||
		inspection.Nonce != ccStr(data["seal_check"]) ||
		inspection.By != statement.By ||
		inspection.Place == nil || *inspection.Place != *statement.Place ||
		!inspection.Conformant ||
		!ccSetEqual(ccSet(inspection.Expected), ccSet(record.Seals)) ||
		len(record.Seals) == 0 ||
		record.SealStatus == MISMATCH || record.SealStatus == BROKEN {
		return Errf("rule.install_requires_conformant_seal_check",
			"the latest seal inspection must be conformant, referenced by seal_check, and done on site "+
				"by the installing technician")
	}
	// Rule 4: gSMC-K validity.
	notAfterText := record.CertNotAfter()
	if notAfterText == nil { // Python: assert not_after_text is not None
		return Errf("replay.state_unknown", "AssertionError: ")
	}
	at, err := atOf(ctx)
	if err != nil {
		return err
	}
	notAfter, err := ccParseTimestamp(*notAfterText, "timestamp")
	if err != nil {
		return err
	}
	recorded, err := ccParseTimestamp(ctx.RecordedAt, "recorded_at")
	if err != nil {
		return err
	}
	latest := at
	if recorded.After(latest) {
		latest = recorded
	}
	// "Never with expired certificates" holds against the log's own clock
	// too, so a back-dated event time cannot sneak an expired unit in.
	if !notAfter.After(latest) {
		return Errf("rule.certificate_expired", "the gSMC-K certificate expired at %s", *notAfterText)
	}
	remainingDays := ccFloorDiv(ccMicros(notAfter)-ccMicros(at), 86400*1000000) // timedelta.days
	given, _ := data["remaining_validity_days"].(int64)
	if diff := given - remainingDays; diff > 1 || diff < -1 {
		return Errf(ccDataCode, "remaining_validity_days is %d by the ledger's certificate data", remainingDays)
	}
	required, err := addYears(at, MIN_VALIDITY_YEARS)
	if err != nil {
		return err
	}
	if notAfter.Before(required) {
		override, present := data["override"]
		if !present || override == nil {
			return Errf("rule.certificate_validity",
				"only %d days of gSMC-K validity left; %d years are required "+
					"(an override needs a reason and an auditor's co-signature)", remainingDays, MIN_VALIDITY_YEARS)
		}
		fields, _ := override.(map[string]any)
		auditor := ccStr(fields["auditor"])
		if auditor == ctx.Statement.By {
			// Four eyes: a technician who also holds `auditor` cannot approve their own
			// exception to the validity rule; the override is a second person's decision.
			return Errf("rule.certificate_validity",
				"the override auditor must be another party than the installer %s", auditor)
		}
		if !ctx.Signers[auditor] || !state.RolesOf(auditor)[AUDITOR] {
			return Errf("rule.certificate_validity", "the override needs the co-signature of auditor %s", auditor)
		}
	}
	return nil
}

func effectInstalled(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	practice := ccStr(ctx.Statement.Data["practice"])
	record.Practice = &practice
	record.Firmware = ccStr(ctx.Statement.Data["firmware"])
	record.Bin = nil
	return nil
}

func guardPractice(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	if record.Practice == nil || ccStr(ctx.Statement.Data["practice"]) != *record.Practice {
		return Errf("rule.same_practice", "the practice differs from the one the unit is installed at")
	}
	return nil
}

func guardFirmware(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	from, to := ccStr(ctx.Statement.Data["from"]), ccStr(ctx.Statement.Data["to"])
	if from == to {
		return Errf(ccDataCode, "firmware.updated needs a different target version")
	}
	if from != record.Firmware {
		return Errf("rule.firmware_from", "the unit runs firmware %s, not %s", record.Firmware, from)
	}
	return nil
}

func effectFirmware(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	record.Firmware = ccStr(ctx.Statement.Data["to"])
	return nil
}

func guardLzv(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	data := ctx.Statement.Data
	iccsn := ccStr(data["iccsn"])
	var card *Certificate
	for _, c := range record.Certificates {
		if c.Iccsn == iccsn {
			card = c
			break
		}
	}
	if card == nil {
		return Errf("rule.lzv_known_card", "%s has no gSMC-K %s", record.Subject, iccsn)
	}
	newNotAfter, err := ccParseTimestamp(ccStr(data["not_after"]), "timestamp")
	if err != nil {
		return err
	}
	oldNotAfter, err := ccParseTimestamp(card.NotAfter, "timestamp")
	if err != nil {
		return err
	}
	if !newNotAfter.After(oldNotAfter) {
		return Errf("rule.lzv_extends", "a runtime extension must move the expiry later")
	}
	return nil
}

func effectLzv(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	iccsn, notAfter := ccStr(ctx.Statement.Data["iccsn"]), ccStr(ctx.Statement.Data["not_after"])
	for _, card := range record.Certificates {
		if card.Iccsn == iccsn {
			card.NotAfter = notAfter
		}
	}
	return nil
}

// --------------------------------------------------------------------------
// Exchange and return.

func effectRemoved(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	record.Practice = nil
	return nil
}

// ccRefuse maps every state to the same refusal.
func ccRefuse(rule, reason string, states ...string) map[string]Refusal {
	m := make(map[string]Refusal, len(states))
	for _, s := range states {
		m[s] = Refusal{Rule: rule, Reason: reason}
	}
	return m
}

// ccMerge is Python's {**a, **b} for transition maps.
func ccMerge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func init() {
	RegisterKind(&KindSpec{
		Name:         "connector.commissioned",
		SubjectTypes: []string{"connector"},
		Roles:        map[string]bool{MANUFACTURER: true},
		Schema: &ObjV{
			Required: map[string]Validator{
				"vendor":           &TextV{MinLength: 1, MaxLength: 32, Pattern: FullMatch(`[A-Z0-9][A-Z0-9_-]{0,31}`)},
				"serial":           &TextV{MinLength: 1, MaxLength: 64, Pattern: FullMatch(`[A-Z0-9][A-Z0-9._-]{0,63}`)},
				"product_code":     SHORT,
				"hw_version":       SHORT,
				"fw_version":       SHORT,
				"production_date":  &DateV{},
				"smck":             &ListOfV{Item: SMCK_ITEM, MinItems: 1, MaxItems: 4, Unique: true},
				"certification_id": SHORT,
			},
			Check: uniqueIccsns,
		},
		Check: checkCommissioned,
		Apply: applyCommissioned,
	})

	connectorKind("smck.bound", ConnectorKindOptions{
		Roles: ccRoles(MANUFACTURER),
		Schema: &ObjV{Required: map[string]Validator{
			"iccsns":      &ListOfV{Item: ICCSN, MinItems: 1, MaxItems: 4, Unique: true},
			"environment": LOCATION,
		}},
		Transitions:   map[string]string{PRODUCED: PERSONALISED},
		Guard:         guardSmck,
		Effect:        effectSmck,
		CustodianOnly: true,
	})

	connectorKind("seal.applied", ConnectorKindOptions{
		Roles:  ccRoles(MANUFACTURER, TECHNICIAN),
		Schema: &ObjV{Required: map[string]Validator{"seals": SEAL_LIST}},
		Transitions: ccMerge(map[string]string{PERSONALISED: SEALED},
			same(SEALED, IN_STOCK, RECEIVED, RETURNED, QUARANTINED, SUSPECT)),
		Guard:  guardSealApplied,
		Effect: effectSealApplied,
	})

	connectorKind("seal.inspected", ConnectorKindOptions{
		Roles: ccRoles(WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR),
		Schema: &ObjV{
			Required: map[string]Validator{
				"expected": SEAL_LIST_OR_EMPTY,
				"observed": SEAL_LIST_OR_EMPTY,
				"results": &ListOfV{
					Item: &ObjV{Required: map[string]Validator{
						"seal": SEAL_ID, "result": &OneOfV{Values: SEAL_RESULTS},
					}},
					MinItems: 1, MaxItems: 32, Unique: true,
				},
				"checklist": SHORT,
			},
			Optional: map[string]Validator{"photos": &ListOfV{Item: DIGEST, MinItems: 0, MaxItems: 16, Unique: true}},
			Check:    checkResults,
		},
		Transitions: same(ACTIVE...),
		Guard:       guardInspected,
		Effect:      effectInspected,
	})

	var notFresh []string // ACTIVE without PRODUCED and PERSONALISED
	for _, s := range ACTIVE {
		if s != PRODUCED && s != PERSONALISED {
			notFresh = append(notFresh, s)
		}
	}
	connectorKind("seal.removed", ConnectorKindOptions{
		Roles:       ccRoles(MANUFACTURER, TECHNICIAN),
		Schema:      &ObjV{Required: map[string]Validator{"seals": SEAL_LIST, "reason": NOTE}},
		Transitions: same(notFresh...),
		Guard:       guardSealRemoved,
		Effect:      effectSealRemoved,
	})

	connectorKind("stored", ConnectorKindOptions{
		Roles:  ccRoles(WAREHOUSE, MANUFACTURER),
		Schema: &ObjV{Required: map[string]Validator{"location": LOCATION}, Optional: map[string]Validator{"bin": SHORT}},
		Transitions: ccMerge(map[string]string{SEALED: IN_STOCK, RECEIVED: IN_STOCK, IN_STOCK: IN_STOCK},
			same(RETURNED, DECOMMISSIONED, QUARANTINED)),
		Effect:        effectStored,
		CustodianOnly: true,
	})

	connectorKind("shipped", ConnectorKindOptions{
		Roles:         ccRoles(WAREHOUSE, MANUFACTURER),
		Schema:        SHIPMENT,
		Transitions:   map[string]string{IN_STOCK: IN_TRANSIT},
		Guard:         guardSealedForTransport,
		Effect:        effectShipped,
		CustodianOnly: true,
		BlockedAction: true,
	})

	connectorKind("custody.transferred", ConnectorKindOptions{
		Roles: CUSTODIAL_ROLES,
		Schema: &ObjV{
			Required: map[string]Validator{"to": PARTY, "seals": SEAL_LIST_OR_EMPTY},
			Optional: map[string]Validator{"delivery_note": SHORT, "shipment": SHORT},
		},
		Transitions:       same(ACTIVE...),
		Guard:             guardTransfer,
		Effect:            effectTransfer,
		CounterpartyField: "to",
		CounterpartyRoles: CUSTODIAL_ROLES,
		CounterpartyRule:  "rule.transfer_needs_both_signatures",
	})

	connectorKind("received", ConnectorKindOptions{
		Roles: ccRoles(WAREHOUSE, TECHNICIAN, MANUFACTURER),
		Schema: &ObjV{
			Required: map[string]Validator{"seals_observed": SEAL_LIST_OR_EMPTY},
			Optional: map[string]Validator{"delivery_note": SHORT},
		},
		Transitions:   map[string]string{IN_TRANSIT: RECEIVED, RETURN_TRANSIT: RETURNED},
		Effect:        effectReceived,
		CustodianOnly: true,
	})

	connectorKind("installed", ConnectorKindOptions{
		Roles: ccRoles(TECHNICIAN),
		Schema: &ObjV{
			Required: map[string]Validator{
				"practice":                DIGEST,
				"seal_check":              NONCE_REF,
				"firmware":                SHORT,
				"remaining_validity_days": &IntegerV{Minimum: -100000, Maximum: 100000},
			},
			Optional: map[string]Validator{
				"override": &ObjV{Required: map[string]Validator{"reason": NOTE, "auditor": PARTY}},
			},
		},
		Transitions: map[string]string{RECEIVED: INSTALLED},
		// Rule 9: one site at a time.
		Refuse:        ccRefuse("rule.one_site_at_a_time", "installed at a site already", INSTALLED, IN_OPERATION, DEREGISTERED),
		Guard:         guardInstalled,
		CustodianOnly: true,
		BlockedAction: true,
		Effect:        effectInstalled,
	})

	connectorKind("ti.registered", ConnectorKindOptions{
		Roles: ccRoles(TECHNICIAN, PRACTICE),
		Schema: &ObjV{
			Required: map[string]Validator{"practice": DIGEST},
			Optional: map[string]Validator{"telematik_id_digest": DIGEST},
		},
		Transitions:   map[string]string{INSTALLED: IN_OPERATION},
		Guard:         guardPractice,
		BlockedAction: true,
	})

	connectorKind("firmware.updated", ConnectorKindOptions{
		Roles:         ccRoles(TECHNICIAN, MANUFACTURER),
		Schema:        &ObjV{Required: map[string]Validator{"from": SHORT, "to": SHORT}},
		Transitions:   same(PERSONALISED, SEALED, IN_STOCK, RECEIVED, INSTALLED, IN_OPERATION),
		Guard:         guardFirmware,
		Effect:        effectFirmware,
		BlockedAction: true,
	})

	connectorKind("lzv.applied", ConnectorKindOptions{
		Roles:         ccRoles(TECHNICIAN, MANUFACTURER),
		Schema:        &ObjV{Required: map[string]Validator{"iccsn": ICCSN, "not_after": &TimestampV{}}},
		Transitions:   same(PERSONALISED, SEALED, IN_STOCK, RECEIVED, INSTALLED, IN_OPERATION),
		Guard:         guardLzv,
		Effect:        effectLzv,
		BlockedAction: true,
	})

	connectorKind("service.visit", ConnectorKindOptions{
		Roles:         ccRoles(TECHNICIAN),
		Schema:        &ObjV{Required: map[string]Validator{"reason": NOTE}, Optional: map[string]Validator{"notes": NOTE}},
		Transitions:   same(INSTALLED, IN_OPERATION),
		BlockedAction: true,
	})

	connectorKind("deregistered", ConnectorKindOptions{
		Roles:       ccRoles(TECHNICIAN, PRACTICE),
		Schema:      &ObjV{Required: map[string]Validator{"reason": NOTE}},
		Transitions: map[string]string{IN_OPERATION: DEREGISTERED},
	})

	connectorKind("removed", ConnectorKindOptions{
		Roles:       ccRoles(TECHNICIAN),
		Schema:      &ObjV{Required: map[string]Validator{"reason": NOTE}},
		Transitions: map[string]string{DEREGISTERED: REMOVED, INSTALLED: REMOVED},
		// Rule 8: no removal of an operating unit before deregistration.
		Refuse:        ccRefuse("rule.deregister_before_removal", "deregister it from the TI first", IN_OPERATION),
		Effect:        effectRemoved,
		CustodianOnly: true,
	})

	connectorKind("returned.shipped", ConnectorKindOptions{
		Roles:         ccRoles(TECHNICIAN, WAREHOUSE, CARRIER),
		Schema:        SHIPMENT,
		Transitions:   map[string]string{REMOVED: RETURN_TRANSIT},
		CustodianOnly: true,
	})

	decommissionable := map[string]string{}
	for _, s := range []string{RETURNED, IN_STOCK, RECEIVED, SEALED, PERSONALISED, PRODUCED} {
		decommissionable[s] = DECOMMISSIONED
	}
	connectorKind("decommissioned", ConnectorKindOptions{
		Roles:       ccRoles(MANUFACTURER, WAREHOUSE),
		Schema:      &ObjV{Required: map[string]Validator{"reason": NOTE}},
		Transitions: decommissionable,
		Refuse:      ccRefuse("rule.deregister_before_removal", "deregister and remove it first", INSTALLED, IN_OPERATION),
	})

	var notDecommissioned []string
	for _, s := range ACTIVE {
		if s != DECOMMISSIONED {
			notDecommissioned = append(notDecommissioned, s)
		}
	}
	connectorKind("destroyed", ConnectorKindOptions{
		Roles: ccRoles(MANUFACTURER, WAREHOUSE),
		Schema: &ObjV{
			Required: map[string]Validator{
				"method":  &OneOfV{Values: []string{"shredded", "crushed", "incinerated", "other"}},
				"witness": PARTY,
			},
			Optional: map[string]Validator{"certificate": SHORT},
		},
		Transitions: map[string]string{DECOMMISSIONED: DESTROYED},
		// Rule 8: destruction needs a prior decommissioning (and a witness, below).
		Refuse:            ccRefuse("rule.destroy_requires_decommission", "decommission it first", notDecommissioned...),
		CounterpartyField: "witness",
		CounterpartyRoles: ccRoles(AUDITOR, MANUFACTURER, WAREHOUSE),
		CounterpartyRule:  "rule.destroy_requires_witness",
	})
}

// --------------------------------------------------------------------------
// Helpers (prefixed cc so they cannot collide with other files of the package).

// ccStr is a data member known to be a string (schema-checked); "" otherwise.
func ccStr(v any) string {
	s, _ := v.(string)
	return s
}

// ccStrings is a data member known to be a list of strings (schema-checked).
func ccStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, item := range list {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// ccField is [item[field] for item in value[list]] for a list of objects.
func ccField(value Object, list, field string) []string {
	items, _ := value[list].([]any)
	out := make([]string, 0, len(items))
	for _, item := range items {
		obj, _ := item.(map[string]any)
		out = append(out, ccStr(obj[field]))
	}
	return out
}

func ccSet(values []string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func ccSetEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// ccSorted is Python's sorted() of strings (a new slice; code point order = UTF-8 byte order).
func ccSorted(values []string) []string {
	out := make([]string, len(values))
	copy(out, values)
	sort.Strings(out)
	return out
}

// ccParseTimestamp is times.parse_timestamp: Python keeps microseconds only
// (further fraction digits are dropped), so comparisons are made at that precision.
func ccParseTimestamp(value, what string) (time.Time, error) {
	t, err := ParseTimestamp(value, what)
	if err != nil {
		return t, err
	}
	return t.Truncate(time.Microsecond), nil
}

// ccMicros is microseconds since the Unix epoch (exact for years 1–9999;
// time.Duration would overflow beyond 292 years).
func ccMicros(t time.Time) int64 {
	return t.Unix()*1000000 + int64(t.Nanosecond()/1000)
}

// ccFloorDiv is Python's // for a positive divisor.
func ccFloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ccRoles is a Python set of roles.
func ccRoles(roles ...string) map[string]bool { return ccSet(roles) }
