// Shared types of kclverify: an independent verifier of Konnektor Custody
// Ledger export bundles (docs/format.md, format v1), written in Go with the
// standard library only (plus golang.org/x/text/unicode/norm for NFC).
//
// The Python reference verifier (ledger/, app/services/bundle_verify.py) and
// this program must reach the same verdict — the same findings, by index and
// code — on every bundle; tests/app/test_kclverify.py checks that. Types here
// mirror the Python modules they come from, so a rule can be compared side by
// side: ledger/statement.py, envelope.py, entry.py, state.py, kinds.py.
package main

import "fmt"

// LedgerError is every error of the format with its stable code
// (ledger/errors.py: input.*, auth.*, rule.*). Rule violations carry the
// rule's own code (rule.genesis_first, rule.custodian, …).
type LedgerError struct {
	Code string
	Msg  string
}

func (e *LedgerError) Error() string { return e.Msg }

// Errf builds a LedgerError with a code and a formatted message.
func Errf(code, format string, args ...any) *LedgerError {
	return &LedgerError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// JSON values as the strict canonical decoder (canonical.go) returns them:
// nil, bool, int64, string, []any, map[string]any.
type Object = map[string]any

// Statement is a structurally valid kcl/statement/v1 (ledger/statement.py).
// Its Data is checked by its kind's schema.
type Statement struct {
	Kind    string
	Subject string
	At      string
	By      string
	Data    Object
	Nonce   string
	Place   *string // nil when absent
}

// SubjectType is the part of the subject before the first ':'.
func (s *Statement) SubjectType() string {
	for i := 0; i < len(s.Subject); i++ {
		if s.Subject[i] == ':' {
			return s.Subject[:i]
		}
	}
	return s.Subject
}

// Signature is one DSSE signature, not yet verified.
type Signature struct {
	KeyID string // 64 lowercase hex digits
	Sig   []byte
}

// Envelope is a structurally valid DSSE envelope (ledger/envelope.py).
// Its signatures are not verified.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []Signature
}

// Entry is a parsed kcl/entry/v1 line (ledger/entry.py).
type Entry struct {
	Raw        []byte
	Index      int64
	Prev       *string // lowercase hex leaf hash, nil for JSON null
	RecordedAt string
	Envelope   Envelope
	Statement  Statement
}

// PublicKey is an Ed25519 or ECDSA P-256 key (ledger/keys.py).
// Verify returns nil or an error (auth.signature_invalid).
type PublicKey interface {
	KeyID() string // lowercase hex SHA-256 of the SPKI DER (format §5)
	Verify(sig, message []byte) error
	SPKI() []byte
}

// PartyRecord and KeyRecord: the trust state of format §12.1 (ledger/state.py).
type PartyRecord struct {
	Subject      string
	Name         string
	Roles        map[string]bool
	RegisteredAt int64
}

type KeyRecord struct {
	KeyID     string
	Party     string
	PublicKey PublicKey
	AddedAt   int64
	RevokedAt *int64
}

// UsableAt: a key signs entries from the one after it was added until its revocation.
func (k *KeyRecord) UsableAt(index int64) bool {
	return k.AddedAt <= index && (k.RevokedAt == nil || index < *k.RevokedAt)
}

// LedgerState is everything replay knows at a point of the log.
// Custody is the custody domain's state (custody_records.go), nil until first used.
type LedgerState struct {
	Origin  *string
	LogVkey *string
	Size    int64
	Parties map[string]*PartyRecord
	Keys    map[string]*KeyRecord
	Custody *CustodyState
}

func NewLedgerState() *LedgerState {
	return &LedgerState{Parties: map[string]*PartyRecord{}, Keys: map[string]*KeyRecord{}}
}

// RolesOf returns the roles of a party (an empty set for an unknown party).
func (s *LedgerState) RolesOf(party string) map[string]bool {
	if p, ok := s.Parties[party]; ok {
		return p.Roles
	}
	return map[string]bool{}
}

// ResolvedKey is one signature of an envelope with the key record it claims.
type ResolvedKey struct {
	Signature Signature
	Key       *KeyRecord
}

// Context is a statement that passed admission, with where and by whom (ledger/state.py).
type Context struct {
	Index      int64
	Statement  *Statement
	Spec       *KindSpec
	Signers    map[string]bool
	RecordedAt string
	Keys       []ResolvedKey
	Warnings   []string
	LeafHash   []byte // set before Apply
}

// Validator checks a JSON value at a path; it returns an input.statement.data
// (or more precise input.*) error naming the path (ledger/schema.py).
type Validator interface {
	Validate(value any, path string) error
}

// Rule is a kind's guard-rule check or its apply step.
type Rule func(state *LedgerState, ctx *Context) error

// KindSpec is a statement kind (ledger/kinds.py).
type KindSpec struct {
	Name              string
	SubjectTypes      []string
	Roles             map[string]bool
	Schema            Validator
	Check             Rule   // nil: no rule
	Apply             Rule   // nil: no effect
	CounterpartyField string // "" for one-party kinds
	CounterpartyRoles map[string]bool
	CounterpartyRule  string // the rule a missing countersignature violates; "" = auth error
}

// Registry holds every kind, filled by the init functions of trust.go and the custody files.
var Registry = map[string]*KindSpec{}

// RegisterKind adds a kind; registering a name twice is a programming error.
func RegisterKind(spec *KindSpec) *KindSpec {
	if _, dup := Registry[spec.Name]; dup {
		panic("kind registered twice: " + spec.Name)
	}
	Registry[spec.Name] = spec
	return spec
}

// Finding is one break a verifier reports (format §14).
type Finding struct {
	Index    *int64  `json:"index"`
	Code     string  `json:"code"`
	Message  string  `json:"message"`
	Expected *string `json:"expected"`
	Found    *string `json:"found"`
}
