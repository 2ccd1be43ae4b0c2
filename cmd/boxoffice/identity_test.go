package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
)

func TestLoadConfigIdentityProvider(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	t.Run("Defaults", func(t *testing.T) {
		c, err := LoadConfig("serve", nil, env())
		if err != nil || c.JWKSURL != "" || c.JWTUserClaim != "sub" || !c.Signup {
			t.Errorf("got %+v, %v; want no JWKS, claim sub, signup on", c, err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		c, err := LoadConfig("serve", []string{"-jwt-user-claim", "uid", "-signup=false"}, env(
			"BOXOFFICE_JWKS_URL", "https://idp.example/.well-known/jwks.json",
			"BOXOFFICE_JWT_ISSUER", "https://idp.example/",
			"BOXOFFICE_JWT_AUDIENCE", "boxoffice",
		))
		if err != nil || c.JWTUserClaim != "uid" || c.Signup || c.JWTIssuer != "https://idp.example/" || c.JWTAudience != "boxoffice" {
			t.Fatalf("got %+v, %v", c, err)
		}
		if s := c.String(); !strings.Contains(s, "jwt_issuer=") || !strings.Contains(s, "signup=false") {
			t.Errorf("String: got %s", s)
		}
	})
	for name, kv := range map[string][]string{
		"NoIssuer":        {"BOXOFFICE_JWKS_URL", "https://idp.example/jwks", "BOXOFFICE_JWT_AUDIENCE", "a"},
		"NoAudience":      {"BOXOFFICE_JWKS_URL", "https://idp.example/jwks", "BOXOFFICE_JWT_ISSUER", "i"},
		"NotAURL":         {"BOXOFFICE_JWKS_URL", "idp.example/jwks", "BOXOFFICE_JWT_ISSUER", "i", "BOXOFFICE_JWT_AUDIENCE", "a"},
		"IssuerWithoutIt": {"BOXOFFICE_JWT_ISSUER", "i"},
		"BadSignup":       {"BOXOFFICE_SIGNUP", "maybe"},
	} {
		t.Run("Err"+name, func(t *testing.T) {
			if _, err := LoadConfig("serve", nil, env(kv...)); err == nil {
				t.Error("got no error")
			}
		})
	}
}

// TestEndToEndIdentityProvider has a user of the operator's identity
// provider charge, join, hold and pay through the real wiring, once per
// mode, with sign-up turned off.
func TestEndToEndIdentityProvider(t *testing.T) {
	idp := testserver.StartIDP(t)
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			cfg := md.config(t)
			cfg.JWKSURL, cfg.JWTIssuer, cfg.JWTAudience = idp.URL, "https://idp.example/", "boxoffice"
			cfg.Signup = false
			m := startMain(t, cfg, nil)
			ctx := context.Background()
			c := testClient(t, m.URL())

			if _, err := c.CreateUser(ctx, "Kim"); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
				t.Fatalf("sign-up turned off: got %v, want NOT_FOUND", err)
			}
			user := "auth0|" + randomHex(6)
			tok := idp.Sign(t, testserver.KidEC, jwt.MapClaims{
				"iss": "https://idp.example/", "aud": "boxoffice", "sub": user,
				"exp": time.Now().Add(time.Hour).Unix(),
			})
			if b, err := c.Balance(ctx, tok, user); err != nil || b.Balance != 0 {
				t.Fatalf("balance before the first charge: got %+v, %v; want 0", b, err)
			}
			if _, err := c.Charge(ctx, tok, user, 200_000, ""); err != nil {
				t.Fatalf("charge: %v", err)
			}
			con, err := c.CreateConcert(ctx, m.AdminKey(), testSpec(time.Now().Add(-time.Minute)))
			if err != nil {
				t.Fatalf("create concert: %v", err)
			}
			st, _, err := c.Join(ctx, tok, con.ConcertID)
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for st.Status != "ADMITTED" {
				if time.Now().After(deadline) {
					t.Fatalf("not admitted after 10s: %+v", st)
				}
				time.Sleep(20 * time.Millisecond)
				if st, err = c.QueueStatus(ctx, tok, st.Token); err != nil {
					t.Fatalf("queue status: %v", err)
				}
			}
			dates, err := c.Dates(ctx, tok, st.Token, con.ConcertID)
			if err != nil || len(dates.Dates) == 0 {
				t.Fatalf("dates: %+v, %v", dates, err)
			}
			r, err := c.Hold(ctx, tok, st.Token, boxhttp.HoldRequest{ConcertID: con.ConcertID, Date: dates.Dates[0].Date, SeatNumbers: []int{20}})
			if err != nil || r.UserID != user {
				t.Fatalf("hold: got %+v, %v", r, err)
			}
			p, err := c.Pay(ctx, tok, st.Token, r.ReservationID, "")
			if err != nil || p.Balance != 200_000-90_000 {
				t.Fatalf("pay: got %+v, %v; want balance 110000", p, err)
			}
			h, err := c.History(ctx, tok, user, 0, "")
			if err != nil || len(h.Entries) != 2 {
				t.Fatalf("history: got %+v, %v; want a charge and a payment", h, err)
			}
		})
	}
}
