package main

// The entry fast path (parseEntryFast) against the generic path: same
// entries accepted, same values, and through ParseEntry the same errors.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// entryOutcome is ParseEntry's result in comparable form.
func entryOutcome(e *Entry, err error) string {
	if err != nil {
		le, ok := err.(*LedgerError)
		if !ok {
			return "non-ledger error: " + err.Error()
		}
		return "error " + le.Code + "|" + le.Msg
	}
	return "ok"
}

// checkFastSame: ParseEntry (fast path, generic fallback) gives exactly
// what the generic path alone gives; reports whether the fast path accepted.
func checkFastSame(t *testing.T, what string, raw []byte) bool {
	t.Helper()
	orig := append([]byte(nil), raw...)
	wantE, wantErr := parseEntryGeneric(raw)
	fast := parseEntryFast(raw)
	gotE, gotErr := ParseEntry(raw)
	if !bytes.Equal(raw, orig) {
		t.Fatalf("%s: input modified", what)
	}
	want, got := entryOutcome(wantE, wantErr), entryOutcome(gotE, gotErr)
	if got != want {
		t.Fatalf("%s: ParseEntry %q, generic %q\ninput %q", what, got, want, raw)
	}
	if wantErr == nil && !reflect.DeepEqual(gotE, wantE) {
		t.Fatalf("%s: ParseEntry value differs from generic\ninput %q\n got %#v\nwant %#v", what, raw, gotE, wantE)
	}
	if fast != nil {
		if wantErr != nil {
			t.Fatalf("%s: fast path accepted what the generic path rejects (%s)\ninput %q", what, want, raw)
		}
		if !reflect.DeepEqual(fast, wantE) {
			t.Fatalf("%s: fast path value differs from generic\ninput %q\n got %#v\nwant %#v", what, raw, fast, wantE)
		}
	}
	return fast != nil
}

// realEntries: the sample log lines and the §17.2 examples.
func realEntries(t *testing.T) [][]byte {
	lines := readEntryLines(t, entrySamplePath, 1000)
	for _, text := range exampleEntries {
		lines = append(lines, []byte(text))
	}
	return lines
}

// TestEntryFastPathSameAsGeneric: every real entry takes the fast path and
// gives the generic path's Entry.
func TestEntryFastPathSameAsGeneric(t *testing.T) {
	for i, raw := range realEntries(t) {
		if _, err := parseEntryGeneric(raw); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !checkFastSame(t, fmt.Sprintf("entry %d", i), raw) {
			t.Fatalf("entry %d: not taken by the fast path", i)
		}
	}
}

// entryParts splits a canonical entry into its statement payload (decoded)
// and a function that rebuilds the entry around a new payload.
func entryParts(t *testing.T, raw []byte) ([]byte, func(payload []byte) []byte) {
	const key = `{"envelope":{"payload":"`
	s := string(raw)
	if !strings.HasPrefix(s, key) {
		t.Fatalf("unexpected entry layout %q", raw)
	}
	end := strings.IndexByte(s[len(key):], '"') + len(key)
	payload, err := base64.StdEncoding.DecodeString(s[len(key):end])
	if err != nil {
		t.Fatal(err)
	}
	rest := s[end:]
	return payload, func(p []byte) []byte {
		return []byte(key + base64.StdEncoding.EncodeToString(p) + rest)
	}
}

// Replacements of one JSON fragment by another, for mutations that keep the
// bytes mostly valid (so that the later checks are reached).
var entryReplacements = [][2]string{
	{`"index":`, `"index":0`},
	{`"index":`, `"index":-`},
	{`"index":`, `"index":-0,"x":`},
	{`"index":`, `"index": `},
	{`"index":`, `"index":1.5,"y":`},
	{`"index":`, `"index":9007199254740991,"z":`},
	{`"index":`, `"index":9007199254740992,"z":`},
	{`"index":`, `"index":1e3,"z":`},
	{`"index":`, `"index":12345678901234567,"z":`},
	{`"index":`, `"index":true,"z":`},
	{`"prev":null`, `"prev":"d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd63516"`},
	{`"prev":null`, `"prev":"D61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd63516"`},
	{`"prev":null`, `"prev":"d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd635"`},
	{`"prev":null`, `"prev":"d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd6351"`},
	{`"prev":null`, `"prev":""`},
	{`"prev":null`, `"prev":0`},
	{`"prev":null`, `"prev":nul`},
	{`"prev":null`, `"prev":[]`},
	{`"prev":null,`, ``},
	{`"prev":null,`, `"prev":null,"prev":null,`},
	{`,"v":"kcl/entry/v1"`, `,"v":"kcl/entry/v2"`},
	{`,"v":"kcl/entry/v1"`, `,"v":"kcl/entry/v1","w":1`},
	{`,"v":"kcl/entry/v1"`, `,"v":"kcl\/entry/v1"`},
	{`,"v":"kcl/entry/v1"`, `,"v":"kcl/entry/v\u0031"`},
	{`,"v":"kcl/entry/v1"`, `,"v":"kcl/entry/v1","v":"kcl/entry/v1"`},
	{`,"v":"kcl/entry/v1"`, ``},
	{`"recorded_at":"`, `"recorded_at":"x`},
	{`"recorded_at":"`, `"recorded_at":"2026-02-30T00:00:00Z","q":"`},
	{`"recorded_at":"`, `"recorded_at":"2026-01-01T00:00:00.1234567890Z","q":"`},
	{`"recorded_at":"`, `"recorded_at":5,"q":"`},
	{`"recorded_at":"`, `"recorded_at":"\u0032`},
	{`.`, `\u002e`},
	{`Z"`, `z"`},
	{`Z"`, "Z\u00e9\""},
	{`Z"`, "Ze\u0301\""},
	{`Z"`, "Z\xff\""},
	{`Z"`, "Z\x7f\""},
	{`Z"`, "Z\x01\""},
	{`Z"`, `Z\"`},
	{`Z"`, `Z\ud800"`},
	{`"payloadType":"application/vnd.kcl.statement.v1+json"`, `"payloadType":"application/vnd.kcl.statement.v2+json"`},
	{`"payloadType":"application/vnd.kcl.statement.v1+json"`, `"payloadType":"application\/vnd.kcl.statement.v1+json"`},
	{`"payloadType":"application/vnd.kcl.statement.v1+json"`, `"payloadType":null`},
	{`"payloadType":"application/vnd.kcl.statement.v1+json",`, ``},
	{`"payloadType":"application/vnd.kcl.statement.v1+json",`, `"payloadType":"application/vnd.kcl.statement.v1+json","payloadType":"application/vnd.kcl.statement.v1+json",`},
	{`"payload":"`, `"payload":"A`},
	{`"payload":"`, `"payload":"\u0041`},
	{`"payload":"`, `"payload":"AAAA`},
	{`"payload":"`, `"payload":"\n`},
	{`"payload":"`, `"payload":"  `},
	{`"payload":"`, `"payloa":"`},
	{`"payload":"`, `"extra":1,"payload":"`},
	{`"payload":"`, `"payload":0,"x":"`},
	{`{"envelope":{`, `{"envelope":{"a":1,`},
	{`{"envelope":{`, `{"envelope": {`},
	{`{"envelope":{`, "\xef\xbb\xbf{\"envelope\":{"},
	{`{"envelope":{`, `[{"envelope":{`},
	{`{"envelope":{`, `{"envelope":{"payload":"","payloadType":"","signatures":[]},"envelope":{`},
	{`{"envelope":{`, `{"a":1,"envelope":{`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000","sig":"AAAA"},`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000","sig":"AAA="},`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000","sig":"AAB="},`},
	{`"signatures":[`, `"signatures":[{"keyid":"000000000000000000000000000000000000000000000000000000000000000","sig":""},`},
	{`"signatures":[`, `"signatures":[{"keyid":"A000000000000000000000000000000000000000000000000000000000000000","sig":""},`},
	{`"signatures":[`, `"signatures":[{"sig":"","keyid":"0000000000000000000000000000000000000000000000000000000000000000"},`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000","sig":"","x":1},`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000"},`},
	{`"signatures":[`, `"signatures":[{"keyid":"0000000000000000000000000000000000000000000000000000000000000000","keyid":"0000000000000000000000000000000000000000000000000000000000000000","sig":""},`},
	{`"signatures":[`, `"signatures":[1,`},
	{`"signatures":[`, `"signatures":[[],`},
	{`"signatures":[`, `"signatures":[],"x":[`},
	{`"signatures":[`, `"signatures": [`},
	{`"signatures":[{`, `"signatures":[ {`},
	{`"keyid":"`, `"keyid":"a`},
	{`"keyid":"`, `"keyid":"\u0061`},
	{`"keyid":"`, `"keyid" :"`},
	{`"sig":"`, `"sig":"=`},
	{`"sig":"`, `"sig":"\/`},
	{`"sig":"`, `"sig":0,"t":"`},
	{`=="}`, `="}`},
	{`=="}`, `"}`},
	{`=="}`, `=="} `},
	{`]},"index"`, `],"x":{}},"index"`},
	{`]},"index"`, `]} ,"index"`},
	{`"}]},`, `"}],},`},
	{`"}]},`, `"},]},`},
	{`}`, `}}`},
	{`}`, ``},
	{`,`, `,,`},
	{`,`, ``},
	{`:`, `::`},
	{`:`, ` : `},
	{`"`, `'`},
	{`"`, ``},
}

// Replacements inside the statement payload (re-encoded in base64).
var statementReplacements = [][2]string{
	{`"data":{`, `"data":{"a":1,`},
	{`"data":{`, `"data":{"a":-0,`},
	{`"data":{`, `"data":{"a":01,`},
	{`"data":{`, `"data":{"a":1.0,`},
	{`"data":{`, `"data":{"a":1E2,`},
	{`"data":{`, `"data":{"a":9007199254740992,`},
	{`"data":{`, `"data":{"a":-9007199254740991,`},
	{`"data":{`, `"data":{"a":NaN,`},
	{`"data":{`, `"data":{"a":[1,2,{"b":null,"c":true,"d":false}],`},
	{`"data":{`, `"data":{"a":"\u00e9",`},
	{`"data":{`, "\"data\":{\"a\":\"\u00e9\","},
	{`"data":{`, "\"data\":{\"a\":\"e\u0301\","},
	{`"data":{`, "\"data\":{\"e\u0301\":1,"},
	{`"data":{`, `"data":{"a":"\ud800",`},
	{`"data":{`, `"data":{"a":"\ud83d\ude00",`},
	{`"data":{`, "\"data\":{\"a\":\"\U0001F600\","},
	{`"data":{`, `"data":{"a":"\u001f",`},
	{`"data":{`, `"data":{"a":"\u001F",`},
	{`"data":{`, `"data":{"a":"\n",`},
	{`"data":{`, `"data":{"a":"\/",`},
	{`"data":{`, `"data":{"a":"\x",`},
	{`"data":{`, "\"data\":{\"a\":\"\x01\","},
	{`"data":{`, "\"data\":{\"a\":\"\xc3\","},
	{`"data":{`, `"data":{"zz":1,"a":2,`},
	{`"data":{`, `"data":{"a":1,"a":2,`},
	{`"data":{`, `"data":{"a":{"b":1,"b":2},`},
	{`"data":{`, `"data":{"a":{"b":{"c":{}}},`},
	{`"data":{`, `"data":{"a":` + strings.Repeat(`[`, 31) + strings.Repeat(`]`, 31) + `,`},
	{`"data":{`, `"data":{"a":` + strings.Repeat(`[`, 32) + strings.Repeat(`]`, 32) + `,`},
	{`"data":{`, `"data":{"a":` + strings.Repeat(`[`, 995) + strings.Repeat(`]`, 995) + `,`},
	{`"data":{`, `"data":{"a":` + strings.Repeat(`{"b":`, 40) + `1` + strings.Repeat(`}`, 40) + `,`},
	{`"data":{`, `"data":{ "a":1,`},
	{`"data":{`, `"data":[],"dat":{`},
	{`"data":{`, `"data":null,"dat":{`},
	{`"data":{`, `"data":{},"dat":{`},
	{`"data":{`, `"data" : {`},
	{`"data":{`, `"data":{"":1,`},
	{`"data":{`, `"data":{"\u0061":1,`},
	{`"at":"`, `"at":"x`},
	{`"at":"`, `"at":"2026-13-01T00:00:00Z","au":"`},
	{`"at":"`, `"at":1,"au":"`},
	{`"by":"party:`, `"by":"party:a`},
	{`"by":"party:`, `"by":"location:`},
	{`"by":"party:`, `"by":"part\u0079:`},
	{`"by":"party:`, `"by":"nobody`},
	{`"by":"party:`, `"by":7,"bz":"`},
	{`"kind":"`, `"kind":"X`},
	{`"kind":"`, `"kind":"`},
	{`"kind":"`, `"kind":"a-`},
	{`"kind":"`, `"kind":"\u0061`},
	{`"kind":"`, `"kind":null,"kine":"`},
	{`"nonce":"`, `"nonce":"A`},
	{`"nonce":"`, `"nonce":"AA`},
	{`"nonce":"`, `"nonce":"+`},
	{`"nonce":"`, `"nonce":[],"nonc":"`},
	{`"nonce":"`, `"nonce":"\u0041`},
	{`"subject":"`, `"subject":"x`},
	{`"subject":"`, `"place":"location:HQ-BERLIN","subject":"`},
	{`"subject":"`, `"place":"location:hq","subject":"`},
	{`"subject":"`, `"place":"party:HQ","subject":"`},
	{`"subject":"`, `"place":null,"subject":"`},
	{`"subject":"`, `"place":"location:HQ","place":"location:HQ","subject":"`},
	{`"subject":"`, `"subject":"ledger:`},
	{`"subject":"`, `"subject":"seal:`},
	{`"subject":"`, `"subject":"unknown:`},
	{`"subject":"`, `"subject":5,"subjectz":"`},
	{`"subject":"`, `"subject":"\u0073eal:`},
	{`"place":"`, `"place":"location:A/B:C_D.E-F","plac":"`},
	{`"place":"`, `"place":"location:`},
	{`"place":"`, `"place":"location:\u0041`},
	{`"v":"kcl/statement/v1"`, `"v":"kcl/statement/v2"`},
	{`"v":"kcl/statement/v1"`, `"v":"kcl/statement/v1","w":1`},
	{`"v":"kcl/statement/v1"`, `"v":"kcl\/statement/v1"`},
	{`"v":"kcl/statement/v1"`, `"v":"kcl/statement/v1","v":"kcl/statement/v1"`},
	{`,"v":"kcl/statement/v1"`, ``},
	{`"v":"kcl/statement/v1"}`, `"v":"kcl/statement/v1"} `},
	{`"v":"kcl/statement/v1"}`, `"v":"kcl/statement/v1"}}`},
	{`{"at":`, ` {"at":`},
	{`{"at":`, `{"a":1,"at":`},
	{`{"at":`, `[{"at":`},
	{`{"at":`, "\xef\xbb\xbf{\"at\":"},
	{`,"by":`, `,"ay":1,"by":`},
	{`}`, `}}`},
	{`,`, ``},
	{`"`, `\"`},
}

var mutationBytes = []byte{'"', '\\', ' ', '\n', '0', '1', '9', '-', '.', 'e', '{', '}', '[', ']', ',', ':', 'u', 'A', '=', '/', '+', 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xa9, 0xff}

// mutate applies one random mutation to b (a JSON text): a replacement from
// reps at a random occurrence, or a byte-level edit.
func mutate(rng *rand.Rand, b []byte, reps [][2]string) []byte {
	if rng.Intn(3) > 0 {
		r := reps[rng.Intn(len(reps))]
		n := bytes.Count(b, []byte(r[0]))
		if n > 0 {
			k := rng.Intn(n)
			at := 0
			for ; ; k-- {
				j := bytes.Index(b[at:], []byte(r[0])) + at
				if k == 0 {
					return append(append(append([]byte(nil), b[:j]...), r[1]...), b[j+len(r[0]):]...)
				}
				at = j + 1
			}
		}
	}
	if len(b) == 0 {
		return []byte{mutationBytes[rng.Intn(len(mutationBytes))]}
	}
	out := append([]byte(nil), b...)
	pos := rng.Intn(len(out))
	switch rng.Intn(7) {
	case 0: // overwrite with an interesting byte
		out[pos] = mutationBytes[rng.Intn(len(mutationBytes))]
	case 1: // flip a bit
		out[pos] ^= 1 << uint(rng.Intn(8))
	case 2: // insert whitespace
		ws := []string{" ", "\t", "\n", "\r"}[rng.Intn(4)]
		out = append(out[:pos], append([]byte(ws), b[pos:]...)...)
	case 3: // delete a byte
		out = append(out[:pos], b[pos+1:]...)
	case 4: // insert an interesting byte
		out = append(out[:pos], append([]byte{mutationBytes[rng.Intn(len(mutationBytes))]}, b[pos:]...)...)
	case 5: // escape a printable ASCII character as \u00XX
		if c := b[pos]; c > 0x20 && c < 0x7f && c != '"' && c != '\\' {
			out = append(out[:pos], append([]byte(fmt.Sprintf(`\u%04x`, c)), b[pos+1:]...)...)
		}
	case 6: // duplicate a short span
		end := pos + 1 + rng.Intn(16)
		if end > len(b) {
			end = len(b)
		}
		out = append(out[:end], b[pos:]...)
	}
	return out
}

var indexValues = []string{"0", "00", "01", "007", "-0", "-1", "1", "10", "9007199254740991", "9007199254740992",
	"09007199254740991", "99999999999999999", "1.0", "1e2", "1E2", "0.0", "", "+1", "0x1", "\"1\"", "null"}

// setIndex replaces the value of the entry's index field.
func setIndex(rng *rand.Rand, b []byte) []byte {
	j := bytes.Index(b, []byte(`"index":`))
	if j < 0 {
		return b
	}
	j += len(`"index":`)
	k := j
	for k < len(b) && b[k] != ',' && b[k] != '}' {
		k++
	}
	v := indexValues[rng.Intn(len(indexValues))]
	return append(append(append([]byte(nil), b[:j]...), v...), b[k:]...)
}

// entryVariants: real entries plus built variants the log does not have
// (several signatures, a place, a prev), all accepted by the generic path.
func entryVariants(t *testing.T) [][]byte {
	real := realEntries(t)
	out := append([][]byte(nil), real...)
	sig := `{"keyid":"%064x","sig":"AAAA"}`
	for i, raw := range real[:30] {
		s := string(raw)
		var sigs []string
		for k := 0; k < 1+i%9; k++ { // 1…9 signatures (9 is rejected)
			sigs = append(sigs, fmt.Sprintf(sig, k+1))
		}
		j := strings.Index(s, `"signatures":[`) + len(`"signatures":[`)
		out = append(out, []byte(s[:j]+strings.Join(sigs, ",")+","+s[j:]))
		payload, rebuild := entryParts(t, raw)
		if !bytes.Contains(payload, []byte(`"place":`)) {
			p := bytes.Replace(payload, []byte(`"subject":`), []byte(`"place":"location:HQ-BERLIN:A/1","subject":`), 1)
			out = append(out, rebuild(p))
		}
		out = append(out, bytes.Replace(raw, []byte(`"prev":null`), []byte(`"prev":"`+strings.Repeat("0f", 32)+`"`), 1))
	}
	return out
}

// mutationCount: 1 (half the time), 2 or 3 mutations.
func mutationCount(rng *rand.Rand) int {
	if rng.Intn(2) == 0 {
		return 1
	}
	return 2 + rng.Intn(2)
}

// TestEntryFastPathMutations: thousands of seeded mutations of real entries
// and of their statements; ParseEntry must give what the generic path gives.
func TestEntryFastPathMutations(t *testing.T) {
	bases := entryVariants(t)
	for i, raw := range bases {
		checkFastSame(t, fmt.Sprintf("variant %d", i), raw)
	}
	rng := rand.New(rand.NewSource(20261203))
	n := 20000
	if testing.Short() {
		n = 3000
	}
	accepted, rejected := 0, 0
	for it := 0; it < n; it++ {
		base := bases[rng.Intn(len(bases))]
		var raw []byte
		if it%2 == 0 {
			raw = base
			for k := mutationCount(rng); k > 0; k-- {
				if rng.Intn(10) == 0 {
					raw = setIndex(rng, raw)
				} else {
					raw = mutate(rng, raw, entryReplacements)
				}
			}
		} else {
			payload, rebuild := entryParts(t, base)
			for k := mutationCount(rng); k > 0; k-- {
				payload = mutate(rng, payload, statementReplacements)
			}
			raw = rebuild(payload)
		}
		if checkFastSame(t, fmt.Sprintf("mutation %d", it), raw) {
			accepted++
		} else if _, err := parseEntryGeneric(raw); err != nil {
			rejected++
		}
	}
	// The mutations must reach both sides of the fast path.
	if accepted < n/40 || rejected < n/2 {
		t.Fatalf("mutations: %d accepted by the fast path, %d rejected, of %d", accepted, rejected, n)
	}
	t.Logf("%d mutations: %d accepted by the fast path, %d rejected, %d accepted by the generic path only", n, accepted, rejected, n-accepted-rejected)
}
