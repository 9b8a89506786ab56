package main

// Log entries, kcl/entry/v1 (port of ledger/entry.py).

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

const (
	ENTRY_V1 = "kcl/entry/v1"

	fmCodeEntry = "input.entry"
)

// ParseEntry is Entry.parse: the entry bytes (which must be canonical), the
// envelope inside and the statement it carries. Signatures and chains are
// not checked here.
//
// Entries written by a log have one exact byte layout; parseEntryFast reads
// that layout without building the intermediate maps, and gives up (nil) on
// anything else, which parseEntryGeneric then handles, errors included.
func ParseEntry(raw []byte) (*Entry, error) {
	if e := parseEntryFast(raw); e != nil {
		return e, nil
	}
	return parseEntryGeneric(raw)
}

// parseEntryGeneric is Entry.parse over the decoded JSON value: the
// reference for every result, and the only source of errors.
func parseEntryGeneric(raw []byte) (*Entry, error) {
	v, err := DecodeCanonical(raw)
	if err != nil {
		return nil, err
	}
	value, ok := v.(map[string]any)
	if !ok {
		return nil, Errf(fmCodeEntry, "entry must be a JSON object")
	}
	if s, isStr := value["v"].(string); !isStr || s != ENTRY_V1 {
		return nil, Errf(fmCodeUnknownVersion, "unknown entry version %s (expected %s)", PyRepr(value["v"]), PyRepr(ENTRY_V1))
	}
	_, h1 := value["index"]
	_, h2 := value["prev"]
	_, h3 := value["recorded_at"]
	_, h4 := value["envelope"]
	if len(value) != 5 || !(h1 && h2 && h3 && h4) {
		return nil, Errf(fmCodeEntry, "entry fields must be exactly ['envelope', 'index', 'prev', 'recorded_at', 'v']")
	}
	index, err := entryCheckIndex(value["index"])
	if err != nil {
		return nil, err
	}
	prev, err := entryCheckPrev(value["prev"])
	if err != nil {
		return nil, err
	}
	recordedAt, err := entryCheckRecordedAt(value["recorded_at"])
	if err != nil {
		return nil, err
	}
	e := &Entry{Raw: raw, Index: index, Prev: prev, RecordedAt: recordedAt}
	if err := envelopeFromJSONInto(&e.Envelope, value["envelope"]); err != nil {
		return nil, err
	}
	payload, err := DecodeCanonical(e.Envelope.Payload)
	if err != nil {
		return nil, err
	}
	if err := statementFromJSONInto(&e.Statement, payload); err != nil {
		return nil, err
	}
	return e, nil
}

// The checks of Entry.parse on the field values, in its order; shared by
// parseEntryGeneric and parseEntryFast.

func entryCheckIndex(v any) (int64, error) {
	index, ok := v.(int64)
	if !ok || index < 0 {
		return 0, Errf(fmCodeEntry, "index must be a non-negative integer")
	}
	return index, nil
}

func entryCheckPrev(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	// 64 lowercase hex digits are exactly the strings hex_decode(v, "prev", 32)
	// accepts; the decoder is only needed for the message of the others.
	if s, ok := v.(string); ok && envIsKeyID(s) {
		return &s, nil
	}
	if _, err := hexDecodeAny(v, "prev", 32); err != nil {
		return nil, Errf(fmCodeEntry, "%s", err.(*LedgerError).Msg)
	}
	s := v.(string)
	return &s, nil
}

func entryCheckRecordedAt(v any) (string, error) {
	if _, err := parseTimestampAny(v, "recorded_at"); err != nil {
		return "", err
	}
	return v.(string), nil
}

// ---------------------------------------------------------------------------
// The fast path
//
// parseEntryFast accepts only this layout (RFC 8785 key order, no
// whitespace), with S a string of bytes that the canonical decoder copies
// verbatim (see fjString: no escape, control character, quote or non-ASCII
// byte) and I an integer in canonical form within 0…2^53-1:
//
//	{"envelope":{"payload":S,"payloadType":S,"signatures":[{"keyid":S,"sig":S}(,{"keyid":S,"sig":S})*]},
//	 "index":I,"prev":(null|S),"recorded_at":S,"v":"kcl/entry/v1"}
//
// and a payload of the layout
//
//	{"at":S,"by":S,"data":{…},"kind":S,"nonce":S(,"place":S)?,"subject":S,"v":"kcl/statement/v1"}
//
// where the data object is read by the canonical decoder itself (at the
// depth and with the checks it has inside the statement). Such bytes are
// canonical JSON whose decoded value has exactly the fields Entry.parse and
// Statement.from_json require, so the generic path would reach the checks
// on the field values; those are the same functions here (entryCheck*,
// envCheck*, envSignature, statementFill). Any deviation or failed check
// gives nil: the generic path then decides, and reports the error.

// fjLit: does b hold lit at i?
func fjLit(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// fjString reads a string at b[i] made only of bytes that the canonical
// decoder's own scan (cjParser.str) copies verbatim and that need no escape
// in canonical form (ASCII 0x20-0x7f except '"' and '\\'): it returns the
// bounds of the content (the closing quote is at end) and ok. The decoder
// gives exactly that substring, with nothing to check (no surrogate, no
// non-ASCII text for NFC) and the bytes canonical.
func fjString(b []byte, i int) (start, end int, ok bool) {
	n := len(b)
	if i >= n || b[i] != '"' {
		return 0, 0, false
	}
	i++
	start = i
	for {
		for i+8 <= n && !cjWordSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= n {
			return 0, 0, false
		}
		c := b[i]
		if !cjSpecial[c] {
			i++
			continue
		}
		if c == '"' {
			return start, i, true
		}
		return 0, 0, false
	}
}

// fjIndex reads an integer in canonical form, 0…2^53-1, at b[i]; it returns
// the value and the index after it. (After a leading '0' the caller's next
// literal fails on a further digit, '.' or exponent.)
func fjIndex(b []byte, i int) (int64, int, bool) {
	if i >= len(b) {
		return 0, 0, false
	}
	if b[i] == '0' {
		return 0, i + 1, true
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, 0, false
	}
	var n int64
	j := i
	for j < len(b) && cjIsDigit(b[j]) {
		if j-i == 16 {
			return 0, 0, false
		}
		n = n*10 + int64(b[j]-'0')
		j++
	}
	if n > MAX_SAFE_INTEGER {
		return 0, 0, false
	}
	return n, j, true
}

// fjView is b as a string without copying, for a check that does not keep it.
func fjView(b []byte) string {
	return *(*string)(unsafe.Pointer(&b))
}

func parseEntryFast(raw []byte) *Entry {
	const maxSigs = MAX_SIGNATURES
	b := raw
	i := 0
	if !fjLit(b, i, `{"envelope":{"payload":`) {
		return nil
	}
	i += len(`{"envelope":{"payload":`)
	payloadS, payloadE, ok := fjString(b, i)
	if !ok {
		return nil
	}
	i = payloadE + 1
	if !fjLit(b, i, `,"payloadType":`) {
		return nil
	}
	i += len(`,"payloadType":`)
	typeS, typeE, ok := fjString(b, i)
	if !ok {
		return nil
	}
	i = typeE + 1
	if !fjLit(b, i, `,"signatures":[`) {
		return nil
	}
	i += len(`,"signatures":[`)
	var sigBounds [maxSigs][4]int // keyid start/end, sig start/end
	nsig := 0
	for {
		if nsig == maxSigs || !fjLit(b, i, `{"keyid":`) {
			return nil
		}
		i += len(`{"keyid":`)
		ks, ke, ok := fjString(b, i)
		if !ok {
			return nil
		}
		i = ke + 1
		if !fjLit(b, i, `,"sig":`) {
			return nil
		}
		i += len(`,"sig":`)
		ss, se, ok := fjString(b, i)
		if !ok {
			return nil
		}
		i = se + 1
		if i >= len(b) || b[i] != '}' {
			return nil
		}
		i++
		sigBounds[nsig] = [4]int{ks, ke, ss, se}
		nsig++
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		break
	}
	if !fjLit(b, i, `]},"index":`) {
		return nil
	}
	i += len(`]},"index":`)
	index, i, ok := fjIndex(b, i)
	if !ok || !fjLit(b, i, `,"prev":`) {
		return nil
	}
	i += len(`,"prev":`)
	prevS, prevE := 0, -1 // -1: null
	if fjLit(b, i, "null") {
		i += len("null")
	} else {
		if prevS, prevE, ok = fjString(b, i); !ok {
			return nil
		}
		i = prevE + 1
	}
	if !fjLit(b, i, `,"recorded_at":`) {
		return nil
	}
	i += len(`,"recorded_at":`)
	atS, atE, ok := fjString(b, i)
	if !ok {
		return nil
	}
	i = atE + 1
	if !fjLit(b, i, `,"v":`) {
		return nil
	}
	i += len(`,"v":`)
	vS, vE, ok := fjString(b, i)
	if !ok || string(b[vS:vE]) != ENTRY_V1 {
		return nil
	}
	i = vE + 1
	if i != len(b)-1 || b[i] != '}' {
		return nil
	}

	// The strings the entry keeps, copied into one allocation.
	size := atE - atS
	if prevE >= 0 {
		size += prevE - prevS
	}
	for k := 0; k < nsig; k++ {
		size += sigBounds[k][1] - sigBounds[k][0]
	}
	var sb strings.Builder
	sb.Grow(size)
	for k := 0; k < nsig; k++ {
		sb.Write(b[sigBounds[k][0]:sigBounds[k][1]])
	}
	if prevE >= 0 {
		sb.Write(b[prevS:prevE])
	}
	sb.Write(b[atS:atE])
	text := sb.String()
	off := 0
	take := func(n int) string {
		s := text[off : off+n]
		off += n
		return s
	}

	e := &Entry{Raw: raw}
	var keyids [maxSigs]string
	for k := 0; k < nsig; k++ {
		keyids[k] = take(sigBounds[k][1] - sigBounds[k][0])
	}
	var prevV any
	if prevE >= 0 {
		prevV = take(prevE - prevS)
	}
	recordedAt := take(atE - atS)

	var err error
	if e.Index, err = entryCheckIndex(index); err != nil {
		return nil
	}
	if e.Prev, err = entryCheckPrev(prevV); err != nil {
		return nil
	}
	if e.RecordedAt, err = entryCheckRecordedAt(recordedAt); err != nil {
		return nil
	}
	env := &e.Envelope
	if env.PayloadType, err = envCheckPayloadType(fjView(b[typeS:typeE])); err != nil {
		return nil
	}
	if env.Payload, err = envDecodePayload(fjView(b[payloadS:payloadE])); err != nil {
		return nil
	}
	if envCheckSignatureCount(true, nsig) != nil {
		return nil
	}
	env.Signatures = make([]Signature, nsig)
	for k := 0; k < nsig; k++ {
		bounds := sigBounds[k]
		if env.Signatures[k], err = envSignature(k, keyids[k], fjView(b[bounds[2]:bounds[3]])); err != nil {
			return nil
		}
	}
	if envCheckDistinctKeys(env.Signatures) != nil {
		return nil
	}
	if !statementFast(&e.Statement, env.Payload) {
		return nil
	}
	return e
}

// statementFast is Statement.from_bytes for a payload of the layout above
// (false: anything else).
func statementFast(st *Statement, payload []byte) bool {
	b := payload
	i := 0
	// The strings the statement keeps are substrings of p.text (a copy),
	// boxed like the decoder's own.
	p := cjParser{b: b, text: string(b), canon: true}
	field := func(lit string) (string, bool) {
		if !fjLit(b, i, lit) {
			return "", false
		}
		s, e, ok := fjString(b, i+len(lit))
		if !ok {
			return "", false
		}
		i = e + 1
		return p.text[s:e], true
	}
	at, ok1 := field(`{"at":`)
	by, ok2 := field(`,"by":`)
	if !ok1 || !ok2 || !fjLit(b, i, `,"data":{`) {
		return false
	}
	i += len(`,"data":`)
	// The data object, read as DecodeCanonical reads it inside the statement
	// (at depth 1). Its path (p.path) would only name the place of an error,
	// which is not reported here: it starts empty, and p stays on the stack.
	p.pos = i
	data := p.value(1)
	if p.hard != nil || p.dup != nil || p.chk != nil || !p.canon {
		return false
	}
	i = p.pos
	kind, ok1 := field(`,"kind":`)
	nonce, ok2 := field(`,"nonce":`)
	if !ok1 || !ok2 {
		return false
	}
	place, hasPlace := field(`,"place":`)
	subject, ok1 := field(`,"subject":`)
	v, ok2 := field(`,"v":`)
	if !ok1 || !ok2 || v != STATEMENT_V1 || i != len(b)-1 || b[i] != '}' {
		return false
	}
	str := p.boxString
	var placeV any
	if hasPlace {
		placeV = str(place)
	}
	return statementFill(st, str(kind), str(subject), str(by), hasPlace, placeV, str(at), data, str(nonce)) == nil
}
