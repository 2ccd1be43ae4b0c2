package http

import (
	"context"
	nethttp "net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

type createConcertOutput struct {
	Location string `header:"Location" doc:"The concert's public URL."`
	Body     Concert
}

type waitingRoomInput struct {
	ConcertID string `path:"concertId"`
	Body      WaitingRoom
}

func (s *Server) adminRoutes() {
	admin := huma.Middlewares{s.admin}
	handle(s, huma.Operation{
		OperationID: "createConcert", Method: nethttp.MethodPost, Path: "/v1/admin/concerts", Tags: []string{tagAdmin},
		Summary:       "Create a concert; its waiting room exists at once",
		DefaultStatus: nethttp.StatusCreated,
		MaxBodyBytes:  max(s.maxBody, maxConcertBodyBytes),
		Security:      secAdmin, Middlewares: admin,
		Errors: []int{400, 401, 503},
	}, s.createConcert)
	handle(s, huma.Operation{
		OperationID: "setWaitingRoom", Method: nethttp.MethodPut, Path: "/v1/admin/concerts/{concertId}/waiting-room", Tags: []string{tagAdmin},
		Summary:  "Replace a concert's waiting room settings while it runs",
		Security: secAdmin, Middlewares: admin,
		Errors: []int{400, 401, 404, 503},
	}, s.setWaitingRoom)
	handle(s, huma.Operation{
		OperationID: "getConcertStats", Method: nethttp.MethodGet, Path: "/v1/admin/concerts/{concertId}/stats", Tags: []string{tagAdmin},
		Summary:  "Read a concert's sale and waiting room now",
		Security: secAdmin, Middlewares: admin,
		Errors: []int{401, 404, 503},
	}, s.stats)
}

func (s *Server) createConcert(ctx context.Context, in *struct{ Body ConcertSpec }) (*createConcertOutput, error) {
	c, err := concert.New(boxoffice.NewID(), in.Body.spec(), s.clock.Now())
	if err != nil {
		return nil, err
	}
	if err := s.concerts.CreateConcert(ctx, c); err != nil {
		return nil, err
	}
	if err := s.queue.Configure(ctx, c.Room()); err != nil {
		return nil, err
	}
	return &createConcertOutput{Location: "/v1/concerts/" + c.ID, Body: adminConcert(c)}, nil
}

func (s *Server) setWaitingRoom(ctx context.Context, in *waitingRoomInput) (*out[WaitingRoom], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	settings := in.Body.settings()
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	c, err := s.concerts.Concert(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	if err := s.concerts.SetWaitingRoom(ctx, c.ID, settings); err != nil {
		return nil, err
	}
	if err := s.queue.Configure(ctx, queue.Room{ConcertID: c.ID, OpensAt: c.SalesOpenAt, Settings: settings}); err != nil {
		return nil, err
	}
	s.concertCache.Forget(c.ID)
	return &out[WaitingRoom]{Body: waitingRoom(settings)}, nil
}

func (s *Server) stats(ctx context.Context, in *concertPath) (*out[ConcertStats], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	inv, err := s.booking.Inventory(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	st, err := s.queue.Stats(ctx, in.ConcertID)
	if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		return nil, err
	}
	return &out[ConcertStats]{Body: ConcertStats{
		Waiting:   st.Waiting,
		Admitted:  st.AdmittedTotal,
		Active:    st.Active,
		Held:      inv.Held,
		Sold:      inv.Sold,
		Revenue:   int64(inv.Revenue),
		Available: inv.Available,
		Total:     inv.Total,
		AdmitRate: st.Rate,
	}}, nil
}
