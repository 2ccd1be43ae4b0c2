package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/redis"
	"github.com/boxoffice/boxoffice/token"
)

// powSpec is spec with proof of work on, at the smallest maxnumber.
func powSpec() boxhttp.ConcertSpec {
	s := spec()
	wr := *s.WaitingRoom
	wr.ProofOfWork = queue.MinProofOfWork
	s.WaitingRoom = &wr
	return s
}

func wantProofInvalid(t *testing.T, err error, detail string) {
	t.Helper()
	wantCode(t, err, 403, boxoffice.CodeProofInvalid)
	if err != nil && !strings.Contains(err.Error(), detail) {
		t.Errorf("got %q, want a detail saying %q", err, detail)
	}
}

// solve fetches a challenge for f and solves it as the widget does.
func (e *env) solve(t *testing.T, f *fan, concertID string) string {
	t.Helper()
	ctx := context.Background()
	c, err := e.client.Challenge(ctx, f.access, concertID)
	if err != nil {
		t.Fatalf("challenge: %v", err)
	}
	proof, err := boxhttp.Solve(ctx, c)
	if err != nil {
		t.Fatalf("solve %+v: %v", c, err)
	}
	return proof
}

func TestChallenge(t *testing.T) {
	e := newEnv(t)
	c := e.concert(t, powSpec())
	kim := e.fan(t, "Kim", 0)
	a := e.do(t, "GET", "/v1/concerts/"+c.ConcertID+"/queue/challenge", "", "Authorization", bearer(kim.access))
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("challenge: got %d, Cache-Control %q: %s", a.status, a.header.Get("Cache-Control"), a.body)
	}
	ch := decode[boxhttp.Challenge](t, a)
	if ch.Algorithm != "SHA-256" || ch.MaxNumber != queue.MinProofOfWork || len(ch.Challenge) != 64 || len(ch.Signature) != 64 {
		t.Errorf("challenge: got %+v", ch)
	}
	for _, f := range []string{`"algorithm"`, `"challenge"`, `"salt"`, `"maxnumber"`, `"signature"`} {
		if !strings.Contains(string(a.body), f) {
			t.Errorf("challenge %s lacks %s", a.body, f)
		}
	}
	_, query, _ := strings.Cut(ch.Salt, "?")
	params, err := url.ParseQuery(query)
	if err != nil || params.Get("concert") != c.ConcertID || params.Get("expires") != strconv.FormatInt(base.Add(5*time.Minute).Unix(), 10) {
		t.Errorf("salt %q: want concert %s and expires in 5 minutes", ch.Salt, c.ConcertID)
	}
	// Solved exactly as the widget does: SHA-256 of salt and decimal number.
	proof, err := boxhttp.Solve(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(proof)
	var sent struct {
		Algorithm, Challenge, Salt, Signature string
		Number                                int
	}
	if err := json.Unmarshal(raw, &sent); err != nil || sent.Challenge != ch.Challenge || sent.Salt != ch.Salt || sent.Signature != ch.Signature {
		t.Fatalf("proof %s: %v, want the challenge's fields and a number", raw, err)
	}
	if sum := sha256.Sum256([]byte(ch.Salt + strconv.Itoa(sent.Number))); hex.EncodeToString(sum[:]) != ch.Challenge {
		t.Errorf("proof %s: its number does not hash to the challenge", raw)
	}

	t.Run("RoomWithoutProofOfWork", func(t *testing.T) {
		plain := e.concert(t, spec())
		got, err := e.client.Challenge(context.Background(), kim.access, plain.ConcertID)
		if err != nil || got.MaxNumber != queue.MinProofOfWork {
			t.Errorf("got %+v, %v, want a challenge of maxnumber %d", got, err, queue.MinProofOfWork)
		}
		if _, created, err := e.client.Join(context.Background(), kim.access, plain.ConcertID); err != nil || !created {
			t.Errorf("join without a proof: got %v, %v, want a place", created, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Challenge(context.Background(), kim.access, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.Challenge(context.Background(), "", c.ConcertID)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}

func TestJoinWithProof(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, powSpec())
	if d, err := e.client.Concert(ctx, c.ConcertID); err != nil || d.WaitingRoom.ProofOfWork != queue.MinProofOfWork {
		t.Fatalf("concert: got proofOfWork %d, %v, want %d", d.WaitingRoom.ProofOfWork, err, queue.MinProofOfWork)
	}
	kim := e.fan(t, "Kim", 0)

	_, _, err := e.client.Join(ctx, kim.access, c.ConcertID)
	wantProofInvalid(t, err, "Queue-Proof")

	proof := e.solve(t, kim, c.ConcertID)
	first, created, err := e.client.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
	if err != nil || !created || first.Status != "WAITING" {
		t.Fatalf("join with a solved proof: got %+v, created %v, %v, want a new place", first, created, err)
	}
	t.Run("ExistingPlaceNeedsNoProof", func(t *testing.T) {
		st, created, err := e.client.Join(ctx, kim.access, c.ConcertID)
		if err != nil || created || st.Token != first.Token {
			t.Errorf("join again without a proof: got %+v, created %v, %v, want the place", st, created, err)
		}
		st, created, err = e.client.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
		if err != nil || created || st.Token != first.Token {
			t.Errorf("join again with the spent proof: got %+v, created %v, %v, want the place", st, created, err)
		}
	})
	t.Run("ErrProofInvalid/Spent", func(t *testing.T) {
		if err := e.client.Leave(ctx, kim.access, first.Token); err != nil {
			t.Fatal(err)
		}
		_, _, err := e.client.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
		wantProofInvalid(t, err, "used already")
		st, created, err := e.client.JoinSolving(ctx, kim.access, c.ConcertID)
		if err != nil || !created || st.Token == first.Token {
			t.Errorf("join with a new proof: got %+v, created %v, %v, want a new place", st, created, err)
		}
	})
	t.Run("ErrProofInvalid/OtherUser", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		_, _, err := e.client.JoinWithProof(ctx, lee.access, c.ConcertID, e.solve(t, kim, c.ConcertID))
		wantProofInvalid(t, err, "another user")
	})
	t.Run("ErrProofInvalid/OtherConcert", func(t *testing.T) {
		other := e.concert(t, powSpec())
		lee := e.fan(t, "Lee", 0)
		_, _, err := e.client.JoinWithProof(ctx, lee.access, c.ConcertID, e.solve(t, lee, other.ConcertID))
		wantProofInvalid(t, err, "another concert")
	})
	t.Run("ErrProofInvalid/Expired", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		proof := e.solve(t, lee, c.ConcertID)
		e.clock.Advance(token.ChallengeTTL)
		defer e.clock.Advance(-token.ChallengeTTL)
		_, _, err := e.client.JoinWithProof(ctx, lee.access, c.ConcertID, proof)
		wantProofInvalid(t, err, "expired")
	})
	t.Run("ErrProofInvalid/WrongNumber", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		ch, err := e.client.Challenge(ctx, lee.access, c.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		tc := token.Challenge{Algorithm: ch.Algorithm, Challenge: ch.Challenge, Salt: ch.Salt, MaxNumber: ch.MaxNumber, Signature: ch.Signature}
		n, _ := token.Solve(ctx, tc)
		_, _, err = e.client.JoinWithProof(ctx, lee.access, c.ConcertID, token.EncodeProof(tc, n+1))
		wantProofInvalid(t, err, "does not solve")
	})
	t.Run("TurnedOffAndOn", func(t *testing.T) {
		wr := *powSpec().WaitingRoom
		wr.ProofOfWork = 0
		if got, err := e.client.SetWaitingRoom(ctx, adminKey, c.ConcertID, wr); err != nil || got.ProofOfWork != 0 {
			t.Fatalf("turn off: got %+v, %v", got, err)
		}
		lee := e.fan(t, "Lee", 0)
		if _, created, err := e.client.JoinWithProof(ctx, lee.access, c.ConcertID, "ignored when off"); err != nil || !created {
			t.Errorf("join with proof of work off: got %v, %v, want a place", created, err)
		}
		wr.ProofOfWork = 50_000
		if got, err := e.client.SetWaitingRoom(ctx, adminKey, c.ConcertID, wr); err != nil || got.ProofOfWork != 50_000 {
			t.Fatalf("turn on: got %+v, %v", got, err)
		}
		if d, err := e.client.Concert(ctx, c.ConcertID); err != nil || d.WaitingRoom.ProofOfWork != 50_000 {
			t.Errorf("concert after turning on: got %d, %v, want 50000", d.WaitingRoom.ProofOfWork, err)
		}
		park := e.fan(t, "Park", 0)
		_, _, err := e.client.Join(ctx, park.access, c.ConcertID)
		wantProofInvalid(t, err, "Queue-Proof")
		if ch, err := e.client.Challenge(ctx, park.access, c.ConcertID); err != nil || ch.MaxNumber != 50_000 {
			t.Errorf("challenge after turning on: got maxnumber %d, %v, want 50000", ch.MaxNumber, err)
		}
		wr.ProofOfWork = queue.MinProofOfWork
		if _, err := e.client.SetWaitingRoom(ctx, adminKey, c.ConcertID, wr); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrProofInvalid/Garbage", func(t *testing.T) {
		lee := e.fan(t, "Lee", 0)
		for header, detail := range map[string]string{
			"!!!": "base64", strings.Repeat("QUFB", 300): "at most", base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)): "JSON object",
		} {
			_, _, err := e.client.JoinWithProof(ctx, lee.access, c.ConcertID, header)
			wantProofInvalid(t, err, detail)
		}
	})
}

// TestProofSpentOnceAcrossInstances runs two servers on one PostgreSQL and
// one Redis, as production does: a proof spent on one is spent on both.
func TestProofSpentOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	client, prefix := sharedRedis(t)
	var opts boxhttp.Options
	e := newEnv(t, func(o *boxhttp.Options) {
		o.Queue = queue.NewService(redis.NewQueueStore(client, prefix), o.Clock, "a", time.Second, nil, nil, supplyOf(o.Booking))
		opts = *o
	})
	second, err := redis.Open(ctx, redisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Close() })
	opts.Queue = queue.NewService(redis.NewQueueStore(second, prefix), opts.Clock, "b", time.Second, nil, nil, supplyOf(opts.Booking))
	opts.Registry = prometheus.NewRegistry()
	other := httptest.NewServer(boxhttp.NewServer(opts))
	t.Cleanup(other.Close)
	b := boxhttp.NewClient(other.URL, other.Client())

	c := e.concert(t, powSpec())
	kim := e.fan(t, "Kim", 0)
	proof := e.solve(t, kim, c.ConcertID) // challenge from the first
	st, created, err := b.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
	if err != nil || !created {
		t.Fatalf("join on the second instance: got %v, %v, want a new place", created, err)
	}
	if err := b.Leave(ctx, kim.access, st.Token); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.client.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
	wantProofInvalid(t, err, "used already")
	_, _, err = b.JoinWithProof(ctx, kim.access, c.ConcertID, proof)
	wantProofInvalid(t, err, "used already")
	if _, created, err := b.JoinSolving(ctx, kim.access, c.ConcertID); err != nil || !created {
		t.Errorf("join with a challenge from the second instance: got %v, %v, want a new place", created, err)
	}
}
