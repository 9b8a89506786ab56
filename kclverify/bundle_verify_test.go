package main

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type member struct {
	name string
	data []byte
}

func docBundle(t *testing.T, partial bool) []member {
	var entries, proofs []byte
	for i := 0; i < 3; i++ {
		entries = append(append(entries, docExample(t, "entry-"+itoa(i))...), '\n')
	}
	out := []member{{"log.vkey", []byte(docLogVkey + "\n")}, {"checkpoint", []byte(docCheckpoint)}, {"entries.jsonl", entries}}
	if partial {
		proofs = append(proofs, docProofLine(0, 3, docL0, docRoot3, docL1, docL2)...)
		proofs = append(proofs, '\n')
		proofs = append(proofs, docProofLine(1, 3, docL1, docRoot3, docL0, docL2)...)
		proofs = append(proofs, '\n')
		proofs = append(proofs, docProofLine(2, 3, docL2, docRoot3, docRoot2)...)
		proofs = append(proofs, '\n')
		out = append(out, member{"proofs.jsonl", proofs})
	}
	return out
}

func unixHeader(name string, mode uint32) *zip.FileHeader {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.CreatorVersion = 3<<8 | 20
	h.ExternalAttrs = mode << 16
	return h
}

func writeZip(t *testing.T, path string, members []member, edit func(i int, h *zip.FileHeader)) string {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i, m := range members {
		h := unixHeader(m.name, 0o100644)
		if edit != nil {
			edit(i, h)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(m.data)
	}
	return closeZip(t, w, &buf, path)
}

// closeZip finishes the archive in buf and writes it to path.
func closeZip(t *testing.T, w *zip.Writer, buf *bytes.Buffer, path string) string {
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeRawZip writes stored members with the headers given (sizes and CRC as declared).
func writeRawZip(t *testing.T, path string, members []member, edit func(i int, h *zip.FileHeader)) string {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for i, m := range members {
		h := unixHeader(m.name, 0o100644)
		h.Method = zip.Store
		h.CRC32 = crc32.ChecksumIEEE(m.data)
		h.CompressedSize64 = uint64(len(m.data))
		h.UncompressedSize64 = uint64(len(m.data))
		if edit != nil {
			edit(i, h)
		}
		f, err := w.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(m.data)
	}
	return closeZip(t, w, &buf, path)
}

func writeDir(t *testing.T, path string, members []member) string {
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if err := os.WriteFile(filepath.Join(path, m.name), m.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func expectUnusable(t *testing.T, path string, words string) {
	t.Helper()
	_, err := VerifyBundle(path, VerifyOptions{Workers: 2})
	le, ok := err.(*LedgerError)
	if !ok || le.Code != "input.bundle" || !strings.Contains(le.Msg, words) {
		t.Errorf("%s: %v (want %q)", filepath.Base(path), err, words)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{path, "--json"}, &stdout, &stderr); code != EXIT_INPUT || stdout.Len() != 0 ||
		strings.Count(stderr.String(), "\n") != 1 || !strings.HasSuffix(stderr.String(), "[input.bundle]\n") {
		t.Errorf("%s: exit %d, %q %q", filepath.Base(path), code, stdout.String(), stderr.String())
	}
}

func TestHostileZips(t *testing.T) {
	dir := t.TempDir()
	honest := docBundle(t, false)
	p := func(name string) string { return filepath.Join(dir, name) }
	expectUnusable(t, writeZip(t, p("symlink.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 1 {
			h.ExternalAttrs = 0o120777 << 16
		}
	}), "hostile bundle: member 'checkpoint' is a symbolic link")
	expectUnusable(t, writeZip(t, p("fifo.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 1 {
			h.ExternalAttrs = 0o010644 << 16
		}
	}), "bundle member 'checkpoint' is not a regular file")
	expectUnusable(t, writeZip(t, p("abs.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 0 {
			h.Name = "/log.vkey"
		}
	}), "hostile bundle: absolute member path '/log.vkey'")
	expectUnusable(t, writeZip(t, p("dotdot.zip"), append(honest, member{"../../etc/x", []byte("x")}), nil), "leaves the bundle")
	expectUnusable(t, writeZip(t, p("dup.zip"), append(honest, member{"entries.jsonl", nil}), nil), "bundle member 'entries.jsonl' appears twice")
	expectUnusable(t, writeZip(t, p("extra.zip"), append(honest, member{"README.txt", nil}), nil), "unexpected bundle member 'README.txt'")
	expectUnusable(t, writeZip(t, p("missing.zip"), honest[:2], nil), "bundle lacks entries.jsonl")
	expectUnusable(t, writeZip(t, p("subdir.zip"), append(honest, member{"extra/", nil}), nil), "not at the top level")
	expectUnusable(t, writeRawZip(t, p("encrypted.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 2 {
			h.Flags |= 1
		}
	}), "bundle member 'entries.jsonl' is encrypted")
	expectUnusable(t, writeRawZip(t, p("bzip2.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 2 {
			h.Method = 12
		}
	}), "bundle member 'entries.jsonl' uses an unsupported compression method")
	expectUnusable(t, writeRawZip(t, p("bomb.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 2 {
			h.UncompressedSize64 = 300 << 20
		}
	}), "a zip bomb?")
	expectUnusable(t, writeRawZip(t, p("crc.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 2 {
			h.CRC32++
		}
	}), "bundle member entries.jsonl is corrupt (Bad CRC-32 for file 'entries.jsonl')")
	expectUnusable(t, writeRawZip(t, p("short.zip"), honest, func(i int, h *zip.FileHeader) {
		if i == 2 {
			h.UncompressedSize64 -= 10
		}
	}), "bundle member entries.jsonl is corrupt")
	expectUnusable(t, writeRawZip(t, p("big-checkpoint.zip"), []member{honest[0], {"checkpoint", make([]byte, MAX_CHECKPOINT_BYTES+1)}, honest[2]}, nil),
		"bundle member checkpoint is larger than 1048576 bytes")
	// The local header names another file than the central directory.
	data, _ := os.ReadFile(writeRawZip(t, p("name.zip"), honest, nil))
	at := bytes.Index(data, []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	_ = at
	local := bytes.Index(data, []byte("entries.jsonl"))
	data[local] = 'E'
	os.WriteFile(p("name.zip"), data, 0o644)
	expectUnusable(t, p("name.zip"), "File name in directory 'entries.jsonl' and header 'Entries.jsonl' differ.")
	// Members overlap: the central directory points two members at one place.
	data, _ = os.ReadFile(writeRawZip(t, p("overlap.zip"), honest, nil))
	central := bytes.LastIndex(data, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(data[central+42:], 0)
	os.WriteFile(p("overlap.zip"), data, 0o644)
	expectUnusable(t, p("overlap.zip"), "overlaps another or runs past the file")
	// Truncated and not a zip at all.
	whole, _ := os.ReadFile(writeZip(t, p("whole.zip"), honest, nil))
	os.WriteFile(p("truncated.zip"), whole[:len(whole)/2], 0o644)
	expectUnusable(t, p("truncated.zip"), "is not a readable zip archive")
	os.WriteFile(p("random.zip"), bytes.Repeat([]byte("not a zip "), 400), 0o644)
	expectUnusable(t, p("random.zip"), "is not a readable zip archive (File is not a zip file)")
	expectUnusable(t, p("nothing.zip"), "no bundle at "+p("nothing.zip"))
}

func TestHostileDirectories(t *testing.T) {
	dir := t.TempDir()
	honest := docBundle(t, false)
	link := writeDir(t, filepath.Join(dir, "link"), honest[:2])
	os.WriteFile(filepath.Join(dir, "elsewhere"), honest[2].data, 0o644)
	os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(link, "entries.jsonl"))
	expectUnusable(t, link, "hostile bundle: member 'entries.jsonl' is a symbolic link")
	sub := writeDir(t, filepath.Join(dir, "sub"), honest)
	os.Mkdir(filepath.Join(sub, "notes"), 0o755)
	expectUnusable(t, sub, "bundle member 'notes' is not a regular file")
	expectUnusable(t, writeDir(t, filepath.Join(dir, "missing"), honest[1:]), "bundle lacks log.vkey")
	expectUnusable(t, writeDir(t, filepath.Join(dir, "big"), []member{honest[0], {"checkpoint", make([]byte, 3<<20)}, honest[2]}),
		"bundle member checkpoint is larger than 1048576 bytes")
	expectUnusable(t, writeDir(t, filepath.Join(dir, "vkey"), []member{{"log.vkey", []byte("two\nlines\n")}, honest[1], honest[2]}),
		"log.vkey must be one line ending in LF")
}

func TestUsageAndKeyErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeZip(t, filepath.Join(dir, "b.zip"), docBundle(t, false), nil)
	cases := []struct {
		args []string
		code string
		text string
	}{
		{[]string{}, "cli.usage", "missing argument BUNDLE"},
		{[]string{path, "x"}, "cli.usage", "got unexpected extra argument (x)"},
		{[]string{path, "--workers", "0"}, "cli.usage", "invalid value for --workers"},
		{[]string{path, "--require-cosignatures", "x"}, "cli.usage", "invalid value for --require-cosignatures"},
		{[]string{path, "--frobnicate"}, "cli.usage", "no such option: --frobnicate"},
		{[]string{path, "--vkey"}, "cli.usage", "option --vkey requires an argument"},
		{[]string{path, "--vkey", "not-a-vkey"}, "input.invalid", "--vkey: verifier key must be <name>+<hex8>+<base64 key>"},
		{[]string{path, "--require-cosignatures", "1"}, "input.invalid", "--require-cosignatures 1 needs at least that many --witness keys (0 given)"},
		{[]string{path, "--witness", docLogVkey}, "input.invalid", "witness key '" + docLogVkey + "' is not a cosignature key (type 0x04)"},
		{[]string{path, "--witness=x+1"}, "input.invalid", "witness key 'x+1': verifier key must be"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		line := stderr.String()
		if code != EXIT_INPUT || stdout.Len() != 0 || strings.Count(line, "\n") != 1 ||
			!strings.HasPrefix(line, "error: "+c.text) || !strings.HasSuffix(line, "["+c.code+"]\n") {
			t.Errorf("%v: exit %d %q %q", c.args, code, stdout.String(), line)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "usage: kclverify BUNDLE") {
		t.Error(code, stdout.String())
	}
}

func TestReportJSON(t *testing.T) {
	size := int64(3)
	r := &BundleReport{Path: "b.zip", Partial: true, Entries: 3, CheckpointSize: &size, Root: strp(docRoot3),
		Origin: strp("o"), Vkey: "v", BundleVkey: "w\"é", Witnesses: 1, RequiredCosignatures: 1,
		Cosignatures: []Cosignature{{"wit", 0x4caa88f0, 1795861200}}, Subjects: []string{"connector:A"},
		Findings: []Finding{{Code: "bundle.line", Message: "a\tb\x01"}, {Index: int64p(2), Code: "proof.size", Message: "m", Expected: strp("3"), Found: strp("4")}},
		Warnings: []Finding{}}
	want := `{"valid": false, "bundle": "b.zip", "kind": "partial", "entries": 3, "checkpoint_size": 3, "root": "` + docRoot3 +
		`", "origin": "o", "vkey": "v", "vkey_pinned": false, "bundle_vkey": "w\"é", "witnesses": 1, "required_cosignatures": 1, ` +
		`"cosignatures": [{"name": "wit", "key_id": "4caa88f0", "timestamp": 1795861200}], "subjects": ["connector:A"], ` +
		`"findings": [{"index": null, "code": "bundle.line", "message": "a\tb\u0001", "expected": null, "found": null}, ` +
		`{"index": 2, "code": "proof.size", "message": "m", "expected": "3", "found": "4"}], "warnings": []}`
	if got := reportJSON(r); got != want {
		t.Fatalf("\n%s\n%s", got, want)
	}
	var out bytes.Buffer
	printReport(&out, r)
	wantText := "FAIL index -: bundle.line: a\tb\x01\nFAIL index 2: proof.size: m (expected 3, found 4)\n" +
		"log key: v — NOT pinned: taken from the bundle's log.vkey; compare it with the published key or pass --vkey\n" +
		"cosignatures: 1 of 1 trusted witnesses (1 required)\n" +
		"INVALID: 2 finding(s); partial bundle about connector:A: 3 entries, checkpoint size 3, root " + docRoot3 + "\n"
	if out.String() != wantText {
		t.Fatalf("%q", out.String())
	}
	for in, want := range map[string]string{"./a//b/./c/": "a/b/c", "//a/b": "//a/b", "///a/b": "/a/b", "": ".", "./": ".", "a/..": "a/.."} {
		if got := pyPathStr(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// The format's example log (§17) as a full and a partial bundle, as a zip and a directory.
func TestFormatExampleBundles(t *testing.T) {
	dir := t.TempDir()
	for _, partial := range []bool{false, true} {
		members := docBundle(t, partial)
		name := "full"
		if partial {
			name = "partial"
		}
		for _, path := range []string{writeZip(t, filepath.Join(dir, name+".zip"), members, nil), writeDir(t, filepath.Join(dir, name), members)} {
			vkey := strings.ToUpper(docLogVkey[:0]) + strings.Replace(docLogVkey, "9c4d57e0", "9C4D57E0", 1)
			for _, workers := range []int{1, 3} {
				report, err := VerifyBundle(path, VerifyOptions{Vkey: &vkey, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				if !report.Valid() || report.Entries != 3 || report.Partial != partial || *report.CheckpointSize != 3 ||
					*report.Root != docRoot3 || *report.Origin != "custody.example.com/ledger" || report.Vkey != docLogVkey || !report.VkeyPinned {
					t.Errorf("%s: %+v", path, report)
				}
			}
		}
	}
	// Tampering with the bundle's lines.
	members := docBundle(t, true)
	members[2].data = bytes.Replace(members[2].data, []byte("\n"), []byte("\n\n"), 1)
	members[3].data = members[3].data[:len(members[3].data)-1]
	report, err := VerifyBundle(writeZip(t, filepath.Join(dir, "lines.zip"), members, nil), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range report.Findings {
		got = append(got, pyInt(f.Index)+" "+f.Code+" "+f.Message+" | "+pyOptional(f.Expected)+" | "+pyOptional(f.Found))
	}
	// What verify_bundle says about the same bundle.
	want := []string{
		"None bundle.line entries.jsonl: line 2 is empty | None | None",
		"None bundle.line proofs.jsonl: line 3 does not end in LF (truncated?) | None | None",
		"1 proof.index the proof is for another index | 1 | 2",
		"1 proof.leaf_hash the entry bytes do not hash to the proof's leaf | " + docL1 + " | " + docL2,
		"1 proof.inclusion the entry is not included in the checkpoint | " + docRoot3 + " | inclusion proof is shorter than the path to the root",
		"2 proof.missing no inclusion proof for this entry in proofs.jsonl | None | None",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || report.Entries != 3 {
		t.Errorf("%d entries\n%s", report.Entries, strings.Join(got, "\n"))
	}
}
