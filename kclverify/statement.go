package main

// Statements: what a party signs, kcl/statement/v1 (port of ledger/statement.py).

const (
	STATEMENT_V1 = "kcl/statement/v1"
	NONCE_BYTES  = 16

	fmCodeStatement      = "input.statement"
	fmCodeUnknownVersion = "input.unknown_version"
	fmCodeInvalidData    = "input.statement.data"
)

var statementRequired = []string{"v", "kind", "subject", "at", "by", "data", "nonce"}

func stmtKindChar(c byte) bool { return c >= 'a' && c <= 'z' || c == '.' || c == '_' }

// StatementFromJSON is Statement.from_json.
func StatementFromJSON(v any) (*Statement, error) {
	st := new(Statement)
	if err := statementFromJSONInto(st, v); err != nil {
		return nil, err
	}
	return st, nil
}

func statementFromJSONInto(st *Statement, v any) error {
	value, ok := v.(map[string]any)
	if !ok {
		return Errf(fmCodeStatement, "statement must be a JSON object")
	}
	version, hasV := value["v"]
	if s, isStr := version.(string); !hasV || !isStr || s != STATEMENT_V1 {
		return Errf(fmCodeUnknownVersion, "unknown statement version %s (expected %s)", PyRepr(version), PyRepr(STATEMENT_V1))
	}
	var missing []string
	for _, name := range statementRequired {
		if _, ok := value[name]; !ok {
			missing = append(missing, name)
		}
	}
	if missing != nil {
		s := ""
		for i, m := range missing {
			if i > 0 {
				s += ", "
			}
			s += m
		}
		return Errf(fmCodeStatement, "statement is missing %s", s)
	}
	_, hasPlace := value["place"]
	if n := len(statementRequired); len(value) != n && !(hasPlace && len(value) == n+1) {
		var extra []string
		for k := range value {
			switch k {
			case "v", "kind", "subject", "at", "by", "data", "nonce", "place":
			default:
				extra = append(extra, k)
			}
		}
		return Errf(fmCodeStatement, "unknown statement fields: %s", pySortedKeysRepr(extra))
	}
	var placeV any
	if hasPlace {
		placeV = value["place"]
	}
	return statementFill(st, value["kind"], value["subject"], value["by"], hasPlace, placeV, value["at"], value["data"], value["nonce"])
}

// statementFill: the checks of Statement.from_json on the field values, in
// its order, then *st. Shared by statementFromJSONInto and the entry fast
// path (parseEntryFast). hasPlace says whether the place field is present.
func statementFill(st *Statement, kindV, subjectV, byV any, hasPlace bool, placeV, atV, dataV, nonceV any) error {
	kind, ok := kindV.(string)
	if ok && kind != "" {
		for i := 0; i < len(kind); i++ {
			if !stmtKindChar(kind[i]) {
				ok = false
				break
			}
		}
	}
	if !ok || kind == "" {
		return Errf(fmCodeStatement, "kind %s must be lower-case words joined by '.'", PyRepr(kindV))
	}
	if _, _, err := splitSubjectField(subjectV, "subject"); err != nil {
		return err
	}
	if err := CheckSubject(byV, "party", "by"); err != nil {
		return err
	}
	var place *string
	if hasPlace {
		// Absent means "no place"; null would be a second byte form of it.
		if err := CheckSubject(placeV, "location", "place"); err != nil {
			return err
		}
		p := placeV.(string)
		place = &p
	}
	if _, err := parseTimestampAny(atV, "at"); err != nil {
		return err
	}
	data, ok := dataV.(map[string]any)
	if !ok {
		return Errf(fmCodeInvalidData, "data must be a JSON object")
	}
	raw, err := b64urlDecodeAny(nonceV, "nonce")
	if err != nil {
		return err
	}
	if len(raw) != NONCE_BYTES {
		return Errf(fmCodeStatement, "nonce must be %d random bytes in base64url", NONCE_BYTES)
	}
	*st = Statement{
		Kind:    kind,
		Subject: subjectV.(string),
		At:      atV.(string),
		By:      byV.(string),
		Data:    data,
		Nonce:   nonceV.(string),
		Place:   place,
	}
	return nil
}

// StatementFromBytes is Statement.from_bytes: the payload must be canonical JSON.
func StatementFromBytes(payload []byte) (*Statement, error) {
	v, err := DecodeCanonical(payload)
	if err != nil {
		return nil, err
	}
	return StatementFromJSON(v)
}

// statementToJSON is Statement.to_json.
func statementToJSON(st *Statement) Object {
	v := Object{
		"v":       STATEMENT_V1,
		"kind":    st.Kind,
		"subject": st.Subject,
		"at":      st.At,
		"by":      st.By,
		"data":    map[string]any(st.Data),
		"nonce":   st.Nonce,
	}
	if st.Place != nil {
		v["place"] = *st.Place
	}
	return v
}

// statementToBytes is Statement.to_bytes.
func statementToBytes(st *Statement) []byte { return EncodeCanonical(statementToJSON(st)) }
