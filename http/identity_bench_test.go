package http_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/boxoffice/boxoffice"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/internal/testserver"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
)

// BenchmarkQueueStatusIdentity is the status poll, the hottest
// authenticated route, with Boxoffice's own access token on a server
// without an identity provider (the path as it was before providers) and
// with one; and, for scale, with a provider's token.
func BenchmarkQueueStatusIdentity(b *testing.B) {
	idp := testserver.StartIDP(b)
	ctx := context.Background()
	clock := boxoffice.NewManualClock(base)
	signer, err := token.NewSigner([]byte("0123456789abcdef-bench-secret"))
	if err != nil {
		b.Fatal(err)
	}
	provider, err := token.NewProvider(ctx, token.ProviderConfig{
		JWKSURL: idp.URL, Issuer: idpIssuer, Audience: idpAudience, Clock: clock,
	})
	if err != nil {
		b.Fatal(err)
	}
	qs := queue.NewService(memory.NewQueueStore(), clock, "bench", time.Second, nil, nil, nil)
	room := queue.Room{ConcertID: boxoffice.NewID(), OpensAt: base.Add(-time.Hour),
		Settings: queue.Settings{Strategy: queue.MaxActive, MaxActive: 10, SessionSeconds: 3600, IdleSeconds: 3600}}
	own, ext := boxoffice.NewID(), "auth0|bench"
	ownTicket, _, err := qs.Join(ctx, room, own)
	if err != nil {
		b.Fatal(err)
	}
	extTicket, _, err := qs.Join(ctx, room, ext)
	if err != nil {
		b.Fatal(err)
	}
	qs.Step(ctx)
	access := signer.AccessToken(token.Access{UserID: own, IssuedAt: base, ExpiresAt: base.Add(time.Hour)})
	jwtTok := idp.Sign(b, testserver.KidEC, jwt.MapClaims{
		"iss": idpIssuer, "aud": idpAudience, "sub": ext, "exp": base.Add(time.Hour).Unix(),
	})

	for _, bc := range []struct {
		name     string
		provider *token.Provider
		bearer   string
		ticket   queue.Ticket
	}{
		{"OwnToken/NoProvider", nil, access, ownTicket.Ticket},
		{"OwnToken/WithProvider", provider, access, ownTicket.Ticket},
		{"ProviderToken/ES256", provider, jwtTok, extTicket.Ticket},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := boxhttp.NewServer(boxhttp.Options{Queue: qs, Signer: signer, Clock: clock, Provider: bc.provider})
			r := httptest.NewRequest("GET", "/v1/queue", nil)
			r.Header.Set("Authorization", "Bearer "+bc.bearer)
			r.Header.Set("Queue-Token", signer.QueueToken(bc.ticket))
			benchmarkRequest(b, srv, r, 200)
		})
	}
}
