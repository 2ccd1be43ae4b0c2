package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
)

// TestEventsEndToEnd runs a small sale through the real wiring, once per
// mode, with the relay publishing to the shared NATS on a stream of its
// own: every kind of change is an event, in the feed of every instance and
// on the stream, each once, in order per concert; a refused change is none.
func TestEventsEndToEnd(t *testing.T) {
	natsURL := testserver.SharedNATS(t)
	for _, md := range modes {
		t.Run(md.name, func(t *testing.T) {
			stream := testserver.StreamName()
			n := 1
			if md.multiInstance {
				n = 2
			}
			clients, adminKey := cluster(t, md, n, nil, func(c *Config) {
				c.NatsURL, c.NatsStream = natsURL, stream
				c.SweepEvery = 50 * time.Millisecond
			})
			reader := testserver.OpenStream(t, natsURL, stream) // deletes the stream at the end
			ctx := context.Background()
			c1, c2 := clients[0], clients[len(clients)-1]

			// Concert a opens in a moment and sells out; b is open and
			// holds for a second.
			specA := testSpec(time.Now().Add(1500 * time.Millisecond))
			specA.Dates = futureDates(1)
			specA.Grades = []boxhttp.Grade{{Name: "R", Seats: "1-50", Price: 1000}}
			specA.MaxSeatsPerUser = 50
			a, err := c1.CreateConcert(ctx, adminKey, specA)
			if err != nil {
				t.Fatalf("create concert: %v", err)
			}
			specB := testSpec(time.Now().Add(-time.Minute))
			specB.HoldSeconds = 1
			b, err := c2.CreateConcert(ctx, adminKey, specB)
			if err != nil {
				t.Fatalf("create concert: %v", err)
			}

			fan1 := newEventFan(t, c1, "Kim")
			fan1.admit(t, a.ConcertID) // joins before the opening: in the draw
			// The step that admits writes its draw, and the draw's event, to
			// the journal right after its Redis script: a fan can be admitted
			// a moment before. Change the room once the event is there, so
			// that the order wanted below is the order of the commits.
			waitFeedFor(t, c1, adminKey, func(all []boxhttp.Event) bool {
				return slices.ContainsFunc(all, func(e boxhttp.Event) bool {
					return e.Type == "LotteryPublished" && e.ConcertID != nil && *e.ConcertID == a.ConcertID
				})
			})
			if _, err := c1.SetWaitingRoom(ctx, adminKey, a.ConcertID, boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 200, SessionSeconds: 600, IdleSeconds: 60}); err != nil {
				t.Fatalf("set waiting room: %v", err)
			}
			fan1.charge(t, 100_000)
			day := specA.Dates[0].Format("2006-01-02")
			r := fan1.hold(t, a.ConcertID, day, 1, 2)
			if err := c1.Cancel(ctx, fan1.access, fan1.queue, r.ReservationID); err != nil {
				t.Fatalf("cancel: %v", err)
			}
			// A seat one let go cannot be held again by them at once.
			fan1.pay(t, fan1.hold(t, a.ConcertID, day, seatRange(3, 25)...))

			fan2 := newEventFan(t, c2, "Lee")
			fan2.admit(t, a.ConcertID)
			fan2.charge(t, 100_000)
			if _, err := c2.Hold(ctx, fan2.access, fan2.queue, boxhttp.HoldRequest{ConcertID: a.ConcertID, Date: day, SeatNumbers: []int{25, 26}}); boxoffice.ErrorCode(err) != boxoffice.CodeSeatUnavailable {
				t.Fatalf("hold of a sold seat: got %v, want SEAT_UNAVAILABLE", err)
			}
			fan2.pay(t, fan2.hold(t, a.ConcertID, day, append([]int{1, 2}, seatRange(26, 50)...)...))

			fan2.admit(t, b.ConcertID)
			lapsing := fan2.hold(t, b.ConcertID, specB.Dates[0].Format("2006-01-02"), 7)

			want := map[string][]string{
				a.ConcertID: {"ConcertCreated", "LotteryPublished", "WaitingRoomChanged", "SeatsHeld", "HoldReleased",
					"SeatsHeld", "ReservationPaid", "SeatsHeld", "ReservationPaid", "SoldOut"},
				// The first step of an open room makes its draw, of nobody.
				b.ConcertID: {"ConcertCreated", "LotteryPublished", "SeatsHeld", "HoldReleased"},
				"":          {"BalanceCharged", "BalanceCharged"},
			}
			total := 0
			for _, w := range want {
				total += len(w)
			}
			feed := waitFeed(t, c2, adminKey, total)
			got := map[string][]string{}
			for _, e := range feed {
				c := ""
				if e.ConcertID != nil {
					c = *e.ConcertID
				}
				got[c] = append(got[c], e.Type)
				if e.Seq != int64(len(got[c])) {
					t.Errorf("event %s (%s of %q): got seq %d, want %d", e.ID, e.Type, c, e.Seq, len(got[c]))
				}
			}
			for c, w := range want {
				if !slices.Equal(got[c], w) {
					t.Errorf("events of concert %q: got %v, want %v", c, got[c], w)
				}
			}
			var released struct {
				ReservationID string `json:"reservationId"`
				Reason        string `json:"reason"`
			}
			json.Unmarshal(feed[len(feed)-1].Data, &released)
			if last := feed[len(feed)-1]; last.Type != "HoldReleased" || released.ReservationID != lapsing.ReservationID || released.Reason != "LAPSED" {
				t.Errorf("last event: got %s %s, want the lapse of %s", last.Type, last.Data, lapsing.ReservationID)
			}
			// Every instance serves the same feed.
			if other := waitFeed(t, c1, adminKey, total); !slices.EqualFunc(other, feed, func(x, y boxhttp.Event) bool { return x.ID == y.ID }) {
				t.Errorf("the instances' feeds differ")
			}

			// The stream: the feed's events, each once, in its order.
			var evs []event.Event
			deadline := time.Now().Add(30 * time.Second)
			for {
				evs = evs[:0]
				err := reader.Read(ctx, func(e event.Event, _ string) error {
					evs = append(evs, e)
					return nil
				})
				if err == nil && len(evs) >= total || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if len(evs) != len(feed) {
				t.Fatalf("stream: got %d events, want the feed's %d", len(evs), len(feed))
			}
			for i, e := range evs {
				if e.ID != feed[i].ID || e.Seq != feed[i].Seq || e.Type != event.Type(feed[i].Type) {
					t.Fatalf("stream event %d: got %s %s seq %d, want %s %s seq %d", i, e.ID, e.Type, e.Seq, feed[i].ID, feed[i].Type, feed[i].Seq)
				}
			}
		})
	}
}

func seatRange(from, to int) []int {
	var s []int
	for n := from; n <= to; n++ {
		s = append(s, n)
	}
	return s
}

// waitFeed reads the whole feed until it holds at least n events, for at
// most half a minute.
func waitFeed(t *testing.T, c *boxhttp.Client, adminKey string, n int) []boxhttp.Event {
	t.Helper()
	return waitFeedFor(t, c, adminKey, func(all []boxhttp.Event) bool { return len(all) >= n })
}

// waitFeedFor reads the whole feed until done says it is, for 30 s at
// most, and returns the last read.
func waitFeedFor(t *testing.T, c *boxhttp.Client, adminKey string, done func([]boxhttp.Event) bool) []boxhttp.Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var all []boxhttp.Event
		cursor := ""
		for {
			page, err := c.Events(context.Background(), adminKey, boxhttp.EventQuery{Cursor: cursor, Limit: 3})
			if err != nil {
				t.Fatalf("feed: %v", err)
			}
			all = append(all, page.Events...)
			if len(page.Events) == 0 {
				break
			}
			cursor = page.NextCursor
		}
		if done(all) || time.Now().After(deadline) {
			return all
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// eventFan is a fan of TestEventsEndToEnd.
type eventFan struct {
	c                     *boxhttp.Client
	userID, access, queue string
}

func newEventFan(t *testing.T, c *boxhttp.Client, name string) *eventFan {
	t.Helper()
	u, err := c.CreateUser(context.Background(), name)
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return &eventFan{c: c, userID: u.UserID, access: u.AccessToken}
}

// admit joins concertID's room and waits to be admitted.
func (f *eventFan) admit(t *testing.T, concertID string) {
	t.Helper()
	ctx := context.Background()
	st, _, err := f.c.Join(ctx, f.access, concertID)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	f.queue = st.Token
	deadline := time.Now().Add(20 * time.Second)
	for st.Status != "ADMITTED" {
		if time.Now().After(deadline) {
			t.Fatalf("not admitted after 20 s: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
		if st, err = f.c.QueueStatus(ctx, f.access, f.queue); err != nil {
			t.Fatalf("queue status: %v", err)
		}
	}
}

func (f *eventFan) charge(t *testing.T, amount int64) {
	t.Helper()
	if _, err := f.c.Charge(context.Background(), f.access, f.userID, amount, "charge-"+randomHex(4)); err != nil {
		t.Fatalf("charge: %v", err)
	}
}

func (f *eventFan) hold(t *testing.T, concertID, day string, seats ...int) boxhttp.Reservation {
	t.Helper()
	r, err := f.c.Hold(context.Background(), f.access, f.queue, boxhttp.HoldRequest{ConcertID: concertID, Date: day, SeatNumbers: seats})
	if err != nil {
		t.Fatalf("hold %v: %v", seats, err)
	}
	return r
}

func (f *eventFan) pay(t *testing.T, r boxhttp.Reservation) {
	t.Helper()
	if _, err := f.c.Pay(context.Background(), f.access, f.queue, r.ReservationID, "pay-"+randomHex(4)); err != nil {
		t.Fatalf("pay: %v", err)
	}
}
