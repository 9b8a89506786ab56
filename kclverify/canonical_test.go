package main

import (
	"os"
	"runtime"
	"strings"
	"testing"
)

func cjResult(raw []byte) string {
	if os.Getenv("KCL_CJ_FN") == "loads" {
		v, err := LoadsStrict(raw)
		if err != nil {
			le := err.(*LedgerError)
			return le.Code + "|" + le.Msg
		}
		return "ok|" + PyRepr(v)
	}
	v, err := DecodeCanonical(raw)
	if err != nil {
		le := err.(*LedgerError)
		return le.Code + "|" + le.Msg
	}
	if string(EncodeCanonical(v)) != string(raw) {
		return "ok-but-reencode-differs"
	}
	return "ok"
}

func TestCanonicalKnown(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"a":1}`, "ok"},
		{`{"a":1,"a":2}`, "input.json.duplicate_key|duplicate object key 'a'"},
		{`[{"a":1,"a":1},1.5]`, "input.json.float|number 1.5 is not an integer; floats are not allowed"},
		{`[{"a":1,"a":1},1.5,"é"]`, "input.json.duplicate_key|duplicate object key 'a'"},
		{`{"a": 1}`, "input.json.not_canonical|JSON is valid but not in RFC 8785 canonical form"},
		{`{"b":1,"a":2}`, "input.json.not_canonical|JSON is valid but not in RFC 8785 canonical form"},
		{`"\u00e9"`, "input.json.not_canonical|JSON is valid but not in RFC 8785 canonical form"},
		{`"é"`, "ok"},
		{`"e\u0301"`, "input.json.not_nfc|$: string is not in Unicode NFC form"},
		{`["\ud800"]`, "input.json.unsupported_value|$[0]: string is not valid Unicode (lone surrogate)"},
		{`1 x`, "input.json.trailing_data|unexpected data after the JSON value at offset 2"},
		{`9007199254740992`, "input.json.integer_range|integer 9007199254740992 outside ±(2^53-1)"},
		{`-9007199254740991`, "ok"},
		{`NaN`, "input.json.float|NaN is not valid JSON"},
		{``, "input.json.malformed|Expecting value at offset 0"},
		{"\"\x01\"", "input.json.malformed|Invalid control character at at offset 1"},
		{"\"\\u0001\\n\"", "ok"},
		{"\xff", "input.json.malformed|not UTF-8: invalid start byte at byte 0"},
		{`{"\ud83d\ude00":1,"\ue000":2}`, "input.json.not_canonical|JSON is valid but not in RFC 8785 canonical form"},
		{"{\"\U0001F600\":1,\"\ue000\":2}", "ok"},
		{"{\"\ue000\":2,\"\U0001F600\":1}", "input.json.not_canonical|JSON is valid but not in RFC 8785 canonical form"},
	}
	for _, c := range cases {
		if got := cjResult([]byte(c.in)); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDecodedValuesOwnTheirMemory(t *testing.T) {
	raw := []byte(`{"a":["x","y\\n",{"b":"zz"}],"c":"` + strings.Repeat("q", 100) + `"}`)
	v, err := DecodeCanonical(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = ' '
	}
	runtime.GC()
	want := `{'a': ['x', 'y\\n', {'b': 'zz'}], 'c': '` + strings.Repeat("q", 100) + `'}`
	if got := PyRepr(v); got != want {
		t.Fatalf("got %s", got)
	}
	if s, ok := v.(map[string]any)["c"].(string); !ok || len(s) != 100 {
		t.Fatal("type assertion on a boxed string")
	}
}

func TestEncodeCanonical(t *testing.T) {
	v := map[string]any{"b": []any{int64(1), true, nil, "\x00\x1f\"\\\u2028é"}, "a": map[string]any{}, "\U0001F600": int64(-5), "\ue000": ""}
	want := "{\"a\":{},\"b\":[1,true,null,\"\\u0000\\u001f\\\"\\\\\u2028é\"],\"\U0001F600\":-5,\"\ue000\":\"\"}"
	if got := string(EncodeCanonical(v)); got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	back, err := DecodeCanonical([]byte(want))
	if err != nil || PyRepr(back) != PyRepr(v) {
		t.Fatal(err)
	}
}

func TestCanonicalVectors(t *testing.T) {
	for _, c := range canonicalVectors {
		got := "ok"
		if _, err := DecodeCanonical([]byte(c.in)); err != nil {
			le := err.(*LedgerError)
			got = le.Code + "|" + le.Msg
		}
		if got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}
