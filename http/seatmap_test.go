package http

import (
	"bytes"
	"slices"
	"testing"

	"github.com/boxoffice/boxoffice/concert"
)

func TestSeatMapsRenderOncePerSlice(t *testing.T) {
	var c seatMaps
	seats := []concert.Seat{
		{Number: 1, Grade: "VIP", Price: 150_000, Status: concert.Available},
		{Number: 2, Grade: "VIP", Price: 150_000, Status: concert.Held},
	}
	first := c.render("c1", "2026-07-01", seats)
	again := c.render("c1", "2026-07-01", seats)
	if &first.raw[0] != &again.raw[0] {
		t.Error("the same slice was rendered twice")
	}
	want := `{"date":"2026-07-01","seats":[{"number":1,"grade":"VIP","price":150000,"status":"AVAILABLE"},{"number":2,"grade":"VIP","price":150000,"status":"HELD"}]}`
	if got := string(again.appendJSON(nil)); got != want {
		t.Errorf("rendered:\n got %s\nwant %s", got, want)
	}

	// A new read, even with the same address reused elsewhere, is a new
	// slice: it is rendered afresh and shows its own statuses.
	fresh := slices.Clone(seats)
	fresh[1].Status = concert.Sold
	got := c.render("c1", "2026-07-01", fresh).appendJSON(nil)
	if !bytes.Contains(got, []byte(`"number":2,"grade":"VIP","price":150000,"status":"SOLD"`)) {
		t.Errorf("a new slice was not rendered afresh: %s", got)
	}
	// Another date never answers with this one's map.
	other := c.render("c1", "2026-07-02", seats).appendJSON(nil)
	if !bytes.HasPrefix(other, []byte(`{"date":"2026-07-02"`)) {
		t.Errorf("other date: %s", other)
	}
	if got := c.render("c1", "2026-07-03", nil).appendJSON(nil); string(got) != `{"date":"2026-07-03","seats":[]}` {
		t.Errorf("empty map: %s", got)
	}
}
