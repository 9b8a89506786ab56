package main

import "testing"

// Known answers from ledger/custody/ids.py (run with /work/main/.venv/bin/python)
// and docs/format.md §17 (seal id KC0001237H).
func TestSealIdKnownAnswers(t *testing.T) {
	cases := []struct {
		series string
		number int64
		want   string
	}{
		{"KC", 1, "KC00000017"},
		{"KC", 123, "KC0000123X"},
		{"AB", 0, "AB0000000X"},
		{"XX", 9999999, "XX9999999Q"},
		{"KC", 1237, "KC0001237H"}, // format.md §17
	}
	for _, c := range cases {
		got, err := sealId(c.series, c.number)
		if err != nil || got != c.want {
			t.Errorf("sealId(%s, %d) = %q, %v; want %q", c.series, c.number, got, err, c.want)
		}
		series, number, err := parseSealId(got)
		if err != nil || series != c.series || number != c.number {
			t.Errorf("parseSealId(%s) = %s, %d, %v", got, series, number, err)
		}
	}
	if c, err := checkCharacter("KC0000012"); err != nil || c != "4" {
		t.Errorf("checkCharacter(KC0000012) = %q, %v", c, err)
	}
}

func TestSealIdErrors(t *testing.T) {
	cases := map[string]string{
		"KC00001238": "'KC00001238': check character does not match",
		"KC0000123":  "'KC0000123' is not a seal id (two letters, 7 digits, check character)",
		"kc00001237": "'kc00001237' is not a seal id (two letters, 7 digits, check character)",
		"KI00001237": "'KI00001237' is not a seal id (two letters, 7 digits, check character)",
		"KC0000123Z": "'KC0000123Z' is not a seal id (two letters, 7 digits, check character)",
	}
	for input, want := range cases {
		_, _, err := parseSealId(input)
		le, ok := err.(*LedgerError)
		if !ok || le.Code != "input.identifier" || le.Msg != want {
			t.Errorf("parseSealId(%q) = %v, want input.identifier %q", input, err, want)
		}
	}
	for input, want := range map[string]string{
		"Ä1":  "'Ä' is not in the id alphabet",
		"a\n": `'\n' is not in the id alphabet`,
	} {
		_, err := checkCharacter(input)
		if err == nil || err.Error() != want {
			t.Errorf("checkCharacter(%q) = %v, want %q", input, err, want)
		}
	}
	if _, err := sealId("KI", 1); err == nil || err.Error() != "seal series 'KI' must be two letters of ABCDEFGHJKMNPQRSTVWX" {
		t.Errorf("sealId(KI) = %v", err)
	}
	if _, err := sealId("KC", 10_000_000); err == nil || err.Error() != "seal number 10000000 out of range" {
		t.Errorf("sealId(KC, 10^7) = %v", err)
	}
	if hasValidCheck("KC00001237") || hasValidCheck("K") || hasValidCheck("KC0000123Z") || !hasValidCheck("KC0001237H") {
		t.Error("hasValidCheck")
	}
	if got := formatSealId("KC00001237"); got != "KC 000 0123 7" {
		t.Errorf("formatSealId = %q", got)
	}
}

func TestCustodyRepr(t *testing.T) {
	cases := map[string]string{
		"abc":     "'abc'",
		"it's":    `"it's"`,
		`a'b"c`:   `'a\'b"c'`,
		"x\\y":    `'x\\y'`,
		"\t\x01é": `'\t\x01é'`,
		"\u00a0":  `'\xa0'`,
		"\u2028":  `'\u2028'`,
	}
	for in, want := range cases {
		if got := pyStr(in); got != want {
			t.Errorf("pyStr(%q) = %s, want %s", in, got, want)
		}
	}
	if got := pyStrList([]string{"A", "B"}); got != "['A', 'B']" {
		t.Errorf("custodyReprList = %s", got)
	}
	if got := pyStrList(nil); got != "[]" {
		t.Errorf("pyStrList(nil) = %s", got)
	}
}
