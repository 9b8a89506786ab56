package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"math/rand"
	"testing"
)

// The key-caching verifier (ed25519VerifyDecoded) must accept exactly what
// crypto/ed25519.Verify accepts. Compared on valid signatures, on mutations of
// them named after what they change, and on public keys and R values that are
// small-order, non-canonical or not points at all.

// Encodings that are not ordinary points: the eight small-order points (from
// the "It's 255:19AM" / "Taming the many EdDSAs" test sets), non-canonical
// encodings (y ≥ p, and x = 0 with the sign bit set), and a y with no x.
var ed25519EdgeEncodings = []string{
	"0100000000000000000000000000000000000000000000000000000000000000",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0000000000000000000000000000000000000000000000000000000000000000",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"0200000000000000000000000000000000000000000000000000000000000000",
}

// The group order L, little-endian, to build S+L.
var ed25519L = [32]byte{
	0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
}

func addL(s []byte) []byte {
	out := make([]byte, 32)
	carry := 0
	for i := 0; i < 32; i++ {
		v := int(s[i]) + int(ed25519L[i]) + carry
		out[i] = byte(v)
		carry = v >> 8
	}
	return out
}

func cachedVerify(pub, msg, sig []byte) bool {
	spki := append(append([]byte(nil), spkiPrefixEd25519...), pub...)
	key, err := PublicKeyFromSPKI(spki)
	if err != nil {
		panic(err)
	}
	return key.Verify(sig, msg) == nil
}

func checkSame(t *testing.T, name string, pub, msg, sig []byte) bool {
	t.Helper()
	want := len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
	if got := cachedVerify(pub, msg, sig); got != want {
		t.Errorf("%s: cached verify says %v, crypto/ed25519 %v (pub %x sig %x)", name, got, want, pub, sig)
	}
	return want
}

func TestEd25519CachedKeyVerifiesExactlyLikeTheStandardLibrary(t *testing.T) {
	rng := rand.New(rand.NewSource(25519))
	accepted := 0
	for round := 0; round < 300; round++ {
		seed := make([]byte, ed25519.SeedSize)
		rng.Read(seed)
		private := ed25519.NewKeyFromSeed(seed)
		pub := []byte(private.Public().(ed25519.PublicKey))
		msg := make([]byte, rng.Intn(600))
		rng.Read(msg)
		sig := ed25519.Sign(private, msg)
		if checkSame(t, "valid", pub, msg, sig) {
			accepted++
		}
		mutations := map[string]func() ([]byte, []byte, []byte){
			"flipped-bit-in-R": func() ([]byte, []byte, []byte) {
				s := append([]byte(nil), sig...)
				s[rng.Intn(32)] ^= 1 << rng.Intn(8)
				return pub, msg, s
			},
			"flipped-bit-in-S": func() ([]byte, []byte, []byte) {
				s := append([]byte(nil), sig...)
				s[32+rng.Intn(32)] ^= 1 << rng.Intn(8)
				return pub, msg, s
			},
			"S-plus-L": func() ([]byte, []byte, []byte) {
				return pub, msg, append(append([]byte(nil), sig[:32]...), addL(sig[32:])...)
			},
			"flipped-bit-in-message": func() ([]byte, []byte, []byte) {
				m := append([]byte(nil), msg...)
				if len(m) == 0 {
					m = []byte{0}
				} else {
					m[rng.Intn(len(m))] ^= 1 << rng.Intn(8)
				}
				return pub, m, sig
			},
			"flipped-bit-in-key": func() ([]byte, []byte, []byte) {
				p := append([]byte(nil), pub...)
				p[rng.Intn(32)] ^= 1 << rng.Intn(8)
				return p, msg, sig
			},
			"truncated-signature": func() ([]byte, []byte, []byte) { return pub, msg, sig[:63] },
			"edge-R": func() ([]byte, []byte, []byte) {
				r, _ := hex.DecodeString(ed25519EdgeEncodings[rng.Intn(len(ed25519EdgeEncodings))])
				return pub, msg, append(r, sig[32:]...)
			},
			"edge-key": func() ([]byte, []byte, []byte) {
				p, _ := hex.DecodeString(ed25519EdgeEncodings[rng.Intn(len(ed25519EdgeEncodings))])
				return p, msg, sig
			},
		}
		for name, mutate := range mutations {
			p, m, s := mutate()
			checkSame(t, name, p, m, s)
		}
	}
	if accepted != 300 {
		t.Fatalf("only %d of 300 valid signatures verified", accepted)
	}
	// Small-order keys with R = identity and S = 0: the cofactorless equation
	// holds for some; both verifiers must agree on every one of them.
	zeroS := make([]byte, 32)
	for _, encoded := range ed25519EdgeEncodings {
		p, _ := hex.DecodeString(encoded)
		for _, r := range ed25519EdgeEncodings {
			rb, _ := hex.DecodeString(r)
			checkSame(t, "small-order key and R, S = 0", p, []byte("kcl"), append(rb, zeroS...))
		}
	}
}
