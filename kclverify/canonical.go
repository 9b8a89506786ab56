package main

// Canonical JSON: RFC 8785 (JCS) with the input rules of format §3
// (port of ledger/canonical.py).
//
// DecodeCanonical is one pass over the bytes: it builds the value and notes,
// without failing early, whether the bytes are canonical, the first
// duplicate key (at its object's close, as Python's object_pairs_hook) and
// the first violation of the value rules (_check, in traversal order). The
// error that Python would raise is then chosen with Python's precedence:
//
//   1. not UTF-8; a byte order mark;
//   2. json.loads errors in document order: syntax, float/NaN, integer range,
//      duplicate key (at the object's close), nesting too deep for Python's
//      recursion limit, data after the value;
//      — except that ASCII input with at most 32 '{'/'[' bytes first goes
//      through Python's fast path, whose decoder has no duplicate check and
//      whose float/integer errors escape decode() directly;
//   3. _check errors in traversal order: depth > 32, lone surrogate, not NFC;
//   4. not canonical.

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/unicode/norm"
)

const (
	MAX_SAFE_INTEGER = 1<<53 - 1
	MIN_SAFE_INTEGER = -(1<<53 - 1)
	// MAX_DEPTH: nesting deeper than this is never legitimate.
	MAX_DEPTH = 32
)

// cjPyNestLimit approximates where CPython 3.11's json scanner hits the
// recursion limit (RecursionError → input.json.unsupported_value). In Python
// the exact depth depends on the caller's stack (about 990 containers when
// called from a shallow stack); only the precedence against other errors of
// documents nested that deep can differ.
const cjPyNestLimit = 990

const (
	fmCodeJSONMalformed   = "input.json.malformed"
	fmCodeJSONTrailing    = "input.json.trailing_data"
	fmCodeJSONDuplicate   = "input.json.duplicate_key"
	fmCodeJSONFloat       = "input.json.float"
	fmCodeJSONIntRange    = "input.json.integer_range"
	fmCodeJSONNotNFC      = "input.json.not_nfc"
	fmCodeJSONUnsupported = "input.json.unsupported_value"
	fmCodeJSONNotCanon    = "input.json.not_canonical"
)

type cjPathElem struct {
	key   string
	index int
	obj   bool
}

type cjParser struct {
	b       []byte
	text    string // string(b): unescaped strings are substrings of it (one allocation)
	pos     int
	canon   bool         // the bytes seen so far are canonical
	hard    *LedgerError // first json.loads error (parsing stops)
	dup     *LedgerError // first duplicate key, detected at its object's close
	chk     *LedgerError // first _check error in traversal order
	path    []cjPathElem
	scratch []byte
	pathBuf [8]cjPathElem
	slab    []string // backing store of boxed strings (see boxString)
}

// cjEface is the layout of an interface{} value.
type cjEface struct {
	typ, data unsafe.Pointer
}

var cjStringType = func() unsafe.Pointer {
	var x any = "x"
	return (*cjEface)(unsafe.Pointer(&x)).typ
}()

// boxString returns s as an any. Converting a string to an interface
// allocates its header on the heap, once per string; here the headers of one
// document share a slab (an interface holding a string only points at a
// string header, which is never modified afterwards).
func (p *cjParser) boxString(s string) any {
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]string, 0, 16)
	}
	p.slab = append(p.slab, s)
	var v any
	e := (*cjEface)(unsafe.Pointer(&v))
	e.typ = cjStringType
	e.data = unsafe.Pointer(&p.slab[len(p.slab)-1])
	return v
}

// cjSpecial marks the bytes a string scan must look at.
var cjSpecial = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c < 0x20 || c == '"' || c == '\\' || c >= 0x80
	}
	return
}()

const (
	cjOnes  = 0x0101010101010101
	cjHighs = 0x8080808080808080
)

// cjWordSpecial: may any of the eight bytes be '"', '\\', < 0x20 or >= 0x80?
// (False positives only after a true hit, which the byte loop then finds.)
func cjWordSpecial(w uint64) bool {
	q := w ^ (cjOnes * '"')
	bs := w ^ (cjOnes * '\\')
	return (w|((w-cjOnes*0x20)&^w)|((q-cjOnes)&^q)|((bs-cjOnes)&^bs))&cjHighs != 0
}

// DecodeCanonical is canonical.decode: parse bytes that must be the
// canonical encoding of a valid value.
func DecodeCanonical(raw []byte) (any, error) {
	p := cjParser{b: raw, text: string(raw), canon: true}
	p.path = p.pathBuf[:0]
	v := p.parseDocument()
	if p.hard == nil && p.dup == nil && p.chk == nil && p.canon {
		return v, nil
	}
	if err := p.preParseError(); err != nil {
		return nil, err
	}
	if p.hard != nil && (p.hard.Code == fmCodeJSONFloat || p.hard.Code == fmCodeJSONIntRange) && cjFastEligible(raw) {
		// Python's fast path: its decoder has no duplicate check, and the
		// hooks' errors are not ValueErrors, so they leave decode() at once.
		return nil, p.hard
	}
	if p.dup != nil {
		return nil, p.dup
	}
	if p.hard != nil {
		return nil, p.hard
	}
	if p.chk != nil {
		return nil, p.chk
	}
	return nil, Errf(fmCodeJSONNotCanon, "JSON is valid but not in RFC 8785 canonical form")
}

// LoadsStrict is canonical.loads_strict: strict parse and validation, but
// the bytes need not be canonical.
func LoadsStrict(raw []byte) (any, error) {
	p := cjParser{b: raw, text: string(raw), canon: true}
	p.path = p.pathBuf[:0]
	v := p.parseDocument()
	if p.hard == nil && p.dup == nil && p.chk == nil {
		return v, nil
	}
	if err := p.preParseError(); err != nil {
		return nil, err
	}
	if p.dup != nil {
		return nil, p.dup
	}
	if p.hard != nil {
		return nil, p.hard
	}
	return nil, p.chk
}

// preParseError: what _loads raises before json.loads sees the text.
func (p *cjParser) preParseError() error {
	raw := p.b
	if pos, reason, bad := pyUTF8Error(raw); bad {
		return Errf(fmCodeJSONMalformed, "not UTF-8: %s at byte %d", reason, pos)
	}
	if len(raw) >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF {
		return Errf(fmCodeJSONMalformed, "Unexpected UTF-8 BOM (decode using utf-8-sig) at offset 0")
	}
	return nil
}

// cjFastEligible: raw.isascii() and raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH.
func cjFastEligible(raw []byte) bool {
	n := 0
	for _, c := range raw {
		if c >= 0x80 {
			return false
		}
		if c == '{' || c == '[' {
			n++
		}
	}
	return n <= MAX_DEPTH
}

// pyUTF8Error reports the first UTF-8 error as CPython's decoder names it.
func pyUTF8Error(b []byte) (int, string, bool) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			i++
			continue
		}
		var n int
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			n = 2
		case c >= 0xE0 && c <= 0xEF:
			n = 3
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
		case c >= 0xF0 && c <= 0xF4:
			n = 4
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			return i, "invalid start byte", true
		}
		for k := 1; k < n; k++ {
			if i+k >= len(b) {
				return i, "unexpected end of data", true
			}
			d := b[i+k]
			if k == 1 {
				if d < lo || d > hi {
					return i, "invalid continuation byte", true
				}
			} else if d < 0x80 || d > 0xBF {
				return i, "invalid continuation byte", true
			}
		}
		i += n
	}
	return 0, "", false
}

// charOffset converts a byte offset into Python's character offset.
func (p *cjParser) charOffset(pos int) int {
	if pos > len(p.b) {
		pos = len(p.b)
	}
	return utf8.RuneCount(p.b[:pos])
}

func (p *cjParser) fail(msg string, pos int) {
	if p.hard == nil {
		p.hard = Errf(fmCodeJSONMalformed, "%s at offset %d", msg, p.charOffset(pos))
	}
}

func (p *cjParser) pathString() string {
	s := "$"
	for _, e := range p.path {
		if e.obj {
			s += "." + e.key
		} else {
			s += "[" + strconv.Itoa(e.index) + "]"
		}
	}
	return s
}

func (p *cjParser) parseDocument() any {
	p.skipWS()
	v := p.value(0)
	if p.hard != nil {
		return nil
	}
	p.skipWS()
	if p.pos != len(p.b) {
		p.canon = false
		p.hard = Errf(fmCodeJSONTrailing, "unexpected data after the JSON value at offset %d", p.charOffset(p.pos))
		return nil
	}
	return v
}

func (p *cjParser) skipWS() {
	start := p.pos
	for p.pos < len(p.b) {
		switch p.b[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
			continue
		}
		break
	}
	if p.pos != start {
		p.canon = false
	}
}

func (p *cjParser) hasLiteral(lit string) bool {
	return len(p.b)-p.pos >= len(lit) && string(p.b[p.pos:p.pos+len(lit)]) == lit
}

func (p *cjParser) floatConstant(lit string) {
	if p.hard == nil {
		p.hard = Errf(fmCodeJSONFloat, "%s is not valid JSON", lit)
	}
}

// value is scan_once at p.pos; depth is the number of enclosing containers.
func (p *cjParser) value(depth int) any {
	if depth > MAX_DEPTH && p.chk == nil {
		p.chk = Errf(fmCodeJSONUnsupported, "%s: nested deeper than %d levels", p.pathString(), MAX_DEPTH)
	}
	if p.pos >= len(p.b) {
		p.fail("Expecting value", p.pos)
		return nil
	}
	switch p.b[p.pos] {
	case '"':
		s, sur, nonASCII := p.str()
		if p.hard != nil {
			return nil
		}
		if p.chk == nil {
			p.checkString(s, sur, nonASCII, "")
		}
		return p.boxString(s)
	case '{':
		if depth+1 > cjPyNestLimit {
			p.hard = Errf(fmCodeJSONUnsupported, "JSON nested too deeply")
			return nil
		}
		return p.object(depth)
	case '[':
		if depth+1 > cjPyNestLimit {
			p.hard = Errf(fmCodeJSONUnsupported, "JSON nested too deeply")
			return nil
		}
		return p.array(depth)
	case 'n':
		if p.hasLiteral("null") {
			p.pos += 4
			return nil
		}
	case 't':
		if p.hasLiteral("true") {
			p.pos += 4
			return true
		}
	case 'f':
		if p.hasLiteral("false") {
			p.pos += 5
			return false
		}
	case 'N':
		if p.hasLiteral("NaN") {
			p.floatConstant("NaN")
			return nil
		}
	case 'I':
		if p.hasLiteral("Infinity") {
			p.floatConstant("Infinity")
			return nil
		}
	case '-':
		if p.hasLiteral("-Infinity") {
			p.floatConstant("-Infinity")
			return nil
		}
	}
	return p.number()
}

func cjIsDigit(c byte) bool { return c >= '0' && c <= '9' }

// number is _match_number_unicode with the parse_int/parse_float hooks.
func (p *cjParser) number() any {
	b := p.b
	start := p.pos
	idx := start
	end := len(b) - 1
	if b[idx] == '-' {
		idx++
		if idx > end {
			p.fail("Expecting value", start)
			return nil
		}
	}
	if b[idx] >= '1' && b[idx] <= '9' {
		idx++
		for idx <= end && cjIsDigit(b[idx]) {
			idx++
		}
	} else if b[idx] == '0' {
		idx++
	} else {
		p.fail("Expecting value", start)
		return nil
	}
	isFloat := false
	if idx < end && b[idx] == '.' && cjIsDigit(b[idx+1]) {
		isFloat = true
		idx += 2
		for idx <= end && cjIsDigit(b[idx]) {
			idx++
		}
	}
	if idx < end && (b[idx] == 'e' || b[idx] == 'E') {
		eStart := idx
		idx++
		if idx < end && (b[idx] == '-' || b[idx] == '+') {
			idx++
		}
		for idx <= end && cjIsDigit(b[idx]) {
			idx++
		}
		if cjIsDigit(b[idx-1]) {
			isFloat = true
		} else {
			idx = eStart
		}
	}
	text := b[start:idx]
	if isFloat {
		if p.hard == nil {
			p.hard = Errf(fmCodeJSONFloat, "number %s is not an integer; floats are not allowed", text)
		}
		return nil
	}
	if len(text) > 17 {
		p.hard = Errf(fmCodeJSONIntRange, "integer with %d digits outside ±(2^53-1)", len(text))
		return nil
	}
	neg := text[0] == '-'
	digits := text
	if neg {
		digits = text[1:]
	}
	var n int64
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	if n > MAX_SAFE_INTEGER {
		p.hard = Errf(fmCodeJSONIntRange, "integer %s outside ±(2^53-1)", text)
		return nil
	}
	if neg {
		if n == 0 {
			p.canon = false // "-0"
		}
		n = -n
	}
	p.pos = idx
	return n
}

func cjHexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hex4 decodes 4 hex digits at b[i:i+4] (caller ensures they exist);
// lower reports whether no digit was an upper-case letter.
func cjHex4(b []byte, i int) (int, bool, bool) {
	v := 0
	lower := true
	for k := i; k < i+4; k++ {
		d := cjHexVal(b[k])
		if d < 0 {
			return 0, false, false
		}
		if b[k] >= 'A' && b[k] <= 'F' {
			lower = false
		}
		v = v<<4 | d
	}
	return v, lower, true
}

// appendWTF8 appends a code point; lone surrogates are kept as their
// 3-byte (WTF-8) form so that they stay distinct, like in a Python str.
func appendWTF8(dst []byte, r int) []byte {
	if r >= 0xD800 && r <= 0xDFFF {
		return append(dst, byte(0xE0|r>>12), byte(0x80|(r>>6)&0x3F), byte(0x80|r&0x3F))
	}
	return utf8.AppendRune(dst, rune(r))
}

// str is scanstring_unicode (strict) starting at the opening quote. It
// returns the decoded string, whether it holds a lone surrogate, and whether
// it holds any non-ASCII character.
func (p *cjParser) str() (string, bool, bool) {
	b := p.b
	begin := p.pos
	i := begin + 1
	n := len(b)
	nonASCII := false
	// Fast scan: a string without escapes, eight bytes at a time.
	for i < n {
		for i+8 <= n && !cjWordSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= n {
			break
		}
		c := b[i]
		if !cjSpecial[c] {
			i++
			continue
		}
		if c == '"' {
			p.pos = i + 1
			return p.text[begin+1 : i], false, nonASCII
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.fail("Invalid control character at", i)
			return "", false, false
		}
		if c < 0x80 {
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			p.hard = Errf(fmCodeJSONMalformed, "not UTF-8")
			return "", false, false
		}
		nonASCII = true
		i += size
	}
	if i >= n {
		p.fail("Unterminated string starting at", begin)
		return "", false, false
	}
	// Slow path with escapes.
	buf := append(p.scratch[:0], b[begin+1:i]...)
	sur := false
	for {
		// find the end of the string or the next escape
		for i < n {
			c := b[i]
			if c == '"' || c == '\\' {
				break
			}
			if c < 0x20 {
				p.fail("Invalid control character at", i)
				return "", false, false
			}
			if c < 0x80 {
				buf = append(buf, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				p.hard = Errf(fmCodeJSONMalformed, "not UTF-8")
				return "", false, false
			}
			nonASCII = true
			buf = append(buf, b[i:i+size]...)
			i += size
		}
		if i >= n {
			p.fail("Unterminated string starting at", begin)
			return "", false, false
		}
		if b[i] == '"' {
			i++
			break
		}
		// backslash
		next := i + 1
		if next == n {
			p.fail("Unterminated string starting at", begin)
			return "", false, false
		}
		c := b[next]
		if c != 'u' {
			var out byte
			switch c {
			case '"', '\\':
				out = c
			case '/':
				out = '/'
				p.canon = false
			case 'b':
				out = '\b'
			case 'f':
				out = '\f'
			case 'n':
				out = '\n'
			case 'r':
				out = '\r'
			case 't':
				out = '\t'
			default:
				p.fail("Invalid \\escape", i)
				return "", false, false
			}
			buf = append(buf, out)
			i = next + 1
			continue
		}
		// \uXXXX
		next++
		end := next + 4
		if end >= n {
			p.fail("Invalid \\uXXXX escape", next-1)
			return "", false, false
		}
		cp, lower, ok := cjHex4(b, next)
		if !ok {
			p.fail("Invalid \\uXXXX escape", end-5)
			return "", false, false
		}
		if !(lower && cp < 0x20 && cp != '\b' && cp != '\t' && cp != '\n' && cp != '\f' && cp != '\r') {
			p.canon = false
		}
		if cp >= 0xD800 && cp <= 0xDBFF && end+6 < n && b[end] == '\\' && b[end+1] == 'u' {
			cp2, _, ok2 := cjHex4(b, end+2)
			if !ok2 {
				p.fail("Invalid \\uXXXX escape", end+6-5)
				return "", false, false
			}
			if cp2 >= 0xDC00 && cp2 <= 0xDFFF {
				cp = 0x10000 + (cp-0xD800)<<10 + (cp2 - 0xDC00)
				end += 6
			}
		}
		if cp >= 0xD800 && cp <= 0xDFFF {
			sur = true
		}
		if cp >= 0x80 {
			nonASCII = true
		}
		buf = appendWTF8(buf, cp)
		i = end
	}
	p.pos = i
	p.scratch = buf
	return string(buf), sur, nonASCII
}

// checkString is _check_string; suffix is "" for a value, ".<key>" for a key.
func (p *cjParser) checkString(s string, sur, nonASCII bool, suffix string) {
	if sur {
		p.chk = Errf(fmCodeJSONUnsupported, "%s%s: string is not valid Unicode (lone surrogate)", p.pathString(), suffix)
		return
	}
	if nonASCII && !norm.NFC.IsNormalString(s) {
		p.chk = Errf(fmCodeJSONNotNFC, "%s%s: string is not in Unicode NFC form", p.pathString(), suffix)
	}
}

func (p *cjParser) object(depth int) any {
	b := p.b
	p.pos++
	p.skipWS()
	m := make(map[string]any)
	if p.pos < len(b) && b[p.pos] == '}' {
		p.pos++
		return m
	}
	p.path = append(p.path, cjPathElem{obj: true})
	level := len(p.path) - 1
	var prev string
	first := true
	dupKey := ""
	haveDup := false
	for {
		if p.pos >= len(b) || b[p.pos] != '"' {
			p.fail("Expecting property name enclosed in double quotes", p.pos)
			return nil
		}
		key, sur, nonASCII := p.str()
		if p.hard != nil {
			return nil
		}
		if p.chk == nil {
			p.path = p.path[:level]
			p.checkString(key, sur, nonASCII, ".<key>")
			p.path = p.path[:level+1]
		}
		if !first && !cjKeyLess(prev, key) {
			p.canon = false
		}
		prev, first = key, false
		p.skipWS()
		if p.pos >= len(b) || b[p.pos] != ':' {
			p.fail("Expecting ':' delimiter", p.pos)
			return nil
		}
		p.pos++
		p.skipWS()
		p.path[level].key = key
		v := p.value(depth + 1)
		if p.hard != nil {
			return nil
		}
		if _, seen := m[key]; seen {
			if !haveDup {
				dupKey, haveDup = key, true
			}
		}
		m[key] = v
		p.skipWS()
		if p.pos < len(b) && b[p.pos] == '}' {
			break
		}
		if p.pos >= len(b) || b[p.pos] != ',' {
			p.fail("Expecting ',' delimiter", p.pos)
			return nil
		}
		p.pos++
		p.skipWS()
	}
	p.pos++
	p.path = p.path[:level]
	if haveDup && p.dup == nil {
		p.dup = Errf(fmCodeJSONDuplicate, "duplicate object key %s", PyRepr(dupKey))
	}
	return m
}

func (p *cjParser) array(depth int) any {
	b := p.b
	p.pos++
	p.skipWS()
	if p.pos < len(b) && b[p.pos] == ']' {
		p.pos++
		return []any{}
	}
	p.path = append(p.path, cjPathElem{})
	level := len(p.path) - 1
	var items []any
	for {
		p.path[level].index = len(items)
		v := p.value(depth + 1)
		if p.hard != nil {
			return nil
		}
		items = append(items, v)
		p.skipWS()
		if p.pos < len(b) && b[p.pos] == ']' {
			break
		}
		if p.pos >= len(b) || b[p.pos] != ',' {
			p.fail("Expecting ',' delimiter", p.pos)
			return nil
		}
		p.pos++
		p.skipWS()
	}
	p.pos++
	p.path = p.path[:level]
	return items
}

// cjKeyLess: a < b comparing UTF-16 code units (RFC 8785 §3.2.3). UTF-8
// byte order is code point order; the two differ only where a character
// above U+FFFF (a surrogate pair in UTF-16) meets one in U+E000…U+FFFF.
func cjKeyLess(a, b string) bool {
	n := len(a)
	if len(b) < n {
		n = len(b)
	}
	for i := 0; i < n; i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x >= 0xF0 && (y == 0xEE || y == 0xEF) {
			return true
		}
		if y >= 0xF0 && (x == 0xEE || x == 0xEF) {
			return false
		}
		return x < y
	}
	return len(a) < len(b)
}

// EncodeCanonical is canonical.encode for a valid value (nil, bool, int64
// or int, string, []any, map[string]any).
func EncodeCanonical(v any) []byte {
	return cjAppend(make([]byte, 0, 256), v)
}

func cjAppend(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if x {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case string:
		return cjAppendString(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, item := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cjAppend(dst, item)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, item := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cjAppendString(dst, item)
		}
		return append(dst, ']')
	case map[string]any:
		keys := cjSortedKeys(x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = cjAppendString(dst, k)
			dst = append(dst, ':')
			dst = cjAppend(dst, x[k])
		}
		return append(dst, '}')
	}
	panic("EncodeCanonical: unsupported value type")
}

// cjSortedKeys returns the keys of an object in RFC 8785 order.
func cjSortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// insertion sort: objects are small
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && cjKeyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

const cjHex = "0123456789abcdef"

func cjAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', cjHex[c>>4], cjHex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
