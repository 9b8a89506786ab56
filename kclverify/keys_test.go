package main

import (
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
)

func TestKeysFormatExamples(t *testing.T) {
	cases := []struct{ spki, keyid, alg string }{
		{"302a300506032b65700321008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c", "fd110d301d2f077de1414b8f99f441b1403fab207b2052fbd2c065e4ee8e7dc2", ED25519},
		{"302a300506032b6570032100ed4928c628d1c2c6eae90338905995612959273a5c63f93636c14614ac8737d1", "8cef065b7af83669150b7d32704d3d3e75c3e9aee0d4f6740544c68e81b377aa", ED25519},
		{"3059301306072a8648ce3d020106082a8648ce3d0301070342000473103ec30b3ccf57daae08e93534aef144a35940cf6bbba12a0cf7cbd5d65a64d82c8c99e9d3c45f9245ba9b27982c9aea8ec1db94b19c44795942c0eb22aa32", "ed631117ee2f1b3fd45b8dbd3915af6750f0cb5ed9565b4736c31c0938e186ae", ECDSA_P256_SHA256},
		{"305a301406072a8648ce3d020106092b2403030208010107034200049308" + "4784d9854c301c8a310444dc6cee481d043ac7ec67d463eb24e660b5f8a5a1a7f5a45be70514e6d0a9c08b792a4764ef8a8a0220768a373edbd09d3b826b", "6d4408637211ea1119b251d2213b7f58b6a7d5a69c45ac61de19bc9f9ef8a54b", ECDSA_BP256R1_SHA256},
	}
	for _, c := range cases {
		der, _ := hex.DecodeString(c.spki)
		k, err := PublicKeyFromSPKI(der)
		if err != nil {
			t.Fatalf("%s: %v", c.alg, err)
		}
		if k.KeyID() != c.keyid || KeyAlgorithm(k) != c.alg || string(k.SPKI()) != string(der) {
			t.Fatalf("%s: got %s %s", c.alg, k.KeyID(), KeyAlgorithm(k))
		}
	}
	// brainpool parameters: the §17.1 key is 0x05…05 · G
	d, _ := new(big.Int).SetString(strings.Repeat("05", 32), 16)
	x, y := bpScalarBaseMult(d)
	want := "9308" + "4784d9854c301c8a310444dc6cee481d043ac7ec67d463eb24e660b5f8a5a1a7f5a45be70514e6d0a9c08b792a4764ef8a8a0220768a373edbd09d3b826b"
	got := hex.EncodeToString(append(x.FillBytes(make([]byte, 32)), y.FillBytes(make([]byte, 32))...))
	if got != want {
		t.Fatalf("brainpool k·G = %s", got)
	}
}

func hexOrEmpty(s string) []byte {
	if s == "-" {
		return nil
	}
	b, _ := hex.DecodeString(s)
	return b
}

// keyLineResult evaluates one vector line ("K spki want" or
// "S spki sig msg want") and returns what Go gives and what Python gave.
func keyLineResult(t *testing.T, line string) (string, string) {
	fields := strings.Fields(line)
	switch fields[0] {
	case "K":
		k, err := PublicKeyFromSPKI(hexOrEmpty(fields[1]))
		if err != nil {
			return err.(*LedgerError).Code, fields[2]
		}
		return "ok|" + KeyAlgorithm(k) + "|" + k.KeyID(), fields[2]
	case "S":
		k, err := PublicKeyFromSPKI(hexOrEmpty(fields[1]))
		if err != nil {
			t.Fatalf("key %s: %v", fields[1], err)
		}
		if err := k.Verify(hexOrEmpty(fields[2]), hexOrEmpty(fields[3])); err != nil {
			le := err.(*LedgerError)
			return le.Code + "|" + strings.ReplaceAll(le.Msg, " ", "_"), fields[4]
		}
		return "ok", fields[4]
	}
	t.Fatalf("bad vector %q", line)
	return "", ""
}

func TestKeyVectors(t *testing.T) {
	for _, line := range keyVectors {
		if got, want := keyLineResult(t, line); got != want {
			t.Errorf("%s: got %s", line, got)
		}
	}
}
