// Package token signs and verifies the two credentials Boxoffice issues:
// access tokens, which say who the caller is, and queue tokens, which are a
// caller's pass through one concert's waiting room. From the same secret it
// derives the seeds of the waiting rooms' draws and the key of the
// proof-of-work challenges asked at join.
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(key, payload)),
// with a key derived from the shared secret for each kind of token, so that
// one kind can never pass for the other. Verifying needs no storage.
//
// A Provider verifies instead the JWTs of an operator's identity provider,
// against the keys the provider publishes (JWKS).
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// MinSecretLen is the shortest secret accepted, in bytes.
const MinSecretLen = 16

const (
	version    = 1
	kindAccess = 'A'
	kindQueue  = 'Q'
	macLen     = sha256.Size
	maxLen     = 1024
)

var b64 = base64.RawURLEncoding.Strict() // one encoding per token: no malleable padding bits

// Signer signs and verifies tokens with keys derived from one secret. It is
// safe for concurrent use.
type Signer struct {
	access, queue sync.Pool // of hash.Hash keyed for each kind
	proof         sync.Pool // of hash.Hash keyed for proof-of-work challenges
	proofUser     []byte    // key of the users' digests in challenges
	lottery       []byte    // key of the draw seeds
}

// NewSigner returns a Signer for secret. Every instance of a deployment must
// use the same secret. Errors: a secret shorter than MinSecretLen.
func NewSigner(secret []byte) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, errors.New("token secret must be at least 16 bytes")
	}
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	accessKey, queueKey := derive("boxoffice access token v1"), derive("boxoffice queue token v1")
	s := &Signer{lottery: derive("boxoffice lottery v1")}
	s.access.New = func() any { return hmac.New(sha256.New, accessKey) }
	s.queue.New = func() any { return hmac.New(sha256.New, queueKey) }
	s.proofUser = derive("boxoffice proof of work user v1")
	proofKey := derive("boxoffice proof of work v1")
	s.proof.New = func() any { return hmac.New(sha256.New, proofKey) }
	return s, nil
}

func (s *Signer) sign(pool *sync.Pool, payload []byte) string {
	m := pool.Get().(hash.Hash)
	m.Reset()
	m.Write(payload)
	var sum [macLen]byte
	mac := m.Sum(sum[:0])
	pool.Put(m)

	var sb strings.Builder
	sb.Grow(b64.EncodedLen(len(payload)) + 1 + b64.EncodedLen(macLen))
	buf := make([]byte, b64.EncodedLen(len(payload)))
	b64.Encode(buf, payload)
	sb.Write(buf)
	sb.WriteByte('.')
	buf = buf[:0]
	buf = b64.AppendEncode(buf, mac)
	sb.Write(buf)
	return sb.String()
}

// open returns the payload of a token signed with pool's key, or false.
func (s *Signer) open(pool *sync.Pool, tok string) ([]byte, bool) {
	if len(tok) > maxLen {
		return nil, false
	}
	p, m, ok := strings.Cut(tok, ".")
	if !ok || b64.DecodedLen(len(m)) != macLen {
		return nil, false
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var got [macLen]byte
	if n, err := b64.Decode(got[:], []byte(m)); err != nil || n != macLen {
		return nil, false
	}
	h := pool.Get().(hash.Hash)
	h.Reset()
	h.Write(payload)
	var sum [macLen]byte
	want := h.Sum(sum[:0])
	pool.Put(h)
	if !hmac.Equal(got[:], want) {
		return nil, false
	}
	return payload, true
}

// LotterySeed returns the secret seed of the draw of concertID's waiting
// room (see queue.DrawKey): HMAC-SHA256(HMAC-SHA256(secret, "boxoffice
// lottery v1"), concertID). Every instance sharing the secret derives the
// same seed; a published seed reveals nothing of the token keys or of other
// concerts' seeds.
func (s *Signer) LotterySeed(concertID string) []byte {
	m := hmac.New(sha256.New, s.lottery)
	m.Write([]byte(concertID))
	return m.Sum(nil)
}

// Access is what an access token says.
type Access struct {
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// AccessToken returns a signed access token for a.
func (s *Signer) AccessToken(a Access) string {
	b := make([]byte, 0, 64)
	b = append(b, version, kindAccess)
	b = appendString(b, a.UserID)
	b = binary.AppendVarint(b, a.IssuedAt.Unix())
	b = binary.AppendVarint(b, a.ExpiresAt.Unix())
	return s.sign(&s.access, b)
}

// VerifyAccess returns what a genuine access token unexpired at now says.
// Errors: UNAUTHENTICATED.
func (s *Signer) VerifyAccess(tok string, now time.Time) (Access, error) {
	payload, ok := s.open(&s.access, tok)
	if !ok {
		return Access{}, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "invalid access token")
	}
	r := reader{b: payload}
	if r.byte() != version || r.byte() != kindAccess {
		return Access{}, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "invalid access token")
	}
	a := Access{UserID: r.string()}
	a.IssuedAt = time.Unix(r.varint(), 0).UTC()
	a.ExpiresAt = time.Unix(r.varint(), 0).UTC()
	if r.failed || len(r.b) != 0 || a.UserID == "" {
		return Access{}, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "invalid access token")
	}
	if !now.Before(a.ExpiresAt) {
		return Access{}, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "access token expired")
	}
	return a, nil
}

// QueueToken returns the signed queue token of t. The same ticket always
// gives the same token.
func (s *Signer) QueueToken(t queue.Ticket) string {
	b := make([]byte, 0, 96)
	b = append(b, version, kindQueue)
	b = appendString(b, t.ConcertID)
	b = appendString(b, t.UserID)
	b = binary.AppendUvarint(b, uint64(t.Seq))
	return s.sign(&s.queue, b)
}

// VerifyQueue returns the ticket of a genuine queue token. It says nothing
// of whether the ticket is still alive. Errors: QUEUE_TOKEN_INVALID.
func (s *Signer) VerifyQueue(tok string) (queue.Ticket, error) {
	payload, ok := s.open(&s.queue, tok)
	if !ok {
		return queue.Ticket{}, boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "invalid queue token")
	}
	t, ok := queueTicket(payload)
	if !ok {
		return queue.Ticket{}, boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "invalid queue token")
	}
	return t, nil
}

// Peek returns the ticket a queue token carries without checking its
// signature: what anyone holding the token can read, such as a fan looking
// for their entry in a published draw. Only VerifyQueue says whether the
// token is genuine. Errors: QUEUE_TOKEN_INVALID for anything not shaped
// like a queue token.
func Peek(tok string) (queue.Ticket, error) {
	p, _, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > maxLen {
		return queue.Ticket{}, errNotQueueToken()
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return queue.Ticket{}, errNotQueueToken()
	}
	t, ok := queueTicket(payload)
	if !ok {
		return queue.Ticket{}, errNotQueueToken()
	}
	return t, nil
}

func errNotQueueToken() error {
	return boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "not a queue token")
}

// queueTicket decodes the payload of a queue token, or returns false.
func queueTicket(payload []byte) (queue.Ticket, bool) {
	r := reader{b: payload}
	if r.byte() != version || r.byte() != kindQueue {
		return queue.Ticket{}, false
	}
	t := queue.Ticket{ConcertID: r.string(), UserID: r.string(), Seq: int64(r.uvarint())}
	if r.failed || len(r.b) != 0 || t.ConcertID == "" || t.UserID == "" || t.Seq <= 0 {
		return queue.Ticket{}, false
	}
	return t, true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes a payload; any short read sets failed.
type reader struct {
	b      []byte
	failed bool
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.failed = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.failed = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.failed || n > uint64(len(r.b)) {
		r.failed = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}
