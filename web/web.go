// Package web serves the fan app (/) and the operator console (/admin):
// the build in dist/, made by Vite from the sources beside it and
// committed, so that the binary needs no Node.js. Files under /assets/
// have content-hashed names and are cached for a year; the pages are
// revalidated on every visit (ETag).
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Cache-Control of the pages and of the fingerprinted assets.
const (
	pageCache  = "no-cache"
	assetCache = "public, max-age=31536000, immutable"
)

// pageCSP keeps the pages to their own origin's scripts and connections.
// Styles may be inline (the charts and the proof of work widget set them);
// the proof of work runs in a worker made from a blob.
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; " +
	"base-uri 'none'; form-action 'self'"

// file is one built file, with its gzip form when that is smaller.
type file struct {
	body, gz    []byte
	contentType string
	etag        string
	cache       string
}

// Handler answers GET and HEAD for the pages and their assets.
type Handler struct {
	files map[string]*file // by URL path
}

// New returns a Handler over the embedded build.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist/
	}
	return NewFS(sub)
}

// NewFS returns a Handler over a build laid out like dist/: index.html,
// admin.html and assets/.
func NewFS(build fs.FS) *Handler {
	h := &Handler{files: make(map[string]*file)}
	_ = fs.WalkDir(build, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(build, p)
		if err != nil {
			return err
		}
		url := "/" + p
		cache := assetCache
		switch p {
		case "index.html":
			url, cache = "/", pageCache
		case "admin.html":
			url, cache = "/admin", pageCache
		default:
			if !strings.HasPrefix(p, "assets/") {
				cache = "public, max-age=3600"
			}
		}
		h.files[url] = newFile(b, p, cache)
		return nil
	})
	return h
}

func newFile(b []byte, name, cache string) *file {
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = http.DetectContentType(b)
	}
	sum := sha256.Sum256(b)
	f := &file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache}
	if compressible(ct) {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if buf.Len() < len(b) {
			f.gz = buf.Bytes()
		}
	}
	return f
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") ||
		strings.Contains(contentType, "javascript") ||
		strings.Contains(contentType, "json") ||
		strings.Contains(contentType, "svg")
}

// Paths lists the URL paths the Handler answers.
func (h *Handler) Paths() []string {
	out := make([]string, 0, len(h.files))
	for p := range h.files {
		out = append(out, p)
	}
	return out
}

// ServeHTTP answers the file at r's path, gzipped when the client accepts
// it, or 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == "/admin/" {
		p = "/admin"
	}
	f, ok := h.files[p]
	if !ok {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Not found","status":404,"code":"NOT_FOUND","detail":"no such file"}`))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.contentType)
	hd.Set("Cache-Control", f.cache)
	hd.Set("X-Content-Type-Options", "nosniff")
	if f.cache == pageCache {
		hd.Set("Content-Security-Policy", pageCSP)
		hd.Set("Referrer-Policy", "same-origin")
	}
	body, etag := f.body, f.etag
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gz, strings.TrimSuffix(f.etag, `"`)+`-gz"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
				continue
			}
			q := strings.TrimSpace(params)
			if v, ok := strings.CutPrefix(q, "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f == 0 {
					return false
				}
			}
			return true
		}
	}
	return false
}
