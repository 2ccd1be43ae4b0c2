package http

import (
	"context"
	"encoding/json"
	nethttp "net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
)

// Event is one event of the admin feed; data is documented per type in
// docs/events.md.
type Event struct {
	ID        string          `json:"id" doc:"The event's id, a UUIDv7; the message id on the stream."`
	Type      string          `json:"type" enum:"ConcertCreated,WaitingRoomChanged,BalanceCharged,SeatsHeld,HoldReleased,ReservationPaid,SoldOut,LotteryPublished"`
	At        time.Time       `json:"at" doc:"When the change was made."`
	ConcertID *string         `json:"concertId" doc:"The concert it concerns, or null."`
	Seq       int64           `json:"seq" doc:"Number of the event among its concert's (or, for null, among those of no concert), from 1 with no gap, in commit order."`
	Data      json.RawMessage `json:"data" doc:"The type's data, with its version in v."`
}

// EventPage is a page of the admin feed.
type EventPage struct {
	Events     []Event `json:"events" doc:"Oldest first."`
	NextCursor string  `json:"nextCursor" doc:"Pass it back as cursor to read on; always set. An empty page means nothing newer yet."`
}

type eventsInput struct {
	Cursor    string `query:"cursor" doc:"nextCursor of the previous page; empty for the oldest event kept."`
	Limit     int    `query:"limit" default:"100" minimum:"1" maximum:"1000" doc:"Events per page."`
	ConcertID string `query:"concertId" doc:"Only this concert's events."`
	Type      string `query:"type" doc:"Only events of this type."`
}

func (s *Server) feedRoutes() {
	if s.o.Events == nil {
		return
	}
	handle(s, huma.Operation{
		OperationID: "getEvents", Method: nethttp.MethodGet, Path: "/v1/admin/events", Tags: []string{tagAdmin},
		Summary: "Follow every sale's events, oldest first",
		Description: "Each event appears once, in commit order per concert. Events are kept for " +
			"the configured time (BOXOFFICE_EVENTS_KEEP); a cursor older than that reads on from the oldest kept.",
		Security: secAdmin, Middlewares: huma.Middlewares{s.admin},
		Errors: []int{401, 422, 503},
	}, s.eventFeed)
}

func (s *Server) eventFeed(ctx context.Context, in *eventsInput) (*out[EventPage], error) {
	after, err := event.ParseCursor(in.Cursor)
	if err != nil {
		return nil, err
	}
	q := event.Query{After: after, Limit: in.Limit, Type: event.Type(in.Type)}
	if in.Type != "" && !q.Type.Valid() {
		return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "type must be one of the event types")
	}
	if in.ConcertID != "" {
		id, ok := boxoffice.CanonID(in.ConcertID)
		if !ok {
			return nil, boxoffice.Errorf(boxoffice.CodeInvalidRequest, "concertId must be a concert id")
		}
		q.ConcertID = id
	}
	evs, err := s.o.Events.Events(ctx, q)
	if err != nil {
		return nil, err
	}
	page := EventPage{Events: make([]Event, len(evs)), NextCursor: event.Cursor(after)}
	for i, e := range evs {
		page.Events[i] = Event{ID: e.ID, Type: string(e.Type), At: e.At.UTC(), Seq: e.Seq, Data: e.Data}
		if e.ConcertID != "" {
			c := e.ConcertID
			page.Events[i].ConcertID = &c
		}
	}
	if n := len(evs); n > 0 {
		page.NextCursor = event.Cursor(evs[n-1].Position)
	}
	return &out[EventPage]{Body: page}, nil
}

// EventQuery selects a page of the admin feed for Client.Events.
type EventQuery struct {
	Cursor    string // nextCursor of the previous page; "" from the oldest kept
	Limit     int    // 0 takes the server's default
	ConcertID string
	Type      string
}

// Events returns a page of the admin event feed. Errors: UNAUTHENTICATED,
// INVALID_REQUEST, UNAVAILABLE.
func (cl *Client) Events(ctx context.Context, adminKey string, q EventQuery) (EventPage, error) {
	v := url.Values{}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.ConcertID != "" {
		v.Set("concertId", q.ConcertID)
	}
	if q.Type != "" {
		v.Set("type", q.Type)
	}
	var out EventPage
	_, err := cl.do(ctx, call{method: "GET", path: "/v1/admin/events", query: v, bearer: adminKey, out: &out})
	return out, err
}
