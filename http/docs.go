package http

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	nethttp "net/http"
	"path"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/boxoffice/boxoffice"
)

// assets is the browsable API reference, served at /docs; it works offline.
//
//go:embed assets/*
var assets embed.FS

// asset is one embedded file with what its answer needs.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// loadAssets reads the embedded files once.
func loadAssets() map[string]asset {
	out := make(map[string]asset)
	entries, _ := fs.ReadDir(assets, "assets")
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(assets, "assets/"+e.Name())
		if err != nil {
			continue
		}
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = nethttp.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		out[e.Name()] = asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out
}

// apiTags are the sections of the OpenAPI document and of /docs, in the
// order a fan travels: sign up and charge, find a concert, wait in its
// room, book; then what operators use.
func apiTags() []*huma.Tag {
	return []*huma.Tag{
		{Name: tagUsers, Description: "Sign up, then charge the wallet that pays for tickets."},
		{Name: tagConcert, Description: "The concerts and their sales openings; no sign-in needed."},
		{Name: tagQueue, Description: "Join a concert's waiting room and wait to be admitted: the queue token it gives is the pass to the booking endpoints."},
		{Name: tagBooking, Description: "Once admitted: dates, seat maps, holding seats and paying for them."},
		{Name: tagAdmin, Description: "Create concerts, run their waiting rooms and follow the sale (the admin key)."},
		{Name: tagOps, Description: "Health, readiness, metrics and this reference."},
	}
}

func (s *Server) docsRoutes() {
	s.api.OpenAPI().Tags = apiTags()
	files := loadAssets()
	serve := func(w nethttp.ResponseWriter, r *nethttp.Request, name, cacheControl string) {
		a, ok := files[name]
		if !ok {
			writeProblem(w, newProblem(boxoffice.CodeNotFound, "no such file"))
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Cache-Control", cacheControl)
		h.Set("ETag", a.etag)
		h.Set("X-Content-Type-Options", "nosniff")
		nethttp.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	}
	// The page is revalidated on every visit so that a new version shows at
	// once; the files it loads are cached for an hour.
	s.mux.HandleFunc("GET /docs", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		serve(w, r, "docs.html", "no-cache")
	})
	s.mux.HandleFunc("GET /docs/{file}", func(w nethttp.ResponseWriter, r *nethttp.Request) {
		serve(w, r, r.PathValue("file"), "public, max-age=3600")
	})
}
