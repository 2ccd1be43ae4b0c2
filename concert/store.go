package concert

import (
	"encoding/json"
	"fmt"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// What SQL stores keep of a concert in JSON columns: its grades and its
// waiting room settings. The field names are part of the stored data.

type gradeJSON struct {
	Name  string `json:"name"`
	First int    `json:"first"`
	Last  int    `json:"last"`
	Price int64  `json:"price"`
}

type roomJSON struct {
	Strategy       string  `json:"strategy"`
	AdmitPerSecond float64 `json:"admitPerSecond"`
	MaxActive      int64   `json:"maxActive"`
	SessionSeconds int     `json:"sessionSeconds"`
	IdleSeconds    int     `json:"idleSeconds"`
	// MaxSessionSeconds is absent from settings stored before it existed:
	// they read as queue.DefaultMaxSessionSeconds.
	MaxSessionSeconds int `json:"maxSessionSeconds,omitempty"`
	// ProofOfWork is absent when 0 (off), and in data written before it
	// existed.
	ProofOfWork int64 `json:"proofOfWork,omitempty"`
	// Version counts the settings' changes: 1 at creation (and when
	// absent), one more at each SetWaitingRoom.
	Version int64 `json:"version,omitempty"`
}

// GradesJSON is grades as a store keeps them: a JSON array.
func GradesJSON(grades []Grade) string {
	rows := make([]gradeJSON, len(grades))
	for i, g := range grades {
		rows[i] = gradeJSON{Name: g.Name, First: g.First, Last: g.Last, Price: int64(g.Price)}
	}
	b, _ := json.Marshal(rows) // cannot fail: strings and numbers only
	return string(b)
}

// ParseGradesJSON reads what GradesJSON wrote.
func ParseGradesJSON(b []byte) ([]Grade, error) {
	var rows []gradeJSON
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("decode grades: %w", err)
	}
	grades := make([]Grade, len(rows))
	for i, g := range rows {
		grades[i] = Grade{Name: g.Name, First: g.First, Last: g.Last, Price: boxoffice.Money(g.Price)}
	}
	return grades, nil
}

// RoomJSON is waiting room settings as a store keeps them: a JSON object.
// The version is not written: a new concert's settings are version 1, and
// SetWaitingRoom counts up in the database, under the row's lock.
func RoomJSON(s queue.Settings) string {
	b, _ := json.Marshal(roomJSON{
		Strategy: string(s.Strategy), AdmitPerSecond: s.AdmitPerSecond, MaxActive: s.MaxActive,
		SessionSeconds: s.SessionSeconds, IdleSeconds: s.IdleSeconds, MaxSessionSeconds: s.MaxSessionSeconds, ProofOfWork: s.ProofOfWork,
	})
	return string(b)
}

// ParseRoomJSON reads what RoomJSON wrote, and the settings' version.
func ParseRoomJSON(b []byte) (queue.Settings, int64, error) {
	r := roomJSON{MaxSessionSeconds: queue.DefaultMaxSessionSeconds}
	if err := json.Unmarshal(b, &r); err != nil {
		return queue.Settings{}, 0, fmt.Errorf("decode waiting room: %w", err)
	}
	return queue.Settings{
		Strategy: queue.Strategy(r.Strategy), AdmitPerSecond: r.AdmitPerSecond, MaxActive: r.MaxActive,
		SessionSeconds: r.SessionSeconds, IdleSeconds: r.IdleSeconds, MaxSessionSeconds: r.MaxSessionSeconds, ProofOfWork: r.ProofOfWork,
	}, max(1, r.Version), nil
}

// NotFound is the NOT_FOUND error of a store for an unknown concert.
func NotFound(id string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "concert %s not found", id)
}

// DateNotFound is the NOT_FOUND error of a store for an unknown date, or a
// date of an unknown concert.
func DateNotFound(concertID, day string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "date %s of concert %s not found", day, concertID)
}
