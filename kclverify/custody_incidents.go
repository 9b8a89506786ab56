package main

// Port of ledger/custody/incidents.py: incidents, quarantine, loss and
// corrections.
//
// An incident makes a connector SUSPECT; quarantine holds it; only someone
// other than the reporter may release it, with an investigation note (rule
// 11, four eyes). Corrections never edit: they reference the entry they
// correct, as an EPCIS errorDeclaration does (rule 10).

var INCIDENT_CATEGORIES = []string{
	"seal_mismatch", "seal_damage", "housing_damage", "tamper_suspected", "loss", "theft", "other",
}

var REPORTERS = custodySet(WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR, PRACTICE)

var INCIDENT = &TextV{MinLength: 1, MaxLength: 24, Pattern: FullMatch(`INC-[0-9]{1,15}`)}

func effectReported(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	data := ctx.Statement.Data
	openIncident(state, ctx, record, data["category"].(string), data["description"].(string))
	return nil
}

func incidentOf(state *LedgerState, ctx *Context, record *ConnectorRecord) (*IncidentRecord, error) {
	incidentId := ctx.Statement.Data["incident"].(string)
	incident := custody(state).Incidents.Get(incidentId)
	if incident == nil || incident.Connector != record.Subject || record.OpenIncident == nil || *record.OpenIncident != incidentId {
		return nil, Errf("rule.open_incident", "%s is not the open incident of %s", incidentId, record.Subject)
	}
	return incident, nil
}

func guardQuarantined(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	_, err := incidentOf(state, ctx, record)
	return err
}

func effectQuarantined(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	incident, err := incidentOf(state, ctx, record)
	if err != nil {
		return err
	}
	incident.Status, incident.QuarantinedBy = INCIDENT_QUARANTINED, custodyStr(ctx.Statement.By)
	custody(state).Incidents.Put(incident.IncidentId, incident)
	if location, ok := ctx.Statement.Data["location"]; ok {
		record.Location = custodyStr(location.(string))
	}
	return nil
}

// allOpen is the open incident and every incident that joined it.
func allOpen(state *LedgerState, ctx *Context, record *ConnectorRecord) ([]*IncidentRecord, error) {
	primary, err := incidentOf(state, ctx, record)
	if err != nil {
		return nil, err
	}
	incidents := custody(state).Incidents
	all := []*IncidentRecord{primary}
	for _, id := range record.JoinedIncidents {
		if joined := incidents.Get(id); joined != nil {
			all = append(all, joined)
		}
	}
	return all, nil
}

func guardReleased(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	// Rule 11: four eyes — no one who reported may also clear, including
	// the reporter of an incident that joined the open one.
	all, err := allOpen(state, ctx, record)
	if err != nil {
		return err
	}
	for _, incident := range all {
		if ctx.Statement.By == incident.ReportedBy {
			return Errf("rule.four_eyes_release", "%s reported %s and cannot release it", ctx.Statement.By, incident.IncidentId)
		}
	}
	return nil
}

func effectReleased(state *LedgerState, ctx *Context, record *ConnectorRecord) error {
	all, err := allOpen(state, ctx, record)
	if err != nil {
		return err
	}
	for _, incident := range all {
		incident.Status, incident.ReleasedBy = INCIDENT_RELEASED, custodyStr(ctx.Statement.By)
		index := ctx.Index
		incident.Investigation, incident.ClosedIndex = custodyStr(ctx.Statement.Data["investigation"].(string)), &index
		custody(state).Incidents.Put(incident.IncidentId, incident)
	}
	if record.StateBeforeIncident != nil && *record.StateBeforeIncident != "" {
		record.State = *record.StateBeforeIncident
	}
	record.StateBeforeIncident = nil
	record.OpenIncident = nil
	record.JoinedIncidents = []string{}
	return nil
}

// historyItem is the history item of entry index, nil if none.
func historyItem(record *ConnectorRecord, index int64) *HistoryItem {
	for _, h := range record.History {
		if h.Index == index {
			return h
		}
	}
	return nil
}

// Corrections (rule 10).

func checkCorrection(state *LedgerState, ctx *Context) error {
	statement, data := ctx.Statement, ctx.Statement.Data
	if statement.SubjectType() != "connector" {
		return Errf("rule.correction_references_entry", "corrections are recorded on connector chains")
	}
	record := custody(state).Connectors.Get(statement.Subject)
	if record == nil {
		return Errf("rule.unknown_connector", "%s was never commissioned", statement.Subject)
	}
	corrects := data["corrects"].(int64)
	item := historyItem(record, corrects)
	if item == nil || item.LeafHash != data["leaf_hash"].(string) {
		return Errf("rule.correction_references_entry", "entry %d with that leaf hash is not in the history of %s", corrects, record.Subject)
	}
	if item.Kind == "correction" {
		return Errf("rule.correction_references_entry", "a correction cannot itself be corrected")
	}
	if item.CorrectedBy != nil {
		return Errf("rule.correction_references_entry", "entry %d is already corrected", item.Index)
	}
	roles := state.RolesOf(statement.By)
	if statement.By != item.By && !roles[AUDITOR] && !roles[CUSTODY_ADMIN] {
		return Errf("rule.correction_by_author_or_auditor", "only the original author or an auditor may correct an entry")
	}
	if record.State == DESTROYED && item.Kind != "destroyed" {
		// Rule 3: after destruction only the destruction itself may be corrected.
		return Errf("rule.nothing_after_destroyed", "after destruction only the destruction may be corrected")
	}
	return nil
}

func applyCorrection(state *LedgerState, ctx *Context) error {
	record := custody(state).Connectors.Get(ctx.Statement.Subject)
	if record == nil { // Python: assert record is not None
		return custodyStateUnknown("AssertionError: ")
	}
	item := historyItem(record, ctx.Statement.Data["corrects"].(int64))
	if item == nil { // Python: assert item is not None
		return custodyStateUnknown("AssertionError: ")
	}
	index := ctx.Index
	item.CorrectedBy = &index
	before := record.State
	// Only the newest state change can be undone by a correction; older
	// ones stay in the history, declared erroneous, and later entries stand.
	// An incident is opened and closed only through the incident process
	// (rules 5 and 11): a correction never undoes the SUSPECT an incident
	// began with, nor a release (its incident stays closed).
	var latest *HistoryItem
	for i := len(record.History) - 1; i >= 0; i-- {
		if h := record.History[i]; !custodyOptEq(h.StateAfter, h.StateBefore) {
			latest = h
			break
		}
	}
	incidentStep := (item.StateAfter != nil && *item.StateAfter == SUSPECT) || item.Kind == "quarantine.released"
	if latest == item && item.StateBefore != nil && !incidentStep {
		record.State = *item.StateBefore
	}
	if err := noteHistory(record, ctx, custodyStr(before), custodyStr(record.State)); err != nil {
		return err
	}
	custody(state).Connectors.Put(record.Subject, record)
	return nil
}

func init() {
	// Something is wrong with the unit: it becomes SUSPECT under incident INC-<index>.
	connectorKind("incident.reported", ConnectorKindOptions{
		Roles: REPORTERS,
		Schema: &ObjV{Required: map[string]Validator{
			"category":    &OneOfV{Values: INCIDENT_CATEGORIES},
			"description": NOTE,
		}},
		Transitions: same(ACTIVE...),
		Effect:      effectReported,
	})

	// A suspect unit is put in quarantine under its incident.
	connectorKind("quarantined", ConnectorKindOptions{
		Roles: custodySet(WAREHOUSE, MANUFACTURER, AUDITOR),
		Schema: &ObjV{
			Required: map[string]Validator{"incident": INCIDENT},
			Optional: map[string]Validator{"location": LOCATION},
		},
		Transitions: map[string]string{SUSPECT: QUARANTINED},
		Guard:       guardQuarantined,
		Effect:      effectQuarantined,
	})

	// Released from quarantine by someone other than the reporter, with the investigation.
	connectorKind("quarantine.released", ConnectorKindOptions{
		Roles: custodySet(AUDITOR, MANUFACTURER, WAREHOUSE),
		Schema: &ObjV{Required: map[string]Validator{
			"incident":      INCIDENT,
			"investigation": &TextV{MinLength: 10, MaxLength: 2000},
			"outcome":       &OneOfV{Values: []string{"cleared", "reseal_required", "decommission"}},
		}},
		Transitions: map[string]string{QUARANTINED: ""},
		Guard:       guardReleased,
		Effect:      effectReleased,
	})

	toLost := map[string]string{}
	for _, s := range ACTIVE {
		toLost[s] = LOST
	}
	// The unit is missing.
	connectorKind("lost", ConnectorKindOptions{
		Roles:       custodySet(WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR),
		Schema:      &ObjV{Required: map[string]Validator{"circumstances": NOTE}},
		Transitions: toLost,
	})
	// The unit was stolen (state LOST).
	connectorKind("stolen", ConnectorKindOptions{
		Roles: custodySet(WAREHOUSE, CARRIER, TECHNICIAN, MANUFACTURER, AUDITOR, PRACTICE),
		Schema: &ObjV{
			Required: map[string]Validator{"circumstances": NOTE},
			Optional: map[string]Validator{"police_report": SHORT},
		},
		Transitions: toLost,
	})

	// Declares an earlier entry erroneous (EPCIS errorDeclaration); never edits it.
	RegisterKind(&KindSpec{
		Name:         "correction",
		SubjectTypes: []string{"connector"},
		Roles:        custodySet(ROLES...),
		Schema: &ObjV{Required: map[string]Validator{
			"corrects":    &IntegerV{Minimum: 0, Maximum: 1<<53 - 1},
			"leaf_hash":   &HexV{Length: 32},
			"reason":      &OneOfV{Values: []string{"did_not_occur", "incorrect_data"}},
			"explanation": NOTE,
		}},
		Check:             checkCorrection,
		Apply:             applyCorrection,
		CounterpartyRoles: map[string]bool{},
	})
}
