package http

import (
	"context"
	nethttp "net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// Challenge is an ALTCHA challenge: find the number n in 0..maxnumber
// with hex(SHA-256(salt + decimal(n))) = challenge.
type Challenge struct {
	Algorithm string `json:"algorithm" enum:"SHA-256"`
	Challenge string `json:"challenge" doc:"hex SHA-256 of salt followed by the secret number in decimal."`
	Salt      string `json:"salt" doc:"Random hex, then ?expires=<unix seconds>&concert=<concertId>&user=<digest>&: the challenge is valid until expires, for this user and concert."`
	MaxNumber int64  `json:"maxnumber" doc:"The secret number is in 0..maxnumber."`
	Signature string `json:"signature" doc:"hex HMAC-SHA256 of challenge with the server's key."`
}

type challengeOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         Challenge
}

// joinInput is the join's: the concert and, for a room that asks for a
// proof of work, the proof.
type joinInput struct {
	ConcertID  string `path:"concertId"`
	QueueProof string `header:"Queue-Proof" doc:"A solved challenge of GET /v1/concerts/{concertId}/queue/challenge, needed for a new place in a room whose proofOfWork is on: base64 of the JSON {\"algorithm\",\"challenge\",\"number\",\"salt\",\"signature\"} (the altcha widget's payload). Single use; a caller who holds a place needs none."`
}

func (s *Server) proofRoutes() {
	handle(s, huma.Operation{
		OperationID: "getQueueChallenge", Method: nethttp.MethodGet, Path: "/v1/concerts/{concertId}/queue/challenge", Tags: []string{tagQueue},
		Summary: "Get a proof-of-work challenge to join a concert's waiting room",
		Description: "An ALTCHA challenge (the altcha widget solves it) bound to the caller and the concert, valid for 5 minutes, " +
			"single use on every instance. Its maxnumber is the room's proofOfWork; for a room that asks for none, the smallest (1000).",
		Security: secBearer, Middlewares: huma.Middlewares{s.bearer},
		Errors: []int{401, 404, 503},
	}, s.challenge)
}

func (s *Server) challenge(ctx context.Context, in *concertPath) (*challengeOutput, error) {
	c, err := s.concertByID(ctx, in.ConcertID)
	if err != nil {
		return nil, err
	}
	// The instant every instance decides the room's expiries on.
	now, err := s.o.Queue.Time(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	max := c.WaitingRoom.ProofOfWork
	if max == 0 {
		max = queue.MinProofOfWork
	}
	ch := s.o.Signer.Challenge(c.ID, userOf(ctx), max, now.Add(token.ChallengeTTL))
	return &challengeOutput{CacheControl: "no-store", Body: Challenge{Algorithm: ch.Algorithm, Challenge: ch.Challenge,
		Salt: ch.Salt, MaxNumber: ch.MaxNumber, Signature: ch.Signature}}, nil
}

// errProofMissing is the PROOF_INVALID error of a join without Queue-Proof
// by a user with no place.
var errProofMissing = boxoffice.Errorf(boxoffice.CodeProofInvalid,
	"this waiting room asks for a proof of work: solve GET /v1/concerts/{concertId}/queue/challenge and send it as Queue-Proof")

// proofKey is the context key of the proof proofGate verified.
type proofKey struct{}

// proofGate checks the Queue-Proof of a join in a room that asks for a
// proof of work, whole (form, expiry, binding, signature, number), before
// the request is read any further and before any store is asked anything,
// and answers a bad one at once: a flood of bad proofs costs less than
// polls do. The join finds the verified proof in its context.
func (s *Server) proofGate(ctx huma.Context, next func(huma.Context)) {
	header := ctx.Header("Queue-Proof")
	if header == "" {
		next(ctx)
		return
	}
	c, err := s.concertByID(ctx.Context(), ctx.Param("concertId"))
	if err != nil || c.WaitingRoom.ProofOfWork == 0 {
		next(ctx) // the join answers, ignoring the proof
		return
	}
	p, err := s.o.Signer.VerifyProof(header, c.ID, userOf(ctx.Context()), s.o.Clock.Now())
	if err != nil {
		s.fail(ctx, err)
		return
	}
	next(huma.WithValue(ctx, proofKey{}, p))
}

// joinProven joins room, which asks for a proof of work: with the proof
// proofGate verified, spent only now; without one, only a user who holds
// a place gets it.
func (s *Server) joinProven(ctx context.Context, room queue.Room, userID, header string) (queue.Status, bool, error) {
	if header == "" {
		st, ok, err := s.o.Queue.Place(ctx, room.ConcertID, userID)
		if err == nil && !ok {
			err = errProofMissing
		}
		return st, false, err
	}
	p, ok := ctx.Value(proofKey{}).(token.Proof)
	if !ok || p.ConcertID != room.ConcertID {
		// The room asked for no proof when the gate looked.
		var err error
		if p, err = s.o.Signer.VerifyProof(header, room.ConcertID, userID, s.o.Clock.Now()); err != nil {
			return queue.Status{}, false, err
		}
	}
	return s.o.Queue.JoinProven(ctx, room, userID, p.Challenge, p.Expires)
}
