package boxoffice

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextLen is the most characters of a free-text field of the API: a
// user's name, a concert's title and venue, a grade's name.
const MaxTextLen = 200

// CheckText checks s, the value of the free-text field named field (its
// name in the API, e.g. "title"), and returns it without surrounding
// spaces. The text must be valid UTF-8 of 1..MaxTextLen characters with no
// control character (C0, DEL, C1), no bidirectional override or isolate
// (U+202A–U+202E, U+2066–U+2069), no zero-width character (U+200B–U+200D,
// U+2060, U+FEFF), no line or paragraph separator and no replacement
// character U+FFFD (what a decoder leaves of invalid UTF-8).
// Errors: INVALID_REQUEST naming field.
func CheckText(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(CodeInvalidRequest, "%s must be valid UTF-8 text", field)
	}
	for _, r := range s {
		if r == utf8.RuneError {
			return "", Errorf(CodeInvalidRequest, "%s must be valid UTF-8 text: U+FFFD, the mark of an invalid byte, is refused", field)
		}
		if forbidden(r) {
			return "", Errorf(CodeInvalidRequest, "%s must not contain the control or invisible character %U", field, r)
		}
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n == 0 || n > MaxTextLen {
		return "", Errorf(CodeInvalidRequest, "%s must have 1 to %d characters", field, MaxTextLen)
	}
	return s, nil
}

// forbidden reports whether r may not appear in free text.
func forbidden(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0, DEL and C1
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069: // bidi overrides and isolates
		return true
	case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF: // zero-width
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
