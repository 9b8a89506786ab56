package main

// Validate methods of the statement-data validators declared in
// schema_types.go (port of ledger/schema.py). Every failure is
// input.statement.data with Python's message.

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// patternSource recovers the Python pattern from a FullMatch-compiled regexp.
func (v *TextV) patternSource() string {
	s := v.Pattern.String()
	if strings.HasPrefix(s, "^(?:") && strings.HasSuffix(s, ")$") {
		return s[4 : len(s)-2]
	}
	return s
}

func (v *TextV) Validate(value any, path string) error {
	s, ok := value.(string)
	if !ok {
		return Errf(fmCodeInvalidData, "%s: expected a string", path)
	}
	n := utf8.RuneCountInString(s)
	if n < v.MinLength || n > v.MaxLength {
		return Errf(fmCodeInvalidData, "%s: length must be %d–%d", path, v.MinLength, v.MaxLength)
	}
	if v.Pattern != nil && !v.Pattern.MatchString(s) {
		return Errf(fmCodeInvalidData, "%s: %s does not match %s", path, PyRepr(s), v.patternSource())
	}
	return nil
}

func (v *OneOfV) Validate(value any, path string) error {
	if s, ok := value.(string); ok {
		for _, allowed := range v.Values {
			if s == allowed {
				return nil
			}
		}
	}
	return Errf(fmCodeInvalidData, "%s: %s is not one of %s", path, PyRepr(value), strings.Join(v.Values, ", "))
}

func (v *IntegerV) Validate(value any, path string) error {
	n, ok := value.(int64)
	if !ok {
		if i, isInt := value.(int); isInt {
			n, ok = int64(i), true
		}
	}
	if !ok {
		return Errf(fmCodeInvalidData, "%s: expected an integer", path)
	}
	if n < v.Minimum || n > v.Maximum {
		return Errf(fmCodeInvalidData, "%s: must be between %d and %d", path, v.Minimum, v.Maximum)
	}
	return nil
}

func (v *BooleanV) Validate(value any, path string) error {
	if _, ok := value.(bool); !ok {
		return Errf(fmCodeInvalidData, "%s: expected true or false", path)
	}
	return nil
}

// asInvalidData is `except InvalidInput as exc: raise InvalidData(str(exc))`.
func asInvalidData(err error) error {
	if err == nil {
		return nil
	}
	if le, ok := err.(*LedgerError); ok {
		return Errf(fmCodeInvalidData, "%s", le.Msg)
	}
	return Errf(fmCodeInvalidData, "%s", err.Error())
}

func (v *SubjectV) Validate(value any, path string) error {
	return asInvalidData(CheckSubject(value, v.SubjectType, path))
}

func (v *TimestampV) Validate(value any, path string) error {
	_, err := parseTimestampAny(value, path)
	return asInvalidData(err)
}

func (v *DateV) Validate(value any, path string) error {
	s, ok := value.(string)
	if !ok || len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Errf(fmCodeInvalidData, "%s: expected a date YYYY-MM-DD", path)
	}
	for i := 0; i < 10; i++ {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return Errf(fmCodeInvalidData, "%s: expected a date YYYY-MM-DD", path)
		}
	}
	if _, msg := tsParse(s + "T00:00:00Z"); msg != "" {
		return Errf(fmCodeInvalidData, "%s: %s is not a real date", path, PyRepr(s))
	}
	return nil
}

func (v *HexV) Validate(value any, path string) error {
	_, err := hexDecodeAny(value, path, v.Length)
	return asInvalidData(err)
}

// Validate: MaxBytes 0 is taken as Python's default 4096 (schema_types.go
// has no constructor for Base64V).
func (v *Base64V) Validate(value any, path string) error {
	data, err := b64decodeAny(value, path)
	if err != nil {
		return asInvalidData(err)
	}
	max := v.MaxBytes
	if max == 0 {
		max = 4096
	}
	if len(data) > max {
		return Errf(fmCodeInvalidData, "%s: at most %d bytes", path, max)
	}
	return nil
}

func (v *ListOfV) Validate(value any, path string) error {
	items, ok := value.([]any)
	if !ok {
		return Errf(fmCodeInvalidData, "%s: expected a list", path)
	}
	if len(items) < v.MinItems || len(items) > v.MaxItems {
		return Errf(fmCodeInvalidData, "%s: needs %d–%d items", path, v.MinItems, v.MaxItems)
	}
	for position, item := range items {
		if err := v.Item.Validate(item, path+"["+schemaItoa(position)+"]"); err != nil {
			return err
		}
	}
	if v.Unique && len(items) > 1 {
		seen := make(map[string]bool, len(items))
		for _, item := range items {
			r := PyRepr(item)
			if seen[r] {
				return Errf(fmCodeInvalidData, "%s: items must be unique", path)
			}
			seen[r] = true
		}
	}
	return nil
}

func schemaItoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	return PyRepr(n)
}

// sortedValidatorNames: Go maps have no declaration order, so fields are
// checked in name order (Python: declaration order; only messages differ,
// every failure is input.statement.data).
func sortedValidatorNames(m map[string]Validator) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (v *ObjV) Validate(value any, path string) error {
	obj, ok := value.(map[string]any)
	if !ok {
		return Errf(fmCodeInvalidData, "%s: expected an object", path)
	}
	required, optional := v.fieldOrder()
	var missing []string
	for _, name := range required {
		if _, ok := obj[name]; !ok {
			missing = append(missing, name)
		}
	}
	if missing != nil {
		return Errf(fmCodeInvalidData, "%s: missing %s", path, strings.Join(missing, ", "))
	}
	var unknown []string
	for name := range obj {
		_, r := v.Required[name]
		_, o := v.Optional[name]
		if !r && !o {
			unknown = append(unknown, name)
		}
	}
	if unknown != nil {
		sort.Strings(unknown)
		return Errf(fmCodeInvalidData, "%s: unknown fields %s", path, strings.Join(unknown, ", "))
	}
	for _, name := range required {
		if err := v.Required[name].Validate(obj[name], path+"."+name); err != nil {
			return err
		}
	}
	for _, name := range optional {
		if item, ok := obj[name]; ok {
			if err := v.Optional[name].Validate(item, path+"."+name); err != nil {
				return err
			}
		}
	}
	if v.Check != nil {
		return v.Check(obj, path)
	}
	return nil
}
