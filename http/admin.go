package http

import (
	"context"
	nethttp "net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
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
		MaxBodyBytes:  max(s.o.MaxBodyBytes, maxConcertBodyBytes),
		Security:      secAdmin, Middlewares: admin,
		Errors: []int{400, 401, 429, 503},
	}, s.createConcert)
	handle(s, huma.Operation{
		OperationID: "setWaitingRoom", Method: nethttp.MethodPut, Path: "/v1/admin/concerts/{concertId}/waiting-room", Tags: []string{tagAdmin},
		Summary:  "Replace a concert's waiting room settings while it runs",
		Security: secAdmin, Middlewares: admin,
		Errors: []int{400, 401, 404, 429, 503},
	}, s.setWaitingRoom)
	handle(s, huma.Operation{
		OperationID: "getConcertStats", Method: nethttp.MethodGet, Path: "/v1/admin/concerts/{concertId}/stats", Tags: []string{tagAdmin},
		Summary:     "Read a concert's sale and waiting room now",
		Description: "Once the waiting room has ended (BOXOFFICE_ROOM_GRACE after the concert could no longer sell), its figures are those it had at its end.",
		Security:    secAdmin, Middlewares: admin,
		Errors: []int{401, 404, 429, 503},
	}, s.stats)
	handle(s, huma.Operation{
		OperationID: "getAdmissions", Method: nethttp.MethodGet, Path: "/v1/admin/concerts/{concertId}/admissions", Tags: []string{tagAdmin},
		Summary:     "Page through a waiting room's admission log, oldest first",
		Description: "The log keeps the latest 1,000,000 admissions; a from older than the oldest kept starts at the oldest. An ended waiting room's log is read from the database, the same.",
		Security:    secAdmin, Middlewares: admin,
		Errors: []int{401, 404, 422, 429, 503},
	}, s.admissions)
}

type admissionsInput struct {
	ConcertID string `path:"concertId"`
	From      int64  `query:"from" default:"1" minimum:"1" doc:"Number of the first entry wanted."`
	Limit     int    `query:"limit" default:"1000" minimum:"1" maximum:"10000" doc:"Entries per page."`
}

func (s *Server) createConcert(ctx context.Context, in *struct{ Body ConcertSpec }) (*createConcertOutput, error) {
	c, err := s.o.Concerts.Create(ctx, in.Body.spec())
	if err != nil {
		return nil, err
	}
	return &createConcertOutput{Location: "/v1/concerts/" + c.ID, Body: adminConcert(c)}, nil
}

func (s *Server) setWaitingRoom(ctx context.Context, in *waitingRoomInput) (*out[WaitingRoom], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	settings := in.Body.settings()
	if err := s.o.Concerts.SetWaitingRoom(ctx, in.ConcertID, settings); err != nil {
		return nil, err
	}
	return &out[WaitingRoom]{Body: waitingRoom(settings)}, nil
}

func (s *Server) stats(ctx context.Context, in *concertPath) (*out[ConcertStats], error) {
	if !boxoffice.ValidID(in.ConcertID) {
		return nil, notFound("concert")
	}
	inv, err := s.o.Booking.Inventory(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	st, err := s.o.Queue.Stats(ctx, in.ConcertID)
	if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		return nil, err
	}
	var prequeued int64
	if c, err := s.concertByID(ctx, in.ConcertID); err == nil && s.o.Clock.Now().Before(c.SalesOpenAt) {
		prequeued = st.Waiting
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

		AbandonRate:    st.AbandonRate,
		Abandoned:      st.AbandonedTotal,
		Dropped:        st.DroppedTotal,
		WaitP50Seconds: st.Waits.Quantile(0.5).Seconds(),
		WaitP90Seconds: st.Waits.Quantile(0.9).Seconds(),
		Prequeued:      prequeued,
		Paused:         st.Paused,
		SoldOut:        st.SoldOut,
	}}, nil
}

func (s *Server) admissions(ctx context.Context, in *admissionsInput) (*out[AdmissionLog], error) {
	c, err := s.concertByID(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	recs, err := s.o.Queue.Admissions(ctx, c.ID, in.From, in.Limit)
	if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		return nil, err
	}
	l := AdmissionLog{Admissions: make([]AdmissionRecord, len(recs)), Next: in.From}
	for i, r := range recs {
		l.Admissions[i] = AdmissionRecord{N: r.N, UserID: r.UserID, Seq: r.Seq, At: r.At.UTC(), Prequeue: r.Prequeue}
	}
	if n := len(recs); n > 0 {
		l.Next = recs[n-1].N + 1
	}
	return &out[AdmissionLog]{Body: l}, nil
}
