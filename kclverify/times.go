package main

// RFC 3339 timestamps in UTC with a 'Z' suffix (port of ledger/times.py).

import (
	"fmt"
	"time"
)

const fmCodeTimestamp = "input.timestamp"

// ParseTimestamp is times.parse_timestamp(text, field) for a string; what ""
// means the default field name "timestamp". Like Python's datetime the
// result has microsecond precision (further digits are truncated).
func ParseTimestamp(value string, what string) (time.Time, error) {
	if what == "" {
		what = "timestamp"
	}
	t, msg := tsParse(value)
	if msg != "" {
		return time.Time{}, Errf(fmCodeTimestamp, "%s: %s", what, msg)
	}
	return t, nil
}

// parseTimestampAny is parse_timestamp for a JSON value of any type.
func parseTimestampAny(v any, field string) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, Errf(fmCodeTimestamp, "%s: expected an RFC 3339 UTC string, got %s", field, pyTypeName(v))
	}
	return ParseTimestamp(s, field)
}

func tsDigits(s string, from, to int) (int, bool) {
	n := 0
	for i := from; i < to; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// tsParse returns the instant or the message of _parse_cached's error.
func tsParse(s string) (time.Time, string) {
	// (?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?Z, ASCII
	bad := func() (time.Time, string) {
		return time.Time{}, PyRepr(s) + " is not RFC 3339 UTC with 'Z' (YYYY-MM-DDTHH:MM:SSZ)"
	}
	n := len(s)
	if n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n-1] != 'Z' {
		return bad()
	}
	year, ok1 := tsDigits(s, 0, 4)
	month, ok2 := tsDigits(s, 5, 7)
	day, ok3 := tsDigits(s, 8, 10)
	hour, ok4 := tsDigits(s, 11, 13)
	minute, ok5 := tsDigits(s, 14, 16)
	second, ok6 := tsDigits(s, 17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return bad()
	}
	micros := 0
	if n != 20 {
		frac := s[19 : n-1]
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return bad()
		}
		digits := frac[1:]
		if _, ok := tsDigits(digits, 0, len(digits)); !ok {
			return bad()
		}
		for i := 0; i < 6; i++ {
			micros *= 10
			if i < len(digits) {
				micros += int(digits[i] - '0')
			}
		}
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > tsDaysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, PyRepr(s) + " is not a real date and time"
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, micros*1000, time.UTC), ""
}

func tsDaysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FormatTimestamp is times.format_timestamp(moment) (seconds precision).
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second())
}

// formatTimestampMillis is format_timestamp(moment, millis=True).
func formatTimestampMillis(t time.Time) string {
	t = t.UTC()
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()/1000/1000)
}
