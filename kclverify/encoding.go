package main

// Strict byte encodings: base64 (standard, padded), base64url, lowercase hex
// (port of ledger/encoding.py), and Python's repr() for error messages.

import (
	"encoding/base64"
	"encoding/hex"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

const (
	fmCodeInvalidInput = "input.invalid"
	fmCodeBase64       = "input.base64"
)

func b64encode(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

// B64Decode is encoding.b64decode: standard padded base64 in canonical form.
// what "" means Python's default field name "base64".
func B64Decode(s string, what string) ([]byte, error) {
	if what == "" {
		what = "base64"
	}
	return b64decodeField(s, what)
}

// b64decodeAny is b64decode for a JSON value that may not be a string.
func b64decodeAny(v any, field string) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, Errf(fmCodeBase64, "%s: not standard padded base64", field)
	}
	return b64decodeField(s, field)
}

func b64decodeField(s string, field string) ([]byte, error) {
	// Fast path: Go's strict decoder accepts exactly Python's canonical
	// padded base64, except that it skips CR and LF.
	if len(s)%4 == 0 && strings.IndexByte(s, '\n') < 0 && strings.IndexByte(s, '\r') < 0 {
		out := make([]byte, len(s)/4*3)
		if k, err := fmB64Strict.Decode(out, fmStringBytes(s)); err == nil {
			return out[:k], nil
		}
	}
	// _B64.fullmatch: [A-Za-z0-9+/]*={0,2}, and len % 4 == 0
	n := len(s)
	if n%4 != 0 {
		return nil, Errf(fmCodeBase64, "%s: not standard padded base64", field)
	}
	body := n
	for body > 0 && s[body-1] == '=' && n-body < 2 {
		body--
	}
	for i := 0; i < body; i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, Errf(fmCodeBase64, "%s: not standard padded base64", field)
		}
	}
	// With the pattern and the length checked, Python's decoder cannot fail;
	// the strict decoder then only rejects stray bits in the padding.
	out, err := fmB64Strict.DecodeString(s)
	if err != nil {
		return nil, Errf(fmCodeBase64, "%s: non-canonical base64 (stray bits in padding)", field)
	}
	return out, nil
}

// fmStringBytes views a string's bytes without copying (read-only use).
func fmStringBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer((*reflect.StringHeader)(unsafe.Pointer(&s)).Data)), len(s))
}

var (
	fmB64Strict    = base64.StdEncoding.Strict()
	fmB64URLStrict = base64.RawURLEncoding.Strict()
)

// B64URLDecode is encoding.b64url_decode: unpadded base64url in canonical form.
func B64URLDecode(s string, what string) ([]byte, error) {
	if what == "" {
		what = "base64url"
	}
	return b64urlDecodeField(s, what)
}

func b64urlDecodeAny(v any, field string) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, Errf(fmCodeBase64, "%s: not unpadded base64url", field)
	}
	return b64urlDecodeField(s, field)
}

func b64urlDecodeField(s string, field string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return nil, Errf(fmCodeBase64, "%s: not unpadded base64url", field)
		}
	}
	if len(s)%4 == 1 {
		return nil, Errf(fmCodeBase64, "%s: not unpadded base64url", field)
	}
	out, err := fmB64URLStrict.DecodeString(s)
	if err != nil {
		return nil, Errf(fmCodeBase64, "%s: non-canonical base64url", field)
	}
	return out, nil
}

// HexDecode is encoding.hex_decode: lowercase hex, of exactly size bytes
// unless size < 0. what "" means the default field name "hex".
func HexDecode(s string, what string, size int) ([]byte, error) {
	if what == "" {
		what = "hex"
	}
	return hexDecodeField(s, what, size)
}

func hexDecodeAny(v any, field string, size int) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, Errf(fmCodeInvalidInput, "%s: not lowercase hex", field)
	}
	return hexDecodeField(s, field, size)
}

func hexDecodeField(s string, field string, size int) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, Errf(fmCodeInvalidInput, "%s: not lowercase hex", field)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, Errf(fmCodeInvalidInput, "%s: not lowercase hex", field)
		}
	}
	data, _ := hex.DecodeString(s)
	if size >= 0 && len(data) != size {
		return nil, Errf(fmCodeInvalidInput, "%s: expected %d bytes, got %d", field, size, len(data))
	}
	return data, nil
}

// PyRepr renders a JSON value the way Python's repr() shows the decoded
// value in messages: None, True, 5, 'text', [1, 'a'], {'k': 'v'} (object
// members in RFC 8785 order, which is their order in canonical input).
func PyRepr(v any) string {
	var sb strings.Builder
	pyReprTo(&sb, v)
	return sb.String()
}

func pyReprTo(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		sb.WriteString("None")
	case bool:
		if x {
			sb.WriteString("True")
		} else {
			sb.WriteString("False")
		}
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case int:
		sb.WriteString(strconv.Itoa(x))
	case string:
		pyReprString(sb, x)
	case []any:
		sb.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			pyReprTo(sb, item)
		}
		sb.WriteByte(']')
	case []string:
		sb.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				sb.WriteString(", ")
			}
			pyReprString(sb, item)
		}
		sb.WriteByte(']')
	case map[string]any:
		sb.WriteByte('{')
		for i, k := range cjSortedKeys(x) {
			if i > 0 {
				sb.WriteString(", ")
			}
			pyReprString(sb, k)
			sb.WriteString(": ")
			pyReprTo(sb, x[k])
		}
		sb.WriteByte('}')
	default:
		sb.WriteString("<?>")
	}
}

// pyStr is repr() of one Python str, pyStrList of a list of them: the one
// rendering of Python reprs in messages (PyRepr for any decoded value).
func pyStr(s string) string {
	var sb strings.Builder
	pyReprString(&sb, s)
	return sb.String()
}

func pyStrList(items []string) string { return PyRepr(items) }

// pyReprString is repr(str). Lone surrogates (kept as WTF-8 by the decoder)
// come out as \udxxx like in Python.
func pyReprString(sb *strings.Builder, s string) {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	sb.WriteByte(quote)
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == quote || c == '\\':
				sb.WriteByte('\\')
				sb.WriteByte(c)
			case c == '\n':
				sb.WriteString(`\n`)
			case c == '\r':
				sb.WriteString(`\r`)
			case c == '\t':
				sb.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				sb.WriteString(`\x`)
				sb.WriteByte(cjHex[c>>4])
				sb.WriteByte(cjHex[c&0xF])
			default:
				sb.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			// a WTF-8 lone surrogate (ED A0..BF xx) or a stray byte
			if c == 0xED && i+2 < len(s) {
				cp := int(c&0x0F)<<12 | int(s[i+1]&0x3F)<<6 | int(s[i+2]&0x3F)
				sb.WriteString(`\u` + strconv.FormatInt(int64(cp), 16))
				i += 3
				continue
			}
			sb.WriteString(`\x`)
			sb.WriteByte(cjHex[c>>4])
			sb.WriteByte(cjHex[c&0xF])
			i++
			continue
		}
		if pyIsPrintable(r) {
			sb.WriteString(s[i : i+size])
		} else if r <= 0xFF {
			sb.WriteString(`\x` + reprPad0(strconv.FormatInt(int64(r), 16), 2))
		} else if r <= 0xFFFF {
			sb.WriteString(`\u` + reprPad0(strconv.FormatInt(int64(r), 16), 4))
		} else {
			sb.WriteString(`\U` + reprPad0(strconv.FormatInt(int64(r), 16), 8))
		}
		i += size
	}
	sb.WriteByte(quote)
}

func reprPad0(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// pyIsPrintable approximates str.isprintable for one non-ASCII character:
// not Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs.
func pyIsPrintable(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}

// pyTypeName is type(value).__name__ for a decoded JSON value.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, int:
		return "int"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "object"
}

// pySortedKeysRepr is repr(sorted(names)) for a list of strings.
func pySortedKeysRepr(names []string) string {
	s := append([]string(nil), names...)
	sort.Strings(s)
	return PyRepr(s)
}
