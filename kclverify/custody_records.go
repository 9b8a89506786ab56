package main

// Port of ledger/custody/records.py, in-memory state only: the records the
// custody rules decide on (format §13.1). The database side of records.py
// (loader, savepoints, the changed set, to_json/from_json) is not ported: a
// verifier's replay keeps the whole state in memory.
//
// Python's "str | None" fields are *string here (nil = None) and "int | None"
// fields *int64; records are pointers, so that changing a record got from
// Records.Get changes it in place, as Python's objects do.

import (
	"sort"
	"time"
)

// Connector states (DESIGN §5).
const (
	PRODUCED       = "PRODUCED"
	PERSONALISED   = "PERSONALISED"
	SEALED         = "SEALED"
	IN_STOCK       = "IN_STOCK"
	IN_TRANSIT     = "IN_TRANSIT"
	RECEIVED       = "RECEIVED"
	INSTALLED      = "INSTALLED"
	IN_OPERATION   = "IN_OPERATION"
	DEREGISTERED   = "DEREGISTERED"
	REMOVED        = "REMOVED"
	RETURN_TRANSIT = "RETURN_TRANSIT"
	RETURNED       = "RETURNED"
	DECOMMISSIONED = "DECOMMISSIONED"
	DESTROYED      = "DESTROYED"
	SUSPECT        = "SUSPECT"
	QUARANTINED    = "QUARANTINED"
	LOST           = "LOST"
)

var CONNECTOR_STATES = []string{
	PRODUCED, PERSONALISED, SEALED, IN_STOCK, IN_TRANSIT, RECEIVED, INSTALLED, IN_OPERATION,
	DEREGISTERED, REMOVED, RETURN_TRANSIT, RETURNED, DECOMMISSIONED, DESTROYED, SUSPECT,
	QUARANTINED, LOST,
}

// Seal status of a connector's housing.
const (
	INTACT_VERIFIED = "INTACT_VERIFIED"
	UNVERIFIED      = "UNVERIFIED"
	BROKEN          = "BROKEN"
	MISMATCH        = "MISMATCH"
	UNSEALED        = "UNSEALED"
)

// Seal lifecycle.
const (
	SEAL_IN_STOCK  = "IN_STOCK"
	SEAL_ISSUED    = "ISSUED"
	SEAL_APPLIED   = "APPLIED"
	SEAL_REMOVED   = "REMOVED"
	SEAL_RETAINED  = "RETAINED"
	SEAL_DESTROYED = "DESTROYED"
	SEAL_VOID      = "VOID"
	SEAL_LOST      = "LOST"
)

// SEAL_STATUSES is every seal status, in lifecycle order.
var SEAL_STATUSES = []string{
	SEAL_IN_STOCK, SEAL_ISSUED, SEAL_APPLIED, SEAL_REMOVED, SEAL_RETAINED, SEAL_DESTROYED, SEAL_VOID, SEAL_LOST,
}

// Incident status.
const (
	INCIDENT_OPEN        = "OPEN"
	INCIDENT_QUARANTINED = "QUARANTINED"
	INCIDENT_RELEASED    = "RELEASED"
)

type Certificate struct {
	Iccsn    string
	NotAfter string
}

type Inspection struct {
	Nonce      string
	Index      int64
	By         string
	Place      *string
	At         string
	Expected   []string
	Observed   []string
	Results    map[string]string
	Conformant bool
}

type HistoryItem struct {
	Index       int64
	LeafHash    string // lowercase hex
	Kind        string
	By          string
	StateBefore *string
	StateAfter  *string
	CorrectedBy *int64
}

type ConnectorRecord struct {
	Subject        string
	Vendor         string
	Serial         string
	ProductCode    string
	State          string
	Custodian      string
	Certificates   []*Certificate
	Firmware       string
	SealStatus     string // Python default UNSEALED: use NewConnectorRecord
	Seals          []string
	EverSealed     bool
	SmckBound      bool
	Location       *string
	Bin            *string
	Practice       *string
	LastInspection *Inspection
	OpenIncident   *string
	// JoinedIncidents: further incidents reported while one was open: they
	// are decided together.
	JoinedIncidents     []string
	StateBeforeIncident *string
	LastAt              *string
	History             []*HistoryItem

	lastAtSlot custodyTimeSlot // LastAt parsed (a cache, not state)
}

// NewConnectorRecord is Python's ConnectorRecord(...) constructor with the
// dataclass defaults (seal status UNSEALED, no seals, empty history).
func NewConnectorRecord(subject, vendor, serial, productCode, state, custodian string, certificates []*Certificate, firmware string) *ConnectorRecord {
	return &ConnectorRecord{
		Subject:         subject,
		Vendor:          vendor,
		Serial:          serial,
		ProductCode:     productCode,
		State:           state,
		Custodian:       custodian,
		Certificates:    certificates,
		Firmware:        firmware,
		SealStatus:      UNSEALED,
		Seals:           []string{},
		JoinedIncidents: []string{},
		History:         []*HistoryItem{},
	}
}

// CertNotAfter is Python's cert_not_after property: the earliest certificate
// expiry (nil without certificates); the connector is only as valid as its
// weakest card. Instants are compared, not strings; the first of equal ones
// wins, like Python's min(). The not_after values were validated as
// timestamps by the schemas; an invalid one panics (Python: InvalidTimestamp).
func (r *ConnectorRecord) CertNotAfter() *string {
	if len(r.Certificates) == 0 {
		return nil
	}
	var best *Certificate
	var bestAt time.Time
	for _, c := range r.Certificates {
		at, err := custodyTime(c.NotAfter, "timestamp")
		if err != nil {
			panic(err)
		}
		if best == nil || at.Before(bestAt) {
			best, bestAt = c, at
		}
	}
	value := best.NotAfter
	return &value
}

type SealRecord struct {
	SealId        string
	Status        string
	Holder        string
	ReceivedIndex int64
	IssuedTo      *string
	Connector     *string
	LastIndex     int64
}

// NewSealRecord is Python's SealRecord(seal_id, status, holder, received_index)
// with the defaults (last_index 0).
func NewSealRecord(sealId, status, holder string, receivedIndex int64) *SealRecord {
	return &SealRecord{SealId: sealId, Status: status, Holder: holder, ReceivedIndex: receivedIndex}
}

type IncidentRecord struct {
	IncidentId    string
	Connector     string
	Category      string
	ReportedBy    string
	OpenedIndex   int64
	Description   string
	Status        string // Python default INCIDENT_OPEN: use NewIncidentRecord
	QuarantinedBy *string
	ReleasedBy    *string
	Investigation *string
	ClosedIndex   *int64
}

// NewIncidentRecord is Python's IncidentRecord(...) with the defaults (status OPEN).
func NewIncidentRecord(incidentId, connector, category, reportedBy string, openedIndex int64, description string) *IncidentRecord {
	return &IncidentRecord{
		IncidentId:  incidentId,
		Connector:   connector,
		Category:    category,
		ReportedBy:  reportedBy,
		OpenedIndex: openedIndex,
		Description: description,
		Status:      INCIDENT_OPEN,
	}
}

// Records is a keyed set of records (Python's Records without a loader).
// Like Python's dict it remembers the order keys were first touched —
// Get of an absent key records it as absent (nil), as Python's _load does —
// and iteration skips absent keys.
type Records[R any] struct {
	items map[string]*R
	order []string
}

func NewRecords[R any]() *Records[R] {
	return &Records[R]{items: map[string]*R{}}
}

func (r *Records[R]) touch(key string) {
	if _, ok := r.items[key]; !ok {
		r.items[key] = nil
		r.order = append(r.order, key)
	}
}

// Get returns the record under key, nil if there is none.
func (r *Records[R]) Get(key string) *R {
	if value, ok := r.items[key]; ok {
		return value
	}
	r.touch(key)
	return nil
}

// GetMany is Python's get_many: the keys without repeats (first occurrence
// order, as a dict built from them) and the record of each (nil if none).
func (r *Records[R]) GetMany(keys []string) ([]string, []*R) {
	outKeys := make([]string, 0, len(keys))
	values := make([]*R, 0, len(keys))
	var seen map[string]bool
	if len(keys) > 1 {
		seen = make(map[string]bool, len(keys))
	}
	for _, key := range keys {
		if seen != nil {
			if seen[key] {
				continue
			}
			seen[key] = true
		}
		outKeys = append(outKeys, key)
		values = append(values, r.Get(key))
	}
	return outKeys, values
}

// Put stores record under key.
func (r *Records[R]) Put(key string, record *R) {
	r.touch(key)
	r.items[key] = record
}

// Each calls fn for every present record in insertion order (Python's __iter__).
func (r *Records[R]) Each(fn func(key string, record *R)) {
	for _, key := range r.order {
		if value := r.items[key]; value != nil {
			fn(key, value)
		}
	}
}

// Keys returns the keys of the present records in insertion order.
func (r *Records[R]) Keys() []string {
	keys := make([]string, 0, len(r.order))
	r.Each(func(key string, _ *R) { keys = append(keys, key) })
	return keys
}

// Len is the number of present records.
func (r *Records[R]) Len() int {
	n := 0
	for _, value := range r.items {
		if value != nil {
			n++
		}
	}
	return n
}

type CustodyState struct {
	Connectors *Records[ConnectorRecord]
	Seals      *Records[SealRecord]
	Incidents  *Records[IncidentRecord]

	recordedSlot custodyTimeSlot // the latest recorded_at parsed by timeFlags (a cache)
}

func NewCustodyState() *CustodyState {
	return &CustodyState{
		Connectors: NewRecords[ConnectorRecord](),
		Seals:      NewRecords[SealRecord](),
		Incidents:  NewRecords[IncidentRecord](),
	}
}

// custody is the custody part of a ledger state (created empty on first use,
// as in a replay).
func custody(state *LedgerState) *CustodyState {
	if state.Custody == nil {
		state.Custody = NewCustodyState()
	}
	return state.Custody
}

// CustodySubjects returns the subjects of the connectors on the ledger,
// sorted (bundle_verify.py: report.subjects).
func CustodySubjects(state *LedgerState) []string {
	subjects := custody(state).Connectors.Keys()
	sort.Strings(subjects)
	return subjects
}
