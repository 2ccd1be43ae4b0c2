package http

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// assertSameJSON fails t unless v's appendJSON writes what encoding/json
// writes for it.
func assertSameJSON(t *testing.T, v appender) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	got := string(v.appendJSON(nil)) + "\n"
	if got != want.String() {
		t.Errorf("appendJSON:\n got %s\nwant %s", got, want.String())
	}
}

type stringValue string

func (s stringValue) appendJSON(b []byte) []byte { return appendString(b, string(s)) }

func TestAppendString(t *testing.T) {
	tests := []struct{ name, s string }{
		{"Empty", ""},
		{"ASCII", "Olympic Hall"},
		{"Quotes", `say "hi" \ there`},
		{"Controls", "a\nb\rc\td\be\ff\x00g\x1fh\x7f"},
		{"HTMLUnescaped", "<a href='x'>&</a>"},
		{"Korean", "올림픽홀 공연"},
		{"LineSeparators", "a\u2028b\u2029c"},
		{"InvalidUTF8", "a\xffb\xc3"},
		{"Emoji", "🎫"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertSameJSON(t, stringValue(tt.s))
		})
	}
}

func TestAppendersMatchEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 24, 10, 0, 0, 123456000, time.UTC)
	whole := time.Date(2026, 12, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    appender
	}{
		{"QueueStatusWaiting", QueueStatus{Token: "abc.def", ConcertID: "c", Status: "WAITING", Position: 12, EstimatedWaitSeconds: 3, PollAfterSeconds: 1}},
		{"QueueStatusAdmitted", QueueStatus{Token: "abc.def", ConcertID: "c", Status: "ADMITTED", SessionExpiresAt: &at}},
		{"QueueStatusPrequeue", QueueStatus{Token: "abc.def", ConcertID: "c", Status: "PREQUEUE", EstimatedWaitSeconds: 3600, PollAfterSeconds: 30, Prequeued: 7}},
		{"DateList", DateList{Dates: []DateAvailability{{Date: "2026-12-24", StartsAt: whole, AvailableSeats: 50}, {Date: "2026-12-25", StartsAt: at, AvailableSeats: 0}}}},
		{"DateListEmpty", DateList{Dates: []DateAvailability{}}},
		{"SeatMap", SeatMap{Date: "2026-12-24", Seats: []Seat{{Number: 1, Grade: "VIP", Price: 150000, Status: "AVAILABLE"}, {Number: 2, Grade: "R \"x\"", Price: 0, Status: "SOLD"}}}},
		{"SeatMapEmpty", SeatMap{Date: "2026-12-24", Seats: []Seat{}}},
		{"Reservation", Reservation{ReservationID: "r", UserID: "u", ConcertID: "c", Date: "2026-12-24",
			Seats: []ReservedSeat{{Number: 17, Price: 90000}, {Number: 18, Price: 90000}}, Amount: 180000, Status: "HELD", ExpiresAt: at}},
		{"ReservationNoSeats", Reservation{Seats: []ReservedSeat{}, ExpiresAt: whole}},
		{"Payment", Payment{PaymentID: "p", ReservationID: "r", Amount: 180000, Balance: -0, PaidAt: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertSameJSON(t, tt.v)
		})
	}
}

func TestJSONFormatUsesAppender(t *testing.T) {
	var buf bytes.Buffer
	if err := jsonFormat.Marshal(&buf, QueueStatus{Token: "t", Status: "WAITING"}); err != nil {
		t.Fatal(err)
	}
	var got QueueStatus
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil || got.Token != "t" || got.Status != "WAITING" {
		t.Errorf("got %+v, %v; want token t, status WAITING", got, err)
	}
	buf.Reset()
	if err := jsonFormat.Marshal(&buf, Health{Status: "ok"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "{\"status\":\"ok\"}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
