package concert_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func kst(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func validSpec() concert.Spec {
	return concert.Spec{
		Title: "Winter Night", Venue: "Olympic Hall",
		Dates: []time.Time{kst("2026-12-25T19:00:00+09:00"), kst("2026-12-24T02:00:00+09:00")},
		Grades: []concert.GradeSpec{
			{Name: "VIP", Seats: "1-10", Price: 150000},
			{Name: "R", Seats: "11-50", Price: 90000},
		},
		SalesOpenAt: t0,
	}
}

func TestNew(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		c, err := concert.New("id", validSpec(), t0)
		if err != nil {
			t.Fatal(err)
		}
		if c.HoldSeconds != concert.DefaultHold || c.MaxSeatsPerUser != concert.DefaultMaxSeats {
			t.Errorf("defaults: got hold %d max %d", c.HoldSeconds, c.MaxSeatsPerUser)
		}
		if c.WaitingRoom != queue.DefaultSettings() {
			t.Errorf("waiting room: got %+v, want defaults", c.WaitingRoom)
		}
		spec := validSpec()
		spec.WaitingRoom = &queue.Settings{Strategy: queue.MaxActive, MaxActive: 5, SessionSeconds: 60, IdleSeconds: 30}
		if c, err := concert.New("id", spec, t0); err != nil || c.WaitingRoom.MaxSessionSeconds != queue.DefaultMaxSessionSeconds {
			t.Errorf("waiting room without maxSessionSeconds: got %+v, %v, want it %d", c.WaitingRoom, err, queue.DefaultMaxSessionSeconds)
		}
		// The day is the venue's calendar date, not the UTC one; dates sort by start.
		if len(c.Dates) != 2 || c.Dates[0].Day != "2026-12-24" || c.Dates[1].Day != "2026-12-25" {
			t.Fatalf("dates: got %+v", c.Dates)
		}
		if c.Dates[0].StartsAt.Location() != time.UTC || !c.Dates[0].StartsAt.Equal(kst("2026-12-23T17:00:00Z")) {
			t.Errorf("startsAt: got %v", c.Dates[0].StartsAt)
		}
		seats := c.Seats()
		if len(seats) != concert.SeatsPerDate || seats[9].Grade != "VIP" || seats[10].Grade != "R" || seats[49].Price != 90000 {
			t.Errorf("seat map: got %+v", seats)
		}
	})
	tests := []struct {
		name   string
		modify func(*concert.Spec)
		field  string // the API field the error names, when checked
	}{
		{"ErrTitleNUL", func(s *concert.Spec) { s.Title = "Winter\x00Night" }, "title"},
		{"ErrTitleTooLong", func(s *concert.Spec) { s.Title = strings.Repeat("한", 201) }, "title"},
		{"ErrVenueBidi", func(s *concert.Spec) { s.Venue = "Hall\u202e" }, "venue"},
		{"ErrVenueZeroWidth", func(s *concert.Spec) { s.Venue = "Hall\u200b" }, "venue"},
		{"ErrGradeNameESC", func(s *concert.Spec) { s.Grades[1].Name = "R\x1b[2J" }, "grades[1].name"},
		{"ErrGradeSeatsNamed", func(s *concert.Spec) { s.Grades[1].Seats = "x" }, "grades[1].seats"},
		{"ErrGradePriceNamed", func(s *concert.Spec) { s.Grades[1].Price = concert.MaxPrice + 1 }, "grades[1].price"},
		{"ErrDatesAllPast", func(s *concert.Spec) { s.Dates = []time.Time{t0.Add(-time.Hour), t0.AddDate(0, -1, 0)} }, "dates"},
		{"ErrDateTooFar", func(s *concert.Spec) { s.Dates = append(s.Dates, t0.Add(concert.MaxAhead+time.Hour)) }, "dates[2]"},
		{"ErrDateYear9999", func(s *concert.Spec) { s.Dates = []time.Time{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} }, "dates[0]"},
		{"ErrSalesOpenTooFar", func(s *concert.Spec) { s.SalesOpenAt = t0.Add(concert.MaxAhead + time.Hour) }, "salesOpenAt"},
		{"ErrSalesOpen9999", func(s *concert.Spec) { s.SalesOpenAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "salesOpenAt"},
		{"ErrAdmitRateTiny", func(s *concert.Spec) {
			s.WaitingRoom = &queue.Settings{Strategy: queue.Rate, AdmitPerSecond: 1e-300, SessionSeconds: 60, IdleSeconds: 60}
		}, "admitPerSecond"},
		{"ErrNoTitle", func(s *concert.Spec) { s.Title = "  " }, ""},
		{"ErrNoVenue", func(s *concert.Spec) { s.Venue = "" }, ""},
		{"ErrNoDates", func(s *concert.Spec) { s.Dates = nil }, ""},
		{"ErrSameDay", func(s *concert.Spec) { s.Dates = append(s.Dates, kst("2026-12-25T14:00:00+09:00")) }, ""},
		{"ErrNoSalesOpen", func(s *concert.Spec) { s.SalesOpenAt = time.Time{} }, ""},
		{"ErrSalesOpenYear", func(s *concert.Spec) { s.SalesOpenAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, ""},
		{"ErrDateYear", func(s *concert.Spec) { s.Dates = []time.Time{time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)} }, ""},
		{"ErrHoldTooLong", func(s *concert.Spec) { s.HoldSeconds = concert.MaxHoldSeconds + 1 }, ""},
		{"ErrHoldNegative", func(s *concert.Spec) { s.HoldSeconds = -1 }, ""},
		{"ErrMaxSeats", func(s *concert.Spec) { s.MaxSeatsPerUser = 51 }, ""},
		{"ErrGradeGap", func(s *concert.Spec) { s.Grades[1].Seats = "12-50" }, ""},
		{"ErrGradeOverlap", func(s *concert.Spec) { s.Grades[1].Seats = "10-50" }, ""},
		{"ErrGradeRange", func(s *concert.Spec) { s.Grades[1].Seats = "11-51" }, ""},
		{"ErrGradePrice", func(s *concert.Spec) { s.Grades[0].Price = -1 }, ""},
		{"ErrGradeName", func(s *concert.Spec) { s.Grades[0].Name = "" }, ""},
		{"ErrNoGrades", func(s *concert.Spec) { s.Grades = nil }, ""},
		{"ErrWaitingRoom", func(s *concert.Spec) { s.WaitingRoom = &queue.Settings{Strategy: queue.Rate} }, ""},
		{"ErrMaxSessionSeconds", func(s *concert.Spec) {
			room := queue.DefaultSettings()
			room.MaxSessionSeconds = -1
			s.WaitingRoom = &room
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec()
			s.Grades = append([]concert.GradeSpec(nil), s.Grades...)
			tt.modify(&s)
			_, err := concert.New("id", s, t0)
			if !errors.Is(err, boxoffice.ErrInvalidRequest) {
				t.Errorf("got %v, want INVALID_REQUEST", err)
			}
			if err != nil && tt.field != "" && !strings.Contains(err.Error(), tt.field) {
				t.Errorf("got %q, want it to name %s", err, tt.field)
			}
		})
	}
	t.Run("OKSomeDatesPast", func(t *testing.T) {
		s := validSpec()
		s.Dates = append(s.Dates, t0.AddDate(0, -1, 0))
		if _, err := concert.New("id", s, t0); err != nil {
			t.Fatalf("got %v, want a concert with a past date among upcoming ones", err)
		}
	})
	t.Run("OKAtHorizon", func(t *testing.T) {
		s := validSpec()
		s.SalesOpenAt = t0.Add(concert.MaxAhead)
		s.Dates = []time.Time{t0.Add(concert.MaxAhead)}
		if _, err := concert.New("id", s, t0); err != nil {
			t.Fatalf("got %v, want a concert at the horizon", err)
		}
	})
	t.Run("OKHangulTitle200", func(t *testing.T) {
		s := validSpec()
		s.Title, s.Venue, s.Grades[0].Name = strings.Repeat("한", 200), strings.Repeat("홀", 200), strings.Repeat("석", 200)
		if _, err := concert.New("id", s, t0); err != nil {
			t.Fatalf("got %v, want 200 Hangul characters accepted", err)
		}
	})
}

func TestParseSeatRange(t *testing.T) {
	tests := []struct {
		in          string
		first, last int
		ok          bool
	}{
		{"1-10", 1, 10, true},
		{" 11 - 50 ", 11, 50, true},
		{"7", 7, 7, true},
		{"0-10", 0, 0, false},
		{"10-1", 0, 0, false},
		{"1-51", 0, 0, false},
		{"a-b", 0, 0, false},
		{"", 0, 0, false},
		{"1-2-3", 0, 0, false},
	}
	for _, tt := range tests {
		first, last, err := concert.ParseSeatRange(tt.in)
		if (err == nil) != tt.ok || first != tt.first || last != tt.last {
			t.Errorf("ParseSeatRange(%q) = %d, %d, %v; want %d, %d, ok=%v", tt.in, first, last, err, tt.first, tt.last, tt.ok)
		}
	}
}

func TestParseDay(t *testing.T) {
	for _, ok := range []string{"2026-12-24", "2028-02-29"} {
		if _, err := concert.ParseDay(ok); err != nil {
			t.Errorf("ParseDay(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"2026-02-30", "2026-1-5", "24-12-2026", "", "2026-12-24T00:00:00Z"} {
		if _, err := concert.ParseDay(bad); !errors.Is(err, boxoffice.ErrNotFound) {
			t.Errorf("ParseDay(%q) = %v, want NOT_FOUND", bad, err)
		}
	}
}

func TestStatusAt(t *testing.T) {
	exp := t0.Add(time.Minute)
	tests := []struct {
		name   string
		stored concert.SeatStatus
		now    time.Time
		want   concert.SeatStatus
	}{
		{"HeldBeforeExpiry", concert.Held, exp.Add(-time.Nanosecond), concert.Held},
		{"HeldAtExpiry", concert.Held, exp, concert.Available},
		{"HeldAfterExpiry", concert.Held, exp.Add(time.Hour), concert.Available},
		{"SoldStaysSold", concert.Sold, exp.Add(time.Hour), concert.Sold},
		{"Available", concert.Available, t0, concert.Available},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := concert.StatusAt(tt.stored, exp, tt.now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidDay(t *testing.T) {
	for day, want := range map[string]bool{
		"2026-12-24": true,
		"1970-01-01": true,
		"1969-12-31": false, // earlier than any concert may carry
		"0000-01-01": false,
		"2026-02-30": false,
		"2026-1-2":   false,
		"":           false,
	} {
		if got := concert.ValidDay(day); got != want {
			t.Errorf("ValidDay(%q): got %v, want %v", day, got, want)
		}
	}
}
