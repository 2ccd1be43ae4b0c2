package http

import (
	"context"
	nethttp "net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

type joinOutput struct {
	Status int
	Body   QueueStatus
}

func (s *Server) queueRoutes() {
	queueStatus := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[QueueStatus](), true, "QueueStatus")
	handle(s, huma.Operation{
		OperationID: "joinQueue", Method: nethttp.MethodPost, Path: "/v1/concerts/{concertId}/queue", Tags: []string{tagQueue},
		Summary:       "Join a concert's waiting room",
		Description:   "201 with a new place; 200 with the place or session the caller already has (same token, same place). A room whose proofOfWork is on asks for a new place's Queue-Proof (PROOF_INVALID otherwise).",
		DefaultStatus: nethttp.StatusCreated,
		Responses: map[string]*huma.Response{
			"200": {Description: "Already in the room", Content: map[string]*huma.MediaType{"application/json": {Schema: queueStatus}}},
		},
		Security: secBearer, Middlewares: huma.Middlewares{s.bearer, s.proofGate},
		Errors: []int{401, 403, 404, 409, 429, 503},
	}, s.join)
	s.proofRoutes()
	handle(s, huma.Operation{
		OperationID: "getQueueStatus", Method: nethttp.MethodGet, Path: "/v1/queue", Tags: []string{tagQueue},
		Summary:     "Read the caller's standing (also a heartbeat)",
		Description: "Polling keeps a waiting place alive; poll again after pollAfterSeconds. An ended place or session answers status EXPIRED.",
		Security:    secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 503},
	}, s.queueStatus)
	handle(s, huma.Operation{
		OperationID: "leaveQueue", Method: nethttp.MethodDelete, Path: "/v1/queue", Tags: []string{tagQueue},
		Summary: "Give up the caller's place or session at once",
		Description: "The caller's held reservations of the concert are released at once (CANCELLED) with it." +
			" On an error nothing is promised but that a retry with the same token finishes the leave.",
		DefaultStatus: nethttp.StatusNoContent,
		Security:      secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 429, 503},
	}, s.leave)
	s.eventRoutes()
}

func (s *Server) join(ctx context.Context, in *joinInput) (*joinOutput, error) {
	c, err := s.concertByID(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	// The concert as cached is at most a second old. The waiting room
	// learns of a sell-out too, but only from the supply its leader reports
	// while the room has places or sessions: a room nobody is in would let
	// a first fan join a sold-out concert.
	if c.SoldOut {
		return nil, boxoffice.Errorf(boxoffice.CodeSoldOut, "every seat of this concert is sold")
	}
	var st queue.Status
	var created bool
	if c.WaitingRoom.ProofOfWork > 0 {
		st, created, err = s.joinProven(ctx, c.Room(), userOf(ctx), in.QueueProof)
	} else {
		st, created, err = s.o.Queue.Join(ctx, c.Room(), userOf(ctx))
	}
	if err != nil {
		return nil, err
	}
	status := nethttp.StatusOK
	if created {
		status = nethttp.StatusCreated
	}
	return &joinOutput{Status: status, Body: s.queueAnswer(st, s.o.Signer.QueueToken(st.Ticket))}, nil
}

// queueAnswer is the QueueStatus of st, whose token is tok.
func (s *Server) queueAnswer(st queue.Status, tok string) QueueStatus {
	wait, poll := queue.Estimate(st, s.o.Clock.Now())
	q := QueueStatus{
		Token:                tok,
		ConcertID:            st.ConcertID,
		Status:               string(st.State),
		Position:             st.Position,
		EstimatedWaitSeconds: wait,
		PollAfterSeconds:     poll,
	}
	switch st.State {
	case queue.Admitted:
		q.SessionExpiresAt = timePtr(st.SessionExpiresAt)
	case queue.Prequeue:
		q.Position, q.Prequeued = 0, st.Prequeued
	}
	return q
}

type queueInput struct {
	QueueToken string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
}

func (s *Server) queueStatus(ctx context.Context, in *queueInput) (*out[QueueStatus], error) {
	t, err := s.ticket(in.QueueToken, userOf(ctx), "")
	if err != nil {
		return nil, err
	}
	st, err := s.o.Queue.Status(ctx, t)
	switch {
	case boxoffice.ErrorCode(err) == boxoffice.CodeNotFound:
		// The room is gone, and with it every place in it.
		st = queue.Status{Ticket: t, State: queue.Expired}
	case err != nil:
		return nil, err
	}
	return &out[QueueStatus]{Body: s.queueAnswer(st, in.QueueToken)}, nil
}

func (s *Server) leave(ctx context.Context, in *queueInput) (*struct{}, error) {
	t, err := s.ticket(in.QueueToken, userOf(ctx), "")
	if err != nil {
		return nil, err
	}
	// The place or session ends first, so that no new hold passes the
	// queue check once the holds are released; then the holds go. Both
	// steps can be done again: a retry after a failure of either (the
	// token still verifies, leaving an ended ticket does nothing) finishes
	// the leave. Holds a failed release leaves behind lapse at their
	// expiry anyway.
	if err := s.o.Queue.Leave(ctx, t); err != nil {
		return nil, err
	}
	if _, err := s.o.Booking.Release(ctx, t.UserID, t.ConcertID); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}
