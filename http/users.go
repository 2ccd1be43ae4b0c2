package http

import (
	"context"
	nethttp "net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/token"
)

type userPath struct {
	UserID string `path:"userId" doc:"The caller's own user id."`
}

type chargeInput struct {
	UserID         string `path:"userId" doc:"The caller's own user id."`
	IdempotencyKey string `header:"Idempotency-Key" doc:"1 to 128 printable ASCII characters. A retry with the same key and body returns the first answer and changes nothing; the same key with another body is IDEMPOTENCY_KEY_REUSED."`
	Body           ChargeRequest
}

type historyInput struct {
	UserID string `path:"userId" doc:"The caller's own user id."`
	Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100" doc:"Entries per page."`
	Cursor string `query:"cursor" doc:"nextCursor of the previous page."`
}

type reservationsInput struct {
	UserID    string `path:"userId" doc:"The caller's own user id."`
	ConcertID string `query:"concertId" doc:"Only reservations of this concert."`
	Status    string `query:"status" enum:"HELD,PAID,EXPIRED,CANCELLED" doc:"Only reservations with this status now."`
	Limit     int    `query:"limit" default:"20" minimum:"1" maximum:"100" doc:"Reservations per page."`
	Cursor    string `query:"cursor" doc:"nextCursor of the previous page."`
}

func (s *Server) userRoutes() {
	handle(s, huma.Operation{
		OperationID: "createUser", Method: nethttp.MethodPost, Path: "/v1/users", Tags: []string{tagUsers},
		Summary:       "Create a user and get an access token",
		Description:   "Sign-ups are limited per client address (BOXOFFICE_SIGNUP_LIMIT an hour, four times that per IPv6 /48); beyond it the answer is RATE_LIMITED with Retry-After, the seconds until one more is allowed. Every well-formed sign-up counts, whether or not it succeeds. NOT_FOUND when the operator turned sign-up off (BOXOFFICE_SIGNUP=false): users then come through the operator's identity provider.",
		DefaultStatus: nethttp.StatusCreated,
		Middlewares:   huma.Middlewares{s.withLimitKeys},
		Errors:        []int{400, 404, 429, 503},
	}, s.createUser)
	handle(s, huma.Operation{
		OperationID: "getBalance", Method: nethttp.MethodGet, Path: "/v1/users/{userId}/balance", Tags: []string{tagUsers},
		Summary:  "Read the caller's balance",
		Security: secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 403, 404, 503},
	}, s.getBalance)
	handle(s, huma.Operation{
		OperationID: "chargeBalance", Method: nethttp.MethodPost, Path: "/v1/users/{userId}/balance/charges", Tags: []string{tagUsers},
		Summary:     "Add money to the caller's wallet",
		Description: "The amount is 1 to 1,000,000 won per call and a balance never exceeds 100,000,000 won (both configurable); a charge past the cap is INVALID_REQUEST and changes nothing.",
		Security:    secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{400, 401, 403, 404, 429, 503},
	}, s.charge)
	handle(s, huma.Operation{
		OperationID: "getBalanceHistory", Method: nethttp.MethodGet, Path: "/v1/users/{userId}/balance/history", Tags: []string{tagUsers},
		Summary:  "Page through the caller's ledger, newest first",
		Security: secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 403, 404, 503},
	}, s.history)
	handle(s, huma.Operation{
		OperationID: "listReservations", Method: nethttp.MethodGet, Path: "/v1/users/{userId}/reservations", Tags: []string{tagUsers},
		Summary:     "Page through the caller's reservations, newest first",
		Description: "Each reservation with its status now (a hold whose expiry has come reads EXPIRED).",
		Security:    secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{400, 401, 403, 404, 503},
	}, s.reservations)
}

func (s *Server) createUser(ctx context.Context, in *struct{ Body NewUser }) (*out[UserCreated], error) {
	if s.o.NoSignup {
		return nil, boxoffice.Errorf(boxoffice.CodeNotFound, "sign-up is off: users sign in with the operator's identity provider")
	}
	if s.o.Signups != nil {
		k := limitKeysOf(ctx)
		if err := s.take(ctx, s.o.Signups, k.key, k.group, "sign-ups"); err != nil {
			return nil, err
		}
	}
	u, err := s.o.Wallet.CreateUser(ctx, in.Body.Name)
	if err != nil {
		return nil, err
	}
	now := s.o.Clock.Now()
	exp := now.Add(s.o.AccessTTL).Truncate(time.Second) // tokens carry whole seconds
	tok := s.o.Signer.AccessToken(token.Access{UserID: u.ID, IssuedAt: now, ExpiresAt: exp})
	return &out[UserCreated]{Body: UserCreated{UserID: u.ID, Name: u.Name, AccessToken: tok, ExpiresAt: exp.UTC()}}, nil
}

func (s *Server) getBalance(ctx context.Context, in *userPath) (*out[Balance], error) {
	user, err := self(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	b, err := s.o.Wallet.Balance(ctx, user)
	if err != nil {
		return nil, err
	}
	return &out[Balance]{Body: Balance{UserID: user, Balance: int64(b)}}, nil
}

func (s *Server) charge(ctx context.Context, in *chargeInput) (*out[Charge], error) {
	user, err := self(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	if err := boxoffice.CheckIdempotencyKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	if err := s.ensureWallet(ctx); err != nil {
		return nil, err
	}
	rc, err := s.o.Wallet.Charge(ctx, user, boxoffice.Money(in.Body.Amount), in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &out[Charge]{Body: Charge{UserID: user, Balance: int64(rc.Balance), ChargeID: rc.ChargeID}}, nil
}

func (s *Server) history(ctx context.Context, in *historyInput) (*out[History], error) {
	user, err := self(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	cursor, _ := boxoffice.CanonID(in.Cursor)
	entries, err := s.o.Wallet.History(ctx, user, cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	h := History{Entries: make([]LedgerEntry, len(entries))}
	for i, e := range entries {
		h.Entries[i] = ledgerEntry(e)
	}
	if len(entries) == in.Limit && len(entries) > 0 {
		next := entries[len(entries)-1].ID
		h.NextCursor = &next
	}
	return &out[History]{Body: h}, nil
}

func (s *Server) reservations(ctx context.Context, in *reservationsInput) (*out[ReservationList], error) {
	user, err := self(ctx, in.UserID)
	if err != nil {
		return nil, err
	}
	rs, err := s.o.Booking.Reservations(ctx, user, in.ConcertID, booking.Status(in.Status), in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	l := ReservationList{Reservations: make([]Reservation, len(rs))}
	for i, r := range rs {
		l.Reservations[i] = reservation(r)
	}
	if len(rs) == in.Limit && len(rs) > 0 {
		next := rs[len(rs)-1].ID
		l.NextCursor = &next
	}
	return &out[ReservationList]{Body: l}, nil
}
