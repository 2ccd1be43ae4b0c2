package http_test

import (
	"strings"
	"testing"
)

// TestMalformedRequests sends requests no client should send; none may be
// answered 500, and every refusal is a problem.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	c := e.concert(t, spec())
	kim := e.admitted(t, "Kim", 1_000_000, c.ConcertID)
	r := e.hold(t, kim, c.ConcertID, day1, 1)
	long := strings.Repeat("x", 10_000)
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	fanHeaders := []string{"Authorization", bearer(kim.access), "Queue-Token", kim.queue}

	type req struct {
		method, path, body string
		headers            []string
	}
	var reqs []req
	bodies := []string{
		"{", "[]", "null", "123", `"text"`, `{"x":1}`, deep, "\x00\x01", "\xff\xfe{}", `{"a":` + long + `}`,
		`{"amount":1e400}`, `{"amount":9223372036854775808}`, `{"amount":-9223372036854775809}`, `{"amount":1.5}`,
		`{"amount":"100"}`, `{"name":null}`, `{"name":["Kim"]}`, `{"name":"Kim","name":"Lee"}`,
		`{"concertId":5,"date":[],"seatNumbers":"1"}`, `{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[1e10]}`,
		`{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[-1]}`,
		`{"concertId":"` + c.ConcertID + `","date":"` + day1 + `","seatNumbers":[` + strings.Repeat("1,", 60) + `1]}`,
		`{"concertId":"` + c.ConcertID + `","date":"` + long + `","seatNumbers":[1]}`,
		`{"reservationId":null}`, `{"reservationId":"` + long + `"}`, `{"reservationId":"../../etc"}`,
		`{"strategy":"RATE","admitPerSecond":"NaN","sessionSeconds":1,"idleSeconds":1}`,
		`{"strategy":"RATE","admitPerSecond":1e308,"sessionSeconds":1e20,"idleSeconds":-1}`,
		`{"title":"t","venue":"v","dates":["0000-01-01T00:00:00Z"],"grades":[{"name":"A","seats":"1-50","price":0}],"salesOpenAt":"9999-12-31T23:59:59Z"}`,
		`{"title":"t","venue":"v","dates":["2026-07-01T19:00:00+09:00"],"grades":[{"name":"A","seats":"50-1","price":0}],"salesOpenAt":"2026-01-01T00:00:00Z"}`,
		`{"title":"t","venue":"v","dates":["2026-07-01T19:00:00+09:00"],"grades":[{"name":"A","seats":"-","price":0}],"salesOpenAt":"2026-01-01T00:00:00Z"}`,
		`{"title":"t","venue":"v","dates":[],"grades":null,"salesOpenAt":"2026-01-01T00:00:00Z","waitingRoom":{}}`,
	}
	writes := []struct{ method, path string }{
		{"POST", "/v1/users"},
		{"POST", "/v1/users/" + kim.id + "/balance/charges"},
		{"POST", "/v1/concerts/" + c.ConcertID + "/queue"},
		{"POST", "/v1/reservations"},
		{"POST", "/v1/payments"},
		{"POST", "/v1/admin/concerts"},
		{"PUT", "/v1/admin/concerts/" + c.ConcertID + "/waiting-room"},
	}
	for _, w := range writes {
		for _, b := range bodies {
			h := fanHeaders
			if strings.HasPrefix(w.path, "/v1/admin/") {
				h = []string{"Authorization", bearer(adminKey)}
			}
			reqs = append(reqs, req{w.method, w.path, b, h})
		}
		reqs = append(reqs,
			req{w.method, w.path, `{}`, append([]string{"Content-Type", "text/plain"}, fanHeaders...)},
			req{w.method, w.path, `<x/>`, append([]string{"Content-Type", "application/xml"}, fanHeaders...)},
		)
	}
	ids := []string{"%00", "..", "%2e%2e", long, "한글", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --", "%ff%fe"}
	for _, id := range ids {
		reqs = append(reqs,
			req{"GET", "/v1/users/" + id + "/balance", "", fanHeaders},
			req{"GET", "/v1/users/" + id + "/balance/history", "", fanHeaders},
			req{"GET", "/v1/concerts/" + id, "", nil},
			req{"POST", "/v1/concerts/" + id + "/queue", "", fanHeaders},
			req{"GET", "/v1/concerts/" + id + "/dates", "", fanHeaders},
			req{"GET", "/v1/concerts/" + c.ConcertID + "/dates/" + id + "/seats", "", fanHeaders},
			req{"GET", "/v1/concerts/" + id + "/dates/" + day1 + "/seats", "", fanHeaders},
			req{"GET", "/v1/reservations/" + id, "", fanHeaders},
			req{"DELETE", "/v1/reservations/" + id, "", fanHeaders},
			req{"GET", "/v1/admin/concerts/" + id + "/stats", "", []string{"Authorization", bearer(adminKey)}},
			req{"PUT", "/v1/admin/concerts/" + id + "/waiting-room", `{"strategy":"RATE","admitPerSecond":1,"sessionSeconds":60,"idleSeconds":60}`, []string{"Authorization", bearer(adminKey)}},
		)
	}
	for _, q := range []string{"limit=99999999999999999999", "limit=", "cursor=" + long, "limit=1&limit=2", "cursor=%00", "x=1"} {
		reqs = append(reqs, req{"GET", "/v1/users/" + kim.id + "/balance/history?" + q, "", fanHeaders})
	}
	for _, tok := range []string{long, "a.b", ".", "..", "a.", ".b", "\t", "Bearer x"} {
		reqs = append(reqs,
			req{"GET", "/v1/queue", "", []string{"Authorization", bearer(kim.access), "Queue-Token", tok}},
			req{"DELETE", "/v1/reservations/" + r.ReservationID, "", []string{"Authorization", bearer(kim.access), "Queue-Token", tok}},
			req{"GET", "/v1/users/" + kim.id + "/balance", "", []string{"Authorization", "Bearer " + tok}},
			req{"GET", "/v1/admin/concerts/" + c.ConcertID + "/stats", "", []string{"Authorization", "Bearer " + tok}},
		)
	}
	reqs = append(reqs,
		req{"POST", "/v1/payments", `{"reservationId":"` + r.ReservationID + `"}`, append([]string{"Idempotency-Key", "key\twith tab"}, fanHeaders...)},
		req{"POST", "/v1/payments", `{"reservationId":"` + r.ReservationID + `"}`, append([]string{"Idempotency-Key", "ключ"}, fanHeaders...)},
		req{"TRACE", "/v1/concerts", "", nil},
		req{"GET", "/v1/../v1/concerts", "", nil},
	)

	for _, rq := range reqs {
		a := e.do(t, rq.method, rq.path, rq.body, rq.headers...)
		if a.status >= 500 {
			t.Errorf("%s %.80s body %.60q: status %d, want no 5xx (%s)", rq.method, rq.path, rq.body, a.status, a.body)
			continue
		}
		if a.status >= 400 {
			p := a.problem(t)
			if p.Detail == "" {
				t.Errorf("%s %.80s body %.60q: problem without detail", rq.method, rq.path, rq.body)
			}
		}
	}
	if strings.Contains(e.logs.String(), "internal error") {
		t.Errorf("internal errors were logged:\n%.2000s", e.logs.String())
	}
	// The hold survived everything.
	got, err := e.client.Reservation(t.Context(), kim.access, r.ReservationID)
	if err != nil || got.Status != "HELD" {
		t.Errorf("reservation after the malformed requests: %+v, %v; want HELD", got, err)
	}
}
