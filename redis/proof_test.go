package redis

import (
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice"
)

// TestProofServerTime checks that a store on Redis's clock reads the time
// and decides a proof's expiry on it, whatever its callers' clocks say, and
// that a spent proof's key lives in its room's slot until the expiry.
func TestProofServerTime(t *testing.T) {
	ctx := t.Context()
	c := testClient(t)
	prefix := testPrefix(t, c)
	s := NewQueueStore(c, prefix)
	s.UseServerTime()
	cid := boxoffice.NewID()
	ahead, behind := time.Now().Add(2*time.Hour), time.Now().Add(-2*time.Hour)

	got, err := s.Time(ctx, cid, behind)
	if err != nil {
		t.Fatal(err)
	}
	if d := got.Sub(time.Now()); d < -time.Second || d > time.Second {
		t.Errorf("Time by a caller hours behind: got %v, want Redis's now, about %v", got, time.Now())
	}

	const proof = "00000000000000000000000000000000000000000000000000000000000000aa"
	err = s.Spend(ctx, cid, proof, time.Now().Add(-time.Second), behind)
	if boxoffice.ErrorCode(err) != boxoffice.CodeProofInvalid || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Spend of an expired proof by a caller hours behind: got %v, want PROOF_INVALID, expired", err)
	}
	expires := time.Now().Add(30 * time.Second)
	if err := s.Spend(ctx, cid, proof, expires, ahead); err != nil {
		t.Fatalf("Spend of a live proof by a caller hours ahead: %v", err)
	}
	err = s.Spend(ctx, cid, proof, expires, behind)
	if boxoffice.ErrorCode(err) != boxoffice.CodeProofInvalid || !strings.Contains(err.Error(), "used already") {
		t.Errorf("second Spend: got %v, want PROOF_INVALID, used already", err)
	}
	key := s.proofKey(cid, proof)
	if slot(key) != slot("{"+cid+"}") || !strings.HasPrefix(key, prefix) {
		t.Errorf("proof key %s: not in the room's slot under the prefix", key)
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil || ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Errorf("proof key's time to live: got %v, %v, want up to the proof's expiry, 30s", ttl, err)
	}
	if err := s.Unspend(ctx, cid, proof); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Exists(ctx, key).Result(); n != 0 {
		t.Errorf("proof key after Unspend: still there")
	}
}

func TestProofUnavailable(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	s := NewQueueStore(c, "boxoffice-test:")
	s.UseServerTime()
	ctx := t.Context()
	now := time.Now()
	_, timeErr := s.Time(ctx, "c", now)
	_, placeErr := s.Place(ctx, "c", "u", now)
	for name, err := range map[string]error{
		"Time": timeErr, "Place": placeErr, "Spend": s.Spend(ctx, "c", "p", now.Add(time.Minute), now),
		"Unspend": s.Unspend(ctx, "c", "p"),
	} {
		if got := boxoffice.ErrorCode(err); got != boxoffice.CodeUnavailable {
			t.Errorf("%s: got %v (code %q), want UNAVAILABLE", name, err, got)
		}
	}
}
