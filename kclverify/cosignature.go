package main

// Witness cosignatures (c2sp.org/tlog-cosignature v1), the verifying side:
// a cosignature is a type-0x04 signature line of a checkpoint note whose
// signature is timestamp[8] ‖ Ed25519 signature[64] over cosignatureMessage
// (note.go verifies it, ledger/note.py Ed25519Verifier.verify); this file
// holds what the bundle verifier reports about them and the parsing of the
// trusted witness keys (bundle_verify.witness_keys).

import "encoding/binary"

// Cosignature is one verified cosignature by a trusted witness (checkpoint.Cosignature).
type Cosignature struct {
	Name      string
	KeyID     uint32
	Timestamp uint64
}

func cosignatureOf(s noteSignature) Cosignature {
	var ts uint64
	if len(s.Signature) >= 8 {
		ts = binary.BigEndian.Uint64(s.Signature[:8])
	}
	return Cosignature{Name: s.Name, KeyID: s.KeyID, Timestamp: ts}
}

// logKeyFrom is bundle_verify._log_key: a vkey, or an input error naming what it is.
func logKeyFrom(text, what string) (*NoteVerifier, error) {
	key, err := ParseVkey(text)
	if err != nil {
		return nil, Errf(tlCodeInvalidInput, "%s: %s", what, err.Error())
	}
	return key, nil
}

// witnessKeys parses trusted witness vkeys; each must be a cosignature key (type 0x04).
func witnessKeys(vkeys []string) ([]*NoteVerifier, error) {
	keys := make([]*NoteVerifier, 0, len(vkeys))
	for _, text := range vkeys {
		key, err := logKeyFrom(text, "witness key "+pyStr(text))
		if err != nil {
			return nil, err
		}
		if key.SignatureType != SIG_COSIGNATURE_V1 {
			return nil, Errf(tlCodeInvalidInput, "witness key %s is not a cosignature key (type 0x04)", pyStr(text))
		}
		keys = append(keys, key)
	}
	return keys, nil
}
