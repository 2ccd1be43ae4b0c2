package http

import (
	"context"
	"encoding/hex"
	nethttp "net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/queue"
)

type concertPath struct {
	ConcertID string `path:"concertId"`
}

func (s *Server) concertRoutes() {
	handle(s, huma.Operation{
		OperationID: "listConcerts", Method: nethttp.MethodGet, Path: "/v1/concerts", Tags: []string{tagConcert},
		Summary: "List concerts by sales opening",
		Errors:  []int{503},
	}, s.listConcerts)
	handle(s, huma.Operation{
		OperationID: "getConcert", Method: nethttp.MethodGet, Path: "/v1/concerts/{concertId}", Tags: []string{tagConcert},
		Summary: "Read a concert and its waiting room",
		Errors:  []int{404, 503},
	}, s.getConcert)
	handle(s, huma.Operation{
		OperationID: "getLottery", Method: nethttp.MethodGet, Path: "/v1/concerts/{concertId}/lottery", Tags: []string{tagConcert},
		Summary: "Read the publication of a concert's draw at the opening",
		Description: "Fans who join before the opening are put in a random order at the opening. Before it, the " +
			"commitment (SHA-256 of the secret seed) is published; from the opening on, the seed; once the draw is made, " +
			"its entries in order. `boxoffice verify-lottery --url <this URL> [--token <queue token>]` checks the " +
			"publication and finds one's own place.",
		Errors: []int{404, 503},
	}, s.lottery)
}

// concertByID reads a concert through the cache. Errors: NOT_FOUND.
func (s *Server) concertByID(ctx context.Context, id string) (concert.Concert, error) {
	if !boxoffice.ValidID(id) {
		return concert.Concert{}, notFound("concert")
	}
	return s.o.Concerts.Concert(ctx, id)
}

func (s *Server) listConcerts(ctx context.Context, _ *struct{}) (*out[ConcertList], error) {
	cs, err := s.o.Concerts.Concerts(ctx)
	if err != nil {
		return nil, err
	}
	l := ConcertList{Concerts: make([]ConcertSummary, len(cs))}
	for i, c := range cs {
		l.Concerts[i] = concertSummary(c)
	}
	return &out[ConcertList]{Body: l}, nil
}

func (s *Server) getConcert(ctx context.Context, in *concertPath) (*out[ConcertDetail], error) {
	c, err := s.concertByID(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	st, err := s.o.Queue.Stats(ctx, c.ID)
	if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		return nil, err
	}
	d := ConcertDetail{
		ConcertID:       c.ID,
		Title:           c.Title,
		Venue:           c.Venue,
		SalesOpenAt:     c.SalesOpenAt.UTC(),
		SoldOut:         c.SoldOut,
		Dates:           concertDates(c.Dates),
		Grades:          grades(c.Grades),
		HoldSeconds:     c.HoldSeconds,
		MaxSeatsPerUser: c.MaxSeatsPerUser,
		WaitingRoom: RoomStatus{
			Strategy:             string(c.WaitingRoom.Strategy),
			QueueLength:          st.Waiting,
			EstimatedWaitSeconds: waitForNewcomer(c.Room(), st, s.o.Clock.Now()),
			ProofOfWork:          c.WaitingRoom.ProofOfWork,
		},
		Lottery: lotteryCommit(s.o.Queue.Lottery(c.Room(), st.Drawn)),
	}
	return &out[ConcertDetail]{Body: d}, nil
}

// waitForNewcomer is the expected wait of a fan joining room at now, behind
// the st.Waiting fans already there, some of whom will abandon.
func waitForNewcomer(room queue.Room, st queue.Stats, now time.Time) int64 {
	state := queue.Waiting
	if now.Before(room.OpensAt) {
		state = queue.Prequeue
	}
	wait, _ := queue.Estimate(queue.Status{
		State: state, Position: st.Waiting + 1, Waiting: st.Waiting + 1,
		Rate: st.Rate, AbandonRate: st.AbandonRate, Room: room,
	}, now)
	return wait
}

func lotteryCommit(commitment string, seed []byte) LotteryCommit {
	return LotteryCommit{Commitment: commitment, Seed: hexPtr(seed)}
}

func hexPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	h := hex.EncodeToString(b)
	return &h
}

func (s *Server) lottery(ctx context.Context, in *concertPath) (*out[Lottery], error) {
	c, err := s.concertByID(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	draw, at, err := s.o.Queue.Draw(ctx, c.ID)
	if err != nil && boxoffice.ErrorCode(err) != boxoffice.CodeNotFound {
		return nil, err
	}
	commitment, seed := s.o.Queue.Lottery(c.Room(), draw != nil)
	l := Lottery{ConcertID: c.ID, OpensAt: c.SalesOpenAt.UTC(), Commitment: commitment, Seed: hexPtr(seed)}
	if draw == nil {
		return &out[Lottery]{Body: l}, nil
	}
	l.Entries = make([]LotteryEntry, len(draw))
	for i, user := range draw {
		l.Entries[i] = LotteryEntry{Entry: queue.EntryID(c.ID, user), Position: int64(i + 1)}
	}
	l.DrawnAt = timePtr(at)
	return &out[Lottery]{Body: l}, nil
}
