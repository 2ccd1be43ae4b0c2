package http

import (
	"sync"

	"github.com/boxoffice/boxoffice/concert"
)

// seatMaps remembers the JSON last rendered for each date. Concurrent
// readers of a date are answered by one store read that hands them the same
// slice of seats (see concert.Store.Seats), so a map is rendered once per
// read, not once per reader.
type seatMaps struct {
	mu    sync.Mutex
	dates map[dateKey]renderedMap
}

type dateKey struct{ concertID, day string }

type renderedMap struct {
	from *concert.Seat // first element of the slice it was rendered from
	json []byte
}

// maxRenderedMaps bounds the dates remembered; past it, it starts over.
const maxRenderedMaps = 4096

// render returns the seat map of seats, reusing the JSON rendered from the
// very same slice.
func (c *seatMaps) render(concertID, day string, seats []concert.Seat) SeatMap {
	if len(seats) == 0 {
		return SeatMap{Date: day, Seats: []Seat{}}
	}
	key := dateKey{concertID, day}
	c.mu.Lock()
	r, ok := c.dates[key]
	c.mu.Unlock()
	if ok && r.from == &seats[0] {
		return SeatMap{Date: day, raw: r.json}
	}
	m := SeatMap{Date: day, Seats: make([]Seat, len(seats))}
	for i, st := range seats {
		m.Seats[i] = Seat{Number: st.Number, Grade: st.Grade, Price: int64(st.Price), Status: string(st.Status)}
	}
	rendered := m.appendJSON(make([]byte, 0, 64*len(seats)))
	c.mu.Lock()
	if c.dates == nil || len(c.dates) >= maxRenderedMaps {
		c.dates = make(map[dateKey]renderedMap)
	}
	c.dates[key] = renderedMap{from: &seats[0], json: rendered}
	c.mu.Unlock()
	return SeatMap{Date: day, raw: rendered}
}
