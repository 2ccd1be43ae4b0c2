package main

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
)

// TestLimitsWiring runs the real wiring, two instances of one deployment
// where it may have several: the sign-up limit, the admin lock-out and one
// event stream per queue token hold across them.
func TestLimitsWiring(t *testing.T) {
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := md.config(t)
			cfg.SignupLimit = 2
			cfg.AdminKey = "limits-test-admin-key"
			ms := []*Main{startMain(t, cfg, nil)}
			if md.multiInstance {
				ms = append(ms, startMain(t, cfg, nil))
			}
			on := func(i int) *boxhttp.Client { return testClient(t, ms[i%len(ms)].URL()) }

			var kim boxhttp.UserCreated
			for i := range 2 {
				u, err := on(i).CreateUser(ctx, "Kim")
				if err != nil {
					t.Fatalf("sign-up %d: %v", i+1, err)
				}
				kim = u
			}
			_, err := on(2).CreateUser(ctx, "Lee")
			if boxoffice.ErrorCode(err) != boxoffice.CodeRateLimited {
				t.Errorf("third sign-up: got %v, want RATE_LIMITED", err)
			}

			con, err := on(0).CreateConcert(ctx, cfg.AdminKey, testSpec(time.Now().Add(time.Hour))) // fans wait in the prequeue
			if err != nil {
				t.Fatalf("create concert: %v", err)
			}
			st, _, err := on(0).Join(ctx, kim.AccessToken, con.ConcertID)
			if err != nil {
				t.Fatalf("join: %v", err)
			}
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			first, err := on(0).QueueEvents(sctx, kim.AccessToken, st.Token, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			if _, err := first.Next(); err != nil {
				t.Fatal(err)
			}
			second, err := on(1).QueueEvents(sctx, kim.AccessToken, st.Token, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			for {
				_, err := first.Next()
				if errors.Is(err, boxhttp.ErrStreamReplaced) {
					break
				}
				if err != nil {
					t.Fatalf("first stream: got %v, want it replaced", err)
				}
			}
			if _, err := first.Next(); !errors.Is(err, io.EOF) {
				t.Errorf("first stream after replaced: got %v, want EOF", err)
			}

			for i := range 10 {
				_, err := on(i).Stats(ctx, "wrong-admin-key-0123", con.ConcertID)
				if boxoffice.ErrorCode(err) != boxoffice.CodeUnauthenticated {
					t.Fatalf("wrong key %d: got %v, want UNAUTHENTICATED", i+1, err)
				}
			}
			if _, err := on(1).Stats(ctx, cfg.AdminKey, con.ConcertID); boxoffice.ErrorCode(err) != boxoffice.CodeRateLimited {
				t.Errorf("right key after 10 failures: got %v, want RATE_LIMITED", err)
			}
		})
	}
}
