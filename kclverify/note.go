package main

// C2SP signed notes (c2sp.org/signed-note) with Ed25519 and cosignature keys:
// the verifying half of ledger/note.py (verifier keys, opening a note).

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	SIG_ED25519         = 0x01
	SIG_COSIGNATURE_V1  = 0x04
	SIGNATURE_PREFIX    = "\u2014 " // U+2014 EM DASH, space
	NOTE_MAX_SIGNATURES = 100
	MAX_NOTE_BYTES      = 1 << 20
	COSIGNATURE_HEADER  = "cosignature/v1\n"
)

// Error codes of the note classes of ledger/errors.py and ledger/note.py.
const (
	tlCodeMalformedNote     = "input.note"
	tlCodeMalformedVkey     = "input.vkey"
	tlCodeNoteVerification  = "verify.note"
	tlCodeUnknownVerifier   = "verify.note.unknown_key"
	tlCodeMalformedCheckpt  = "input.checkpoint"
	tlCodeInvalidInput      = "input.invalid"
	tlCodeVerificationError = "verify.failed"
)

// tlIsSpace is Python's str.isspace for one code point.
func tlIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func isValidKeyName(name string) bool {
	if name == "" || strings.Contains(name, "+") {
		return false
	}
	for _, r := range name {
		if tlIsSpace(r) {
			return false
		}
	}
	return true
}

// noteKeyID is SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] as a big-endian uint32 (note.key_id).
func noteKeyID(name string, signatureType byte, publicKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', signatureType})
	h.Write(publicKey)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

// cosignatureMessage is what a tlog-cosignature/v1 signs: header, time line, the checkpoint body.
func cosignatureMessage(text []byte, timestamp uint64) []byte {
	head := COSIGNATURE_HEADER + "time " + strconv.FormatUint(timestamp, 10) + "\n"
	out := make([]byte, 0, len(head)+len(text))
	return append(append(out, head...), text...)
}

// NoteVerifier is note.Ed25519Verifier: a log key (type 0x01) or a witness
// cosignature key (type 0x04).
type NoteVerifier struct {
	Name          string
	KeyID         uint32
	PublicKey     []byte
	SignatureType byte
}

// Verify reports whether signature (without its key id) is valid for text.
func (v *NoteVerifier) Verify(text, signature []byte) bool {
	message := text
	if v.SignatureType == SIG_COSIGNATURE_V1 {
		if len(signature) != 8+64 {
			return false
		}
		timestamp := binary.BigEndian.Uint64(signature[:8])
		if timestamp >= 1<<63 {
			return false
		}
		message, signature = cosignatureMessage(text, timestamp), signature[8:]
	}
	if len(v.PublicKey) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(ed25519.PublicKey(v.PublicKey), message, signature)
}

// Vkey formats the verifier key: <name>+<hex8 key id>+<base64(type ‖ public key)>.
func (v *NoteVerifier) Vkey() string {
	return formatVkey(v.Name, v.SignatureType, v.PublicKey)
}

func formatVkey(name string, signatureType byte, publicKey []byte) string {
	ident := noteKeyID(name, signatureType, publicKey)
	material := base64.StdEncoding.EncodeToString(append([]byte{signatureType}, publicKey...))
	return fmt.Sprintf("%s+%08x+%s", name, ident, material)
}

// tlB64Decode is how ledger/note.py decodes signature lines (format §10.2, Go's
// StdEncoding): the standard alphabet and exactly the padded length; unused
// low bits are not checked.
func tlB64Decode(text string) ([]byte, bool) {
	data := strings.TrimRight(text, "=")
	pad := len(text) - len(data)
	if pad > 2 {
		return nil, false
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	switch len(data) % 4 {
	case 0:
		if pad != 0 { // padding after a complete quantum ("abcd="): not StdEncoding
			return nil, false
		}
	case 1:
		return nil, false
	case 2:
		if pad != 2 {
			return nil, false
		}
	case 3:
		if pad != 1 {
			return nil, false
		}
	}
	out, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil {
		return nil, false
	}
	return out, true
}

// ParseVkey parses a verifier key string; split on the first two '+' only.
func ParseVkey(vkey string) (*NoteVerifier, error) {
	name, rest, sep1 := strings.Cut(vkey, "+")
	hexID, materialB64, sep2 := strings.Cut(rest, "+")
	if !sep1 || !sep2 || !isValidKeyName(name) {
		return nil, Errf(tlCodeMalformedVkey, "verifier key must be <name>+<hex8>+<base64 key>")
	}
	if len(hexID) != 8 || strings.Trim(hexID, "0123456789abcdefABCDEF") != "" {
		return nil, Errf(tlCodeMalformedVkey, "verifier key id must be 8 hex digits")
	}
	material, ok := tlB64Decode(materialB64)
	if !ok {
		return nil, Errf(tlCodeMalformedVkey, "verifier key material is not base64")
	}
	if base64.StdEncoding.EncodeToString(material) != materialB64 {
		return nil, Errf(tlCodeMalformedVkey, "verifier key material is not canonical base64")
	}
	if len(material) < 1 {
		return nil, Errf(tlCodeMalformedVkey, "verifier key material is empty")
	}
	signatureType, publicKey := material[0], material[1:]
	if signatureType != SIG_ED25519 && signatureType != SIG_COSIGNATURE_V1 {
		return nil, Errf(tlCodeMalformedVkey, "unknown verifier key algorithm 0x%02x", signatureType)
	}
	if len(publicKey) != 32 {
		return nil, Errf(tlCodeMalformedVkey, "Ed25519 verifier key must be 32 bytes")
	}
	declared64, _ := strconv.ParseUint(hexID, 16, 32)
	declared := uint32(declared64)
	if declared != noteKeyID(name, signatureType, publicKey) {
		return nil, Errf(tlCodeMalformedVkey, "verifier key id does not match name and key")
	}
	// cryptography's Ed25519PublicKey.from_public_bytes accepts any 32 bytes.
	return &NoteVerifier{Name: name, KeyID: declared, PublicKey: append([]byte(nil), publicKey...), SignatureType: signatureType}, nil
}

// SameVkey compares verifier keys by what they denote, not by spelling (verify.same_vkey).
func SameVkey(a, b string) bool {
	first, err1 := ParseVkey(a)
	second, err2 := ParseVkey(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return first.Name == second.Name && first.KeyID == second.KeyID &&
		string(first.PublicKey) == string(second.PublicKey) && first.SignatureType == second.SignatureType
}

// verifierList is note.VerifierList: trusted verifiers looked up by (name, key id).
type verifierList []*NoteVerifier

func (l verifierList) lookup(name string, ident uint32) (*NoteVerifier, error) {
	var match *NoteVerifier
	count := 0
	for _, v := range l {
		if v.Name == name && v.KeyID == ident {
			if match == nil {
				match = v
			}
			count++
		}
	}
	if count == 0 {
		return nil, Errf(tlCodeUnknownVerifier, "unknown key %s+%08x", name, ident)
	}
	if count > 1 {
		// A key listed twice is ambiguous even if both entries are identical.
		return nil, Errf(tlCodeNoteVerification, "ambiguous key %s+%08x", name, ident)
	}
	return match, nil
}

// noteSignature is one signature line: key name, key id, signature without the key id.
type noteSignature struct {
	Name      string
	KeyID     uint32
	Signature []byte
}

// openedNote is a note with at least one verified signature; Unverified lines are from unknown keys.
type openedNote struct {
	Text       string
	Verified   []noteSignature
	Unverified []noteSignature
}

func noteCheckText(data []byte) (string, error) {
	if len(data) > MAX_NOTE_BYTES {
		return "", Errf(tlCodeMalformedNote, "malformed note (too large)")
	}
	if !utf8.Valid(data) {
		return "", Errf(tlCodeMalformedNote, "malformed note (not UTF-8)")
	}
	for _, c := range data {
		if c < ' ' && c != '\n' {
			return "", Errf(tlCodeMalformedNote, "malformed note (control character)")
		}
	}
	return string(data), nil
}

func noteSplit(note string) (string, string, error) {
	cut := strings.LastIndex(note, "\n\n")
	if cut < 0 {
		return "", "", Errf(tlCodeMalformedNote, "malformed note (no signature block)")
	}
	text, signatures := note[:cut+1], note[cut+2:]
	if signatures == "" || !strings.HasSuffix(signatures, "\n") {
		return "", "", Errf(tlCodeMalformedNote, "malformed note (signature block must end in newline)")
	}
	return text, signatures, nil
}

func parseSignatureLine(line string) (noteSignature, error) {
	if !strings.HasPrefix(line, SIGNATURE_PREFIX) {
		return noteSignature{}, Errf(tlCodeMalformedNote, "malformed note (signature line must start with an em dash)")
	}
	name, b64, space := strings.Cut(line[len(SIGNATURE_PREFIX):], " ")
	if !space || !isValidKeyName(name) || b64 == "" {
		return noteSignature{}, Errf(tlCodeMalformedNote, "malformed note (bad signature line)")
	}
	blob, ok := tlB64Decode(b64)
	if !ok {
		return noteSignature{}, Errf(tlCodeMalformedNote, "malformed note (signature is not base64)")
	}
	if len(blob) < 5 {
		return noteSignature{}, Errf(tlCodeMalformedNote, "malformed note (signature too short)")
	}
	return noteSignature{Name: name, KeyID: binary.BigEndian.Uint32(blob[:4]), Signature: blob[4:]}, nil
}

// openNote opens a signed note: verify every signature from a known key (note.open_note).
func openNote(data []byte, verifiers verifierList) (*openedNote, error) {
	// Step 1.
	note, err := noteCheckText(data)
	if err != nil {
		return nil, err
	}
	// Step 2.
	text, block, err := noteSplit(note)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(block[:len(block)-1], "\n")
	// Step 3.
	if len(lines) > NOTE_MAX_SIGNATURES {
		return nil, Errf(tlCodeMalformedNote, "malformed note (more than 100 signatures)")
	}
	parsed := make([]noteSignature, 0, len(lines))
	for _, line := range lines {
		s, err := parseSignatureLine(line)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, s)
	}
	type known struct {
		name string
		id   uint32
	}
	opened := &openedNote{Text: text}
	seenKnown := map[known]bool{}
	seenUnknown := map[string]bool{}
	textBytes := []byte(text)
	for _, signature := range parsed {
		// Step 4.
		verifier, err := verifiers.lookup(signature.Name, signature.KeyID)
		if err != nil {
			if le, ok := err.(*LedgerError); ok && le.Code == tlCodeUnknownVerifier {
				key := fmt.Sprintf("%s\x00%d\x00%s", signature.Name, signature.KeyID, signature.Signature)
				if !seenUnknown[key] {
					seenUnknown[key] = true
					opened.Unverified = append(opened.Unverified, signature)
				}
				continue
			}
			return nil, err
		}
		// Step 5.
		k := known{signature.Name, signature.KeyID}
		if seenKnown[k] {
			continue
		}
		seenKnown[k] = true
		if !verifier.Verify(textBytes, signature.Signature) {
			return nil, Errf(tlCodeNoteVerification, "invalid signature for key %s+%08x", signature.Name, signature.KeyID)
		}
		opened.Verified = append(opened.Verified, signature)
	}
	// Step 6.
	if len(opened.Verified) == 0 {
		return nil, Errf(tlCodeNoteVerification, "note has no verifiable signatures")
	}
	return opened, nil
}
