package main

// C2SP checkpoints (c2sp.org/tlog-checkpoint): origin, size, root — signed
// (port of ledger/checkpoint.py; signing is not needed by a verifier).

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// checkpointBody is Checkpoint.body: the three lines and the extensions, each ending in LF.
func checkpointBody(c *Checkpoint) string {
	var b strings.Builder
	b.WriteString(c.Origin + "\n")
	b.WriteString(strconv.FormatInt(c.Size, 10) + "\n")
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root) + "\n")
	for _, line := range c.Extensions {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// checkpointCheckOrigin is ids.check_origin: 1-255 printable ASCII characters without spaces or '+'.
func checkpointCheckOrigin(origin string) error {
	ok := len(origin) >= 1 && len(origin) <= 255
	for i := 0; ok && i < len(origin); i++ {
		c := origin[i]
		if c < 0x21 || c > 0x7e || c == '+' {
			ok = false
		}
	}
	if !ok {
		return Errf("input.identifier", "origin %s: 1-255 printable ASCII characters without spaces or '+'", pyStr(origin))
	}
	return nil
}

// parseCheckpointBody is Checkpoint.parse.
func parseCheckpointBody(body string) (*Checkpoint, error) {
	if !strings.HasSuffix(body, "\n") {
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint body must end in a newline")
	}
	lines := strings.Split(body[:len(body)-1], "\n")
	if len(lines) < 3 {
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint needs origin, size and root lines")
	}
	origin, sizeText, rootText, extensions := lines[0], lines[1], lines[2], lines[3:]
	if err := checkpointCheckOrigin(origin); err != nil {
		return nil, Errf(tlCodeMalformedCheckpt, "%s", err.Error())
	}
	digits := sizeText != ""
	for i := 0; i < len(sizeText); i++ {
		if sizeText[i] < '0' || sizeText[i] > '9' {
			digits = false
		}
	}
	if !digits || (sizeText != "0" && sizeText[0] == '0') {
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint size %s is not a decimal number", pyStr(sizeText))
	}
	// A uint64, as in Go.
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if len(sizeText) > 20 || err != nil {
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint size does not fit in 64 bits")
	}
	if size >= 1<<63 {
		// Deviation: Python accepts sizes up to 2^64-1; Checkpoint.Size is an int64.
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint size %d does not fit in 63 bits (a kclverify limit)", size)
	}
	root, err := B64Decode(rootText, "checkpoint root")
	if err != nil {
		return nil, Errf(tlCodeMalformedCheckpt, "%s", err.Error())
	}
	if len(root) != HASH_SIZE {
		return nil, Errf(tlCodeMalformedCheckpt, "checkpoint root must be 32 bytes")
	}
	for _, line := range extensions {
		if line == "" {
			return nil, Errf(tlCodeMalformedCheckpt, "checkpoint extension lines must not be empty")
		}
	}
	return &Checkpoint{Origin: origin, Size: int64(size), Root: root, Extensions: append([]string{}, extensions...)}, nil
}

// ParseCheckpointUnverified is the body of a checkpoint note WITHOUT checking any signature.
func ParseCheckpointUnverified(text string) (*Checkpoint, error) {
	cut := strings.LastIndex(text, "\n\n")
	if cut < 0 {
		return nil, Errf(tlCodeMalformedCheckpt, "not a signed note")
	}
	return parseCheckpointBody(text[:cut+1])
}

// OpenedCheckpoint is a verified checkpoint note with its trusted cosignatures.
type OpenedCheckpoint struct {
	Checkpoint   *Checkpoint
	Note         string
	Cosignatures []Cosignature
	Unverified   []noteSignature
}

// OpenCheckpoint verifies a checkpoint note (checkpoint.open_checkpoint with
// required_cosignatures = 0; the bundle verifier counts cosignatures itself):
//  1. open the note against the log key and the trusted witnesses;
//  2. the log key itself must have signed;
//  3. the body parses and its origin is the log key's name;
//  4. the verified signatures of type-0x04 witnesses are the cosignatures.
func OpenCheckpoint(note []byte, logKey *NoteVerifier, witnesses []*NoteVerifier) (*OpenedCheckpoint, error) {
	return openCheckpointRequired(note, logKey, witnesses, 0)
}

func openCheckpointRequired(note []byte, logKey *NoteVerifier, witnesses []*NoteVerifier, required int) (*OpenedCheckpoint, error) {
	// Step 1.
	list := append(verifierList{logKey}, witnesses...)
	opened, err := openNote(note, list)
	if err != nil {
		return nil, err
	}
	// Step 2.
	signed := false
	for _, s := range opened.Verified {
		if s.Name == logKey.Name && s.KeyID == logKey.KeyID {
			signed = true
			break
		}
	}
	if !signed {
		return nil, Errf(tlCodeNoteVerification, "checkpoint is not signed by the log key %s", logKey.Name)
	}
	// Step 3.
	checkpoint, err := parseCheckpointBody(opened.Text)
	if err != nil {
		return nil, err
	}
	if checkpoint.Origin != logKey.Name {
		return nil, Errf(tlCodeNoteVerification, "checkpoint origin %s is not the log key's name %s",
			pyStr(checkpoint.Origin), pyStr(logKey.Name))
	}
	// Step 4.
	var cosignatures []Cosignature
	for _, s := range opened.Verified {
		for _, w := range witnesses {
			if w.SignatureType == SIG_COSIGNATURE_V1 && s.Name == w.Name && s.KeyID == w.KeyID {
				cosignatures = append(cosignatures, cosignatureOf(s))
			}
		}
	}
	if len(cosignatures) < required {
		return nil, Errf(tlCodeNoteVerification, "checkpoint has %d trusted cosignature(s), %d required", len(cosignatures), required)
	}
	return &OpenedCheckpoint{Checkpoint: checkpoint, Note: string(note), Cosignatures: cosignatures, Unverified: opened.Unverified}, nil
}
