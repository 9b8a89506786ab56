package main

import (
	"strings"
	"testing"
)

func testSchemas() map[string]Validator {
	text5 := Text()
	text5.MinLength, text5.MaxLength = 2, 5
	textpat := Text()
	textpat.Pattern = FullMatch(`[A-Z]{2}[0-9]*`)
	list2 := ListOf(Integer())
	list2.MinItems, list2.MaxItems = 1, 2
	listnu := ListOf(Integer())
	listnu.Unique = false
	return map[string]Validator{
		"text": Text(), "text5": text5, "textpat": textpat,
		"oneof": &OneOfV{Values: []string{"a", "b"}}, "int": Integer(), "int2": &IntegerV{Minimum: -3, Maximum: 64}, "bool": &BooleanV{},
		"subj": &SubjectV{SubjectType: "party"}, "ts": &TimestampV{}, "date": &DateV{}, "hex": &HexV{Length: 2}, "b64": &Base64V{MaxBytes: 2},
		"list": ListOf(Text()), "list2": list2, "listnu": listnu,
		"listany": ListOf(&ObjV{Optional: map[string]Validator{"a": Integer(), "b": Text(), "c": &BooleanV{}, "z": &BooleanV{}}}),
		"obj":     &ObjV{Required: map[string]Validator{"a": Text()}, Optional: map[string]Validator{"b": Integer()}},
		"obj2":    &ObjV{Required: map[string]Validator{"a": Text(), "b": Integer()}},
	}
}

func errResult(err error) string {
	if err == nil {
		return "ok"
	}
	le := err.(*LedgerError)
	return le.Code + "|" + le.Msg
}

func miscResult(t *testing.T, name string, v any, schemas map[string]Validator) string {
	var got error
	switch {
	case name == "b64":
		_, got = b64decodeAny(v, "f.x")
	case name == "b64url":
		_, got = b64urlDecodeAny(v, "f.x")
	case name == "hex":
		_, got = hexDecodeAny(v, "h", 2)
	case name == "hexany":
		_, got = hexDecodeAny(v, "h", -1)
	case name == "split":
		_, _, got = SplitSubject(v)
	case strings.HasPrefix(name, "check:"):
		got = CheckSubject(v, name[6:], "by")
	case name == "origin":
		_, got = checkOrigin(v)
	case name == "ts":
		_, got = parseTimestampAny(v, "at")
	case strings.HasPrefix(name, "schema:"):
		got = schemas[name[7:]].Validate(v, "$.data")
	default:
		t.Fatalf("unknown test %s", name)
	}
	return errResult(got)
}

func TestMiscVectors(t *testing.T) {
	schemas := testSchemas()
	for _, c := range miscVectors {
		v, err := LoadsStrict([]byte(c.arg))
		if err != nil {
			continue // not a valid JSON value (non-NFC): never reaches these functions
		}
		if got := miscResult(t, c.t, v, schemas); got != c.want {
			t.Errorf("%s(%s): got %q, want %q", c.t, c.arg, got, c.want)
		}
	}
}

func TestTimestamps(t *testing.T) {
	ts, err := ParseTimestamp("2026-11-28T10:05:01.500999Z", "")
	if err != nil || ts.Nanosecond() != 500999000 || FormatTimestamp(ts) != "2026-11-28T10:05:01Z" || formatTimestampMillis(ts) != "2026-11-28T10:05:01.500Z" {
		t.Fatal(ts, err)
	}
	if _, err := ParseTimestamp("x", ""); errResult(err) != "input.timestamp|timestamp: 'x' is not RFC 3339 UTC with 'Z' (YYYY-MM-DDTHH:MM:SSZ)" {
		t.Fatal(err)
	}
}

func TestPAE(t *testing.T) {
	if got := string(PAE("t", []byte("ab"))); got != "DSSEv1 1 t 2 ab" {
		t.Fatal(got)
	}
}
