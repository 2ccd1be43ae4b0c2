package http_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/queue"
)

func TestCreateConcert(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	t.Run("Created", func(t *testing.T) {
		s := spec()
		// 01:00 in Seoul is the previous day in UTC; the date is Seoul's.
		s.Dates = []time.Time{time.Date(2026, 12, 24, 1, 0, 0, 0, seoul)}
		s.WaitingRoom = nil
		body, _ := json.Marshal(s)
		a := e.do(t, "POST", "/v1/admin/concerts", string(body), "Authorization", bearer(adminKey))
		if a.status != 201 {
			t.Fatalf("status = %d, want 201 (%s)", a.status, a.body)
		}
		c := decode[boxhttp.Concert](t, a)
		if a.header.Get("Location") != "/v1/concerts/"+c.ConcertID {
			t.Errorf("Location = %q, want /v1/concerts/%s", a.header.Get("Location"), c.ConcertID)
		}
		if len(c.Dates) != 1 || c.Dates[0].Date != "2026-12-24" || !c.Dates[0].StartsAt.Equal(time.Date(2026, 12, 23, 16, 0, 0, 0, time.UTC)) {
			t.Errorf("dates = %+v, want 2026-12-24 starting 2026-12-23T16:00Z", c.Dates)
		}
		if c.Dates[0].StartsAt.Location() != time.UTC || !strings.Contains(string(a.body), `"startsAt":"2026-12-23T16:00:00Z"`) {
			t.Errorf("body %s: want startsAt in UTC", a.body)
		}
		if c.HoldSeconds != 300 || c.MaxSeatsPerUser != 4 || len(c.Grades) != 2 || c.Grades[0] != (boxhttp.Grade{Name: "VIP", Seats: "1-10", Price: 150000}) {
			t.Errorf("got %+v", c)
		}
		if c.WaitingRoom.Strategy != "RATE" || c.WaitingRoom.AdmitPerSecond != 50 || c.WaitingRoom.MaxSessionSeconds != 900 {
			t.Errorf("waiting room %+v, want the default RATE 50/s", c.WaitingRoom)
		}
		// Creating is one store write: the waiting room is built at the
		// first join, from the concert.
		if _, err := e.queue.Stats(ctx, c.ConcertID); boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
			t.Errorf("room stats before any join: got %v, want NOT_FOUND", err)
		}
	})
	t.Run("Defaults", func(t *testing.T) {
		s := spec()
		s.HoldSeconds, s.MaxSeatsPerUser = 0, 0
		c := e.concert(t, s)
		if c.HoldSeconds != 300 || c.MaxSeatsPerUser != 4 {
			t.Errorf("hold %d, max seats %d; want defaults 300 and 4", c.HoldSeconds, c.MaxSeatsPerUser)
		}
	})
	invalid := []struct {
		name   string
		edit   func(s *boxhttp.ConcertSpec)
		status int
	}{
		{"GradesLeaveSeats", func(s *boxhttp.ConcertSpec) { s.Grades = s.Grades[:1] }, 422},
		{"GradesOverlap", func(s *boxhttp.ConcertSpec) { s.Grades[1].Seats = "10-50" }, 422},
		{"BadSeatRange", func(s *boxhttp.ConcertSpec) { s.Grades[1].Seats = "11-51" }, 422},
		{"NoDates", func(s *boxhttp.ConcertSpec) { s.Dates = nil }, 422},
		{"TwoDatesOneDay", func(s *boxhttp.ConcertSpec) { s.Dates = append(s.Dates, s.Dates[0].Add(time.Hour)) }, 422},
		{"NoTitle", func(s *boxhttp.ConcertSpec) { s.Title = " " }, 422},
		{"HoldTooLong", func(s *boxhttp.ConcertSpec) { s.HoldSeconds = 3601 }, 422},
		{"TooManySeatsPerUser", func(s *boxhttp.ConcertSpec) { s.MaxSeatsPerUser = 51 }, 422},
		{"BadWaitingRoom", func(s *boxhttp.ConcertSpec) { s.WaitingRoom.MaxActive = 0 }, 422},
		{"NegativePrice", func(s *boxhttp.ConcertSpec) { s.Grades[0].Price = -1 }, 422},
		{"DateOutOfRange", func(s *boxhttp.ConcertSpec) { s.Dates = []time.Time{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)} }, 422},
		{"SalesOpenOutOfRange", func(s *boxhttp.ConcertSpec) { s.SalesOpenAt = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC) }, 422},
	}
	for _, tt := range invalid {
		t.Run("ErrInvalidRequest/"+tt.name, func(t *testing.T) {
			s := spec()
			tt.edit(&s)
			_, err := e.client.CreateConcert(ctx, adminKey, s)
			wantCode(t, err, tt.status, boxoffice.CodeInvalidRequest)
		})
	}
	raw := []struct {
		name, body string
		status     int
	}{
		{"DateWithoutOffset", strings.Replace(specJSON(t), "2026-07-01T19:00:00+09:00", "2026-07-01T19:00:00", 1), 422},
		{"DateNotADate", strings.Replace(specJSON(t), "2026-07-01T19:00:00+09:00", "tomorrow", 1), 422},
		{"UnknownField", strings.Replace(specJSON(t), `{"title"`, `{"color":"red","title"`, 1), 422},
		{"Malformed", specJSON(t)[:40], 400},
		{"TooLarge", `{"title":"` + strings.Repeat("x", 1100<<10) + `"}`, 413},
	}
	for _, tt := range raw {
		t.Run("ErrInvalidRequest/"+tt.name, func(t *testing.T) {
			a := e.do(t, "POST", "/v1/admin/concerts", tt.body, "Authorization", bearer(adminKey))
			wantProblem(t, a, tt.status, boxoffice.CodeInvalidRequest)
		})
	}
	t.Run("LargeButAllowed", func(t *testing.T) {
		// Bigger than the 64 KiB of other bodies, within the 1 MiB of this one.
		s := spec()
		s.Venue = strings.Repeat(" ", 100<<10) + "Hall"
		if _, err := e.client.CreateConcert(ctx, adminKey, s); err != nil {
			t.Errorf("got %v, want created", err)
		}
	})
	for _, tt := range []struct{ name, auth string }{
		{"Missing", ""}, {"Wrong", bearer("nope")}, {"Prefix", bearer(adminKey[:4])}, {"NotBearer", adminKey},
	} {
		t.Run("ErrUnauthenticated/"+tt.name, func(t *testing.T) {
			a := e.do(t, "POST", "/v1/admin/concerts", specJSON(t), "Authorization", tt.auth)
			wantProblem(t, a, 401, boxoffice.CodeUnauthenticated)
		})
	}
	t.Run("ErrUnauthenticated/FanToken", func(t *testing.T) {
		f := e.fan(t, "Kim", 0)
		_, err := e.client.CreateConcert(ctx, f.access, spec())
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}

func specJSON(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(spec())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConcerts(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := spec()
	s.WaitingRoom = &boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 2, SessionSeconds: 600, IdleSeconds: 60}
	c := e.concert(t, s)
	later := spec()
	later.Title = "Spring Concert"
	later.SalesOpenAt = base.Add(24 * time.Hour)
	c2 := e.concert(t, later)

	t.Run("List", func(t *testing.T) {
		l, err := e.client.Concerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Concerts) != 2 || l.Concerts[0].ConcertID != c.ConcertID || l.Concerts[1].ConcertID != c2.ConcertID {
			t.Fatalf("got %+v, want both concerts by sales opening", l.Concerts)
		}
		got := l.Concerts[0]
		if got.Title != "Winter Concert" || got.Venue != "Olympic Hall" || !got.SalesOpenAt.Equal(s.SalesOpenAt) || got.SoldOut {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("Detail", func(t *testing.T) {
		for range 3 {
			e.join(t, e.fan(t, "Fan", 0), c.ConcertID)
		}
		d, err := e.client.Concert(ctx, c.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		if d.ConcertID != c.ConcertID || len(d.Dates) != 2 || d.Dates[0].Date != day1 || len(d.Grades) != 2 {
			t.Errorf("got %+v", d)
		}
		// Three wait; a fourth fan waits for 4 admissions at 2 per second.
		if d.WaitingRoom != (boxhttp.RoomStatus{Strategy: "RATE", QueueLength: 3, EstimatedWaitSeconds: 2}) {
			t.Errorf("waiting room = %+v, want RATE, 3 waiting, 2 s", d.WaitingRoom)
		}
	})
	t.Run("DetailBeforeOpening", func(t *testing.T) {
		d, err := e.client.Concert(ctx, c2.ConcertID)
		if err != nil {
			t.Fatal(err)
		}
		if d.WaitingRoom.QueueLength != 0 || d.WaitingRoom.EstimatedWaitSeconds != 24*3600+1 {
			t.Errorf("waiting room = %+v, want empty with the day until opening plus one admission", d.WaitingRoom)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Concert(ctx, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		wantProblem(t, e.do(t, "GET", "/v1/concerts/12345", ""), 404, boxoffice.CodeNotFound)
	})
}

func TestSetWaitingRoom(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	t.Run("OK", func(t *testing.T) {
		wr := boxhttp.WaitingRoom{Strategy: "RATE_AND_MAX_ACTIVE", AdmitPerSecond: 10, MaxActive: 100, SessionSeconds: 300, IdleSeconds: 30, MaxSessionSeconds: 1200}
		got, err := e.client.SetWaitingRoom(ctx, adminKey, c.ConcertID, wr)
		if err != nil || got != wr {
			t.Fatalf("got %+v, %v; want %+v", got, err, wr)
		}
		d, _ := e.client.Concert(ctx, c.ConcertID)
		if d.WaitingRoom.Strategy != "RATE_AND_MAX_ACTIVE" {
			t.Errorf("concert shows strategy %s, want the new one at once", d.WaitingRoom.Strategy)
		}
		f := e.fan(t, "Kim", 0)
		st := e.join(t, f, c.ConcertID)
		if st.Status != "WAITING" || st.Position != 1 {
			t.Errorf("join: %+v, want WAITING at 1", st)
		}
	})
	t.Run("MaxSessionSeconds", func(t *testing.T) {
		c := e.concert(t, spec())
		path := "/v1/admin/concerts/" + c.ConcertID + "/waiting-room"
		a := e.do(t, "PUT", path, `{"strategy":"RATE","admitPerSecond":5,"sessionSeconds":60,"idleSeconds":60}`, "Authorization", bearer(adminKey))
		if a.status != 200 || decode[boxhttp.WaitingRoom](t, a).MaxSessionSeconds != 900 {
			t.Errorf("left out: got %d %s, want 200 with the default 900", a.status, a.body)
		}
		a = e.do(t, "PUT", path, `{"strategy":"RATE","admitPerSecond":5,"sessionSeconds":60,"idleSeconds":60,"maxSessionSeconds":45}`, "Authorization", bearer(adminKey))
		if a.status != 200 || !strings.Contains(string(a.body), `"maxSessionSeconds":45`) {
			t.Errorf("given: got %d %s, want 200 with maxSessionSeconds 45", a.status, a.body)
		}
		// The room is built from the stored settings at the first join: a
		// session used all along still ends 45 s after its admission.
		f := e.admitted(t, "Kim", 0, c.ConcertID)
		admittedAt := e.clock.Now()
		// What a hold's expiresAt is capped at: the end that the queue
		// pass's Use reports.
		tk, err := e.signer.VerifyQueue(f.queue)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := e.queue.Use(ctx, tk); err != nil || !u.SessionEndsAt.Equal(admittedAt.Add(45*time.Second)) {
			t.Errorf("Use: got end %v, %v, want %v", u.SessionEndsAt, err, admittedAt.Add(45*time.Second))
		}
		e.clock.Advance(30 * time.Second)
		if _, err := e.client.Dates(ctx, f.access, f.queue, c.ConcertID); err != nil {
			t.Fatalf("dates within the session: %v", err)
		}
		st, err := e.client.QueueStatus(ctx, f.access, f.queue)
		if err != nil || st.SessionExpiresAt == nil || !st.SessionExpiresAt.Equal(admittedAt.Add(45*time.Second)) {
			t.Errorf("status after use: got %+v, %v, want sessionExpiresAt %v", st, err, admittedAt.Add(45*time.Second))
		}
		e.clock.Advance(15 * time.Second)
		_, err = e.client.Dates(ctx, f.access, f.queue, c.ConcertID)
		wantCode(t, err, 401, boxoffice.CodeQueueTokenExpired)
		if a := e.do(t, "GET", "/openapi.json", ""); !strings.Contains(string(a.body), `"maxSessionSeconds":{`) ||
			!strings.Contains(string(a.body), `"An admitted session ends this long after its admission however much it is used; default 900."`) {
			t.Errorf("openapi.json does not describe maxSessionSeconds")
		}
		for _, v := range []string{"0", "-1", "86401"} {
			a = e.do(t, "PUT", path, `{"strategy":"RATE","admitPerSecond":5,"sessionSeconds":60,"idleSeconds":60,"maxSessionSeconds":`+v+`}`, "Authorization", bearer(adminKey))
			wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
		}
	})
	for _, tt := range []struct {
		name string
		wr   boxhttp.WaitingRoom
	}{
		{"UnknownStrategy", boxhttp.WaitingRoom{Strategy: "FAST", AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 60}},
		{"RateWithoutRate", boxhttp.WaitingRoom{Strategy: "RATE", SessionSeconds: 60, IdleSeconds: 60}},
		{"MaxActiveWithoutMax", boxhttp.WaitingRoom{Strategy: "MAX_ACTIVE", SessionSeconds: 60, IdleSeconds: 60}},
		{"NoSession", boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, IdleSeconds: 60}},
		{"IdleTooLong", boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 86401}},
		{"ProofOfWorkTooSmall", boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 60, ProofOfWork: 999}},
		{"ProofOfWorkTooLarge", boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 60, ProofOfWork: 10_000_001}},
	} {
		t.Run("ErrInvalidRequest/"+tt.name, func(t *testing.T) {
			_, err := e.client.SetWaitingRoom(ctx, adminKey, c.ConcertID, tt.wr)
			wantCode(t, err, 422, boxoffice.CodeInvalidRequest)
		})
	}
	t.Run("ErrInvalidRequest/Partial", func(t *testing.T) {
		a := e.do(t, "PUT", "/v1/admin/concerts/"+c.ConcertID+"/waiting-room", `{"strategy":"RATE"}`, "Authorization", bearer(adminKey))
		wantProblem(t, a, 422, boxoffice.CodeInvalidRequest)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		wr := boxhttp.WaitingRoom{Strategy: "RATE", AdmitPerSecond: 1, SessionSeconds: 60, IdleSeconds: 60}
		_, err := e.client.SetWaitingRoom(ctx, adminKey, boxoffice.NewID(), wr)
		wantCode(t, err, 404, boxoffice.CodeNotFound)
		_, err = e.client.SetWaitingRoom(ctx, adminKey, "x", wr)
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.SetWaitingRoom(ctx, "", c.ConcertID, boxhttp.WaitingRoom{})
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.concert(t, spec())
	t.Run("Empty", func(t *testing.T) {
		st, err := e.client.Stats(ctx, adminKey, c.ConcertID)
		want := boxhttp.ConcertStats{Total: 100, Available: 100}
		if err != nil || st != want {
			t.Errorf("got %+v, %v; want %+v", st, err, want)
		}
	})
	t.Run("AfterSales", func(t *testing.T) {
		kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
		r := e.hold(t, kim, c.ConcertID, day1, 1, 2)
		if _, err := e.client.Pay(ctx, kim.access, kim.queue, r.ReservationID, ""); err != nil {
			t.Fatal(err)
		}
		lee := e.admitted(t, "Lee", 0, c.ConcertID)
		e.hold(t, lee, c.ConcertID, day2, 20)
		e.join(t, e.fan(t, "Park", 0), c.ConcertID)
		st, err := e.client.Stats(ctx, adminKey, c.ConcertID)
		// Both admitted fans waited 0 s (the clock stood still): the
		// quantiles interpolate within the first bucket.
		var waits queue.WaitHistogram
		waits.Add(0)
		waits.Add(0)
		want := boxhttp.ConcertStats{Waiting: 1, Admitted: 2, Active: 1, Held: 1, Sold: 2, Revenue: 300_000, Available: 97, Total: 100,
			WaitP50Seconds: waits.Quantile(0.5).Seconds(), WaitP90Seconds: waits.Quantile(0.9).Seconds()}
		st.AdmitRate = 0
		if err != nil || st != want {
			t.Errorf("got %+v, %v; want %+v", st, err, want)
		}
	})
	t.Run("Abandoned", func(t *testing.T) {
		choi := e.fan(t, "Choi", 0)
		e.join(t, choi, c.ConcertID)
		if err := e.client.Leave(ctx, choi.access, choi.queue); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.admit()
		st, err := e.client.Stats(ctx, adminKey, c.ConcertID)
		if err != nil || st.Abandoned != 1 || st.Dropped != 0 || !(st.AbandonRate > 0) {
			t.Errorf("got %+v, %v; want 1 abandoned, 0 dropped and an abandon rate above 0", st, err)
		}
	})
	t.Run("Prequeued", func(t *testing.T) {
		s := spec()
		s.SalesOpenAt = base.Add(time.Hour)
		later := e.concert(t, s)
		e.join(t, e.fan(t, "Early1", 0), later.ConcertID)
		e.join(t, e.fan(t, "Early2", 0), later.ConcertID)
		st, err := e.client.Stats(ctx, adminKey, later.ConcertID)
		if err != nil || st.Prequeued != 2 || st.Waiting != 2 {
			t.Errorf("got %+v, %v; want 2 prequeued, 2 waiting", st, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := e.client.Stats(ctx, adminKey, boxoffice.NewID())
		wantCode(t, err, 404, boxoffice.CodeNotFound)
	})
	t.Run("ErrUnauthenticated", func(t *testing.T) {
		_, err := e.client.Stats(ctx, "wrong", c.ConcertID)
		wantCode(t, err, 401, boxoffice.CodeUnauthenticated)
	})
}
