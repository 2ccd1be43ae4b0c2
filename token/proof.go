package token

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"hash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/queue"
)

// Proofs of work follow ALTCHA's challenge format, which the altcha browser
// widget solves: the server picks a secret number n in 0..maxnumber and
// publishes challenge = hex(SHA-256(salt + decimal(n))) with signature =
// hex(HMAC-SHA256(key, challenge)); the client finds n by trying every
// number in turn. The salt carries the parameters that bind the challenge:
//
//	<24 hex random>?expires=<unix seconds>&concert=<concert id>&user=<32 hex>&
//
// where user is a keyed digest of the concert and the user. The salt ends
// with '&', so that no digit of the number can pass for part of a
// parameter. The signature covers the challenge, which covers the salt: a
// client can change none of them.

// Algorithm is the one hash algorithm of the challenges.
const Algorithm = "SHA-256"

// ChallengeTTL is how long a challenge can be solved and spent.
const ChallengeTTL = 5 * time.Minute

// MaxProofLen is the longest Queue-Proof accepted, checked before decoding.
const MaxProofLen = 1024

const (
	saltRandom  = 12 // bytes of randomness at the start of a salt
	userDigest  = 16 // bytes of the user's keyed digest
	maxSaltLen  = 256
	challengeHx = 2 * sha256.Size
)

// Challenge is an ALTCHA challenge.
type Challenge struct {
	Algorithm string
	Challenge string // hex SHA-256 of Salt and the secret number
	Salt      string
	MaxNumber int64
	Signature string // hex HMAC-SHA256 of Challenge
}

// Proof is a verified solution of a challenge.
type Proof struct {
	// Challenge names the proof: spending it is spending this.
	Challenge string
	ConcertID string
	Expires   time.Time
}

// Challenge returns a new challenge for userID to take a place in
// concertID's waiting room, with a secret number in 0..maxNumber, valid
// until expires (kept to the second).
func (s *Signer) Challenge(concertID, userID string, maxNumber int64, expires time.Time) Challenge {
	var r [saltRandom + 8]byte
	_, _ = rand.Read(r[:])
	n := int64(binary.BigEndian.Uint64(r[saltRandom:]) % uint64(maxNumber+1))

	b := make([]byte, 0, 160)
	b = hex.AppendEncode(b, r[:saltRandom])
	b = append(b, "?expires="...)
	b = strconv.AppendInt(b, expires.Unix(), 10)
	b = append(b, "&concert="...)
	b = append(b, concertID...)
	b = append(b, "&user="...)
	b = s.appendUserDigest(b, concertID, userID)
	b = append(b, '&')
	salt := string(b)

	sum := sha256.Sum256(strconv.AppendInt(b, n, 10))
	challenge := hex.EncodeToString(sum[:])
	return Challenge{Algorithm: Algorithm, Challenge: challenge, Salt: salt, MaxNumber: maxNumber,
		Signature: hex.EncodeToString(s.proofMAC(nil, []byte(challenge)))}
}

// proofMAC appends HMAC-SHA256(proof key, data) to b.
func (s *Signer) proofMAC(b, data []byte) []byte {
	m := s.proof.Get().(hash.Hash)
	m.Reset()
	m.Write(data)
	b = m.Sum(b)
	s.proof.Put(m)
	return b
}

// appendUserDigest appends the hex of the user's keyed digest to b: the
// first 16 bytes of SHA-256(user key, concert, 0, user). A keyed hash, not
// an HMAC: its output is only compared, never extended, and it costs two
// SHA-256 blocks rather than five.
func (s *Signer) appendUserDigest(b []byte, concertID, userID string) []byte {
	var in [256]byte
	m := append(append(append(append(in[:0], s.proofUser...), concertID...), 0), userID...)
	sum := sha256.Sum256(m)
	return hex.AppendEncode(b, sum[:userDigest])
}

// proofJSON is the decoded Queue-Proof: the widget's payload. Other fields
// (the widget's took and test) are ignored.
type proofJSON struct {
	Algorithm string `json:"algorithm"`
	Challenge string `json:"challenge"`
	Number    *int64 `json:"number"`
	Salt      string `json:"salt"`
	Signature string `json:"signature"`
}

// proofView is a proofJSON whose strings are views of the decoded header.
type proofView struct {
	Algorithm, Challenge, Salt, Signature []byte
	Number                                *int64
}

// unmarshal reads b with encoding/json, for what parseProof leaves.
func (p *proofView) unmarshal(b []byte) bool {
	var j proofJSON
	if json.Unmarshal(b, &j) != nil {
		return false
	}
	*p = proofView{Algorithm: []byte(j.Algorithm), Challenge: []byte(j.Challenge), Salt: []byte(j.Salt),
		Signature: []byte(j.Signature), Number: j.Number}
	return true
}

// proofBufs hold decoded proofs.
var proofBufs = sync.Pool{New: func() any { return new([MaxProofLen]byte) }}

// The PROOF_INVALID errors of VerifyProof, one per reason.
var (
	errProofTooLong   = proofInvalid("Queue-Proof must have at most " + strconv.Itoa(MaxProofLen) + " characters")
	errProofBase64    = proofInvalid("Queue-Proof must be standard base64")
	errProofJSON      = proofInvalid("Queue-Proof must be the base64 of a JSON object with algorithm, challenge, number, salt and signature")
	errProofAlgorithm = proofInvalid("the proof's algorithm must be " + Algorithm)
	errProofSalt      = proofInvalid("the proof's salt was not issued by this server")
	errProofExpired   = proofInvalid("the proof's challenge has expired: fetch a new one")
	errProofConcert   = proofInvalid("the proof's challenge was issued for another concert")
	errProofUser      = proofInvalid("the proof's challenge was issued for another user")
	errProofSignature = proofInvalid("the proof's signature is not valid")
	errProofNumber    = proofInvalid("the proof's number does not solve its challenge")
)

func proofInvalid(msg string) error {
	return &boxoffice.Error{Code: boxoffice.CodeProofInvalid, Message: msg}
}

// VerifyProof checks a Queue-Proof header, the base64 of the JSON
// {"algorithm","challenge","number","salt","signature"}, for userID
// joining concertID at now: its length, its form, its salt's parameters
// (expiry, concert), its number (one SHA-256), its signature (one HMAC)
// and its user (a keyed SHA-256). It touches no storage: whether the proof was spent already is
// the queue store's to say. Errors: PROOF_INVALID, saying why.
func (s *Signer) VerifyProof(header, concertID, userID string, now time.Time) (Proof, error) {
	if len(header) > MaxProofLen {
		return Proof{}, errProofTooLong
	}
	buf := proofBufs.Get().(*[MaxProofLen]byte)
	defer proofBufs.Put(buf)
	n, err := base64.StdEncoding.Decode(buf[:], []byte(header))
	if err != nil {
		return Proof{}, errProofBase64
	}
	if j := bytes.TrimLeft(buf[:n], " \t\r\n"); len(j) == 0 || j[0] != '{' {
		return Proof{}, errProofJSON
	}
	var p proofView
	if !parseProof(buf[:n], &p) && !p.unmarshal(buf[:n]) {
		return Proof{}, errProofJSON
	}
	if p.Number == nil || len(p.Challenge) == 0 || len(p.Salt) == 0 || len(p.Signature) == 0 {
		return Proof{}, errProofJSON
	}
	if string(p.Algorithm) != Algorithm {
		return Proof{}, errProofAlgorithm
	}
	if *p.Number < 0 || *p.Number > queue.MaxProofOfWork || len(p.Challenge) != challengeHx || len(p.Signature) != challengeHx {
		return Proof{}, errProofJSON
	}
	expires, concert, user, ok := saltParams(p.Salt)
	if !ok {
		return Proof{}, errProofSalt
	}
	if !now.Before(expires) {
		return Proof{}, errProofExpired
	}
	if string(concert) != concertID {
		return Proof{}, errProofConcert
	}
	// The cheapest check first: one SHA-256 of about 150 bytes.
	var sb [maxSaltLen + 20]byte
	sum := sha256.Sum256(strconv.AppendInt(append(sb[:0], p.Salt...), *p.Number, 10))
	var hx [challengeHx]byte
	hex.Encode(hx[:], sum[:])
	if !bytes.Equal(hx[:], p.Challenge) {
		return Proof{}, errProofNumber
	}
	var sig, want [sha256.Size]byte
	if _, err := hex.Decode(sig[:], p.Signature); err != nil || !hmac.Equal(sig[:], s.proofMAC(want[:0], p.Challenge)) {
		return Proof{}, errProofSignature
	}
	var digest [2 * userDigest]byte
	if !hmac.Equal(s.appendUserDigest(digest[:0], concertID, userID), user) {
		return Proof{}, errProofUser
	}
	return Proof{Challenge: string(p.Challenge), ConcertID: concertID, Expires: expires}, nil
}

// parseProof reads b into p if b is a JSON object whose members are
// strings without escapes, numbers and literals, as the widget and
// EncodeProof write it, and reports whether it could: anything else is left
// to encoding/json. A number member must be an integer.
func parseProof(b []byte, p *proofView) bool {
	s := &proofScanner{b: b}
	s.ws()
	if s.i >= len(b) || b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(b) && b[s.i] == '}' {
		s.i++
		s.ws()
		return s.i == len(b)
	}
	for {
		s.ws()
		if !s.member(p) {
			return false
		}
		s.ws()
		if s.i >= len(b) {
			return false
		}
		if b[s.i] == '}' {
			s.i++
			s.ws()
			return s.i == len(b)
		}
		if b[s.i] != ',' {
			return false
		}
		s.i++
	}
}

// proofScanner reads the JSON of a proof, b, from offset i on.
type proofScanner struct {
	b []byte
	i int
}

// ws skips white space.
func (s *proofScanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// str reads a string without escapes and returns its contents.
func (s *proofScanner) str() ([]byte, bool) {
	b := s.b
	if s.i >= len(b) || b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for s.i++; s.i < len(b) && b[s.i] != '"'; s.i++ {
		if b[s.i] == '\\' || b[s.i] < 0x20 {
			return nil, false
		}
	}
	if s.i >= len(b) {
		return nil, false
	}
	s.i++
	return b[start : s.i-1], true
}

// member reads one member of the object into p, and reports whether it
// could.
func (s *proofScanner) member(p *proofView) bool {
	key, ok := s.str()
	if !ok {
		return false
	}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != ':' {
		return false
	}
	s.i++
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		return s.stringMember(key, p)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.numberMember(key, p)
	case c == 't' || c == 'f' || c == 'n':
		return s.literalMember(key)
	}
	return false
}

// stringMember reads the string value of member key into p; "number" may
// not be a string.
func (s *proofScanner) stringMember(key []byte, p *proofView) bool {
	v, ok := s.str()
	if !ok {
		return false
	}
	switch string(key) {
	case "algorithm":
		p.Algorithm = v
	case "challenge":
		p.Challenge = v
	case "salt":
		p.Salt = v
	case "signature":
		p.Signature = v
	case "number":
		return false
	}
	return true
}

// numberMember reads the number value of member key: an integer without
// leading zeros into p for "number", any valid JSON number otherwise.
func (s *proofScanner) numberMember(key []byte, p *proofView) bool {
	b, start := s.b, s.i
	for s.i < len(b) && (b[s.i] == '-' || b[s.i] == '+' || b[s.i] == '.' || b[s.i] == 'e' || b[s.i] == 'E' || (b[s.i] >= '0' && b[s.i] <= '9')) {
		s.i++
	}
	if string(key) != "number" {
		return json.Valid(b[start:s.i])
	}
	n, err := strconv.ParseInt(string(b[start:s.i]), 10, 64)
	if err != nil || (b[start] == '0' && s.i-start > 1) {
		return false
	}
	p.Number = &n
	return true
}

// literalMember reads true, false or null as the value of member key,
// which may not be one of the proof's members.
func (s *proofScanner) literalMember(key []byte) bool {
	b, start := s.b, s.i
	for s.i < len(b) && b[s.i] >= 'a' && b[s.i] <= 'z' {
		s.i++
	}
	if lit := string(b[start:s.i]); lit != "true" && lit != "false" && lit != "null" {
		return false
	}
	switch string(key) {
	case "algorithm", "challenge", "salt", "signature", "number":
		return false
	}
	return true
}

// saltParams reads the parameters of a salt that Challenge made: exactly
// expires, concert and user, in that order, and the closing '&'.
func saltParams(salt []byte) (expires time.Time, concert, user []byte, ok bool) {
	if len(salt) > maxSaltLen || !bytes.HasSuffix(salt, []byte("&")) {
		return time.Time{}, nil, nil, false
	}
	random, params, found := bytes.Cut(salt, []byte("?"))
	if !found || len(random) != 2*saltRandom {
		return time.Time{}, nil, nil, false
	}
	exp, params, ok1 := param(params, "expires")
	concert, params, ok2 := param(params, "concert")
	user, params, ok3 := param(params, "user")
	if !ok1 || !ok2 || !ok3 || len(params) != 0 || len(user) != 2*userDigest {
		return time.Time{}, nil, nil, false
	}
	secs, err := strconv.ParseInt(string(exp), 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, nil, nil, false
	}
	return time.Unix(secs, 0).UTC(), concert, user, true
}

// param reads name=value& from the start of s.
func param(s []byte, name string) (value, rest []byte, ok bool) {
	if len(s) <= len(name) || string(s[:len(name)]) != name || s[len(name)] != '=' {
		return nil, s, false
	}
	value, rest, ok = bytes.Cut(s[len(name)+1:], []byte("&"))
	return value, rest, ok && len(value) != 0
}

// EncodeProof returns the Queue-Proof of c solved by number: the base64 of
// the JSON {"algorithm","challenge","number","salt","signature"}, as the
// altcha widget sends it.
func EncodeProof(c Challenge, number int64) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the salt's '&' as it is, as the widget writes it
	_ = enc.Encode(struct {
		Algorithm string `json:"algorithm"`
		Challenge string `json:"challenge"`
		Number    int64  `json:"number"`
		Salt      string `json:"salt"`
		Signature string `json:"signature"`
	}{c.Algorithm, c.Challenge, number, c.Salt, c.Signature})
	return base64.StdEncoding.EncodeToString([]byte(strings.TrimSuffix(b.String(), "\n")))
}

// Solve finds the number of c as the altcha widget does: it tries 0, 1, …
// up to c.MaxNumber, hashing the salt followed by the number in decimal,
// until the hash is the challenge. It reports false if no number solves c
// or ctx ends first.
func Solve(ctx context.Context, c Challenge) (int64, bool) {
	var want [sha256.Size]byte
	if c.Algorithm != Algorithm || len(c.Challenge) != challengeHx {
		return 0, false
	}
	if _, err := hex.Decode(want[:], []byte(c.Challenge)); err != nil {
		return 0, false
	}
	buf := []byte(c.Salt)
	for n := int64(0); n <= c.MaxNumber; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return 0, false
		}
		if sha256.Sum256(strconv.AppendInt(buf[:len(c.Salt)], n, 10)) == want {
			return n, true
		}
	}
	return 0, false
}
