package redis

import (
	"context"
	_ "embed"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/boxoffice/boxoffice/queue"
)

var (
	//go:embed lua/place.lua
	placeLua string
	//go:embed lua/spend.lua
	spendLua string
	//go:embed lua/time.lua
	timeLua string

	placeScript = goredis.NewScript(clockLua + roomLua + placeLua)
	spendScript = goredis.NewScript(clockLua + spendLua)
	timeScript  = goredis.NewScript(clockLua + timeLua)
)

// proofKey is the key of a spent proof of work,
// <prefix>wr:{<concertID>}:proof:<proof>: in the room's slot, and apart
// from the room's keys, which a rebuild clears.
func (s *QueueStore) proofKey(concertID, proof string) string {
	return s.prefix + "wr:{" + concertID + "}:proof:" + proof
}

// Place returns the live place or session userID holds in the room, or
// Expired. Errors: NOT_FOUND for an unknown room.
func (s *QueueStore) Place(ctx context.Context, concertID, userID string, now time.Time) (queue.Status, error) {
	res, err := placeScript.Run(ctx, s.client, s.roomKeys(concertID)[:kUsers+1], userID, s.instant(now)).StringSlice()
	if err != nil {
		return queue.Status{}, fail("queue place", err)
	}
	if len(res) == 1 && res[0] == "F" {
		return queue.Status{}, queue.NoRoomError(concertID)
	}
	if len(res) != 2 {
		return queue.Status{}, malformed("place", "")
	}
	var st queue.Status
	f := fields{s: res[0]}
	parseRoom(&f, concertID, &st)
	if f.bad || f.s != "" {
		return queue.Status{}, malformed("place", res[0])
	}
	f = fields{s: res[1]}
	parsePlace(&f, &st, concertID, userID)
	if f.bad || f.s != "" {
		return queue.Status{}, malformed("place", res[1])
	}
	return st, nil
}

// Time returns now or, on Redis's clock, the instant of the room's node.
func (s *QueueStore) Time(ctx context.Context, concertID string, now time.Time) (time.Time, error) {
	if !s.serverTime {
		return now, nil
	}
	return s.times.Do(ctx, concertID, struct{}{})
}

// runTimes reads the clock of the room's node once for every request.
func (s *QueueStore) runTimes(ctx context.Context, concertID string, reqs []struct{}) ([]time.Time, error) {
	ms, err := timeScript.Run(ctx, s.client, s.roomKeys(concertID)[:kMeta+1], "T").Int64()
	if err != nil {
		return nil, fail("read redis clock", err)
	}
	out := make([]time.Time, len(reqs))
	for i := range out {
		out[i] = time.UnixMilli(ms).UTC()
	}
	return out, nil
}

// Spend sets the proof's key if absent, expiring at expires. Errors:
// PROOF_INVALID.
func (s *QueueStore) Spend(ctx context.Context, concertID, proof string, expires, now time.Time) error {
	res, err := spendScript.Run(ctx, s.client, []string{s.proofKey(concertID, proof)}, expires.UnixMilli(), s.instant(now)).Text()
	if err != nil {
		return failWrite("spend proof of work", err)
	}
	switch res {
	case "S":
		return nil
	case "U":
		return queue.ProofUsedError()
	case "X":
		return queue.ProofExpiredError()
	}
	return malformed("spend", res)
}

// Unspend deletes the proof's key.
func (s *QueueStore) Unspend(ctx context.Context, concertID, proof string) error {
	if err := s.client.Del(ctx, s.proofKey(concertID, proof)).Err(); err != nil {
		return failWrite("give back proof of work", err)
	}
	return nil
}
