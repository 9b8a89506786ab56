package main

import (
	"bufio"
	"encoding/hex"
	"os"
	"testing"
)

func readEntryLines(tb testing.TB, path string, max int) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal("no entries file: " + path)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out [][]byte
	for sc.Scan() && len(out) < max {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// Format §17.2: the three example entries.
var exampleEntries = []string{
	`{"envelope":{"payload":"eyJhdCI6IjIwMjYtMTEtMjhUMTA6MDA6MDBaIiwiYnkiOiJwYXJ0eTpBRE1JTi0wMSIsImRhdGEiOnsiYWRtaW4iOiJwYXJ0eTpBRE1JTi0wMSIsImtleSI6eyJhbGdvcml0aG0iOiJlZDI1NTE5Iiwia2V5aWQiOiJmZDExMGQzMDFkMmYwNzdkZTE0MTRiOGY5OWY0NDFiMTQwM2ZhYjIwN2IyMDUyZmJkMmMwNjVlNGVlOGU3ZGMyIiwic3BraSI6Ik1Db3dCUVlESzJWd0F5RUFpb2pqM1hRSjhaWDlVdHN0UExwZGNzcG5DYjhkbEJJYjgzU0lBYlFQYjF3PSJ9LCJsb2dfdmtleSI6ImN1c3RvZHkuZXhhbXBsZS5jb20vbGVkZ2VyKzljNGQ1N2UwK0FZRTVkdzZvZlJkZlZxTlVac05NZnN6TGpZcVJ0TzQzb2wzMkQxdVB5Yk9VIiwibmFtZSI6Iktvbm5la3Rvci1WZXJ3YWx0dW5nIiwib3JpZ2luIjoiY3VzdG9keS5leGFtcGxlLmNvbS9sZWRnZXIifSwia2luZCI6ImxlZGdlci5nZW5lc2lzIiwibm9uY2UiOiJBQUVDQXdRRkJnY0lDUW9MREEwT0R3Iiwic3ViamVjdCI6ImxlZGdlcjpjdXN0b2R5LmV4YW1wbGUuY29tL2xlZGdlciIsInYiOiJrY2wvc3RhdGVtZW50L3YxIn0=","payloadType":"application/vnd.kcl.statement.v1+json","signatures":[{"keyid":"fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2","sig":"X8EghD5bCcHDoeeTl8EwhIwSeoQ5mUbt+5tZDWtrANRZaJ+zjdckt571dvG6wGT7mwBxZOYQWRFNbSyjClCIAQ=="}]},"index":0,"prev":null,"recorded_at":"2026-11-28T10:00:00.250Z","v":"kcl/entry/v1"}`,
	`{"envelope":{"payload":"eyJhdCI6IjIwMjYtMTEtMjhUMTA6MDU6MDBaIiwiYnkiOiJwYXJ0eTpBRE1JTi0wMSIsImRhdGEiOnsibmFtZSI6IldhcmVubGFnZXIgRXNzZW4gU8O8ZCIsInJvbGVzIjpbIndhcmVob3VzZSJdfSwia2luZCI6InBhcnR5LnJlZ2lzdGVyZWQiLCJub25jZSI6IkVCRVNFeFFWRmhjWUdSb2JIQjBlSHciLCJwbGFjZSI6ImxvY2F0aW9uOkhRLUJFUkxJTiIsInN1YmplY3QiOiJwYXJ0eTpXSC1FU1NFTi0wMSIsInYiOiJrY2wvc3RhdGVtZW50L3YxIn0=","payloadType":"application/vnd.kcl.statement.v1+json","signatures":[{"keyid":"fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2","sig":"ju8qsXtpuu0tJ71fSRnQ9VJTh6JrDSZekbd2gcoIAaW7rZ43bEXLlH91BQGl7Lr8+aYZvD5bFFboRNRBzF48CA=="}]},"index":1,"prev":null,"recorded_at":"2026-11-28T10:05:01.500Z","v":"kcl/entry/v1"}`,
	`{"envelope":{"payload":"eyJhdCI6IjIwMjYtMTEtMjhUMTA6MDU6MzBaIiwiYnkiOiJwYXJ0eTpBRE1JTi0wMSIsImRhdGEiOnsiYWxnb3JpdGhtIjoiZWQyNTUxOSIsImtleWlkIjoiOGNlZjA2NWI3YWY4MzY2OTE1MGI3ZDMyNzA0ZDNkM2U3NWMzZTlhZWUwZDRmNjc0MDU0NGM2OGU4MWIzNzdhYSIsInNwa2kiOiJNQ293QlFZREsyVndBeUVBN1Vrb3hpalJ3c2JxNlFNNGtGbVZZU2xaSnpwY1kvazJOc0ZHRkt5SE45RT0ifSwia2luZCI6ImtleS5hZGRlZCIsIm5vbmNlIjoiSUNFaUl5UWxKaWNvS1NvckxDMHVMdyIsInN1YmplY3QiOiJwYXJ0eTpXSC1FU1NFTi0wMSIsInYiOiJrY2wvc3RhdGVtZW50L3YxIn0=","payloadType":"application/vnd.kcl.statement.v1+json","signatures":[{"keyid":"fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2","sig":"IYoUw1dIfwL0DvD+pULcrRmdD+DiMrDtaX6hc3rNBtdNJrUvxaWizjniRN1E2VGmwOMRJOF5MjM01azkbIV4Dg=="}]},"index":2,"prev":"d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd63516","recorded_at":"2026-11-28T10:05:31.000Z","v":"kcl/entry/v1"}`,
}

// §17.1 admin key (seed 01…01).
const exampleAdminSPKI = "302a300506032b65700321008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"

func TestParseExampleEntries(t *testing.T) {
	spki, _ := hex.DecodeString(exampleAdminSPKI)
	key, err := PublicKeyFromSPKI(spki)
	if err != nil {
		t.Fatal(err)
	}
	if key.KeyID() != "fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2" || KeyAlgorithm(key) != ED25519 {
		t.Fatalf("key id %s", key.KeyID())
	}
	for i, text := range exampleEntries {
		e, err := ParseEntry([]byte(text))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if e.Index != int64(i) || e.Statement.By != "party:ADMIN-01" {
			t.Fatalf("entry %d: %+v", i, e)
		}
		if err := key.Verify(e.Envelope.Signatures[0].Sig, e.Envelope.SignedBytes()); err != nil {
			t.Fatalf("entry %d: signature: %v", i, err)
		}
		if string(statementToBytes(&e.Statement)) != string(e.Envelope.Payload) {
			t.Fatalf("entry %d: statement does not re-encode", i)
		}
	}
	e, _ := ParseEntry([]byte(exampleEntries[1]))
	if e.Statement.Place == nil || *e.Statement.Place != "location:HQ-BERLIN" || e.Statement.Data["name"] != "Warenlager Essen Süd" {
		t.Fatalf("entry 1 statement: %+v", e.Statement)
	}
	if e, _ := ParseEntry([]byte(exampleEntries[2])); e.Prev == nil || *e.Prev != "d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd63516" {
		t.Fatal("entry 2 prev")
	}
}

func entryResult(raw []byte) string {
	e, err := ParseEntry(raw)
	if err != nil {
		le := err.(*LedgerError)
		return le.Code + "|" + le.Msg
	}
	return "ok|" + e.Statement.Kind
}

// entrySamplePath: 50 entries of a benchmark log (lines 1-22, then one in
// about 3600, up to the last of 100017 lines; line 1 is genesis).
const entrySamplePath = "testdata/entries_sample.jsonl"

func TestParseBenchEntries(t *testing.T) {
	lines := readEntryLines(t, entrySamplePath, 1000)
	if len(lines) != 50 {
		t.Fatalf("%d sample lines", len(lines))
	}
	for i, raw := range lines {
		e, err := ParseEntry(raw)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if i < 22 && e.Index != int64(i) {
			t.Fatalf("line %d: index %d", i+1, e.Index)
		}
	}
}

func benchmarkEntries(b *testing.B, parse func([]byte) (*Entry, error)) {
	lines := readEntryLines(b, entrySamplePath, 1000)
	lines = lines[1:] // line 1 is genesis
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEntry: the fast path (with the generic one as fallback).
func BenchmarkParseEntry(b *testing.B) { benchmarkEntries(b, ParseEntry) }

// BenchmarkParseEntryGeneric: the generic path alone.
func BenchmarkParseEntryGeneric(b *testing.B) { benchmarkEntries(b, parseEntryGeneric) }

func BenchmarkDecodeCanonical(b *testing.B) {
	lines := readEntryLines(b, entrySamplePath, 1000)
	lines = lines[1:]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeCanonical(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEntryVectors(t *testing.T) {
	for _, c := range entryVectors {
		if got := entryResult([]byte(c.in)); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
