package boxoffice_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/boxoffice/boxoffice"
)

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("hold seats: %w", boxoffice.Errorf(boxoffice.CodeSeatUnavailable, "seat %d is held", 17))
	t.Run("OK", func(t *testing.T) {
		if !errors.Is(err, boxoffice.ErrSeatUnavailable) {
			t.Errorf("errors.Is(%v, ErrSeatUnavailable) = false, want true", err)
		}
	})
	t.Run("OtherCode", func(t *testing.T) {
		if errors.Is(err, boxoffice.ErrHoldExpired) {
			t.Errorf("errors.Is(%v, ErrHoldExpired) = true, want false", err)
		}
	})
}

func TestErrorCode(t *testing.T) {
	cause := errors.New("connection refused")
	tests := []struct {
		name string
		err  error
		want boxoffice.Code
	}{
		{"Nil", nil, ""},
		{"Plain", errors.New("boom"), boxoffice.CodeInternal},
		{"Wrapped", fmt.Errorf("x: %w", boxoffice.ErrNotFound), boxoffice.CodeNotFound},
		{"Unavailable", boxoffice.Unavailable("database", cause), boxoffice.CodeUnavailable},
		{"OutcomeUnknown", boxoffice.OutcomeUnknown("database", cause), boxoffice.CodeOutcomeUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := boxoffice.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
	t.Run("UnavailableKeepsCause", func(t *testing.T) {
		if err := boxoffice.Unavailable("redis", cause); !errors.Is(err, cause) {
			t.Errorf("errors.Is(%v, cause) = false, want true", err)
		}
	})
	t.Run("OutcomeUnknownKeepsCause", func(t *testing.T) {
		err := boxoffice.OutcomeUnknown("database", cause)
		if !errors.Is(err, cause) || !errors.Is(err, boxoffice.ErrOutcomeUnknown) {
			t.Errorf("errors.Is(%v, cause / ErrOutcomeUnknown) = false, want true", err)
		}
		if errors.Is(err, boxoffice.ErrUnavailable) {
			t.Errorf("errors.Is(%v, ErrUnavailable) = true, want false: UNAVAILABLE promises nothing changed", err)
		}
	})
}

func TestCheckIdempotencyKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"Empty", "", true},
		{"OK", "pay-2026-12-24-#1", true},
		{"Max", strings.Repeat("k", 128), true},
		{"ErrTooLong", strings.Repeat("k", 129), false},
		{"ErrControl", "a\tb", false},
		{"ErrNonASCII", "결제", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := boxoffice.CheckIdempotencyKey(tt.key)
			if got := err == nil; got != tt.ok {
				t.Errorf("CheckIdempotencyKey(%q) = %v, want ok=%v", tt.key, err, tt.ok)
			}
			if err != nil && !errors.Is(err, boxoffice.ErrInvalidRequest) {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, b := boxoffice.NewID(), boxoffice.NewID()
	if !boxoffice.ValidID(a) || !boxoffice.ValidID(b) {
		t.Fatalf("NewID gave invalid ids %q, %q", a, b)
	}
	if a >= b {
		t.Errorf("ids not time-ordered: %q then %q", a, b)
	}
	for _, bad := range []string{"", "17", "not-a-uuid-at-all-but-36-chars-long!", "01890a5d-ac96-774b-bcce-b302099a8057x"} {
		if boxoffice.ValidID(bad) {
			t.Errorf("ValidID(%q) = true, want false", bad)
		}
	}
}

func TestCanonID(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"Lowercase", "01890a5d-ac96-774b-bcce-b302099a8057", "01890a5d-ac96-774b-bcce-b302099a8057", true},
		{"Uppercase", "01890A5D-AC96-774B-BCCE-B302099A8057", "01890a5d-ac96-774b-bcce-b302099a8057", true},
		{"Mixed", "01890a5D-Ac96-774b-bcce-b302099a8057", "01890a5d-ac96-774b-bcce-b302099a8057", true},
		{"ErrNotAnID", "Not-An-ID", "Not-An-ID", false},
		{"ErrBraces", "{01890a5d-ac96-774b-bcce-b302099a8057}", "{01890a5d-ac96-774b-bcce-b302099a8057}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := boxoffice.CanonID(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("CanonID(%q): got %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestCodeLists holds the constants and the sentinels of error.go to
// Codes, the one list of the API's error codes: a code added in one place
// and not the others fails here.
func TestCodeLists(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "error.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var constants []boxoffice.Code
	var sentinelConsts []string // the constant each sentinel names
	byName := map[string]boxoffice.Code{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range g.Specs {
			v, ok := spec.(*ast.ValueSpec)
			if !ok || len(v.Values) != 1 {
				continue
			}
			name := v.Names[0].Name
			switch {
			case g.Tok == token.CONST && strings.HasPrefix(name, "Code"):
				lit, ok := v.Values[0].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s: want a string literal", name)
				}
				s, _ := strconv.Unquote(lit.Value)
				constants = append(constants, boxoffice.Code(s))
				byName[name] = boxoffice.Code(s)
			case g.Tok == token.VAR && strings.HasPrefix(name, "Err"):
				u, ok := v.Values[0].(*ast.UnaryExpr)
				cl, ok2 := u.X.(*ast.CompositeLit)
				if !ok || !ok2 || len(cl.Elts) != 1 {
					t.Fatalf("%s: want &Error{Code: CodeX}", name)
				}
				kv, ok := cl.Elts[0].(*ast.KeyValueExpr)
				id, ok2 := kv.Value.(*ast.Ident)
				if !ok || !ok2 {
					t.Fatalf("%s: want &Error{Code: CodeX}", name)
				}
				sentinelConsts = append(sentinelConsts, id.Name)
			}
		}
	}
	var sentinels []boxoffice.Code
	for _, name := range sentinelConsts {
		sentinels = append(sentinels, byName[name])
	}
	all := boxoffice.Codes()
	if !slices.Equal(constants, all) {
		t.Errorf("Code constants: got %v, want Codes() %v", constants, all)
	}
	// Every code has a sentinel but INTERNAL, which is matched by
	// ErrorCode rather than errors.Is.
	withSentinel := slices.DeleteFunc(slices.Clone(all), func(c boxoffice.Code) bool { return c == boxoffice.CodeInternal })
	if !slices.Equal(sentinels, withSentinel) {
		t.Errorf("sentinels' codes: got %v, want %v", sentinels, withSentinel)
	}
}
