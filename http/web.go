package http

import "github.com/boxoffice/boxoffice/web"

// webRoutes serves the fan app at /, the operator console at /admin and
// their assets, all embedded in the binary.
func (s *Server) webRoutes() {
	app := web.New()
	s.mux.Handle("GET /{$}", app)
	s.mux.Handle("GET /admin", app)
	s.mux.Handle("GET /admin/{$}", app)
	s.mux.Handle("GET /assets/", app)
}
