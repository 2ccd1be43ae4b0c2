package http

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// bearerToken returns the token of an "Authorization: Bearer <token>" value.
// The scheme is case-insensitive; the token must be non-empty and contain
// no spaces.
func bearerToken(header string) (string, bool) {
	const scheme = "bearer"
	if len(header) <= len(scheme)+1 || !strings.EqualFold(header[:len(scheme)], scheme) || header[len(scheme)] != ' ' {
		return "", false
	}
	tok := strings.TrimLeft(header[len(scheme)+1:], " ")
	tok = strings.TrimRight(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

type userKey struct{}

// userOf returns the user the bearer middleware authenticated.
func userOf(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// bearer authenticates the access token before anything else of the request
// is read. Errors: UNAUTHENTICATED.
func (s *Server) bearer(ctx huma.Context, next func(huma.Context)) {
	tok, ok := bearerToken(ctx.Header("Authorization"))
	if !ok {
		s.fail(ctx, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "missing or malformed Authorization bearer token"))
		return
	}
	a, err := s.o.Signer.VerifyAccess(tok, s.o.Clock.Now())
	if err != nil && s.idp != nil && token.LooksLikeJWT(tok) {
		// Not an access token (which a JWT never is, and is refused at
		// its first check): the identity provider's, perhaps. Access
		// tokens pay nothing for this.
		sub, err := s.idp.provider.Verify(ctx.Context(), tok)
		if err != nil {
			s.fail(ctx, err)
			return
		}
		next(huma.WithValue(huma.WithValue(ctx, userKey{}, sub.UserID), subjectKey{}, &sub))
		return
	}
	if err != nil {
		s.fail(ctx, err)
		return
	}
	next(huma.WithValue(ctx, userKey{}, a.UserID))
}

type subjectKey struct{}

// identities are the users of the operator's identity provider.
type identities struct {
	provider *token.Provider

	mu      sync.Mutex
	ensured map[string]struct{} // users known to have a wallet
}

// maxEnsured bounds the users remembered to have a wallet; past it the
// memory starts afresh.
const maxEnsured = 1 << 17

func newIdentities(p *token.Provider) *identities {
	if p == nil {
		return nil
	}
	return &identities{provider: p, ensured: make(map[string]struct{})}
}

// ensureWallet gives the caller, when authenticated by the identity
// provider, a wallet if they have none yet; a user's wallet is made once,
// at their first charge or hold. Errors: UNAVAILABLE, OUTCOME_UNKNOWN.
func (s *Server) ensureWallet(ctx context.Context) error {
	sub, _ := ctx.Value(subjectKey{}).(*token.Subject)
	if sub == nil || s.idp == nil {
		return nil
	}
	s.idp.mu.Lock()
	_, ok := s.idp.ensured[sub.UserID]
	s.idp.mu.Unlock()
	if ok {
		return nil
	}
	if err := s.o.Wallet.EnsureUser(ctx, sub.UserID, sub.Name); err != nil {
		return err
	}
	s.idp.mu.Lock()
	if len(s.idp.ensured) >= maxEnsured {
		clear(s.idp.ensured)
	}
	s.idp.ensured[sub.UserID] = struct{}{}
	s.idp.mu.Unlock()
	return nil
}

// admin lets through requests bearing the admin key. Each request without
// it counts as a failure of its client address; an address with
// AdminFailureLimit failures within AdminFailureWindow is refused whatever
// key it sends until the oldest leaves the window. Errors:
// UNAUTHENTICATED, RATE_LIMITED.
func (s *Server) admin(ctx huma.Context, next func(huma.Context)) {
	tok, ok := bearerToken(ctx.Header("Authorization"))
	right := ok && s.isAdminKey(tok)
	r, _ := humago.Unwrap(ctx)
	key, group := s.clientKeys(r)
	if right {
		wait, err := s.o.AdminFailures.Wait(ctx.Context(), key, group, s.o.Clock.Now())
		if err != nil {
			s.o.Logger.Warn("admin failure quota failed; request let through", "err", err)
		} else if wait > 0 {
			s.fail(ctx, adminLocked(wait))
			return
		}
		next(ctx)
		return
	}
	if err := s.take(ctx.Context(), s.o.AdminFailures, key, group, "failed admin authentications"); err != nil {
		s.fail(ctx, err)
		return
	}
	s.fail(ctx, boxoffice.Errorf(boxoffice.CodeUnauthenticated, "missing or wrong admin key"))
}

func adminLocked(wait time.Duration) *Problem {
	p := rateLimitedProblem(retrySeconds(wait))
	p.Detail = "too many failed admin authentications from this address; retry later"
	return p
}

type limitKeysKey struct{}

// limitKeys are the limit keys of a request's client address.
type limitKeys struct{ key, group string }

// withLimitKeys gives the handler the limit keys of its request's client
// (limitKeysOf).
func (s *Server) withLimitKeys(ctx huma.Context, next func(huma.Context)) {
	r, _ := humago.Unwrap(ctx)
	key, group := s.clientKeys(r)
	next(huma.WithValue(ctx, limitKeysKey{}, limitKeys{key, group}))
}

// limitKeysOf returns the keys withLimitKeys found.
func limitKeysOf(ctx context.Context) limitKeys {
	k, _ := ctx.Value(limitKeysKey{}).(limitKeys)
	return k
}

// isAdminKey compares tok with the admin key in constant time. An empty
// admin key admits nobody.
func (s *Server) isAdminKey(tok string) bool {
	if len(s.adminKey) == 0 {
		return false
	}
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], s.adminKey) == 1
}

// fail answers a middleware's error.
func (s *Server) fail(ctx huma.Context, err error) {
	r, w := humago.Unwrap(ctx)
	s.writeError(w, r, err)
}

// ticket returns the ticket of user's queue token. concertID, when not
// empty, is the concert the token must be for. Errors: QUEUE_TOKEN_INVALID.
func (s *Server) ticket(tok, user, concertID string) (queue.Ticket, error) {
	if tok == "" {
		return queue.Ticket{}, boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "missing Queue-Token")
	}
	t, err := s.o.Signer.VerifyQueue(tok)
	if err != nil {
		return queue.Ticket{}, err
	}
	if t.UserID != user {
		return queue.Ticket{}, boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "queue token belongs to another user")
	}
	if concertID != "" && t.ConcertID != concertID {
		return queue.Ticket{}, boxoffice.Errorf(boxoffice.CodeQueueTokenInvalid, "queue token is for another concert")
	}
	return t, nil
}

// pass checks user's queue pass for concertID ("" for the token's own
// concert) and keeps the session alive. Errors: QUEUE_TOKEN_INVALID,
// QUEUE_TOKEN_EXPIRED, NOT_ADMITTED (with position).
func (s *Server) pass(ctx context.Context, tok, user, concertID string) (queue.Ticket, error) {
	t, err := s.ticket(tok, user, concertID)
	if err != nil {
		return t, err
	}
	if _, err := s.o.Queue.Use(ctx, t); err != nil {
		return t, err
	}
	return t, nil
}

// self checks that the path's user is the caller. A user id is a UUID (in
// any case) or, for users of an identity provider, 1 to 128 printable ASCII
// characters. Errors: NOT_FOUND for an id that cannot exist, FORBIDDEN.
func self(ctx context.Context, pathUser string) (string, error) {
	pathUser, ok := boxoffice.CanonID(pathUser)
	if !ok && !token.ValidUserID(pathUser) {
		return "", notFound("user")
	}
	user := userOf(ctx)
	if pathUser != user {
		return "", boxoffice.Errorf(boxoffice.CodeForbidden, "this resource belongs to another user")
	}
	return user, nil
}
