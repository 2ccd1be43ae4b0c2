package loadtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"
)

// The measured loops speak HTTP/1.1 themselves, one keep-alive connection
// per worker, writing each request in one system call and reading the
// answer with a minimal parser: the load generator shares the machine's
// cores with the server, so every cycle it spends lowers every figure it
// reports (net/http's client costs several times more per request).
// Setup, checks and the on-sale fans use the API's Go client over a tuned
// net/http.Transport.

// newTransport returns a keep-alive transport allowing conns connections
// to each target.
func newTransport(conns int, timeout time.Duration) *nethttp.Transport {
	return &nethttp.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       2 * time.Minute,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
		WriteBufferSize:       4 << 10,
		ReadBufferSize:        4 << 10,
	}
}

// rawRequest is a request built once and sent many times. Its header is
// shared and never written.
type rawRequest struct {
	method string
	url    *url.URL
	header nethttp.Header
	body   []byte
	// wire is the request as sent, when built in advance by newRawRequest;
	// nil: built at each sending.
	wire []byte
}

func newRawRequest(method, base, path string, body []byte, header nethttp.Header) (*rawRequest, error) {
	u, err := url.Parse(base + path)
	if err != nil {
		return nil, err
	}
	if header == nil {
		header = nethttp.Header{}
	}
	if body != nil {
		header["Content-Type"] = []string{"application/json"}
	}
	header["Accept"] = []string{"application/json"}
	r := &rawRequest{method: method, url: u, header: header, body: body}
	r.wire = r.appendWire(nil)
	return r, nil
}

// credentials returns the headers of a fan's requests.
func credentials(accessToken, queueToken string) nethttp.Header {
	h := nethttp.Header{"Authorization": {"Bearer " + accessToken}}
	if queueToken != "" {
		h["Queue-Token"] = []string{queueToken}
	}
	return h
}

// appendWire appends r as HTTP/1.1 bytes.
func (r *rawRequest) appendWire(b []byte) []byte {
	b = append(b, r.method...)
	b = append(b, ' ')
	if r.url.RawPath != "" {
		b = append(b, r.url.RawPath...)
	} else {
		b = append(b, r.url.Path...)
	}
	if r.url.RawQuery != "" {
		b = append(b, '?')
		b = append(b, r.url.RawQuery...)
	}
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.url.Host...)
	b = append(b, "\r\n"...)
	for k, vs := range r.header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if r.body != nil {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(r.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, r.body...)
}

// conn is one worker's keep-alive connection.
type conn struct {
	scheme  string
	host    string
	c       net.Conn
	r       *bufio.Reader
	w       []byte
	timeout time.Duration
	tls     *tls.Config // for https targets; nil: the system's roots
}

func newConn(timeout time.Duration) *conn { return &conn{timeout: timeout} }

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

func (c *conn) dial(u *url.URL) error {
	c.close()
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	var nc net.Conn
	var err error
	d := &net.Dialer{Timeout: 10 * time.Second}
	if u.Scheme == "https" {
		cfg := &tls.Config{}
		if c.tls != nil {
			cfg = c.tls.Clone()
		}
		cfg.ServerName, cfg.NextProtos = u.Hostname(), []string{"http/1.1"}
		nc, err = tls.DialWithDialer(d, "tcp", addr, cfg)
	} else {
		nc, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	if c.r == nil {
		c.r = bufio.NewReaderSize(nc, 16<<10)
	} else {
		c.r.Reset(nc)
	}
	c.c, c.scheme, c.host = nc, u.Scheme, u.Host
	return nil
}

// send sends r and reads the answer's body into buf. status is 0 when no
// answer came. A reused connection that the server closed meanwhile is
// replaced once.
func (c *conn) send(r *rawRequest, buf []byte) (status int, body []byte, err error) {
	for attempt := 0; ; attempt++ {
		fresh := c.c == nil || c.host != r.url.Host || c.scheme != r.url.Scheme
		if fresh {
			if err := c.dial(r.url); err != nil {
				return 0, buf[:0], err
			}
		}
		var keep, answered bool
		status, body, keep, answered, err = c.roundTrip(r, buf)
		if err == nil {
			if !keep {
				c.close()
			}
			return status, body, nil
		}
		c.close()
		if fresh || answered || attempt > 0 {
			return 0, body, err
		}
	}
}

// roundTrip writes r and reads one answer. answered tells whether any of
// the answer arrived.
func (c *conn) roundTrip(r *rawRequest, buf []byte) (status int, body []byte, keep, answered bool, err error) {
	body = buf[:0]
	if err = c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return
	}
	w := r.wire
	if w == nil {
		c.w = r.appendWire(c.w[:0])
		w = c.w
	}
	if _, err = c.c.Write(w); err != nil {
		return
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return
	}
	answered = true
	// HTTP/1.1 200 OK
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, body, false, true, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, body, false, true, errMalformed
	}
	keep = line[7] == '1'
	length, chunked := int64(-1), false
	for {
		line, err = c.r.ReadSlice('\n')
		if err != nil {
			return
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, body, false, true, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, body, false, true, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case r.method == "HEAD" || status == 204 || status == 304 || status < 200:
	case chunked:
		body, err = readChunked(c.r, body)
	case length >= 0:
		body, err = readN(c.r, body, int(length))
	default:
		keep = false
		body, err = readAll(c.r, body)
	}
	return status, body, keep, true, err
}

var errMalformed = errors.New("malformed HTTP answer")

// readN appends n bytes of r to b.
func readN(r io.Reader, b []byte, n int) ([]byte, error) {
	b = slices.Grow(b, n)
	_, err := io.ReadFull(r, b[len(b):len(b)+n])
	return b[:len(b)+n], err
}

// readChunked appends a chunked body of r to b.
func readChunked(r *bufio.Reader, b []byte) ([]byte, error) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return b, err
		}
		size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(size), 16, 64)
		if err != nil || n < 0 {
			return b, errMalformed
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err = r.ReadSlice('\n')
				if err != nil || len(line) <= 2 {
					return b, err
				}
			}
		}
		if b, err = readN(r, b, int(n)); err != nil {
			return b, err
		}
		if _, err = r.Discard(2); err != nil {
			return b, err
		}
	}
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// failureCode names a request that got no answer.
func failureCode(err error) []byte {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return []byte(codeTimeout)
	}
	return []byte(codeNetwork)
}

// jsonValue returns the raw value of the first "key" in a flat JSON
// object: a string's contents without quotes, or a number or literal.
// It does not unescape; the API's tokens, ids and codes need none.
func jsonValue(b []byte, key string) []byte {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(key))
		if j < 0 {
			return nil
		}
		j += i
		i = j + len(key)
		if j == 0 || b[j-1] != '"' || i >= len(b) || b[i] != '"' {
			continue
		}
		k := i + 1
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
			k++
		}
		if k >= len(b) || b[k] != ':' {
			continue
		}
		k++
		for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
			k++
		}
		if k >= len(b) {
			return nil
		}
		if b[k] == '"' {
			end := bytes.IndexByte(b[k+1:], '"')
			if end < 0 {
				return nil
			}
			return b[k+1 : k+1+end]
		}
		end := k
		for end < len(b) && b[end] != ',' && b[end] != '}' && b[end] != ' ' && b[end] != '\n' {
			end++
		}
		return b[k:end]
	}
}

// problemCode returns the code of a problem+json answer, or nil.
func problemCode(body []byte) []byte { return jsonValue(body, "code") }
