package concert_test

import (
	"reflect"
	"testing"

	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

// The JSON is kept in databases: its form must not change.
func TestGradesJSON(t *testing.T) {
	grades := []concert.Grade{{Name: "VIP", First: 1, Last: 10, Price: 150_000}, {Name: "R", First: 11, Last: 50, Price: 90_000}}
	const want = `[{"name":"VIP","first":1,"last":10,"price":150000},{"name":"R","first":11,"last":50,"price":90000}]`
	if got := concert.GradesJSON(grades); got != want {
		t.Errorf("GradesJSON: got %s, want %s", got, want)
	}
	got, err := concert.ParseGradesJSON([]byte(want))
	if err != nil || !reflect.DeepEqual(got, grades) {
		t.Errorf("ParseGradesJSON: got %+v, %v, want %+v", got, err, grades)
	}
	if _, err := concert.ParseGradesJSON([]byte(`{`)); err == nil {
		t.Errorf("ParseGradesJSON of malformed JSON: got no error, want one")
	}
}

func TestRoomJSON(t *testing.T) {
	room := queue.Settings{Strategy: queue.RateAndMaxActive, AdmitPerSecond: 12.5, MaxActive: 300, SessionSeconds: 900, IdleSeconds: 45, MaxSessionSeconds: 1200}
	const want = `{"strategy":"RATE_AND_MAX_ACTIVE","admitPerSecond":12.5,"maxActive":300,"sessionSeconds":900,"idleSeconds":45,"maxSessionSeconds":1200}`
	if got := concert.RoomJSON(room); got != want {
		t.Errorf("RoomJSON: got %s, want %s", got, want)
	}
	got, version, err := concert.ParseRoomJSON([]byte(want))
	if err != nil || got != room || version != 1 {
		t.Errorf("ParseRoomJSON: got %+v version %d, %v, want %+v version 1", got, version, err, room)
	}
	// Settings stored before maxSessionSeconds existed have the default.
	const old = `{"strategy":"RATE_AND_MAX_ACTIVE","admitPerSecond":12.5,"maxActive":300,"sessionSeconds":900,"idleSeconds":45,"version":3}`
	room.MaxSessionSeconds = queue.DefaultMaxSessionSeconds
	if got, version, err := concert.ParseRoomJSON([]byte(old)); err != nil || got != room || version != 3 {
		t.Errorf("ParseRoomJSON without maxSessionSeconds: got %+v version %d, %v, want %+v version 3", got, version, err, room)
	}
	if _, version, err := concert.ParseRoomJSON([]byte(`{"strategy":"RATE","version":7}`)); err != nil || version != 7 {
		t.Errorf("ParseRoomJSON of version 7: got %d, %v", version, err)
	}
	pow := room
	pow.ProofOfWork = 100000
	const powJSON = `{"strategy":"RATE_AND_MAX_ACTIVE","admitPerSecond":12.5,"maxActive":300,"sessionSeconds":900,"idleSeconds":45,"maxSessionSeconds":900,"proofOfWork":100000}`
	if got := concert.RoomJSON(pow); got != powJSON {
		t.Errorf("RoomJSON with proofOfWork: got %s, want %s", got, powJSON)
	}
	if got, _, err := concert.ParseRoomJSON([]byte(powJSON)); err != nil || got != pow {
		t.Errorf("ParseRoomJSON with proofOfWork: got %+v, %v, want %+v", got, err, pow)
	}
	if _, _, err := concert.ParseRoomJSON([]byte(`{`)); err == nil {
		t.Errorf("ParseRoomJSON of malformed JSON: got no error, want one")
	}
}
