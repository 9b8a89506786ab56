package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// benchEd25519 prints Go's single-core Ed25519 verify rate as JSON
// (`kclverify --bench-ed25519`). `custody bench bundle --kclverify` divides the
// verifier's entries/s by cores × this rate: the verifier's own signature
// primitive is the yardstick for how close it gets to only verifying signatures.
// The key is derived from a fixed seed: a benchmark needs no randomness.
func benchEd25519() int {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	private := ed25519.NewKeyFromSeed(seed)
	public := private.Public().(ed25519.PublicKey)
	// The same measurement as app/benchmarks.ed25519_verify_rate: a 300-byte
	// message, the key reused, two seconds on one core.
	message := make([]byte, 300)
	signature := ed25519.Sign(private, message)
	started := time.Now()
	count := 0
	for time.Since(started) < 2*time.Second {
		for i := 0; i < 500; i++ {
			if !ed25519.Verify(public, message, signature) {
				fmt.Fprintln(os.Stderr, "error: Ed25519 self-test failed [internal]")
				return 2
			}
		}
		count += 500
	}
	rate := float64(count) / time.Since(started).Seconds()
	out, _ := json.Marshal(map[string]float64{"ed25519_verify_per_s_one_core": rate})
	fmt.Println(string(out))
	return 0
}
