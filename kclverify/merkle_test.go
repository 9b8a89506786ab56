package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// docs/format.md §17.3.
const (
	docL0    = "5fb6a8b1b9c1cf755cfc6bff61700191d4e669f1e7f5a40103e2ea1de731be13"
	docL1    = "d61531dad0b91b3416e40445154231640409265bc7be2ca1d0f56937fdd63516"
	docL2    = "679274f74c9102af7274d48a1b699b11e365281fc66408712c54b12b9ff0050c"
	docRoot2 = "11ff3701920eb6f9f2bff94deea022a5500f6a04286a98ca481d81baff2f950b"
	docRoot3 = "a94c6ebcb0f44730d8d96f35bdbfce1a57fb94078630cbad71252479d44da523"
)

func TestCompactRangeFormatExample(t *testing.T) {
	var r CompactRange
	if got := hex.EncodeToString(r.Root()); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatalf("empty root %s", got)
	}
	want := []string{docL0, docRoot2, docRoot3}
	for i, leaf := range []string{docL0, docL1, docL2} {
		r.Append(mustHex(t, leaf))
		if got := hex.EncodeToString(r.Root()); got != want[i] {
			t.Fatalf("root(%d) = %s, want %s", i+1, got, want[i])
		}
		if r.Size() != int64(i+1) {
			t.Fatalf("size %d", r.Size())
		}
	}
	if got := hex.EncodeToString(HashChildren(mustHex(t, docL0), mustHex(t, docL1))); got != docRoot2 {
		t.Fatal(got)
	}
}

func TestInclusionProofFormatExample(t *testing.T) {
	path := [][]byte{mustHex(t, docL0), mustHex(t, docL2)}
	root, err := RootFromInclusionProof(mustHex(t, docL1), 1, 3, path)
	if err != nil || hex.EncodeToString(root) != docRoot3 {
		t.Fatalf("root %x, %v", root, err)
	}
	if _, err := RootFromInclusionProof(mustHex(t, docL1), 3, 3, path); err == nil || err.(*LedgerError).Code != "verify.inclusion_proof" {
		t.Fatalf("index outside: %v", err)
	}
	if _, err := RootFromInclusionProof(mustHex(t, docL1), 1, 3, path[:1]); err == nil || err.Error() != "inclusion proof is shorter than the path to the root" {
		t.Fatalf("short: %v", err)
	}
	if _, err := RootFromInclusionProof(mustHex(t, docL1), 1, 3, append(path, path[0])); err == nil || err.Error() != "inclusion proof is longer than the path to the root" {
		t.Fatalf("long: %v", err)
	}
	if _, err := RootFromInclusionProof(mustHex(t, docL1)[:31], 1, 3, path); err == nil || err.Error() != "leaf hash must be a 32-byte hash" {
		t.Fatalf("leaf: %v", err)
	}
}

func b64(t *testing.T, s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readVectors(t *testing.T, name string, v any) {
	data, err := os.ReadFile("../tests/vectors/" + name)
	if err != nil {
		t.Fatalf("vectors not found: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestRFC6962InclusionProbes(t *testing.T) {
	var file struct {
		Probes []struct {
			LeafIdx, TreeSize uint64
			Root, LeafHash    string
			Proof             []string
			Desc              string
			WantErr           bool
		}
	}
	readVectors(t, "rfc6962-inclusion-probes.json", &file)
	for _, p := range file.Probes {
		var path [][]byte
		for _, e := range p.Proof {
			path = append(path, b64(t, e))
		}
		if p.LeafIdx >= 1<<63 || p.TreeSize >= 1<<63 {
			continue // beyond int64: bundle indices are at most 2^53-1
		}
		err := verifyInclusion(b64(t, p.LeafHash), int64(p.LeafIdx), int64(p.TreeSize), path, b64(t, p.Root))
		if (err != nil) != p.WantErr {
			t.Errorf("%s (%d/%d): err %v, wantErr %v", p.Desc, p.LeafIdx, p.TreeSize, err, p.WantErr)
		}
	}
}

func TestHashLeaf(t *testing.T) {
	// RFC 6962 empty leaf: SHA-256(0x00).
	if got := hex.EncodeToString(HashLeaf(nil)); got != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Fatal(got)
	}
}
