package http

import (
	"context"
	nethttp "net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
)

const queueDescription = "Needs the caller's admitted Queue-Token for the concert; a waiting token is NOT_ADMITTED (with position), an ended one QUEUE_TOKEN_EXPIRED."

type datesInput struct {
	ConcertID  string `path:"concertId"`
	QueueToken string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
}

type seatsInput struct {
	ConcertID  string `path:"concertId"`
	Date       string `path:"date" doc:"YYYY-MM-DD" example:"2026-12-24"`
	QueueToken string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
}

type holdInput struct {
	QueueToken     string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"1 to 128 printable ASCII characters. A retry with the same key and body (the same seats in any order) answers the first reservation with its status now, or the first refusal, and changes nothing; the same key with another body is IDEMPOTENCY_KEY_REUSED."`
	Body           HoldRequest
}

type holdOutput struct {
	Location string `header:"Location" doc:"The reservation's URL."`
	Body     Reservation
}

type reservationPath struct {
	ReservationID string `path:"reservationId"`
}

type cancelInput struct {
	ReservationID string `path:"reservationId"`
	QueueToken    string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
}

type payInput struct {
	QueueToken     string `header:"Queue-Token" doc:"The token of the caller's QueueStatus for this concert."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"1 to 128 printable ASCII characters. A retry with the same key and body returns the first answer and changes nothing; the same key with another body is IDEMPOTENCY_KEY_REUSED."`
	Body           PaymentRequest
}

func (s *Server) bookingRoutes() {
	queued := huma.Middlewares{s.bearer}
	handle(s, huma.Operation{
		OperationID: "listDates", Method: nethttp.MethodGet, Path: "/v1/concerts/{concertId}/dates", Tags: []string{tagBooking},
		Summary: "List the concert's dates still bookable", Description: queueDescription,
		Security: secBearer, Middlewares: queued,
		Errors: []int{401, 403, 404, 503},
	}, s.dates)
	handle(s, huma.Operation{
		OperationID: "listSeats", Method: nethttp.MethodGet, Path: "/v1/concerts/{concertId}/dates/{date}/seats", Tags: []string{tagBooking},
		Summary: "Show all 50 seats of a date with their status now", Description: queueDescription,
		Security: secBearer, Middlewares: queued,
		Errors: []int{401, 403, 404, 503},
	}, s.seats)
	handle(s, huma.Operation{
		OperationID: "holdSeats", Method: nethttp.MethodPost, Path: "/v1/reservations", Tags: []string{tagBooking},
		Summary: "Hold seats of one date, all or none",
		Description: queueDescription + " A held seat shows HELD to everyone else until expiresAt, and AVAILABLE from that instant." +
			" The Queue-Token must be for the body's concertId." +
			" A user cannot hold a seat again within the concert's hold time after their own hold of it lapsed or was released (SEAT_UNAVAILABLE, the detail says until when)." +
			" A retry with the same Idempotency-Key answers the first reservation again, even after the session ended.",
		DefaultStatus: nethttp.StatusCreated,
		Security:      secBearer, Middlewares: queued,
		Errors: []int{400, 401, 403, 404, 409, 422, 429, 503},
	}, s.hold)
	handle(s, huma.Operation{
		OperationID: "getReservation", Method: nethttp.MethodGet, Path: "/v1/reservations/{reservationId}", Tags: []string{tagBooking},
		Summary:  "Read one of the caller's reservations",
		Security: secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 403, 404, 503},
	}, s.getReservation)
	handle(s, huma.Operation{
		OperationID: "cancelReservation", Method: nethttp.MethodDelete, Path: "/v1/reservations/{reservationId}", Tags: []string{tagBooking},
		Summary: "Release one of the caller's holds at once", Description: queueDescription,
		DefaultStatus: nethttp.StatusNoContent,
		Security:      secBearer, Middlewares: queued,
		Errors: []int{401, 403, 404, 409, 429, 503},
	}, s.cancel)
	handle(s, huma.Operation{
		OperationID: "pay", Method: nethttp.MethodPost, Path: "/v1/payments", Tags: []string{tagBooking},
		Summary: "Pay a held reservation from the caller's wallet",
		Description: queueDescription + " Debit, sale, ledger entry and payment happen at once or not at all; the queue session then ends." +
			" A retry with the same Idempotency-Key answers the first payment again, even after the session ended.",
		DefaultStatus: nethttp.StatusCreated,
		Security:      secBearer, Middlewares: queued,
		Errors: []int{400, 401, 403, 404, 409, 429, 503},
	}, s.pay)
}

func notFound(what string) error {
	return boxoffice.Errorf(boxoffice.CodeNotFound, "%s not found", what)
}

func (s *Server) dates(ctx context.Context, in *datesInput) (*out[DateList], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	if _, err := s.pass(ctx, in.QueueToken, userOf(ctx), in.ConcertID); err != nil {
		return nil, err
	}
	ds, err := s.o.Concerts.Dates(ctx, in.ConcertID, s.o.Clock.Now())
	if err != nil {
		return nil, err
	}
	l := DateList{Dates: make([]DateAvailability, len(ds))}
	for i, d := range ds {
		l.Dates[i] = DateAvailability{Date: d.Day, StartsAt: d.StartsAt.UTC(), AvailableSeats: d.AvailableSeats}
	}
	return &out[DateList]{Body: l}, nil
}

func (s *Server) seats(ctx context.Context, in *seatsInput) (*out[SeatMap], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	day, err := concert.ParseDay(in.Date) // errors: NOT_FOUND
	if err != nil {
		return nil, err
	}
	if _, err := s.pass(ctx, in.QueueToken, userOf(ctx), in.ConcertID); err != nil {
		return nil, err
	}
	seats, err := s.o.Concerts.Seats(ctx, in.ConcertID, day, s.o.Clock.Now())
	if err != nil {
		return nil, err
	}
	return &out[SeatMap]{Body: s.seatMaps.render(in.ConcertID, day, seats)}, nil
}

func (s *Server) hold(ctx context.Context, in *holdInput) (*holdOutput, error) {
	user, key := userOf(ctx), in.IdempotencyKey
	in.Body.ConcertID, _ = boxoffice.CanonID(in.Body.ConcertID)
	if err := boxoffice.CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	t, err := s.ticket(in.QueueToken, user, in.Body.ConcertID)
	if err != nil {
		return nil, err
	}
	st, err := s.o.Queue.Use(ctx, t)
	if err != nil {
		if key == "" || boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
			return nil, err
		}
		// The session may have ended since the first answer (a payment,
		// a leave): a retry gets that answer again.
		r, rerr := s.o.Booking.ReplayHold(ctx, user, in.Body.ConcertID, in.Body.Date, in.Body.SeatNumbers, key)
		switch code := boxoffice.ErrorCode(rerr); {
		case rerr == nil:
			return &holdOutput{Location: "/v1/reservations/" + r.ID, Body: reservation(r)}, nil
		case code == boxoffice.CodeNotFound, code == boxoffice.CodeIdempotencyKeyReused:
			return nil, err
		default:
			return nil, rerr
		}
	}
	if err := s.ensureWallet(ctx); err != nil {
		return nil, err
	}
	// A hold never outlives the session: its expiry is capped at the
	// session's absolute end (admission + maxSessionSeconds, on the
	// waiting room's clock; zero for a room without one).
	r, err := s.o.Booking.Hold(ctx, user, in.Body.ConcertID, in.Body.Date, in.Body.SeatNumbers, st.SessionEndsAt, key)
	if err != nil {
		return nil, err
	}
	s.metrics.holds.Inc()
	return &holdOutput{Location: "/v1/reservations/" + r.ID, Body: reservation(r)}, nil
}

func (s *Server) getReservation(ctx context.Context, in *reservationPath) (*out[Reservation], error) {
	if !boxoffice.ValidID(in.ReservationID) {
		return nil, notFound("reservation")
	}
	r, err := s.o.Booking.Reservation(ctx, in.ReservationID, userOf(ctx))
	if err != nil {
		return nil, err
	}
	return &out[Reservation]{Body: reservation(r)}, nil
}

func (s *Server) cancel(ctx context.Context, in *cancelInput) (*struct{}, error) {
	if !boxoffice.ValidID(in.ReservationID) {
		return nil, notFound("reservation")
	}
	user := userOf(ctx)
	t, err := s.pass(ctx, in.QueueToken, user, "")
	if err != nil {
		return nil, err
	}
	// The store refuses a reservation of another user (FORBIDDEN) or, after
	// that, of another concert than the pass's (QUEUE_TOKEN_INVALID).
	if _, err := s.o.Booking.Cancel(ctx, in.ReservationID, user, t.ConcertID); err != nil {
		return nil, err
	}
	return &struct{}{}, nil
}

func (s *Server) pay(ctx context.Context, in *payInput) (*out[Payment], error) {
	user, key := userOf(ctx), in.IdempotencyKey
	id, ok := boxoffice.CanonID(in.Body.ReservationID)
	if !ok {
		return nil, notFound("reservation")
	}
	if err := boxoffice.CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	t, err := s.ticket(in.QueueToken, user, "")
	if err != nil {
		return nil, err
	}
	if _, err := s.o.Queue.Use(ctx, t); err != nil {
		if key == "" || boxoffice.ErrorCode(err) != boxoffice.CodeQueueTokenExpired {
			return nil, err
		}
		// The session may have ended with this very payment: a retry gets
		// the first answer again.
		p, rerr := s.o.Booking.Replay(ctx, id, user, key)
		switch code := boxoffice.ErrorCode(rerr); {
		case rerr == nil && p.ConcertID == t.ConcertID:
			return &out[Payment]{Body: payment(p)}, nil
		case rerr == nil, code == boxoffice.CodeNotFound, code == boxoffice.CodeIdempotencyKeyReused:
			return nil, err
		default:
			return nil, rerr
		}
	}
	// The store refuses a reservation of another user (FORBIDDEN) or, after
	// that, of another concert than the pass's (QUEUE_TOKEN_INVALID).
	p, paid, err := s.o.Booking.Pay(ctx, id, user, t.ConcertID, key)
	if err != nil {
		return nil, err
	}
	if paid.Replay {
		// A replay of a payment made in an earlier request: this session
		// goes on.
		return &out[Payment]{Body: payment(p)}, nil
	}
	s.metrics.payments.Inc()
	s.metrics.sales.Add(float64(paid.Seats))
	if err := s.o.Queue.Leave(context.WithoutCancel(ctx), t); err != nil {
		s.o.Logger.Warn("end queue session after payment", "ticket", t.String(), "err", err)
	}
	return &out[Payment]{Body: payment(p)}, nil
}
