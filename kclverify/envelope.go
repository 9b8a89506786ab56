package main

// DSSE envelopes carrying one statement (port of ledger/envelope.py, the
// parts a verifier needs).

import "strconv"

const (
	PAYLOAD_TYPE   = "application/vnd.kcl.statement.v1+json"
	MAX_SIGNATURES = 8

	fmCodeEnvelope    = "input.envelope"
	fmCodePayloadType = "input.envelope.payload_type"
)

// PAE is the DSSE v1 Pre-Authentication Encoding.
func PAE(payloadType string, payload []byte) []byte {
	out := make([]byte, 0, len(payloadType)+len(payload)+32)
	out = append(out, "DSSEv1 "...)
	out = strconv.AppendInt(out, int64(len(payloadType)), 10)
	out = append(out, ' ')
	out = append(out, payloadType...)
	out = append(out, ' ')
	out = strconv.AppendInt(out, int64(len(payload)), 10)
	out = append(out, ' ')
	return append(out, payload...)
}

// SignedBytes is Envelope.signed_bytes.
func (e *Envelope) SignedBytes() []byte { return PAE(e.PayloadType, e.Payload) }

// envelopeToJSON is Envelope.to_json.
func envelopeToJSON(e *Envelope) Object {
	sigs := make([]any, len(e.Signatures))
	for i, s := range e.Signatures {
		sigs[i] = map[string]any{"keyid": s.KeyID, "sig": b64encode(s.Sig)}
	}
	return Object{"payloadType": e.PayloadType, "payload": b64encode(e.Payload), "signatures": sigs}
}

// EnvelopeFromJSON is Envelope.from_json: check the shape, decode the base64.
func EnvelopeFromJSON(v any) (*Envelope, error) {
	e := new(Envelope)
	if err := envelopeFromJSONInto(e, v); err != nil {
		return nil, err
	}
	return e, nil
}

func envIsKeyID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func envelopeFromJSONInto(e *Envelope, v any) error {
	value, ok := v.(map[string]any)
	if !ok {
		return Errf(fmCodeEnvelope, "envelope must be a JSON object")
	}
	known := 0
	for _, k := range [...]string{"payloadType", "payload", "signatures"} {
		if _, ok := value[k]; ok {
			known++
		}
	}
	if known != len(value) {
		var extra []string
		for k := range value {
			if k != "payloadType" && k != "payload" && k != "signatures" {
				extra = append(extra, k)
			}
		}
		return Errf(fmCodeEnvelope, "unknown envelope fields: %s", pySortedKeysRepr(extra))
	}
	payloadType, err := envCheckPayloadType(value["payloadType"])
	if err != nil {
		return err
	}
	payload, err := envDecodePayload(value["payload"])
	if err != nil {
		return err
	}
	rawSignatures, ok := value["signatures"].([]any)
	if err := envCheckSignatureCount(ok, len(rawSignatures)); err != nil {
		return err
	}
	signatures := make([]Signature, 0, len(rawSignatures))
	for position, raw := range rawSignatures {
		item, ok := raw.(map[string]any)
		if !ok || len(item) != 2 {
			return Errf(fmCodeEnvelope, "signatures[%d] must have exactly keyid and sig", position)
		}
		keyidV, ok1 := item["keyid"]
		sigV, ok2 := item["sig"]
		if !ok1 || !ok2 {
			return Errf(fmCodeEnvelope, "signatures[%d] must have exactly keyid and sig", position)
		}
		sig, err := envSignature(position, keyidV, sigV)
		if err != nil {
			return err
		}
		signatures = append(signatures, sig)
	}
	if err := envCheckDistinctKeys(signatures); err != nil {
		return err
	}
	*e = Envelope{PayloadType: payloadType, Payload: payload, Signatures: signatures}
	return nil
}

// The checks of Envelope.from_json on the field values, in its order; shared
// by envelopeFromJSONInto and the entry fast path (parseEntryFast).

// envCheckPayloadType: the payloadType value.
func envCheckPayloadType(v any) (string, error) {
	payloadType, ok := v.(string)
	if !ok {
		return "", Errf(fmCodeEnvelope, "payloadType missing or not a string")
	}
	if payloadType != PAYLOAD_TYPE {
		return "", Errf(fmCodePayloadType, "payloadType must be %s, got %s", PyRepr(PAYLOAD_TYPE), PyRepr(payloadType))
	}
	return PAYLOAD_TYPE, nil
}

// envDecodePayload: the payload value, decoded. The result does not share
// memory with v.
func envDecodePayload(v any) ([]byte, error) {
	payloadText, ok := v.(string)
	if !ok {
		return nil, Errf(fmCodeEnvelope, "payload missing or not a string")
	}
	return b64decodeField(payloadText, "payload")
}

// envCheckSignatureCount: isList says whether signatures is a list, n is its length.
func envCheckSignatureCount(isList bool, n int) error {
	if !isList || n == 0 {
		return Errf(fmCodeEnvelope, "signatures must be a non-empty list")
	}
	if n > MAX_SIGNATURES {
		return Errf(fmCodeEnvelope, "at most %d signatures per envelope", MAX_SIGNATURES)
	}
	return nil
}

// envSigFields: the field names of signatures[i].sig (no allocation per signature).
var envSigFields = func() (names [MAX_SIGNATURES]string) {
	for i := range names {
		names[i] = "signatures[" + strconv.Itoa(i) + "].sig"
	}
	return
}()

// envSignature: the values of signatures[position]'s keyid and sig. Sig does
// not share memory with sigV; KeyID is keyidV's string.
func envSignature(position int, keyidV, sigV any) (Signature, error) {
	keyid, ok := keyidV.(string)
	if !ok || !envIsKeyID(keyid) {
		return Signature{}, Errf(fmCodeEnvelope, "signatures[%d].keyid must be 64 lowercase hex digits", position)
	}
	var field string
	if position >= 0 && position < len(envSigFields) {
		field = envSigFields[position]
	} else {
		field = "signatures[" + strconv.Itoa(position) + "].sig"
	}
	sig, err := b64decodeAny(sigV, field)
	if err != nil {
		return Signature{}, err
	}
	return Signature{KeyID: keyid, Sig: sig}, nil
}

// envCheckDistinctKeys: a key signs at most once.
func envCheckDistinctKeys(signatures []Signature) error {
	for i := 1; i < len(signatures); i++ {
		for j := 0; j < i; j++ {
			if signatures[i].KeyID == signatures[j].KeyID {
				return Errf(fmCodeEnvelope, "a key may sign an envelope only once")
			}
		}
	}
	return nil
}
