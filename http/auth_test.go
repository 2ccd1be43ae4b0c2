package http

import "testing"

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name, header, want string
		ok                 bool
	}{
		{"OK", "Bearer abc.def", "abc.def", true},
		{"SchemeCaseInsensitive", "bearer abc.def", "abc.def", true},
		{"UpperScheme", "BEARER abc", "abc", true},
		{"ExtraSpaces", "Bearer   abc  ", "abc", true},
		{"Empty", "", "", false},
		{"SchemeOnly", "Bearer", "", false},
		{"SchemeAndSpace", "Bearer ", "", false},
		{"Spaces", "Bearer    ", "", false},
		{"Basic", "Basic dXNlcjpwYXNz", "", false},
		{"NoSpace", "Bearerabc", "", false},
		{"TwoTokens", "Bearer abc def", "", false},
		{"Tab", "Bearer abc\tdef", "", false},
		{"TokenOnly", "abc.def", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := bearerToken(tt.header)
			if got != tt.want || ok != tt.ok {
				t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
			}
		})
	}
}
