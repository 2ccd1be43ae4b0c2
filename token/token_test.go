package token_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func signer(t testing.TB, secret string) *token.Signer {
	t.Helper()
	s, err := token.NewSigner([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewSigner(t *testing.T) {
	if _, err := token.NewSigner([]byte("short")); err == nil {
		t.Error("a 5-byte secret was accepted, want an error")
	}
}

func TestAccess(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	a := token.Access{UserID: "0193c1a2-0000-7000-8000-000000000001", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tok := s.AccessToken(a)

	t.Run("OK", func(t *testing.T) {
		got, err := s.VerifyAccess(tok, t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if got != a {
			t.Errorf("got %+v, want %+v", got, a)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		if _, err := s.VerifyAccess(tok, t0.Add(time.Hour)); !errors.Is(err, boxoffice.ErrUnauthenticated) {
			t.Errorf("got %v, want UNAUTHENTICATED", err)
		}
	})
	t.Run("ErrOtherSecret", func(t *testing.T) {
		other := signer(t, "fedcba9876543210fedcba9876543210")
		if _, err := other.VerifyAccess(tok, t0); !errors.Is(err, boxoffice.ErrUnauthenticated) {
			t.Errorf("got %v, want UNAUTHENTICATED", err)
		}
	})
	t.Run("ErrQueueTokenAsAccess", func(t *testing.T) {
		q := s.QueueToken(queue.Ticket{ConcertID: "c", UserID: a.UserID, Seq: 1})
		if _, err := s.VerifyAccess(q, t0); !errors.Is(err, boxoffice.ErrUnauthenticated) {
			t.Errorf("got %v, want UNAUTHENTICATED", err)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		for i := range tok {
			b := []byte(tok)
			b[i] ^= 1
			if _, err := s.VerifyAccess(string(b), t0); err == nil {
				t.Fatalf("flipping a bit of byte %d gave a valid token", i)
			}
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		for _, bad := range []string{"", ".", "abc", "abc.def", tok + ".x", strings.Repeat("a", 5000)} {
			if _, err := s.VerifyAccess(bad, t0); !errors.Is(err, boxoffice.ErrUnauthenticated) {
				t.Errorf("VerifyAccess(%.20q) = %v, want UNAUTHENTICATED", bad, err)
			}
		}
	})
}

func TestQueue(t *testing.T) {
	s := signer(t, "0123456789abcdef0123456789abcdef")
	tk := queue.Ticket{ConcertID: "0193c1a2-0000-7000-8000-00000000000c", UserID: "0193c1a2-0000-7000-8000-000000000001", Seq: 123456}
	tok := s.QueueToken(tk)

	t.Run("OK", func(t *testing.T) {
		got, err := s.VerifyQueue(tok)
		if err != nil || got != tk {
			t.Errorf("got %+v, %v; want %+v", got, err, tk)
		}
	})
	t.Run("Deterministic", func(t *testing.T) {
		if again := s.QueueToken(tk); again != tok {
			t.Errorf("same ticket gave %q then %q", tok, again)
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		for i := range tok {
			b := []byte(tok)
			b[i] ^= 1
			if _, err := s.VerifyQueue(string(b)); err == nil {
				t.Fatalf("flipping a bit of byte %d gave a valid token", i)
			}
		}
	})
	t.Run("ErrAccessTokenAsQueue", func(t *testing.T) {
		a := s.AccessToken(token.Access{UserID: tk.UserID, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)})
		if _, err := s.VerifyQueue(a); !errors.Is(err, boxoffice.ErrQueueTokenInvalid) {
			t.Errorf("got %v, want QUEUE_TOKEN_INVALID", err)
		}
	})
}

func BenchmarkVerifyQueue(b *testing.B) {
	s := signer(b, "0123456789abcdef0123456789abcdef")
	tok := s.QueueToken(queue.Ticket{ConcertID: "0193c1a2-0000-7000-8000-00000000000c", UserID: "0193c1a2-0000-7000-8000-000000000001", Seq: 123456})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.VerifyQueue(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueueToken(b *testing.B) {
	s := signer(b, "0123456789abcdef0123456789abcdef")
	tk := queue.Ticket{ConcertID: "0193c1a2-0000-7000-8000-00000000000c", UserID: "0193c1a2-0000-7000-8000-000000000001", Seq: 123456}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.QueueToken(tk)
	}
}

func TestLotterySeed(t *testing.T) {
	s := signer(t, "0123456789abcdef")
	t.Run("OK", func(t *testing.T) {
		// HMAC-SHA256(HMAC-SHA256(secret, "boxoffice lottery v1"), "concert-1"),
		// computed independently.
		const want = "10c9ae43c8441706e26e750bdbb7d44b7b0f0dbe760d1bcc1fa57aa4f7c25cf5"
		if got := hex.EncodeToString(s.LotterySeed("concert-1")); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("SameOnEveryInstance", func(t *testing.T) {
		other := signer(t, "0123456789abcdef")
		if !bytes.Equal(s.LotterySeed("concert-1"), other.LotterySeed("concert-1")) {
			t.Errorf("two signers with one secret: got different seeds, want the same")
		}
	})
	t.Run("DiffersByConcertAndSecret", func(t *testing.T) {
		seed := s.LotterySeed("concert-1")
		if bytes.Equal(seed, s.LotterySeed("concert-2")) {
			t.Errorf("two concerts: got one seed, want different")
		}
		if bytes.Equal(seed, signer(t, "0123456789abcdeX").LotterySeed("concert-1")) {
			t.Errorf("two secrets: got one seed, want different")
		}
	})
	t.Run("DoesNotSignTokens", func(t *testing.T) {
		// A published seed used as a key must not forge a queue token.
		tk := queue.Ticket{ConcertID: "concert-1", UserID: "u", Seq: 1}
		forger := signer(t, string(s.LotterySeed("concert-1")))
		if _, err := s.VerifyQueue(forger.QueueToken(tk)); !errors.Is(err, boxoffice.ErrQueueTokenInvalid) {
			t.Errorf("token signed with the seed: got %v, want QUEUE_TOKEN_INVALID", err)
		}
	})
}

func TestPeek(t *testing.T) {
	s := signer(t, "0123456789abcdef")
	tk := queue.Ticket{ConcertID: "concert-1", UserID: "user-1", Seq: 42}
	t.Run("OK", func(t *testing.T) {
		if got, err := token.Peek(s.QueueToken(tk)); err != nil || got != tk {
			t.Errorf("got %v, %v; want %v", got, err, tk)
		}
	})
	t.Run("OKWithoutTheKey", func(t *testing.T) {
		tok := signer(t, "another secret, unknown here").QueueToken(tk)
		if got, err := token.Peek(tok); err != nil || got != tk {
			t.Errorf("got %v, %v; want %v", got, err, tk)
		}
	})
	t.Run("ErrQueueTokenInvalid", func(t *testing.T) {
		access := s.AccessToken(token.Access{UserID: "user-1", IssuedAt: time.Unix(0, 0), ExpiresAt: time.Unix(1, 0)})
		q := s.QueueToken(tk)
		for name, tok := range map[string]string{
			"Empty":       "",
			"NoDot":       strings.ReplaceAll(q, ".", ""),
			"NotBase64":   "!!!." + q[strings.IndexByte(q, '.')+1:],
			"AccessToken": access,
			"Truncated":   q[:10] + q[strings.IndexByte(q, '.'):],
		} {
			t.Run(name, func(t *testing.T) {
				if _, err := token.Peek(tok); !errors.Is(err, boxoffice.ErrQueueTokenInvalid) {
					t.Errorf("got %v, want QUEUE_TOKEN_INVALID", err)
				}
			})
		}
	})
}
