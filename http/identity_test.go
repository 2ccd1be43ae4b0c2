package http_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/token"
)

const (
	idpIssuer   = "https://idp.example/"
	idpAudience = "boxoffice-test"
)

// withProvider accepts the JWTs of idp.
func withProvider(t *testing.T, idp *testserver.IDP) envOption {
	return func(o *boxhttp.Options) {
		p, err := token.NewProvider(context.Background(), token.ProviderConfig{
			JWKSURL: idp.URL, Issuer: idpIssuer, Audience: idpAudience, Clock: o.Clock,
		})
		if err != nil {
			t.Fatalf("NewProvider: %v", err)
		}
		o.Provider = p
	}
}

// idpToken returns a token of idp for user, valid for an hour from now.
func idpToken(t *testing.T, idp *testserver.IDP, kid, user string, now time.Time) string {
	return idp.Sign(t, kid, jwt.MapClaims{
		"iss": idpIssuer, "aud": idpAudience, "sub": user, "name": "Kim from the provider",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
}

func TestIdentityProviderUser(t *testing.T) {
	idp := testserver.StartIDP(t)
	e := newEnv(t, withProvider(t, idp))
	ctx := context.Background()
	c := e.smallPaidConcert(t)

	for i, user := range []string{"auth0|abc", "okta/00u1 x", "0190ABCD-0000-7000-8000-00000000000A"} {
		t.Run(url.PathEscape(user), func(t *testing.T) {
			tok := idpToken(t, idp, testserver.KidRSA, user, e.clock.Now())
			id, _ := boxoffice.CanonID(user)

			b, err := e.client.Balance(ctx, tok, user)
			if err != nil || b.Balance != 0 || b.UserID != id {
				t.Fatalf("balance before the first charge: got %+v, %v; want 0 of %q", b, err, id)
			}
			h, err := e.client.History(ctx, tok, user, 0, "")
			if err != nil || len(h.Entries) != 0 {
				t.Fatalf("history before the first charge: got %+v, %v; want none", h, err)
			}
			ch, err := e.client.Charge(ctx, tok, user, 200_000, "first")
			if err != nil || ch.Balance != 200_000 {
				t.Fatalf("first charge: got %+v, %v; want balance 200000", ch, err)
			}
			if b, err := e.client.Balance(ctx, tok, id); err != nil || b.Balance != 200_000 {
				t.Fatalf("balance after the charge: got %+v, %v", b, err)
			}

			f := &fan{id: id, access: tok}
			e.join(t, f, c.ConcertID)
			e.admit()
			r := e.hold(t, f, c.ConcertID, day1, i+1)
			if r.UserID != id {
				t.Errorf("reservation's user: got %q, want %q", r.UserID, id)
			}
			p, err := e.client.Pay(ctx, tok, f.queue, r.ReservationID, "")
			if err != nil || p.Balance != 200_000-r.Amount {
				t.Fatalf("pay: got %+v, %v", p, err)
			}
			got, err := e.client.Reservation(ctx, tok, r.ReservationID)
			if err != nil || got.Status != "PAID" {
				t.Fatalf("reservation: got %+v, %v; want PAID", got, err)
			}
			h, err = e.client.History(ctx, tok, user, 0, "")
			if err != nil || len(h.Entries) != 2 {
				t.Fatalf("history: got %+v, %v; want 2 entries", h, err)
			}
			// Another user's path is someone else's.
			_, err = e.client.Balance(ctx, tok, "auth0|someone-else")
			wantCode(t, err, 403, boxoffice.CodeForbidden)
		})
	}

	t.Run("AlongsideAccessTokens", func(t *testing.T) {
		f := e.fan(t, "Lee", 1000)
		b, err := e.client.Balance(ctx, f.access, f.id)
		if err != nil || b.Balance != 1000 {
			t.Fatalf("native user: got %+v, %v", b, err)
		}
		tok := idpToken(t, idp, testserver.KidEd, "auth0|lee", e.clock.Now())
		_, err = e.client.Balance(ctx, tok, f.id)
		wantCode(t, err, 403, boxoffice.CodeForbidden)
		_, err = e.client.Balance(ctx, f.access, "auth0|lee")
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})

	t.Run("ErrUnauthenticated", func(t *testing.T) {
		expired := idpToken(t, idp, testserver.KidEC, "auth0|abc", e.clock.Now().Add(-2*time.Hour))
		for name, tok := range map[string]string{
			"Expired":     expired,
			"Tampered":    expired[:len(expired)-4] + "AAAA",
			"OtherIssuer": idp.Sign(t, testserver.KidEC, jwt.MapClaims{"iss": "https://evil.example/", "aud": idpAudience, "sub": "x", "exp": e.clock.Now().Add(time.Hour).Unix()}),
			"LongUserID":  idpToken(t, idp, testserver.KidEC, strings.Repeat("x", 129), e.clock.Now()),
			"ControlChar": idpToken(t, idp, testserver.KidEC, "auth0|a\tb", e.clock.Now()),
		} {
			a := e.do(t, "GET", "/v1/users/auth0%7Cabc/balance", "", "Authorization", bearer(tok))
			if wantProblem(t, a, 401, boxoffice.CodeUnauthenticated); t.Failed() {
				t.Logf("case %s", name)
			}
		}
	})
}

func TestIdentityProviderOff(t *testing.T) {
	idp := testserver.StartIDP(t)
	e := newEnv(t)
	tok := idpToken(t, idp, testserver.KidRSA, "auth0|abc", e.clock.Now())
	a := e.do(t, "GET", "/v1/users/auth0%7Cabc/balance", "", "Authorization", bearer(tok))
	wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
	if idp.Fetches() != 0 {
		t.Errorf("got %d fetches of the JWKS without a provider, want 0", idp.Fetches())
	}
}

func TestSignupOff(t *testing.T) {
	e := newEnv(t, func(o *boxhttp.Options) { o.NoSignup = true })
	a := e.do(t, "POST", "/v1/users", `{"name": "Kim"}`)
	wantProblem(t, a, 404, boxoffice.CodeNotFound)
}

// smallPaidConcert is smallConcert with seats at 10,000 won.
func (e *env) smallPaidConcert(t *testing.T) boxhttp.Concert {
	t.Helper()
	s := spec()
	s.Dates = s.Dates[:1]
	s.Grades = []boxhttp.Grade{{Name: "R", Seats: "1-50", Price: 10_000}}
	return e.concert(t, s)
}
