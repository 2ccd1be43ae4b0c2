package loadtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// The measured loops send pre-built requests straight to a tuned
// net/http.Transport and read answers into a buffer of their own: the load
// generator shares the machine's cores with the server, so every cycle it
// spends lowers every figure it reports.

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
	return &rawRequest{method: method, url: u, header: header, body: body}, nil
}

// credentials returns the headers of a fan's requests.
func credentials(accessToken, queueToken string) nethttp.Header {
	h := nethttp.Header{"Authorization": {"Bearer " + accessToken}}
	if queueToken != "" {
		h["Queue-Token"] = []string{queueToken}
	}
	return h
}

type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

// send sends r and reads the answer's body into buf. status is 0 when no
// answer came.
func send(tr *nethttp.Transport, r *rawRequest, buf []byte) (status int, body []byte, err error) {
	req := &nethttp.Request{
		Method: r.method, URL: r.url, Header: r.header, Host: r.url.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	if r.body != nil {
		br := new(bodyReader)
		br.Reset(r.body)
		req.Body, req.ContentLength = br, int64(len(r.body))
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, buf[:0], err
	}
	body, err = readAll(resp.Body, buf[:0])
	resp.Body.Close()
	if err != nil {
		return 0, body, err
	}
	return resp.StatusCode, body, nil
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

// jsonInt returns the integer value of key, or false.
func jsonInt(b []byte, key string) (int64, bool) {
	v := jsonValue(b, key)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}
