package token_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/token"
)

const (
	powConcert = "01970000-0000-7000-8000-000000000001"
	powUser    = "01970000-0000-7000-8000-0000000000aa"
)

var powNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func powSigner(t testing.TB, secret string) *token.Signer {
	t.Helper()
	s, err := token.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// solved returns a challenge for powUser in powConcert and its number.
func solved(t *testing.T, s *token.Signer, max int64, expires time.Time) (token.Challenge, int64) {
	t.Helper()
	c := s.Challenge(powConcert, powUser, max, expires)
	n, ok := token.Solve(context.Background(), c)
	if !ok {
		t.Fatalf("Solve(%+v): no number in 0..%d", c, max)
	}
	return c, n
}

// The challenge is ALTCHA's: what a client that knows only the format
// computes agrees with it.
func TestChallengeFormat(t *testing.T) {
	s := powSigner(t, "0123456789abcdef-secret")
	c, n := solved(t, s, 1000, powNow.Add(token.ChallengeTTL))
	if c.Algorithm != "SHA-256" || c.MaxNumber != 1000 || n < 0 || n > 1000 {
		t.Fatalf("challenge %+v solved by %d", c, n)
	}
	sum := sha256.Sum256([]byte(c.Salt + strconv.FormatInt(n, 10)))
	if hex.EncodeToString(sum[:]) != c.Challenge {
		t.Errorf("challenge: got %s, want hex SHA-256(salt + %d)", c.Challenge, n)
	}
	if len(c.Signature) != 64 {
		t.Errorf("signature: got %q, want 64 hex digits", c.Signature)
	}
	random, query, ok := strings.Cut(c.Salt, "?")
	if !ok || len(random) != 24 || !strings.HasSuffix(c.Salt, "&") {
		t.Fatalf("salt %q: want <24 hex>?params&", c.Salt)
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	if got := params.Get("expires"); got != strconv.FormatInt(powNow.Add(token.ChallengeTTL).Unix(), 10) {
		t.Errorf("salt expires: got %q, want the expiry in unix seconds", got)
	}
	if got := params.Get("concert"); got != powConcert {
		t.Errorf("salt concert: got %q, want %s", got, powConcert)
	}
	if got := params.Get("user"); len(got) != 32 || strings.Contains(c.Salt, powUser) {
		t.Errorf("salt user: got %q, want a 32-hex digest and no user id in the salt", got)
	}
	// A widget's payload carries more fields (took, test): they are ignored.
	payload, _ := json.Marshal(map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "number": n,
		"salt": c.Salt, "signature": c.Signature, "took": 12})
	p, err := s.VerifyProof(base64.StdEncoding.EncodeToString(payload), powConcert, powUser, powNow)
	if err != nil {
		t.Fatalf("VerifyProof of the widget's payload: %v", err)
	}
	if p.Challenge != c.Challenge || p.ConcertID != powConcert || !p.Expires.Equal(powNow.Add(token.ChallengeTTL)) {
		t.Errorf("proof: got %+v", p)
	}
	if p2, err := s.VerifyProof(token.EncodeProof(c, n), powConcert, powUser, powNow); err != nil || p2 != p {
		t.Errorf("VerifyProof(EncodeProof): got %+v, %v, want %+v", p2, err, p)
	}
}

func TestChallengeNumbersSpread(t *testing.T) {
	s := powSigner(t, "0123456789abcdef-secret")
	seen := map[int64]bool{}
	for range 50 {
		_, n := solved(t, s, 1000, powNow.Add(time.Minute))
		seen[n] = true
	}
	if len(seen) < 40 {
		t.Errorf("50 challenges had %d distinct numbers, want them spread over 0..1000", len(seen))
	}
}

func TestVerifyProof(t *testing.T) {
	s := powSigner(t, "0123456789abcdef-secret")
	expires := powNow.Add(token.ChallengeTTL)
	c, n := solved(t, s, 2000, expires)
	good := token.EncodeProof(c, n)
	encode := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.StdEncoding.EncodeToString(b)
	}
	fields := func(change func(m map[string]any)) string {
		m := map[string]any{"algorithm": c.Algorithm, "challenge": c.Challenge, "number": n, "salt": c.Salt, "signature": c.Signature}
		change(m)
		return encode(m)
	}
	// resigned is c with its salt changed and a challenge and signature
	// made for the new salt with another key: what a forger can do.
	resigned := func(salt string) string {
		sum := sha256.Sum256([]byte(salt + strconv.FormatInt(n, 10)))
		ch := hex.EncodeToString(sum[:])
		m := hmac.New(sha256.New, []byte("guessed key"))
		m.Write([]byte(ch))
		return fields(func(f map[string]any) {
			f["salt"], f["challenge"], f["signature"] = salt, ch, hex.EncodeToString(m.Sum(nil))
		})
	}
	other := powSigner(t, "another-secret-of-16")
	oc, on := func() (token.Challenge, int64) {
		c := other.Challenge(powConcert, powUser, 1000, expires)
		n, _ := token.Solve(context.Background(), c)
		return c, n
	}()

	t.Run("OK", func(t *testing.T) {
		if _, err := s.VerifyProof(good, powConcert, powUser, powNow); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyProof(good, powConcert, powUser, expires.Add(-time.Nanosecond)); err != nil {
			t.Errorf("1ns before expiry: %v", err)
		}
	})
	for _, tt := range []struct {
		name, header, concert, user string
		at                          time.Time
		detail                      string
	}{
		{"TooLong", strings.Repeat("A", token.MaxProofLen+1), powConcert, powUser, powNow, "at most"},
		{"NotBase64", "not base64!", powConcert, powUser, powNow, "base64"},
		{"NotJSON", base64.StdEncoding.EncodeToString([]byte("{")), powConcert, powUser, powNow, "JSON object"},
		{"NoNumber", fields(func(m map[string]any) { delete(m, "number") }), powConcert, powUser, powNow, "JSON object"},
		{"NumberNotInteger", fields(func(m map[string]any) { m["number"] = 1.5 }), powConcert, powUser, powNow, "JSON object"},
		{"NumberNegative", fields(func(m map[string]any) { m["number"] = -1 }), powConcert, powUser, powNow, "JSON object"},
		{"NumberAsString", fields(func(m map[string]any) { m["number"] = strconv.FormatInt(n, 10) }), powConcert, powUser, powNow, "JSON object"},
		{"NoSignature", fields(func(m map[string]any) { delete(m, "signature") }), powConcert, powUser, powNow, "JSON object"},
		{"Algorithm", fields(func(m map[string]any) { m["algorithm"] = "SHA-1" }), powConcert, powUser, powNow, "SHA-256"},
		{"SaltNotOurs", resigned("abcdef0123456789abcdef01"), powConcert, powUser, powNow, "salt"},
		{"SaltWithoutClosingAmpersand", resigned(strings.TrimSuffix(c.Salt, "&")), powConcert, powUser, powNow, "salt"},
		{"SaltExtraParam", resigned(c.Salt + "x=1&"), powConcert, powUser, powNow, "salt"},
		{"SaltLaterExpiry", resigned(strings.Replace(c.Salt, "expires="+strconv.FormatInt(expires.Unix(), 10), "expires=9999999999", 1)), powConcert, powUser, powNow, "signature"},
		{"Expired", good, powConcert, powUser, expires, "expired"},
		{"OtherConcert", good, "01970000-0000-7000-8000-000000000002", powUser, powNow, "another concert"},
		{"OtherUser", good, powConcert, "01970000-0000-7000-8000-0000000000bb", powNow, "another user"},
		{"OtherKey", token.EncodeProof(oc, on), powConcert, powUser, powNow, "signature"},
		{"SignatureNotHex", fields(func(m map[string]any) { m["signature"] = strings.Repeat("z", 64) }), powConcert, powUser, powNow, "signature"},
		{"ChallengeChanged", fields(func(m map[string]any) { m["challenge"] = strings.Repeat("0", 64) }), powConcert, powUser, powNow, "does not solve"},
		{"WrongNumber", token.EncodeProof(c, n+1), powConcert, powUser, powNow, "does not solve"},
		// The digits of the number cannot move into the salt.
		{"NumberMovedIntoSalt", fields(func(m map[string]any) {
			m["salt"], m["number"] = c.Salt+strconv.FormatInt(n, 10)[:1], 0
		}), powConcert, powUser, powNow, "salt"},
	} {
		t.Run("ErrProofInvalid/"+tt.name, func(t *testing.T) {
			_, err := s.VerifyProof(tt.header, tt.concert, tt.user, tt.at)
			if !errors.Is(err, boxoffice.ErrProofInvalid) {
				t.Fatalf("got %v, want PROOF_INVALID", err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("got %q, want a detail saying %q", err, tt.detail)
			}
		})
	}
}

func TestSolve(t *testing.T) {
	s := powSigner(t, "0123456789abcdef-secret")
	t.Run("Unsolvable", func(t *testing.T) {
		c := s.Challenge(powConcert, powUser, 1000, powNow)
		c.Challenge = strings.Repeat("ab", 32)
		if n, ok := token.Solve(context.Background(), c); ok {
			t.Errorf("got %d, want no solution", n)
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := s.Challenge(powConcert, powUser, 1000, powNow)
		if n, ok := token.Solve(ctx, c); ok {
			t.Errorf("got %d, want no solution after cancellation", n)
		}
	})
}

// BenchmarkVerifyProof is the cost of rejecting a well-formed proof with a
// forged signature and of accepting a good one.
func BenchmarkVerifyProof(b *testing.B) {
	s := powSigner(b, "0123456789abcdef-secret")
	c := s.Challenge(powConcert, powUser, 1000, powNow.Add(time.Minute))
	n, _ := token.Solve(context.Background(), c)
	b.Run("Good", func(b *testing.B) {
		h := token.EncodeProof(c, n)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.VerifyProof(h, powConcert, powUser, powNow); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Forged", func(b *testing.B) {
		f := c
		f.Signature = strings.Repeat("00", 32)
		h := token.EncodeProof(f, n)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.VerifyProof(h, powConcert, powUser, powNow); err == nil {
				b.Fatal("forged proof accepted")
			}
		}
	})
}
