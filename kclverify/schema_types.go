package main

import (
	"regexp"
	"strings"
	"sync"
)

// Validators of statement data (ledger/schema.py). The structs are declared
// here so that every file can build schemas; their Validate methods are in
// schema.go. Python's defaults are spelled out by the constructors below —
// use them rather than zero values.

// TextV: a string of MinLength…MaxLength code points (not bytes), optionally
// matching Pattern in full (Python re.fullmatch; compile with FullMatch).
type TextV struct {
	MinLength, MaxLength int
	Pattern              *regexp.Regexp
}

// Text is Python's Text(): 1–200 code points, no pattern.
func Text() *TextV { return &TextV{MinLength: 1, MaxLength: 200} }

// FullMatch compiles a Python pattern so that it must match the whole string.
func FullMatch(pattern string) *regexp.Regexp { return regexp.MustCompile(`^(?:` + pattern + `)$`) }

type OneOfV struct{ Values []string }

// IntegerV: an int64 (not a bool) within Minimum…Maximum. Python default 0…2^53−1.
type IntegerV struct{ Minimum, Maximum int64 }

func Integer() *IntegerV { return &IntegerV{Minimum: 0, Maximum: 1<<53 - 1} }

type BooleanV struct{}

// SubjectV: a subject string of the given type (ledger/ids.check_subject).
type SubjectV struct{ SubjectType string }

type TimestampV struct{}

type DateV struct{}

// HexV: lowercase hex of exactly Length bytes.
type HexV struct{ Length int }

// Base64V: standard base64 decoding to at most MaxBytes (Python default 4096).
type Base64V struct{ MaxBytes int }

// ListOfV: a list of Item; Python defaults MinItems 0, MaxItems 64, Unique true.
type ListOfV struct {
	Item               Validator
	MinItems, MaxItems int
	Unique             bool
}

func ListOf(item Validator) *ListOfV { return &ListOfV{Item: item, MaxItems: 64, Unique: true} }

// ObjV: an object with exactly the Required fields and any of the Optional
// ones; unknown fields are rejected; Check (may be nil) runs last.
type ObjV struct {
	Required map[string]Validator
	Optional map[string]Validator
	Check    func(value Object, path string) error

	// The order fields are checked in, computed once (fieldOrder).
	orderOnce               sync.Once
	requiredOrder, optOrder []string
}

// fieldOrder is the order Python declares the fields in (schema_order.go,
// generated from ledger/), so that of several bad fields the same one is
// reported first; names order an object the table does not know.
func (v *ObjV) fieldOrder() (required, optional []string) {
	v.orderOnce.Do(func() {
		required, optional := sortedValidatorNames(v.Required), sortedValidatorNames(v.Optional)
		key := strings.Join(required, ",") + "|" + strings.Join(optional, ",")
		if order, ok := schemaFieldOrder[key]; ok {
			required, optional = order[0], order[1]
		}
		v.requiredOrder, v.optOrder = required, optional
	})
	return v.requiredOrder, v.optOrder
}

// Checkpoint is a checkpoint body (format §10.1; ledger/checkpoint.py).
type Checkpoint struct {
	Origin     string
	Size       int64
	Root       []byte
	Extensions []string
}
