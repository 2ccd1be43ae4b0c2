package http_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/token"
)

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	t.Run("Created", func(t *testing.T) {
		a := e.do(t, "POST", "/v1/users", `{"name":"  Kim  "}`)
		if a.status != 201 {
			t.Fatalf("status = %d, want 201 (%s)", a.status, a.body)
		}
		u := decode[boxhttp.UserCreated](t, a)
		if !boxoffice.ValidID(u.UserID) || u.Name != "Kim" || u.AccessToken == "" {
			t.Errorf("got %+v, want a UUID, name Kim and a token", u)
		}
		if want := base.Add(time.Hour); !u.ExpiresAt.Equal(want) {
			t.Errorf("expiresAt = %v, want %v", u.ExpiresAt, want)
		}
		acc, err := e.signer.VerifyAccess(u.AccessToken, base)
		if err != nil || acc.UserID != u.UserID {
			t.Errorf("token says %+v, %v; want user %s", acc, err, u.UserID)
		}
		if strings.Contains(string(a.body), "$schema") {
			t.Errorf("body %s has a $schema field", a.body)
		}
	})
	tests := []struct {
		name, body string
		status     int
	}{
		{"EmptyName", `{"name":""}`, 422},
		{"BlankName", `{"name":"   "}`, 422},
		{"LongName", `{"name":"` + strings.Repeat("가", 201) + `"}`, 422},
		{"MissingName", `{}`, 422},
		{"UnknownField", `{"name":"Kim","admin":true}`, 422},
		{"NameNotString", `{"name":5}`, 422},
		{"MalformedJSON", `{"name":`, 400},
		{"NotJSON", `hello`, 400},
		{"NoBody", ``, 400},
		{"TooLarge", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.do(t, "POST", "/v1/users", tt.body)
			p := wantProblem(t, a, tt.status, boxoffice.CodeInvalidRequest)
			if tt.name == "UnknownField" && len(p.Errors) == 0 {
				t.Errorf("problem %s lists no invalid field, want one", a.body)
			}
		})
	}
}

func TestBalanceAndCharges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kim := e.fan(t, "Kim", 0)
	lee := e.fan(t, "Lee", 0)
	charges := "/v1/users/" + kim.id + "/balance/charges"

	t.Run("ZeroBalance", func(t *testing.T) {
		b, err := e.client.Balance(ctx, kim.access, kim.id)
		if err != nil || b.Balance != 0 || b.UserID != kim.id {
			t.Errorf("got %+v, %v; want balance 0", b, err)
		}
	})
	var first boxhttp.Charge
	t.Run("Charge", func(t *testing.T) {
		a := e.do(t, "POST", charges, `{"amount":50000}`, "Authorization", bearer(kim.access), "Idempotency-Key", "charge-1")
		if a.status != 200 {
			t.Fatalf("status = %d, want 200 (%s)", a.status, a.body)
		}
		first = decode[boxhttp.Charge](t, a)
		if first.Balance != 50000 || first.UserID != kim.id || !boxoffice.ValidID(first.ChargeID) {
			t.Errorf("got %+v, want balance 50000 and a charge id", first)
		}
	})
	t.Run("ReplaySameKey", func(t *testing.T) {
		a := e.do(t, "POST", charges, `{"amount":50000}`, "Authorization", bearer(kim.access), "Idempotency-Key", "charge-1")
		if got := decode[boxhttp.Charge](t, a); a.status != 200 || got != first {
			t.Errorf("got %d %+v, want 200 %+v", a.status, got, first)
		}
		if b, _ := e.client.Balance(ctx, kim.access, kim.id); b.Balance != 50000 {
			t.Errorf("balance = %d after a replay, want 50000", b.Balance)
		}
	})
	t.Run("ErrIdempotencyKeyReused", func(t *testing.T) {
		a := e.do(t, "POST", charges, `{"amount":1}`, "Authorization", bearer(kim.access), "Idempotency-Key", "charge-1")
		wantProblem(t, a, 422, boxoffice.CodeIdempotencyKeyReused)
	})
	t.Run("ErrBadIdempotencyKey", func(t *testing.T) {
		a := e.do(t, "POST", charges, `{"amount":1}`, "Authorization", bearer(kim.access), "Idempotency-Key", strings.Repeat("k", 129))
		wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
	})
	for _, tt := range []struct {
		name   string
		amount int64
	}{{"ErrZeroAmount", 0}, {"ErrNegativeAmount", -5}, {"ErrAmountOverMax", 1_000_001}} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.client.Charge(ctx, kim.access, kim.id, tt.amount, "")
			wantCode(t, err, 422, boxoffice.CodeInvalidRequest)
		})
	}
	t.Run("ErrBalanceCap", func(t *testing.T) {
		rich := e.fan(t, "Rich", 99_500_000)
		_, err := e.client.Charge(ctx, rich.access, rich.id, 600_000, "")
		wantCode(t, err, 422, boxoffice.CodeInvalidRequest)
		if b, _ := e.client.Balance(ctx, rich.access, rich.id); b.Balance != 99_500_000 {
			t.Errorf("balance = %d, want 99500000 unchanged", b.Balance)
		}
	})
	t.Run("ErrBalanceCapReplayed", func(t *testing.T) {
		rich := e.fan(t, "Rich", 99_500_000)
		path := "/v1/users/" + rich.id + "/balance/charges"
		first := e.do(t, "POST", path, `{"amount":600000}`, "Authorization", bearer(rich.access), "Idempotency-Key", "over")
		wantProblem(t, first, 422, boxoffice.CodeInvalidRequest)
		again := e.do(t, "POST", path, `{"amount":600000}`, "Authorization", bearer(rich.access), "Idempotency-Key", "over")
		if again.status != first.status || string(again.body) != string(first.body) {
			t.Errorf("retry: got %d %s, want %d %s", again.status, again.body, first.status, first.body)
		}
		// A charge that would pass is another request under the same key.
		other := e.do(t, "POST", path, `{"amount":1000}`, "Authorization", bearer(rich.access), "Idempotency-Key", "over")
		wantProblem(t, other, 422, boxoffice.CodeIdempotencyKeyReused)
		if b, _ := e.client.Balance(ctx, rich.access, rich.id); b.Balance != 99_500_000 {
			t.Errorf("balance = %d, want 99500000 unchanged", b.Balance)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		_, err := e.client.Balance(ctx, lee.access, kim.id)
		wantCode(t, err, 403, boxoffice.CodeForbidden)
		_, err = e.client.Charge(ctx, lee.access, kim.id, 100, "")
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
	t.Run("ErrNotFoundForMalformedID", func(t *testing.T) {
		// A user id is a UUID or, from an identity provider, 1 to 128
		// printable ASCII characters.
		for _, id := range []string{strings.Repeat("x", 129), "a%01b", "kim%C3%A9"} {
			a := e.do(t, "GET", "/v1/users/"+id+"/balance", "", "Authorization", bearer(kim.access))
			wantProblem(t, a, 404, boxoffice.CodeNotFound)
		}
		a := e.do(t, "GET", "/v1/users/not-a-uuid/balance", "", "Authorization", bearer(kim.access))
		wantProblem(t, a, 403, boxoffice.CodeForbidden)
	})
	t.Run("UnknownUserHasNothing", func(t *testing.T) {
		ghost := boxoffice.NewID()
		tok := e.signer.AccessToken(token.Access{UserID: ghost, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
		if b, err := e.client.Balance(ctx, tok, ghost); err != nil || b.Balance != 0 {
			t.Errorf("balance: got %+v, %v; want 0", b, err)
		}
		if h, err := e.client.History(ctx, tok, ghost, 0, ""); err != nil || len(h.Entries) != 0 {
			t.Errorf("history: got %+v, %v; want none", h, err)
		}
	})
	for _, tt := range []struct{ name, auth string }{
		{"ErrUnauthenticatedMissing", ""},
		{"ErrUnauthenticatedMalformed", "Token " + kim.access},
		{"ErrUnauthenticatedForged", bearer(kim.access[:len(kim.access)-2] + "xx")},
		{"ErrUnauthenticatedQueueToken", bearer(e.signer.QueueToken(queueTicket(kim.id)))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := e.do(t, "GET", "/v1/users/"+kim.id+"/balance", "", "Authorization", tt.auth)
			wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want Bearer", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("ErrUnauthenticatedBeforeBody", func(t *testing.T) {
		a := e.do(t, "POST", charges, `{malformed`)
		wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
	})
	t.Run("ErrUnauthenticatedExpired", func(t *testing.T) {
		e.clock.Advance(time.Hour)
		defer e.clock.Advance(-time.Hour)
		_, err := e.client.Balance(ctx, kim.access, kim.id)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	kim := e.fan(t, "Kim", 0)
	for _, amount := range []int64{100, 200, 300, 400, 500} {
		if _, err := e.client.Charge(ctx, kim.access, kim.id, amount, ""); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("Pages", func(t *testing.T) {
		var amounts []int64
		cursor, pages := "", 0
		for {
			h, err := e.client.History(ctx, kim.access, kim.id, 2, cursor)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, en := range h.Entries {
				if en.Kind != "CHARGE" || en.Amount <= 0 {
					t.Errorf("entry %+v, want a positive CHARGE", en)
				}
				amounts = append(amounts, en.Amount)
			}
			if h.NextCursor == nil {
				break
			}
			cursor = *h.NextCursor
			if pages > 5 {
				t.Fatal("more than 5 pages of 2 for 5 entries")
			}
		}
		want := []int64{500, 400, 300, 200, 100}
		if pages != 3 || len(amounts) != 5 {
			t.Fatalf("got %v in %d pages, want %v in 3", amounts, pages, want)
		}
		for i := range want {
			if amounts[i] != want[i] {
				t.Errorf("got %v, want %v (newest first)", amounts, want)
				break
			}
		}
	})
	t.Run("FullLastPageHasCursor", func(t *testing.T) {
		h, _ := e.client.History(ctx, kim.access, kim.id, 5, "")
		if len(h.Entries) != 5 || h.NextCursor == nil {
			t.Fatalf("got %d entries, cursor %v; want 5 and a cursor", len(h.Entries), h.NextCursor)
		}
		h, _ = e.client.History(ctx, kim.access, kim.id, 5, *h.NextCursor)
		if len(h.Entries) != 0 || h.NextCursor != nil {
			t.Errorf("next page: %d entries, cursor %v; want none and null", len(h.Entries), h.NextCursor)
		}
	})
	t.Run("DefaultLimitAndNullCursor", func(t *testing.T) {
		a := e.do(t, "GET", "/v1/users/"+kim.id+"/balance/history", "", "Authorization", bearer(kim.access))
		if a.status != 200 || !strings.Contains(string(a.body), `"nextCursor":null`) {
			t.Errorf("got %d %s, want 200 with nextCursor null", a.status, a.body)
		}
	})
	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "limit=-1", "cursor=nonsense", "limit=1.5"} {
		t.Run("ErrInvalidRequest/"+q, func(t *testing.T) {
			a := e.do(t, "GET", "/v1/users/"+kim.id+"/balance/history?"+q, "", "Authorization", bearer(kim.access))
			wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
		})
	}
	t.Run("ErrForbidden", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		_, err := e.client.History(ctx, lee.access, kim.id, 0, "")
		wantCode(t, err, 403, boxoffice.CodeForbidden)
	})
}
