package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// endsJournal records Ended calls; while gate is open (not nil), an Ended
// call first reports on entered and then waits for gate. fail, if set, is
// what Ended returns.
type endsJournal struct {
	mu      sync.Mutex
	ends    [][]int64
	entered chan struct{}
	gate    chan struct{}
	fail    error
}

func (j *endsJournal) Joined(context.Context, string, []queue.Place) error { return nil }
func (j *endsJournal) Admitted(context.Context, string, int64, []int64, time.Time) error {
	return nil
}
func (j *endsJournal) Drawn(context.Context, string, []string, time.Time) error { return nil }
func (j *endsJournal) Load(context.Context, string) (queue.Snapshot, error) {
	return queue.Snapshot{}, nil
}
func (j *endsJournal) Rooms(context.Context) ([]string, error) { return nil, nil }

func (j *endsJournal) Ended(_ context.Context, _ string, seqs []int64) error {
	j.mu.Lock()
	gate, entered := j.gate, j.entered
	j.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	j.ends = append(j.ends, slices.Clone(seqs))
	return nil
}

func (j *endsJournal) calls() [][]int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.ends)
}

// TestLeaveGathered: leaves of one room that arrive while one is being
// written are journaled together in one row, each before its answer, and
// every ticket ends.
func TestLeaveGathered(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		e := newWatchEnv(t, store, rate1())
		gate := make(chan struct{})
		j := &endsJournal{entered: make(chan struct{}, 1), gate: gate}
		e.svc.Journal = j
		ts := e.joinN("leaver", 6)
		ctx := t.Context()
		errs := make(chan error, len(ts))
		go func() { errs <- e.svc.Leave(ctx, ts[0]) }()
		<-j.entered // the first leave's batch is being journaled
		j.mu.Lock()
		j.gate = nil
		j.mu.Unlock()
		for _, tk := range ts[1:] {
			go func() { errs <- e.svc.Leave(ctx, tk) }()
		}
		// Give the others time to queue behind the first batch.
		time.Sleep(100 * time.Millisecond)
		close(gate)
		for range ts {
			if err := <-errs; err != nil {
				t.Fatalf("Leave: %v", err)
			}
		}
		var seqs []int64
		calls := j.calls()
		for _, c := range calls {
			seqs = append(seqs, c...)
		}
		slices.Sort(seqs)
		want := make([]int64, len(ts))
		for i, tk := range ts {
			want[i] = tk.Seq
		}
		slices.Sort(want)
		if !slices.Equal(seqs, want) {
			t.Errorf("journaled ends %v, want each of %v once", seqs, want)
		}
		if len(calls) >= len(ts) {
			t.Errorf("%d journal writes for %d concurrent leaves, want them gathered", len(calls), len(ts))
		}
		for _, tk := range ts {
			st, err := e.svc.Status(ctx, tk)
			if err != nil || st.State != queue.Expired {
				t.Errorf("%s after Leave: %s, %v; want %s", tk.UserID, st.State, err, queue.Expired)
			}
		}
	})
}

// TestLeaveJournalFails: a leave the journal could not record fails and
// ends nothing, so that a rebuilt room and the store agree.
func TestLeaveJournalFails(t *testing.T) {
	watchStores(t, func(t *testing.T, store queue.Store) {
		e := newWatchEnv(t, store, rate1())
		down := boxoffice.Unavailable("database", errors.New("down"))
		e.svc.Journal = &endsJournal{fail: down}
		ts := e.joinN("stayer", 2)
		for i, tk := range ts {
			if err := e.svc.Leave(t.Context(), tk); boxoffice.ErrorCode(err) != boxoffice.CodeUnavailable {
				t.Errorf("Leave %d: got %v, want UNAVAILABLE", i, err)
			}
			st, err := e.svc.Status(t.Context(), tk)
			if err != nil || st.State == queue.Expired {
				t.Errorf("%s after a failed Leave: %s, %v; want it still waiting", tk.UserID, st.State, fmt.Sprint(err))
			}
		}
	})
}
