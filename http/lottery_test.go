package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
)

func TestLottery(t *testing.T) {
	queueStores(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, opts...)
		ctx := context.Background()
		s := spec()
		s.SalesOpenAt = base.Add(30 * time.Second) // within the idle limit of the fans' joins
		c := e.concert(t, s)
		fans := make([]*fan, 6)
		for i := range fans {
			fans[i] = e.fan(t, "Early", 0)
			e.join(t, fans[i], c.ConcertID)
		}

		var commitment string
		t.Run("BeforeTheOpening", func(t *testing.T) {
			l, err := e.client.Lottery(ctx, c.ConcertID)
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Commitment) != 64 || l.Seed != nil || l.Entries != nil || l.DrawnAt != nil || !l.OpensAt.Equal(s.SalesOpenAt) {
				t.Fatalf("got %+v, want a commitment, the opening and nothing else", l)
			}
			commitment = l.Commitment
			d, err := e.client.Concert(ctx, c.ConcertID)
			if err != nil || d.Lottery.Commitment != commitment || d.Lottery.Seed != nil {
				t.Errorf("concert lottery: got %+v, %v; want commitment %s and no seed", d.Lottery, err, commitment)
			}
		})
		t.Run("AfterTheDraw", func(t *testing.T) {
			e.clock.Set(s.SalesOpenAt)
			e.admit() // makes the draw and admits everyone (MAX_ACTIVE 1000)
			l, err := e.client.Lottery(ctx, c.ConcertID)
			if err != nil {
				t.Fatal(err)
			}
			if l.Seed == nil || l.Commitment != commitment {
				t.Fatalf("got seed %v, commitment %s; want a seed and commitment %s", l.Seed, l.Commitment, commitment)
			}
			seed, err := hex.DecodeString(*l.Seed)
			if h := sha256.Sum256(seed); err != nil || hex.EncodeToString(h[:]) != commitment {
				t.Errorf("SHA-256 of the seed: got %x, want %s", h, commitment)
			}
			if l.DrawnAt == nil || !l.DrawnAt.Equal(s.SalesOpenAt) {
				t.Errorf("drawnAt: got %v, want %v", l.DrawnAt, s.SalesOpenAt)
			}
			if len(l.Entries) != len(fans) {
				t.Fatalf("got %d entries, want %d", len(l.Entries), len(fans))
			}
			entries := make([]string, len(l.Entries))
			for i, en := range l.Entries {
				if en.Position != int64(i+1) {
					t.Errorf("entry %d: position %d, want %d", i, en.Position, i+1)
				}
				entries[i] = en.Entry
			}
			if got := queue.DrawOrder(seed, entries); !slices.Equal(got, entries) {
				t.Errorf("recomputed order: got %v, want the published %v", got, entries)
			}
			// The published order is the order of admission.
			log, err := e.client.Admissions(ctx, adminKey, c.ConcertID, 1, 100)
			if err != nil {
				t.Fatal(err)
			}
			admitted := make([]string, len(log.Admissions))
			for i, a := range log.Admissions {
				admitted[i] = queue.EntryID(c.ConcertID, a.UserID)
				if !a.Prequeue {
					t.Errorf("admission %d: prequeue false, want true", a.N)
				}
			}
			if !slices.Equal(admitted, entries) {
				t.Errorf("admission order: got %v, want the draw %v", admitted, entries)
			}
			for _, f := range fans {
				if !slices.Contains(entries, queue.EntryID(c.ConcertID, f.id)) {
					t.Errorf("fan %s: no entry in the draw", f.id)
				}
			}
			d, err := e.client.Concert(ctx, c.ConcertID)
			if err != nil || d.Lottery.Seed == nil || *d.Lottery.Seed != *l.Seed {
				t.Errorf("concert lottery: got %+v, %v; want seed %s", d.Lottery, err, *l.Seed)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := e.client.Lottery(ctx, boxoffice.NewID())
			wantCode(t, err, 404, boxoffice.CodeNotFound)
		})
	})
}

func TestAdmissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	var ids []string
	for range 3 {
		ids = append(ids, e.admitted(t, "Fan", 0, c.ConcertID).id)
	}
	t.Run("OK", func(t *testing.T) {
		l, err := e.client.Admissions(ctx, adminKey, c.ConcertID, 0, 0)
		if err != nil || len(l.Admissions) != 3 || l.Next != 4 {
			t.Fatalf("got %+v, %v; want 3 admissions, next 4", l, err)
		}
		for i, a := range l.Admissions {
			if a.N != int64(i+1) || a.UserID != ids[i] || a.Seq != int64(i+1) || a.Prequeue || !a.At.Equal(base) {
				t.Errorf("admission %d: got %+v, want n and seq %d, user %s, at %v", i, a, i+1, ids[i], base)
			}
		}
	})
	t.Run("Page", func(t *testing.T) {
		l, err := e.client.Admissions(ctx, adminKey, c.ConcertID, 2, 1)
		if err != nil || len(l.Admissions) != 1 || l.Admissions[0].N != 2 || l.Next != 3 {
			t.Errorf("got %+v, %v; want admission 2, next 3", l, err)
		}
	})
	t.Run("NothingNew", func(t *testing.T) {
		l, err := e.client.Admissions(ctx, adminKey, c.ConcertID, 10, 0)
		if err != nil || len(l.Admissions) != 0 || l.Next != 10 {
			t.Errorf("got %+v, %v; want none, next 10", l, err)
		}
		a := e.do(t, "GET", "/v1/admin/concerts/"+c.ConcertID+"/admissions?from=10", "", "Authorization", bearer(adminKey))
		if string(a.body) != `{"admissions":[],"next":10}`+"\n" {
			t.Errorf("body: got %s, want an empty list", a.body)
		}
	})
	t.Run("ErrInvalidRequest", func(t *testing.T) {
		for _, q := range []string{"limit=0", "limit=10001", "from=0"} {
			a := e.do(t, "GET", "/v1/admin/concerts/"+c.ConcertID+"/admissions?"+q, "", "Authorization", bearer(adminKey))
			wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Admissions(ctx, adminKey, boxoffice.NewID(), 0, 0)
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.Admissions(ctx, "", c.ConcertID, 0, 0)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}

// TestNewcomerEstimate checks that a concert's estimate for a fan joining
// now counts the fans ahead who will abandon.
func TestNewcomerEstimate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := spec()
	s.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60}
	c := e.concert(t, s)
	fans := make([]*fan, 40)
	for i := range fans {
		fans[i] = e.fan(t, "Fan", 0)
		e.join(t, fans[i], c.ConcertID)
	}
	for i := range 10 {
		e.clock.Advance(time.Second)
		if err := e.client.Leave(ctx, fans[len(fans)-1-i].access, fans[len(fans)-1-i].queue); err != nil {
			t.Fatal(err)
		}
		e.admit()
	}
	st, err := e.queue.Stats(ctx, c.ConcertID)
	if err != nil {
		t.Fatal(err)
	}
	if !(st.AbandonRate > 0) {
		t.Fatalf("abandon rate %v, want above 0", st.AbandonRate)
	}
	d, err := e.client.Concert(ctx, c.ConcertID)
	if err != nil {
		t.Fatal(err)
	}
	settings := queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1, SessionSeconds: 600, IdleSeconds: 60}
	want := queue.EstimateWait(st.Waiting+1, st.Waiting+1, st.Rate, st.AbandonRate, settings)
	without := queue.EstimateWait(st.Waiting+1, st.Waiting+1, st.Rate, 0, settings)
	if d.WaitingRoom.EstimatedWaitSeconds != want || want >= without {
		t.Errorf("estimate: got %d, want %d (below %d, the estimate without abandonment)", d.WaitingRoom.EstimatedWaitSeconds, want, without)
	}
}

func TestQueueMetrics(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	e.admitted(t, "Kim", 0, c.ConcertID)
	lee := e.fan(t, "Lee", 0)
	e.join(t, lee, c.ConcertID)
	if err := e.client.Leave(ctx, lee.access, lee.queue); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	e.admit()
	st, err := e.queue.Stats(ctx, c.ConcertID)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := e.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "concert" && lp.GetValue() != c.ConcertID {
					labels = "other"
					break
				}
				if lp.GetName() == "quantile" {
					labels = lp.GetValue()
				}
			}
			if labels == "other" {
				continue
			}
			name := mf.GetName()
			if labels != "" {
				name += "{" + labels + "}"
			}
			switch mf.GetType() {
			case 0: // counter
				got[name] = m.GetCounter().GetValue()
			case 1: // gauge
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"boxoffice_queue_admit_rate":        st.Rate,
		"boxoffice_queue_abandon_rate":      st.AbandonRate,
		"boxoffice_queue_wait_seconds{0.5}": st.Waits.Quantile(0.5).Seconds(),
		"boxoffice_queue_wait_seconds{0.9}": st.Waits.Quantile(0.9).Seconds(),
		"boxoffice_queue_admitted_total":    1,
		"boxoffice_queue_abandoned_total":   1,
		"boxoffice_queue_dropped_total":     0,
		"boxoffice_queue_streams":           0,
		"boxoffice_queue_active":            1,
		"boxoffice_queue_waiting":           0,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s: got %v (present %v), want %v", name, g, ok, v)
		}
	}
	if !(st.AbandonRate > 0) {
		t.Errorf("abandon rate %v, want above 0", st.AbandonRate)
	}
}
