package main

// Identifiers of subjects and parties (port of ledger/ids.py). The patterns
// are matched by hand (they are ASCII-only and anchored), which is much
// faster than regexp on the hot path and accepts exactly the same strings.

import "strings"

const fmCodeIdentifier = "input.identifier"

var SUBJECT_TYPES = []string{"connector", "seal", "party", "location", "ledger"}

func idIsUpperAlnum(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// idMatch: [A-Z0-9][A-Z0-9<extra>]{0,maxRest}, in full.
func idMatch(s string, extra string, maxRest int) bool {
	if len(s) == 0 || len(s) > maxRest+1 || !idIsUpperAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !idIsUpperAlnum(c) && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

func idParty(s string) bool    { return idMatch(s, "._-", 63) }
func idLocation(s string) bool { return idMatch(s, "._:/-", 95) }
func idSeal(s string) bool     { return idMatch(s, "-", 63) }

func idConnector(s string) bool {
	i := strings.IndexByte(s, ':')
	return i >= 0 && idMatch(s[:i], "_-", 31) && idMatch(s[i+1:], "._-", 63)
}

// idOrigin: [\x21-\x2a\x2c-\x7e]{1,255}
func idOrigin(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '+' {
			return false
		}
	}
	return true
}

func idPattern(kind string) func(string) bool {
	switch kind {
	case "party":
		return idParty
	case "location":
		return idLocation
	case "connector":
		return idConnector
	case "seal":
		return idSeal
	case "ledger":
		return idOrigin
	}
	return nil
}

// SplitSubject is ids.split_subject with the default field name "subject".
func SplitSubject(value any) (string, string, error) {
	return splitSubjectField(value, "subject")
}

// splitSubjectField is ids.split_subject(subject, field).
func splitSubjectField(value any, field string) (string, string, error) {
	s, ok := value.(string)
	if !ok || strings.IndexByte(s, ':') < 0 {
		return "", "", Errf(fmCodeIdentifier, "%s: expected '<type>:<id>', got %s", field, PyRepr(value))
	}
	i := strings.IndexByte(s, ':')
	kind, ident := s[:i], s[i+1:]
	match := idPattern(kind)
	if match == nil {
		return "", "", Errf(fmCodeIdentifier, "%s: unknown subject type %s (one of %s)", field, PyRepr(kind), strings.Join(SUBJECT_TYPES, ", "))
	}
	if !match(ident) {
		return "", "", Errf(fmCodeIdentifier, "%s: %s is not a valid %s id", field, PyRepr(s), kind)
	}
	return kind, ident, nil
}

// CheckSubject is ids.check_subject(subject, kind, field); what "" means the
// default field name "subject".
func CheckSubject(value any, subjectType string, what string) error {
	if what == "" {
		what = "subject"
	}
	got, _, err := splitSubjectField(value, what)
	if err != nil {
		return err
	}
	if got != subjectType {
		return Errf(fmCodeIdentifier, "%s: expected a %s subject, got %s", what, subjectType, PyRepr(value))
	}
	return nil
}

// partySubject is ids.party_subject.
func partySubject(partyID string) (string, error) {
	s := "party:" + partyID
	if err := CheckSubject(s, "party", ""); err != nil {
		return "", err
	}
	return s, nil
}

// checkOrigin is ids.check_origin.
func checkOrigin(origin any) (string, error) {
	s, ok := origin.(string)
	if !ok || !idOrigin(s) {
		return "", Errf(fmCodeIdentifier, "origin %s: 1-255 printable ASCII characters without spaces or '+'", PyRepr(origin))
	}
	return s, nil
}
