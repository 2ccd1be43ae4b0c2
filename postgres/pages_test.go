package postgres

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/event"
)

// appendPage writes what json.Marshal would, escaping included.
func TestAppendPage(t *testing.T) {
	concert := "01a2500a-0000-7000-8000-000000000001"
	odd := "a \"quoted\" <b>&\\ é\n"
	evs := []pageEvent{
		{Position: 1, JSON: event.JSON{ID: "01a2500a-0000-7000-8000-0000000000aa", Type: event.SeatsHeld,
			At: time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC), ConcertID: &concert, Seq: 1,
			Data: json.RawMessage(`{"v": 1, "seats": [1, 2]}`)}},
		{Position: 2, JSON: event.JSON{ID: odd, Type: event.Type(odd), At: time.Date(2026, 12, 7, 10, 0, 1, 0, time.UTC),
			ConcertID: &odd, Seq: 9, Data: json.RawMessage(`{"v":1,"s":"\u00e9"}`)}},
		{Position: 3, JSON: event.JSON{ID: "x", Type: event.BalanceCharged, At: time.Date(2026, 12, 7, 10, 0, 2, 500, time.UTC),
			Seq: 1, Data: json.RawMessage(`{"v":1}`)}},
	}
	got := appendPage(nil, evs)
	want, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("appendPage wrote invalid JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("appendPage:\n%s\njson.Marshal:\n%s", got, want)
	}
	var back []pageEvent
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		if !back[i].At.Equal(evs[i].At) || back[i].ID != evs[i].ID || back[i].Type != evs[i].Type {
			t.Errorf("event %d read back as %+v, want %+v", i, back[i], evs[i])
		}
	}
}
