package boxoffice_test

import (
	"strings"
	"testing"

	"github.com/boxoffice/boxoffice"
)

func TestCheckText(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"OK", "Kim", "Kim", true},
		{"OKTrimmed", "  Olympic Hall ", "Olympic Hall", true},
		{"OKInnerSpaces", "Winter  Concert", "Winter  Concert", true},
		{"OKHangul200", strings.Repeat("한", 200), strings.Repeat("한", 200), true},
		{"OKEmoji", "BTS 💜", "BTS 💜", true},
		{"OKArabic", "مرحبا", "مرحبا", true},
		{"ErrEmpty", "", "", false},
		{"ErrOnlySpaces", "   ", "", false},
		{"ErrTooLong", strings.Repeat("a", 201), "", false},
		{"ErrHangul201", strings.Repeat("한", 201), "", false},
		{"ErrNUL", "Kim\x00", "", false},
		{"ErrESC", "\x1b[31mKim", "", false},
		{"ErrTab", "Kim\tLee", "", false},
		{"ErrNewline", "Kim\n", "", false},
		{"ErrDEL", "Kim\x7f", "", false},
		{"ErrC1", "Kim\u0085", "", false},
		{"ErrCSI", "Kim\u009b31m", "", false},
		{"ErrRLO", "Kim\u202egpj.exe", "", false},
		{"ErrLRE", "\u202aKim", "", false},
		{"ErrFSI", "Kim\u2068", "", false},
		{"ErrPDI", "Kim\u2069", "", false},
		{"ErrZWSP", "K\u200bim", "", false},
		{"ErrZWJ", "K\u200dim", "", false},
		{"ErrWordJoiner", "K\u2060im", "", false},
		{"ErrBOM", "\ufeffKim", "", false},
		{"ErrLineSeparator", "Kim\u2028Lee", "", false},
		{"ErrInvalidUTF8", "Kim\xff", "", false},
		{"ErrTruncatedUTF8", "Kim\xed\x95", "", false},
		{"ErrReplacement", "Kim\ufffd", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := boxoffice.CheckText("title", tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("got %q, %v; want %q, nil", got, err, tt.want)
				}
				return
			}
			if boxoffice.ErrorCode(err) != boxoffice.CodeInvalidRequest {
				t.Fatalf("got %q, %v; want INVALID_REQUEST", got, err)
			}
			if !strings.Contains(err.Error(), "title") {
				t.Errorf("got %q; want the message to name the field title", err)
			}
		})
	}
}
