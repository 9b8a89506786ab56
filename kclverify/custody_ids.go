package main

// Port of ledger/custody/ids.py: scannable identifiers — an alphabet without
// look-alikes and a Luhn mod-30 check character (format §13.2).
//
// A seal id is <series: 2 letters><number: 7 digits><check>, e.g.
// KC0001237H; batches are consecutive numbers of one series.

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// ALPHABET leaves out I, L, O, U (confused with 1, 1, 0, V) and Y, Z
// (swapped by keyboard-wedge scanners on a German layout).
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWX"

// custodyIdBase, custodyIdLetters: Python's private _BASE and _LETTERS.
const custodyIdBase = len(ALPHABET)
const custodyIdLetters = "ABCDEFGHJKMNPQRSTVWX"

// SEAL_ID_PATTERN is Python's ids.SEAL_ID regex. It is renamed because
// common.py's SEAL_ID (the data validator, SealIdField) takes the Go name
// SEAL_ID in this package.
var SEAL_ID_PATTERN = FullMatch(`[` + custodyIdLetters + `]{2}[0-9]{7}[` + ALPHABET + `]`)

const SEAL_NUMBER_MAX = 9_999_999

// custodyIdValue is Python's _VALUE: the position of an ASCII character in
// ALPHABET, or -1.
var custodyIdValue = func() [128]int {
	var v [128]int
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(ALPHABET); i++ {
		v[ALPHABET[i]] = i
	}
	return v
}()

func custodyIdValueOf(ch rune) int {
	if ch < 0 || ch >= 128 {
		return -1
	}
	return custodyIdValue[ch]
}

// checkCharacter is the Luhn mod-30 check character for payload (characters
// of ALPHABET); input.identifier for any other character.
func checkCharacter(payload string) (string, error) {
	total, factor := 0, 2
	// Python iterates reversed(payload) by code point.
	for i := len(payload); i > 0; {
		ch, size := rune(payload[i-1]), 1
		if ch >= utf8.RuneSelf {
			ch, size = utf8.DecodeLastRuneInString(payload[:i])
		}
		i -= size
		value := custodyIdValueOf(ch)
		if value < 0 {
			return "", Errf("input.identifier", "%s is not in the id alphabet", pyStr(string(ch)))
		}
		addend := factor * value
		total += addend/custodyIdBase + addend%custodyIdBase
		factor = 3 - factor
	}
	m := (-total) % custodyIdBase
	if m < 0 {
		m += custodyIdBase
	}
	return ALPHABET[m : m+1], nil
}

func hasValidCheck(identifier string) bool {
	if utf8.RuneCountInString(identifier) < 2 {
		return false
	}
	for _, ch := range identifier {
		if custodyIdValueOf(ch) < 0 {
			return false
		}
	}
	// Every character is ASCII here: byte slicing is code-point slicing.
	check, err := checkCharacter(identifier[:len(identifier)-1])
	return err == nil && check == identifier[len(identifier)-1:]
}

// sealId is Python's seal_id(series, number).
func sealId(series string, number int64) (string, error) {
	ok := utf8.RuneCountInString(series) == 2
	for _, ch := range series {
		if !strings.ContainsRune(custodyIdLetters, ch) {
			ok = false
		}
	}
	if !ok {
		return "", Errf("input.identifier", "seal series %s must be two letters of %s", pyStr(series), custodyIdLetters)
	}
	if !(0 <= number && number <= SEAL_NUMBER_MAX) {
		return "", Errf("input.identifier", "seal number %d out of range", number)
	}
	// f"{series}{number:07d}" + check character; series is two ASCII letters.
	var buf [10]byte
	copy(buf[:2], series)
	for i, n := 8, number; i >= 2; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	check, err := checkCharacter(string(buf[:9]))
	if err != nil {
		return "", err
	}
	buf[9] = check[0]
	return string(buf[:]), nil
}

// parseSealId validates a seal id (format and check character) and returns
// (series, number).
func parseSealId(identifier string) (string, int64, error) {
	if !SEAL_ID_PATTERN.MatchString(identifier) {
		return "", 0, Errf("input.identifier", "%s is not a seal id (two letters, 7 digits, check character)", pyStr(identifier))
	}
	if !hasValidCheck(identifier) {
		return "", 0, Errf("input.identifier", "%s: check character does not match", pyStr(identifier))
	}
	number, _ := strconv.ParseInt(identifier[2:9], 10, 64)
	return identifier[:2], number, nil
}

// formatSealId is the human display in groups: "KC 000 0123 7".
// (Python slices code points; a seal id is ASCII. Shorter strings are cut
// like Python slices would be.)
func formatSealId(identifier string) string {
	r := []rune(identifier)
	part := func(from, to int) string {
		if from > len(r) {
			from = len(r)
		}
		if to < 0 || to > len(r) {
			to = len(r)
		}
		return string(r[from:to])
	}
	return part(0, 2) + " " + part(2, 5) + " " + part(5, 9) + " " + part(9, -1)
}
