package token

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/boxoffice/boxoffice"
)

// Defaults of ProviderConfig.
const (
	DefaultUserClaim = "sub"
	// DefaultLeeway is the clock skew allowed on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// DefaultRefreshInterval is the longest the keys are used before the
	// JWKS is fetched again.
	DefaultRefreshInterval = 5 * time.Minute
	// DefaultRefreshFloor is the shortest time between two fetches of the
	// JWKS, whatever tokens arrive.
	DefaultRefreshFloor = 10 * time.Second
	// MaxUserIDLen is the longest user id a provider's token may carry.
	MaxUserIDLen = 128

	fetchTimeout = 5 * time.Second
	maxJWKSBytes = 1 << 20
	maxJWTLen    = 8 << 10
)

// ProviderConfig configures a Provider.
type ProviderConfig struct {
	JWKSURL  string // the provider's JWKS document
	Issuer   string // required value of iss
	Audience string // required value (one of) aud
	// UserClaim names the claim holding the user id; default "sub".
	UserClaim string
	// Leeway is the clock skew allowed on exp and nbf; default DefaultLeeway.
	Leeway time.Duration
	// RefreshInterval and RefreshFloor: see the Default constants.
	RefreshInterval, RefreshFloor time.Duration
	// Client fetches the JWKS; default a client with a 5 s timeout.
	Client *nethttp.Client
	// Clock defaults to the system clock.
	Clock boxoffice.Clock
}

// Subject is who a provider's token says the caller is.
type Subject struct {
	UserID    string
	Name      string // the token's name claim, or ""
	ExpiresAt time.Time
}

// Provider verifies the JWTs an operator's identity provider issues,
// against the keys of its JWKS document (RS256, ES256 and EdDSA only). It is
// safe for concurrent use.
//
// The keys are fetched by NewProvider, again when a token names a key id the
// keys lack, and again when they are older than the refresh interval; never
// twice within the refresh floor, so tokens with made-up key ids cannot make
// it hammer the provider. A token verified once is recognised again without
// its signature being checked, until it expires or the keys change.
type Provider struct {
	cfg    ProviderConfig
	parser *jwt.Parser

	mu       sync.Mutex
	keys     *keySet       // nil until a fetch succeeds
	tried    time.Time     // start of the last fetch, successful or not
	inflight chan struct{} // closed when the fetch in flight ends; nil when none

	seenMu sync.Mutex
	seen   map[[sha256.Size]byte]seenToken // tokens verified, by their hash
}

// seenToken is a token verified with keys, which it stays valid with until
// its expiry: a poll need not verify a signature it has verified before.
type seenToken struct {
	sub  Subject
	keys *keySet
}

// maxSeen bounds the tokens remembered; past it the memory starts afresh.
const maxSeen = 1 << 16

type keySet struct {
	kf      keyfunc.Keyfunc
	kids    map[string]bool
	fetched time.Time
}

// NewProvider returns a Provider for cfg and fetches the keys once. A
// failed fetch is returned along with a Provider that works: it refuses
// tokens until a later fetch succeeds (on demand, at most once per refresh
// floor). Errors: a configuration without JWKS URL, issuer or audience; the
// first fetch's failure.
func NewProvider(ctx context.Context, cfg ProviderConfig) (*Provider, error) {
	if cfg.JWKSURL == "" || cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("an identity provider needs a JWKS URL, an issuer and an audience")
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = DefaultUserClaim
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = DefaultRefreshInterval
	}
	if cfg.RefreshFloor == 0 {
		cfg.RefreshFloor = DefaultRefreshFloor
	}
	if cfg.Client == nil {
		cfg.Client = &nethttp.Client{Timeout: fetchTimeout}
	}
	if cfg.Clock == nil {
		cfg.Clock = boxoffice.SystemClock{}
	}
	p := &Provider{cfg: cfg, seen: make(map[[sha256.Size]byte]seenToken)}
	p.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Clock.Now),
	)
	p.mu.Lock()
	_, err := p.refresh(ctx, cfg.Clock.Now())
	return p, err
}

// Verify returns the subject of a genuine, current token of the provider.
// ctx bounds a fetch of the keys the token may need. Errors:
// UNAUTHENTICATED.
func (p *Provider) Verify(ctx context.Context, tok string) (Subject, error) {
	if len(tok) > maxJWTLen {
		return Subject{}, unauthenticated("token too long")
	}
	sum := sha256.Sum256([]byte(tok))
	if s, ok := p.remembered(sum); ok {
		return s, nil
	}
	var used *keySet
	t, err := p.parser.Parse(tok, func(t *jwt.Token) (any, error) {
		ks, err := p.keysFor(ctx, t)
		if err != nil {
			return nil, err
		}
		used = ks
		return ks.kf.Keyfunc(t)
	})
	if err != nil {
		return Subject{}, unauthenticated(reason(err))
	}
	claims, _ := t.Claims.(jwt.MapClaims)
	user, ok := claims[p.cfg.UserClaim].(string)
	if !ok || !ValidUserID(user) {
		return Subject{}, unauthenticated(fmt.Sprintf("claim %q must be 1 to %d printable ASCII characters", p.cfg.UserClaim, MaxUserIDLen))
	}
	user, _ = boxoffice.CanonID(user) // a UUID is one id whatever its case, as in paths
	s := Subject{UserID: user}
	s.Name, _ = claims["name"].(string)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.ExpiresAt = exp.UTC()
	}
	p.remember(sum, s, used)
	return s, nil
}

// remembered returns the subject of a token verified before, while it is
// unexpired and the keys it was verified with are the current, fresh ones.
func (p *Provider) remembered(sum [sha256.Size]byte) (Subject, bool) {
	p.seenMu.Lock()
	e, ok := p.seen[sum]
	p.seenMu.Unlock()
	if !ok {
		return Subject{}, false
	}
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	current := e.keys == p.keys && now.Sub(e.keys.fetched) < p.cfg.RefreshInterval
	p.mu.Unlock()
	if !current || !now.Before(e.sub.ExpiresAt.Add(p.cfg.Leeway)) {
		return Subject{}, false
	}
	return e.sub, true
}

func (p *Provider) remember(sum [sha256.Size]byte, s Subject, ks *keySet) {
	if ks == nil || s.ExpiresAt.IsZero() {
		return
	}
	p.seenMu.Lock()
	if len(p.seen) >= maxSeen {
		clear(p.seen)
	}
	p.seen[sum] = seenToken{sub: s, keys: ks}
	p.seenMu.Unlock()
}

// ValidUserID reports whether id is 1 to MaxUserIDLen printable ASCII
// characters.
func ValidUserID(id string) bool {
	if id == "" || len(id) > MaxUserIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

var errUnknownKey = errors.New("unknown signing key")

// keysFor returns the keys to verify t with, fetching them first when t's
// key id is unknown or the keys are stale, within the refresh floor.
func (p *Provider) keysFor(ctx context.Context, t *jwt.Token) (*keySet, error) {
	kid, _ := t.Header["kid"].(string)
	for {
		p.mu.Lock()
		ks, now := p.keys, p.cfg.Clock.Now()
		known := ks != nil && (kid == "" || ks.kids[kid])
		stale := ks != nil && now.Sub(ks.fetched) >= p.cfg.RefreshInterval
		if known && !stale {
			p.mu.Unlock()
			return ks, nil
		}
		if wait := p.inflight; wait != nil {
			p.mu.Unlock()
			if known {
				return ks, nil // stale keys serve while others fetch
			}
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if now.Sub(p.tried) < p.cfg.RefreshFloor {
			p.mu.Unlock()
			if known {
				return ks, nil
			}
			return nil, errUnknownKey
		}
		fresh, err := p.refresh(ctx, now)
		switch {
		case err == nil && (kid == "" || fresh.kids[kid]):
			return fresh, nil
		case err == nil:
			return nil, errUnknownKey // the provider no longer publishes it
		case known:
			return ks, nil // a failed fetch keeps the keys held before
		}
		return nil, err
	}
}

// refresh fetches the keys; p.mu is held on entry and released on return.
func (p *Provider) refresh(ctx context.Context, now time.Time) (*keySet, error) {
	done := make(chan struct{})
	p.inflight, p.tried = done, now
	p.mu.Unlock()

	ks, err := p.fetch(ctx)

	p.mu.Lock()
	if err == nil {
		ks.fetched = now
		p.keys = ks
	}
	p.inflight = nil
	close(done)
	p.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("fetch the identity provider's keys from %s: %w", p.cfg.JWKSURL, err)
	}
	return ks, nil
}

func (p *Provider) fetch(ctx context.Context) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, p.cfg.JWKSURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := p.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != nethttp.StatusOK {
		return nil, fmt.Errorf("status %s", res.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxJWKSBytes {
		return nil, errors.New("JWKS document larger than 1 MiB")
	}
	var doc jwkset.JWKSMarshal
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("malformed JWKS document: %w", err)
	}
	store, err := doc.ToStorage()
	if err != nil {
		return nil, fmt.Errorf("malformed JWKS document: %w", err)
	}
	all, err := store.KeyReadAll(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, errors.New("JWKS document without keys")
	}
	ks := &keySet{kids: make(map[string]bool, len(all))}
	for _, k := range all {
		ks.kids[k.Marshal().KID] = true
	}
	if ks.kf, err = keyfunc.New(keyfunc.Options{Storage: store}); err != nil {
		return nil, err
	}
	return ks, nil
}

// reason says in a few words why the parser refused a token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token for another audience"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "invalid signature or algorithm"
	case errors.Is(err, errUnknownKey):
		return "unknown signing key"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signing key unavailable"
	}
	return "invalid token"
}

func unauthenticated(why string) error {
	return boxoffice.Errorf(boxoffice.CodeUnauthenticated, "invalid identity token: %s", why)
}

// LooksLikeJWT reports whether tok has the shape of a compact JWS (three
// dot-separated parts), which an access token of this package never has.
func LooksLikeJWT(tok string) bool {
	i := strings.IndexByte(tok, '.')
	return i >= 0 && strings.Count(tok[i+1:], ".") == 1
}
