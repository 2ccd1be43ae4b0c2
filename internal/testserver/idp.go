package testserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	nethttp "net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// IDP is an identity provider a test owns: it serves a JWKS document at
// URL and signs tokens with the private halves of its keys. Keys are
// generated once per process and shared by every IDP.
type IDP struct {
	URL string

	mu      sync.Mutex
	keys    map[string]idpKey // by kid
	fetches atomic.Int64
	down    atomic.Bool
}

// SetDown makes the JWKS document answer 503 (down) or be served again.
func (p *IDP) SetDown(down bool) { p.down.Store(down) }

type idpKey struct {
	alg    jwkset.ALG
	method jwt.SigningMethod
	priv   crypto.Signer
}

var (
	idpKeysOnce sync.Once
	idpRSA      *rsa.PrivateKey
	idpEC       *ecdsa.PrivateKey
	idpEd       ed25519.PrivateKey
)

// IDP key ids of the keys a new IDP publishes.
const (
	KidRSA = "rsa-1"
	KidEC  = "ec-1"
	KidEd  = "ed-1"
)

// StartIDP starts an IDP publishing an RS256, an ES256 and an EdDSA key
// (KidRSA, KidEC, KidEd); it stops when t ends.
func StartIDP(t testing.TB) *IDP {
	t.Helper()
	idpKeysOnce.Do(func() {
		var err error
		if idpRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if idpEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, idpEd, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	p := &IDP{keys: map[string]idpKey{
		KidRSA: {jwkset.AlgRS256, jwt.SigningMethodRS256, idpRSA},
		KidEC:  {jwkset.AlgES256, jwt.SigningMethodES256, idpEC},
		KidEd:  {jwkset.AlgEdDSA, jwt.SigningMethodEdDSA, idpEd},
	}}
	srv := httptest.NewServer(nethttp.HandlerFunc(p.serveJWKS))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/.well-known/jwks.json"
	return p
}

func (p *IDP) serveJWKS(w nethttp.ResponseWriter, r *nethttp.Request) {
	p.fetches.Add(1)
	if p.down.Load() {
		nethttp.Error(w, "down", nethttp.StatusServiceUnavailable)
		return
	}
	p.mu.Lock()
	var doc jwkset.JWKSMarshal
	for kid, k := range p.keys {
		jwk, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: k.alg, USE: jwkset.UseSig},
		})
		if err != nil {
			p.mu.Unlock()
			nethttp.Error(w, err.Error(), nethttp.StatusInternalServerError)
			return
		}
		doc.Keys = append(doc.Keys, jwk.Marshal())
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(doc)
}

// Fetches returns how many times the JWKS document was asked for.
func (p *IDP) Fetches() int { return int(p.fetches.Load()) }

// Rotate publishes under kid a new key of the kind of the key from (an
// existing kid). The old key stays published.
func (p *IDP) Rotate(t testing.TB, from, kid string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	k, ok := p.keys[from]
	if !ok {
		t.Fatalf("IDP: no key %q", from)
	}
	var err error
	switch k.priv.(type) {
	case *rsa.PrivateKey:
		k.priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case *ecdsa.PrivateKey:
		k.priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		_, k.priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	p.keys[kid] = k
}

// Remove stops publishing the key kid.
func (p *IDP) Remove(kid string) {
	p.mu.Lock()
	delete(p.keys, kid)
	p.mu.Unlock()
}

// Sign returns a compact JWT of claims signed with the key kid, with kid in
// its header.
func (p *IDP) Sign(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	return p.SignHeader(t, kid, nil, claims)
}

// SignHeader is Sign with header's fields set in the token's header (a kid
// there overrides the signing key's).
func (p *IDP) SignHeader(t testing.TB, kid string, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	p.mu.Lock()
	k, ok := p.keys[kid]
	p.mu.Unlock()
	if !ok {
		t.Fatalf("IDP: no key %q", kid)
	}
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = kid
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RSAPublicKey returns the public key published as KidRSA.
func (p *IDP) RSAPublicKey() *rsa.PublicKey { return &idpRSA.PublicKey }
