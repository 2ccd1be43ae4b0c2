package token_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/token"
)

const (
	testIssuer   = "https://idp.example/"
	testAudience = "boxoffice"
)

var idpNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func newProvider(t *testing.T, idp *testserver.IDP, claim string) (*token.Provider, *boxoffice.ManualClock) {
	t.Helper()
	clock := boxoffice.NewManualClock(idpNow)
	p, err := token.NewProvider(context.Background(), token.ProviderConfig{
		JWKSURL: idp.URL, Issuer: testIssuer, Audience: testAudience, UserClaim: claim, Clock: clock,
	})
	if err != nil {
		t.Fatalf("NewProvider: %v", err)
	}
	return p, clock
}

// claims returns valid claims at idpNow, changed by edit.
func claims(edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "auth0|abc", "name": "Kim",
		"iat": idpNow.Unix(), "exp": idpNow.Add(time.Hour).Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

func TestProviderVerify(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, _ := newProvider(t, idp, "")
	ctx := context.Background()

	rsaPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(idp.RSAPublicKey())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	hs256 := func(secret []byte) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header["kid"] = testserver.KidRSA
		s, err := tok.SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"] = testserver.KidRSA
		s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	der, _ := x509.MarshalPKIXPublicKey(idp.RSAPublicKey())

	tests := []struct {
		name string
		tok  string
		user string // "" = UNAUTHENTICATED
	}{
		{"OK/RS256", idp.Sign(t, testserver.KidRSA, claims(nil)), "auth0|abc"},
		{"OK/ES256", idp.Sign(t, testserver.KidEC, claims(nil)), "auth0|abc"},
		{"OK/EdDSA", idp.Sign(t, testserver.KidEd, claims(nil)), "auth0|abc"},
		{"OK/AudienceList", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} })), "auth0|abc"},
		{"OK/ExpiredWithinLeeway", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["exp"] = idpNow.Add(-29 * time.Second).Unix() })), "auth0|abc"},
		{"OK/NotBeforeWithinLeeway", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["nbf"] = idpNow.Add(29 * time.Second).Unix() })), "auth0|abc"},
		{"OK/UserIDOf128", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("x", 128) })), strings.Repeat("x", 128)},
		{"OK/UUIDInCanonicalForm", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = "0190ABCD-0000-7000-8000-00000000000A" })), "0190abcd-0000-7000-8000-00000000000a"},
		{"ErrWrongIssuer", idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example/" })), ""},
		{"ErrNoIssuer", idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { delete(c, "iss") })), ""},
		{"ErrWrongAudience", idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["aud"] = "other" })), ""},
		{"ErrNoAudience", idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { delete(c, "aud") })), ""},
		{"ErrExpired", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["exp"] = idpNow.Add(-31 * time.Second).Unix() })), ""},
		{"ErrNotYetValid", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["nbf"] = idpNow.Add(31 * time.Second).Unix() })), ""},
		{"ErrMissingExp", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { delete(c, "exp") })), ""},
		{"ErrAlgNone", none(), ""},
		{"ErrHS256WithPublicKeyPEM", hs256(rsaPEM), ""},
		{"ErrHS256WithPublicKeyDER", hs256(der), ""},
		{"ErrUnknownKid", idp.SignHeader(t, testserver.KidEC, map[string]any{"kid": "missing"}, claims(nil)), ""},
		{"ErrNoUserID", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { delete(c, "sub") })), ""},
		{"ErrEmptyUserID", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = "" })), ""},
		{"ErrUserIDTooLong", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("x", 129) })), ""},
		{"ErrUserIDNotPrintable", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = "a\x01b" })), ""},
		{"ErrUserIDNotASCII", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = "kim\u00e9" })), ""},
		{"ErrUserIDNotString", idp.Sign(t, testserver.KidEC, claims(func(c jwt.MapClaims) { c["sub"] = 42 })), ""},
		{"ErrTampered", tamper(idp.Sign(t, testserver.KidRSA, claims(nil))), ""},
		{"ErrAccessTokenShape", "abc.def", ""},
		{"ErrGarbage", "a.b.c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := p.Verify(ctx, tt.tok)
			if tt.user == "" {
				if boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
					t.Fatalf("got %+v, %v; want UNAUTHENTICATED", s, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want user %q", err, tt.user)
			}
			if s.UserID != tt.user {
				t.Errorf("got user %q, want %q", s.UserID, tt.user)
			}
			if s.Name != "Kim" {
				t.Errorf("got name %q, want Kim", s.Name)
			}
		})
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	c := []byte(parts[1])
	c[len(c)/2] ^= 1
	parts[1] = string(c)
	return strings.Join(parts, ".")
}

func TestProviderUserClaim(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, _ := newProvider(t, idp, "uid")
	s, err := p.Verify(context.Background(), idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["uid"] = "fan-7" })))
	if err != nil || s.UserID != "fan-7" {
		t.Fatalf("got %+v, %v; want user fan-7", s, err)
	}
	_, err = p.Verify(context.Background(), idp.Sign(t, testserver.KidRSA, claims(nil)))
	if boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
		t.Fatalf("without the claim: got %v, want UNAUTHENTICATED", err)
	}
}

func TestProviderRotation(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, clock := newProvider(t, idp, "")
	ctx := context.Background()
	idp.Rotate(t, testserver.KidEC, "ec-2")

	clock.Advance(time.Second) // within the floor of the first fetch
	if _, err := p.Verify(ctx, idp.Sign(t, "ec-2", claims(nil))); boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
		t.Fatalf("new kid within the floor: got %v, want UNAUTHENTICATED", err)
	}
	if got := idp.Fetches(); got != 1 {
		t.Fatalf("got %d fetches within the floor, want 1", got)
	}
	clock.Advance(token.DefaultRefreshFloor)
	if _, err := p.Verify(ctx, idp.Sign(t, "ec-2", claims(nil))); err != nil {
		t.Fatalf("new kid after the floor: %v", err)
	}
	if _, err := p.Verify(ctx, idp.Sign(t, testserver.KidEC, claims(nil))); err != nil {
		t.Fatalf("old kid, still published: %v", err)
	}
	if got := idp.Fetches(); got != 2 {
		t.Fatalf("got %d fetches, want 2", got)
	}
}

func TestProviderUnknownKidFlood(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, clock := newProvider(t, idp, "")
	ctx := context.Background()
	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				tok := idp.SignHeader(t, testserver.KidEC, map[string]any{"kid": fmt.Sprint("random-", i)}, claims(nil))
				if _, err := p.Verify(ctx, tok); boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
					t.Errorf("unknown kid: got %v, want UNAUTHENTICATED", err)
				}
			})
		}
		wg.Wait()
	}
	flood()
	if got := idp.Fetches(); got != 1 {
		t.Fatalf("flood within the floor: got %d fetches, want 1 (the start's)", got)
	}
	clock.Advance(token.DefaultRefreshFloor)
	flood()
	if got := idp.Fetches(); got != 2 {
		t.Fatalf("flood after the floor: got %d fetches, want 2", got)
	}
	if _, err := p.Verify(ctx, idp.Sign(t, testserver.KidRSA, claims(nil))); err != nil {
		t.Fatalf("a genuine token after the flood: %v", err)
	}
}

func TestProviderPeriodicRefresh(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, clock := newProvider(t, idp, "")
	ctx := context.Background()
	tok := func() string {
		return idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(time.Hour).Unix() }))
	}
	clock.Advance(token.DefaultRefreshInterval - time.Second)
	if _, err := p.Verify(ctx, tok()); err != nil {
		t.Fatal(err)
	}
	if got := idp.Fetches(); got != 1 {
		t.Fatalf("before the interval: got %d fetches, want 1", got)
	}
	clock.Advance(time.Second)
	if _, err := p.Verify(ctx, tok()); err != nil {
		t.Fatal(err)
	}
	if got := idp.Fetches(); got != 2 {
		t.Fatalf("after the interval: got %d fetches, want 2", got)
	}
	// A provider that is down keeps the keys it had.
	idp.SetDown(true)
	clock.Advance(token.DefaultRefreshInterval)
	if _, err := p.Verify(ctx, tok()); err != nil {
		t.Fatalf("with the provider down: %v", err)
	}
	if got := idp.Fetches(); got != 3 {
		t.Fatalf("with the provider down: got %d fetches, want 3", got)
	}
}

func TestProviderRemembersTokens(t *testing.T) {
	idp := testserver.StartIDP(t)
	p, clock := newProvider(t, idp, "")
	ctx := context.Background()
	tok := idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["exp"] = idpNow.Add(time.Minute).Unix() }))
	for range 2 {
		if s, err := p.Verify(ctx, tok); err != nil || s.UserID != "auth0|abc" {
			t.Fatalf("got %+v, %v", s, err)
		}
	}
	t.Run("ErrExpired", func(t *testing.T) {
		clock.Set(idpNow.Add(time.Minute + token.DefaultLeeway - time.Second))
		if _, err := p.Verify(ctx, tok); err != nil {
			t.Fatalf("within the leeway: %v", err)
		}
		clock.Set(idpNow.Add(time.Minute + token.DefaultLeeway))
		if _, err := p.Verify(ctx, tok); boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
			t.Fatalf("expired: got %v, want UNAUTHENTICATED", err)
		}
	})
	t.Run("ErrKeyRemoved", func(t *testing.T) {
		clock.Set(idpNow)
		tok := idp.Sign(t, testserver.KidEd, claims(nil))
		if _, err := p.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		idp.Remove(testserver.KidEd)
		clock.Set(idpNow.Add(token.DefaultRefreshInterval))
		if _, err := p.Verify(ctx, tok); boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
			t.Fatalf("key removed by the provider: got %v, want UNAUTHENTICATED", err)
		}
	})
}

func TestProviderStartsWithoutKeys(t *testing.T) {
	idp := testserver.StartIDP(t)
	idp.SetDown(true)
	clock := boxoffice.NewManualClock(idpNow)
	p, err := token.NewProvider(context.Background(), token.ProviderConfig{
		JWKSURL: idp.URL, Issuer: testIssuer, Audience: testAudience, Clock: clock,
	})
	if err == nil || p == nil {
		t.Fatalf("got %v, %v; want a provider and the fetch's error", p, err)
	}
	ctx := context.Background()
	if _, err := p.Verify(ctx, idp.Sign(t, testserver.KidRSA, claims(nil))); boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
		t.Fatalf("without keys: got %v, want UNAUTHENTICATED", err)
	}
	idp.SetDown(false)
	clock.Advance(token.DefaultRefreshFloor)
	if _, err := p.Verify(ctx, idp.Sign(t, testserver.KidRSA, claims(func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(time.Hour).Unix() }))); err != nil {
		t.Fatalf("once the provider is back: %v", err)
	}
}

func TestProviderConfig(t *testing.T) {
	_, err := token.NewProvider(context.Background(), token.ProviderConfig{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: testIssuer})
	if err == nil {
		t.Fatal("got no error without an audience")
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for tok, want := range map[string]bool{"a.b.c": true, "a.b": false, "ab": false, "a.b.c.d": false, "..": true} {
		if got := token.LooksLikeJWT(tok); got != want {
			t.Errorf("LooksLikeJWT(%q): got %v, want %v", tok, got, want)
		}
	}
}

// BenchmarkVerifyAccessOfJWT is what a provider's token costs to be found
// not to be an access token, which the bearer check tries first.
func BenchmarkVerifyAccessOfJWT(b *testing.B) {
	s, err := token.NewSigner([]byte("0123456789abcdef-bench-secret"))
	if err != nil {
		b.Fatal(err)
	}
	idp := testserver.StartIDP(b)
	for _, kid := range []string{testserver.KidRSA, testserver.KidEC} {
		tok := idp.Sign(b, kid, claims(nil))
		b.Run(kid, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.VerifyAccess(tok, idpNow); err == nil {
					b.Fatal("a JWT passed for an access token")
				}
			}
		})
	}
}
