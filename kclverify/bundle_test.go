package main

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

func TestMemberProblemLikePython(t *testing.T) {
	// ledger.bundle.member_problem, run on these names.
	cases := [][2]string{
		{"", "empty member name"}, {"log.vkey", ""},
		{"a\x01b", `member name 'a\x01b' contains control characters`},
		{"/x", "absolute member path '/x'"}, {`\x`, `absolute member path '\\x'`},
		{"C:x", "absolute member path 'C:x'"}, {"é:x", "absolute member path 'é:x'"},
		{"a/../b", "member path 'a/../b' leaves the bundle (..)"}, {"..", "member path '..' leaves the bundle (..)"},
		{`a\b`, `member 'a\\b' is not at the top level of the bundle`},
		{"a/b", "member 'a/b' is not at the top level of the bundle"},
		{"x/", "member 'x/' is not at the top level of the bundle"}, {"ok name", ""}, {"é", ""},
	}
	for _, c := range cases {
		if got := memberProblem(c[0]); got != c[1] {
			t.Errorf("%q: %q, want %q", c[0], got, c[1])
		}
	}
}

func TestCheckMembers(t *testing.T) {
	layout, err := checkMembers([]string{"log.vkey", "checkpoint", "entries.jsonl"})
	if err != nil || layout.Partial {
		t.Fatal(err)
	}
	layout, err = checkMembers([]string{"proofs.jsonl", "entries.jsonl", "checkpoint", "log.vkey"})
	if err != nil || !layout.Partial {
		t.Fatal(err)
	}
	cases := map[string][]string{
		"hostile bundle: absolute member path '/log.vkey'":                                                             {"/log.vkey"},
		"bundle member 'checkpoint' appears twice":                                                                     {"checkpoint", "checkpoint"},
		"unexpected bundle member 'README' (a v1 bundle holds only log.vkey, checkpoint, entries.jsonl, proofs.jsonl)": {"log.vkey", "README"},
		"bundle lacks checkpoint, entries.jsonl":                                                                       {"log.vkey", "proofs.jsonl"},
	}
	for want, names := range cases {
		_, err := checkMembers(names)
		if err == nil || err.Error() != want || err.(*LedgerError).Code != "input.bundle" {
			t.Errorf("%v: %v", names, err)
		}
	}
}

func TestReadVkey(t *testing.T) {
	if v, err := readVkey([]byte("a+b+c\n")); err != nil || v != "a+b+c" {
		t.Fatal(v, err)
	}
	for _, bad := range []string{"a", "\n", "a\nb\n", "a\r\n", "a\n\n"} {
		if _, err := readVkey([]byte(bad)); err == nil || err.Error() != "log.vkey must be one line ending in LF" {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := readVkey([]byte("\xff\n")); err == nil || err.Error() != "log.vkey is not UTF-8" {
		t.Error(err)
	}
}

func splitAll(t *testing.T, blocks []string, max int) []Line {
	i := 0
	s := newLineSplitter(func() ([]byte, error) {
		if i == len(blocks) {
			return nil, nil
		}
		i++
		return []byte(blocks[i-1]), nil
	}, max)
	var out []Line
	for {
		line, ok, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, line)
	}
}

func TestSplitLinesLikePython(t *testing.T) {
	// ledger.bundle.split_lines(blocks, 5), run on these blocks.
	type L struct {
		n       int64
		data, p string
	}
	cases := []struct {
		blocks []string
		want   []L
	}{
		{[]string{"ab\ncd\n"}, []L{{1, "ab", ""}, {2, "cd", ""}}},
		{[]string{"a", "b\n\nc"}, []L{{1, "ab", ""}, {2, "", "line 2 is empty"}, {3, "c", "line 3 does not end in LF (truncated?)"}}},
		{[]string{"xxxxx", "y\nz"}, []L{{1, "", "line 1 is longer than 5 bytes"}, {2, "z", "line 2 does not end in LF (truncated?)"}}},
		{[]string{"123456\n"}, []L{{1, "", "line 1 is longer than 5 bytes"}}},
		{[]string{"12345", "6\n12", "345"}, []L{{1, "", "line 1 is longer than 5 bytes"}, {2, "12345", "line 2 does not end in LF (truncated?)"}}},
		{[]string{"\n"}, []L{{1, "", "line 1 is empty"}}},
		{[]string{"1234567"}, []L{{1, "", "line 1 is longer than 5 bytes"}}},
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"abc", "", "\n"}, []L{{1, "abc", ""}}},
	}
	for n, c := range cases {
		got := splitAll(t, c.blocks, 5)
		if len(got) != len(c.want) {
			t.Errorf("case %d: %d lines %+v", n, len(got), got)
			continue
		}
		for i, w := range c.want {
			if got[i].Number != w.n || string(got[i].Data) != w.data || got[i].Problem != w.p {
				t.Errorf("case %d line %d: %+v, want %+v", n, i, got[i], w)
			}
		}
	}
	// Any block boundaries give the same lines.
	text := "one\ntwo\n\nthree33\nfour\nfi"
	want := splitAll(t, []string{text}, 5)
	for size := 1; size < len(text); size++ {
		var blocks []string
		for i := 0; i < len(text); i += size {
			end := i + size
			if end > len(text) {
				end = len(text)
			}
			blocks = append(blocks, text[i:end])
		}
		got := splitAll(t, blocks, 5)
		if len(got) != len(want) {
			t.Fatalf("size %d: %+v", size, got)
		}
		for i := range got {
			if got[i].Number != want[i].Number || string(got[i].Data) != string(want[i].Data) || got[i].Problem != want[i].Problem {
				t.Fatalf("size %d: %+v vs %+v", size, got[i], want[i])
			}
		}
	}
}

// docProofLine is the inclusion proof of §17.3 as canonical JSON.
func docProofLine(index int, size int, leaf string, root string, path ...string) []byte {
	quoted := make([]string, len(path))
	for i, p := range path {
		quoted[i] = `"` + p + `"`
	}
	return []byte(`{"index":` + itoa(index) + `,"leaf_hash":"` + leaf + `","proof":[` + strings.Join(quoted, ",") +
		`],"root":"` + root + `","size":` + itoa(size) + `}`)
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestCheckProofFormatExample(t *testing.T) {
	leaf := mustHex(t, docL1)
	anchor := &Checkpoint{Origin: "custody.example.com/ledger", Size: 3, Root: mustHex(t, docRoot3)}
	good := docProofLine(1, 3, docL1, docRoot3, docL0, docL2)
	one := int64(1)
	at, findings := checkProof(good, &one, leaf, anchor)
	if at == nil || *at != 1 || len(findings) != 0 {
		t.Fatalf("%v %+v", at, findings)
	}
	// Unreadable entry: the proof names the index.
	at, findings = checkProof(good, nil, leaf, nil)
	if *at != 1 || len(findings) != 0 {
		t.Fatalf("%+v", findings)
	}
	codes := func(fs []Finding) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Code+"@"+pyInt(f.Index)+"("+pyOptional(f.Expected)+"|"+pyOptional(f.Found)+")")
		}
		return strings.Join(out, " ")
	}
	two := int64(2)
	_, findings = checkProof(good, &two, mustHex(t, docL2), anchor)
	want := "proof.index@2(2|1) proof.leaf_hash@2(" + docL2 + "|" + docL1 + ") proof.inclusion@2(" + docRoot3 + "|"
	if got := codes(findings); !strings.HasPrefix(got, want) {
		t.Fatalf("%s", got)
	}
	other := &Checkpoint{Origin: "o", Size: 8, Root: mustHex(t, docRoot2)} // Python: check_proof(line, 1, L1, Checkpoint("o", 8, root2))
	_, findings = checkProof(good, &one, leaf, other)
	if got := codes(findings); !strings.HasPrefix(got, "proof.size@1(8|3) proof.root@1("+docRoot2+"|"+docRoot3+") proof.inclusion@1("+docRoot2+"|inclusion proof is shorter than the path to the root)") {
		t.Fatalf("%s", got)
	}
	_, findings = checkProof(nil, &one, leaf, anchor)
	if got := codes(findings); got != "proof.missing@1(None|None)" {
		t.Fatal(got)
	}
	for line, found := range map[string]string{
		`{"index":1}`: "an inclusion proof has exactly the fields index, leaf_hash, proof, root, size",
		`[]`:          "an inclusion proof has exactly the fields index, leaf_hash, proof, root, size",
		strings.Replace(string(good), `"index":1`, `"index":-1`, 1): "inclusion proof index must be a non-negative integer",
		strings.Replace(string(good), `"size":3`, `"size":true`, 1): "inclusion proof size must be a non-negative integer",
		strings.Replace(string(good), `"proof":[`, `"proof":{"a":[`, 1)[:0] + strings.Replace(string(good), `"proof":["`+docL0+`","`+docL2+`"]`, `"proof":"x"`, 1): "inclusion proof path must be a list of at most 64 hashes",
		strings.Replace(string(good), `"leaf_hash":"d`, `"leaf_hash":"D`, 1):                                                                                       "leaf_hash: not lowercase hex",
		strings.Replace(string(good), `"root":"`+docRoot3, `"root":"`+docRoot3[:62], 1):                                                                            "root: expected 32 bytes, got 31",
		strings.Replace(string(good), `"proof":["`+docL0, `"proof":[1`, 1)[:0] + strings.Replace(string(good), `"`+docL0+`"`, `1`, 1):                              "proof: not lowercase hex",
	} {
		_, findings = checkProof([]byte(line), &one, leaf, anchor)
		if len(findings) != 1 || findings[0].Code != "proof.malformed" || *findings[0].Found != found || *findings[0].Expected != "§9.3 JSON" {
			t.Errorf("%s: %+v", line, findings)
		}
	}
}

// docExample returns the bytes of a `<!-- example:NAME -->` block of docs/format.md.
func docExample(t *testing.T, name string) []byte {
	data, err := os.ReadFile("../docs/format.md")
	if err != nil {
		t.Fatalf("docs/format.md not found: %v", err)
	}
	text := string(data)
	start := strings.Index(text, "<!-- example:"+name+" -->\n```")
	if start < 0 {
		t.Fatalf("no example %s", name)
	}
	body := text[start:]
	body = body[strings.Index(body, "\n```")+4:]
	body = body[strings.Index(body, "\n")+1:]
	return []byte(body[:strings.Index(body, "\n```")])
}

func TestDocEntriesHashToTheLeaves(t *testing.T) {
	for i, want := range []string{docL0, docL1, docL2} {
		if got := hex.EncodeToString(HashLeaf(docExample(t, "entry-"+itoa(i)))); got != want {
			t.Errorf("entry %d: %s", i, got)
		}
	}
}
