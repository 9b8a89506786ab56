package main

import (
	"encoding/hex"
	"strings"
	"testing"
)

// docs/format.md §17.4.
const (
	docLogVkey     = "custody.example.com/ledger+9c4d57e0+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
	docWitnessVkey = "witness.example.com/auditor-1+4caa88f0+BNdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea"
	docCheckpoint  = "custody.example.com/ledger\n3\nqUxuvLD0RzDY2W81vb/OGlf7lAeGMMutcSUkedRNpSM=\n\n" +
		"\u2014 custody.example.com/ledger nE1X4MZJ+BOLSUW2ig9+iGadtdeKf3VT1/LG7pGxV7M5Mg7Qn6xuiN2r/PU1xeZy1dNJskjLhX3wHTSogxYX9arlIAw=\n"
	docCosignLine = "\u2014 witness.example.com/auditor-1 TKqI8AAAAABrCqrQdjrgq9ciRLNb4cniHhgZvpeaYJhpM474dLIMpfEhxE+uuSfjs32fPO3vUMl91a4NGaUpG0QZpo4jYSUugyNqBQ==\n"
)

func TestParseVkeyFormatExample(t *testing.T) {
	v, err := ParseVkey(docLogVkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name != "custody.example.com/ledger" || v.KeyID != 0x9c4d57e0 || v.SignatureType != SIG_ED25519 ||
		hex.EncodeToString(v.PublicKey) != "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394" {
		t.Fatalf("%+v", v)
	}
	if v.Vkey() != docLogVkey {
		t.Fatal(v.Vkey())
	}
	w, err := ParseVkey(docWitnessVkey)
	if err != nil || w.SignatureType != SIG_COSIGNATURE_V1 || w.KeyID != 0x4caa88f0 {
		t.Fatalf("%+v %v", w, err)
	}
	upper := strings.Replace(docLogVkey, "9c4d57e0", "9C4D57E0", 1)
	if !SameVkey(docLogVkey, upper) || SameVkey(docLogVkey, docWitnessVkey) || !SameVkey("x", "x") || SameVkey("x", "y") {
		t.Fatal("SameVkey")
	}
	if u, err := ParseVkey(upper); err != nil || u.Vkey() != docLogVkey {
		t.Fatalf("upper-case key id: %v", err)
	}
}

func TestParseVkeyErrors(t *testing.T) {
	cases := map[string]string{
		"nope":               "verifier key must be <name>+<hex8>+<base64 key>",
		"a b+12345678+AAAA":  "verifier key must be <name>+<hex8>+<base64 key>",
		"name+1234567+AAAA":  "verifier key id must be 8 hex digits",
		"name+1234567g+AAAA": "verifier key id must be 8 hex digits",
		"name+12345678+AAA":  "verifier key material is not base64",
		"name+12345678+AAB=": "verifier key material is not canonical base64",
		"name+12345678+":     "verifier key material is empty",
		"name+12345678+AgAA": "unknown verifier key algorithm 0x02",
		"name+12345678+AQAA": "Ed25519 verifier key must be 32 bytes",
		docLogVkey[:27] + "9c4d57e1" + docLogVkey[35:]:                               "verifier key id does not match name and key",
		"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==": "verifier key material is not canonical base64", // as Python says
		"PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW":         "unknown verifier key algorithm 0x65",
	}
	for vkey, want := range cases {
		_, err := ParseVkey(vkey)
		if err == nil || err.Error() != want || err.(*LedgerError).Code != "input.vkey" {
			t.Errorf("%q: %v, want %q", vkey, err, want)
		}
	}
	// Every proper substring and every one-byte increment of a valid vkey is rejected (note_test.go).
	peter := "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
	if _, err := ParseVkey(peter); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(peter); i++ {
		for j := i + 1; j <= len(peter); j++ {
			if i == 0 && j == len(peter) {
				continue
			}
			if _, err := ParseVkey(peter[i:j]); err == nil {
				t.Errorf("substring %q accepted", peter[i:j])
			}
		}
		b := []byte(peter)
		b[i]++
		if _, err := ParseVkey(string(b)); err == nil {
			t.Errorf("variant %q accepted", b)
		}
	}
}

func TestB64DecodeLikeStdEncoding(t *testing.T) {
	// Go's StdEncoding without the spare-bits check (format §10.2), as ledger/note.py
	// decodes signature lines: padded exactly, so "abcd=" is refused.
	ok := map[string]string{"abcd": "69b71d", "ab==": "69", "abc=": "69b7", "": "", "abd=": "69b7"}
	for in, want := range ok {
		got, good := tlB64Decode(in)
		if !good || hex.EncodeToString(got) != want {
			t.Errorf("%q: %x %v", in, got, good)
		}
	}
	for _, in := range []string{"abcd=", "abcd==", "ab=", "abc", "a", "ab", "abcde", "abcde=", "ab==x", "abc==", "a===", "ab\n==", "a-b_"} {
		if _, good := tlB64Decode(in); good {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestOpenCheckpointFormatExample(t *testing.T) {
	logKey, _ := ParseVkey(docLogVkey)
	witness, _ := ParseVkey(docWitnessVkey)
	opened, err := OpenCheckpoint([]byte(docCheckpoint), logKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := opened.Checkpoint
	if cp.Origin != "custody.example.com/ledger" || cp.Size != 3 || hex.EncodeToString(cp.Root) != docRoot3 || len(cp.Extensions) != 0 {
		t.Fatalf("%+v", cp)
	}
	if checkpointBody(cp) != "custody.example.com/ledger\n3\nqUxuvLD0RzDY2W81vb/OGlf7lAeGMMutcSUkedRNpSM=\n" {
		t.Fatal(checkpointBody(cp))
	}
	cosigned := []byte(docCheckpoint + docCosignLine)
	opened, err = OpenCheckpoint(cosigned, logKey, []*NoteVerifier{witness})
	if err != nil {
		t.Fatal(err)
	}
	if len(opened.Cosignatures) != 1 || opened.Cosignatures[0] != (Cosignature{"witness.example.com/auditor-1", 0x4caa88f0, 1795861200}) {
		t.Fatalf("%+v", opened.Cosignatures)
	}
	// An untrusted witness's line is ignored and kept aside.
	opened, err = OpenCheckpoint(cosigned, logKey, nil)
	if err != nil || len(opened.Cosignatures) != 0 || len(opened.Unverified) != 1 {
		t.Fatalf("%+v %v", opened, err)
	}
	if _, err := openCheckpointRequired(cosigned, logKey, nil, 1); err == nil || err.Error() != "checkpoint has 0 trusted cosignature(s), 1 required" {
		t.Fatal(err)
	}
	// The witness alone is not enough.
	witnessOnly := "custody.example.com/ledger\n3\nqUxuvLD0RzDY2W81vb/OGlf7lAeGMMutcSUkedRNpSM=\n\n" + docCosignLine
	if _, err := OpenCheckpoint([]byte(witnessOnly), logKey, []*NoteVerifier{witness}); err == nil ||
		err.Error() != "checkpoint is not signed by the log key custody.example.com/ledger" || err.(*LedgerError).Code != "verify.note" {
		t.Fatal(err)
	}
	// A tampered body.
	bad := strings.Replace(docCheckpoint, "\n3\n", "\n4\n", 1)
	if _, err := OpenCheckpoint([]byte(bad), logKey, nil); err == nil || err.Error() != "invalid signature for key custody.example.com/ledger+9c4d57e0" {
		t.Fatal(err)
	}
	// A cosignature over another time does not verify.
	tampered := strings.Replace(docCosignLine, "TKqI8AAAAABr", "TKqI8AAAAABs", 1)
	if _, err := OpenCheckpoint([]byte(docCheckpoint+tampered), logKey, []*NoteVerifier{witness}); err == nil ||
		err.Error() != "invalid signature for key witness.example.com/auditor-1+4caa88f0" {
		t.Fatal(err)
	}
	if got := string(cosignatureMessage([]byte(checkpointBody(cp)), 1795861200)); got != "cosignature/v1\ntime 1795861200\ncustody.example.com/ledger\n3\nqUxuvLD0RzDY2W81vb/OGlf7lAeGMMutcSUkedRNpSM=\n" {
		t.Fatal(got)
	}
}

func TestOpenNoteErrors(t *testing.T) {
	logKey, _ := ParseVkey(docLogVkey)
	list := verifierList{logKey}
	cases := map[string]string{
		"a\x01b\n\n\u2014 x AAAAAAA=\n": "malformed note (control character)",
		"\xff\n\n":                      "malformed note (not UTF-8)",
		"text\n":                        "malformed note (no signature block)",
		"text\n\n":                      "malformed note (signature block must end in newline)",
		"text\n\n\u2014 x AAAAAAA=":     "malformed note (signature block must end in newline)",
		"text\n\n- x AAAAAAA=\n":        "malformed note (signature line must start with an em dash)",
		"text\n\n\u2014 x\n":            "malformed note (bad signature line)",
		"text\n\n\u2014 a+b AAAAAAA=\n": "malformed note (bad signature line)",
		"text\n\n\u2014 x AAAA*AA=\n":   "malformed note (signature is not base64)",
		"text\n\n\u2014 x AAAA\n":       "malformed note (signature too short)",
		"text\n\n\u2014 x AAAAAAA=\n":   "note has no verifiable signatures",
		"text\n\n" + strings.Repeat("\u2014 x AAAAAAA=\n", 101): "malformed note (more than 100 signatures)",
	}
	for note, want := range cases {
		_, err := openNote([]byte(note), list)
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", note, err, want)
		}
	}
	if _, err := openNote([]byte(strings.Repeat("a", MAX_NOTE_BYTES+1)), list); err == nil || err.Error() != "malformed note (too large)" {
		t.Error(err)
	}
	if isValidKeyName("a\u2003b") || isValidKeyName("a\x1cb") || !isValidKeyName("é") {
		t.Error("isValidKeyName")
	}
}

func TestSignedNoteVectors(t *testing.T) {
	var file struct {
		Keys map[string]string
		Open struct {
			Cases []struct {
				Note      string
				NoteHex   string `json:"note_hex"`
				Verifiers []string
				Expect    struct {
					Verified   []string
					Unverified []string
					Error      string
				}
			}
		}
		C2SPExample struct {
			Vkey, Note string
		} `json:"c2sp_example"`
	}
	readVectors(t, "signed-note.json", &file)
	for n, c := range file.Open.Cases {
		note := []byte(c.Note)
		if c.NoteHex != "" {
			note, _ = hex.DecodeString(c.NoteHex)
		}
		if len(note) == 0 {
			continue // described, not given
		}
		var list verifierList
		for _, name := range c.Verifiers {
			v, err := ParseVkey(file.Keys[name])
			if err != nil {
				t.Fatal(err)
			}
			list = append(list, v)
		}
		opened, err := openNote(note, list)
		if c.Expect.Error != "" {
			if err == nil || err.Error() != c.Expect.Error {
				t.Errorf("case %d: %v, want %q", n, err, c.Expect.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d: %v", n, err)
			continue
		}
		var names []string
		for _, s := range opened.Verified {
			names = append(names, s.Name)
		}
		if strings.Join(names, ",") != strings.Join(c.Expect.Verified, ",") {
			t.Errorf("case %d: verified %v", n, names)
		}
		if len(opened.Unverified) != len(c.Expect.Unverified) {
			t.Errorf("case %d: unverified %v", n, opened.Unverified)
		}
	}
	v, err := ParseVkey(file.C2SPExample.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openNote([]byte(file.C2SPExample.Note), verifierList{v}); err != nil {
		t.Fatal(err)
	}
}

func TestParseCheckpointBody(t *testing.T) {
	root := "qUxuvLD0RzDY2W81vb/OGlf7lAeGMMutcSUkedRNpSM="
	cases := map[string]string{
		"o\n1\n" + root:                           "checkpoint body must end in a newline",
		"o\n1\n":                                  "checkpoint needs origin, size and root lines",
		"a b\n1\n" + root + "\n":                  "origin 'a b': 1-255 printable ASCII characters without spaces or '+'",
		"o\n01\n" + root + "\n":                   "checkpoint size '01' is not a decimal number",
		"o\n\n" + root + "\n":                     "checkpoint size '' is not a decimal number",
		"o\n-1\n" + root + "\n":                   "checkpoint size '-1' is not a decimal number",
		"o\n18446744073709551616\n" + root + "\n": "checkpoint size does not fit in 64 bits",
		"o\n1\nqUxu\n":                            "checkpoint root must be 32 bytes",
		"o\n1\n" + root + "\n\n":                  "checkpoint extension lines must not be empty",
	}
	for body, want := range cases {
		_, err := parseCheckpointBody(body)
		if err == nil || err.Error() != want || err.(*LedgerError).Code != "input.checkpoint" {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	cp, err := parseCheckpointBody("o\n0\n" + root + "\next one\n")
	if err != nil || cp.Size != 0 || len(cp.Extensions) != 1 {
		t.Fatal(cp, err)
	}
	if _, err := ParseCheckpointUnverified("o\n1\n" + root + "\n"); err == nil || err.Error() != "not a signed note" {
		t.Fatal(err)
	}
	if cp, err := ParseCheckpointUnverified(docCheckpoint); err != nil || cp.Size != 3 {
		t.Fatal(err)
	}
	if got := pyStr("it's \"x\"\\\n\x7fé\u2028"); got != `'it\'s "x"\\\n\x7fé\u2028'` {
		t.Fatal(got)
	}
}
