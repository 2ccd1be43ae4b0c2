package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/batch"
	"github.com/boxoffice/boxoffice/booking"
	"github.com/boxoffice/boxoffice/concert"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/nats"
	"github.com/boxoffice/boxoffice/postgres"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/redis"
	"github.com/boxoffice/boxoffice/sqlite"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// Main is the whole program wired from a Config: stores, services, the
// HTTP server and the background loops. Tests run it as it runs in
// production.
type Main struct {
	Config Config
	Clock  boxoffice.Clock

	log      *slog.Logger
	db       *database
	room     *waitingRoom
	api      *http.Server
	server   *nethttp.Server
	listener net.Listener
	pprof    *nethttp.Server
	metrics  *nethttp.Server
	stop     context.CancelFunc
	loops    sync.WaitGroup
	relay    *event.Relay
	stream   *nats.Stream // nil when events are not relayed

	metricsAddr  string
	adminKey     string
	adminKeyFrom secretSource
	closeOnce    sync.Once
	closeErr     error
}

// NewMain returns a Main for cfg that logs to logOut.
func NewMain(cfg Config, logOut io.Writer) *Main {
	return &Main{Config: cfg, Clock: boxoffice.SystemClock{}, log: newLogger(cfg, logOut)}
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// database is the store adapter chosen by the configuration.
type database struct {
	concerts concert.Store
	wallets  wallet.Store
	bookings booking.Store
	// journal keeps the waiting rooms so that a lost one is rebuilt; nil
	// for the embedded store, whose in-process room ends with the process.
	journal queue.Journal
	// archive keeps the waiting rooms that ended.
	archive queue.Archive
	// events is the outbox every store writes its events into.
	events event.Store
	// setting returns the value stored under key, storing generate()'s
	// result first when there is none, atomically across instances.
	setting func(ctx context.Context, key string, generate func() (string, error)) (string, error)
	ping    func(ctx context.Context) error
	Close   func()
}

// openDatabase opens and migrates the configured store.
func openDatabase(ctx context.Context, cfg Config) (*database, error) {
	switch {
	case cfg.Embedded():
		db, err := sqlite.Open(ctx, cfg.DataFile)
		if err != nil {
			return nil, fmt.Errorf("open embedded store: %w", err)
		}
		return &database{
			concerts: sqlite.NewConcertStore(db),
			wallets:  sqlite.NewWalletStore(db),
			bookings: sqlite.NewBookingStore(db),
			archive:  sqlite.NewRoomArchive(db),
			events:   sqlite.NewEventStore(db),
			setting:  db.Setting,
			ping:     db.Ping,
			Close:    db.Close,
		}, nil
	default:
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL: %w", err)
		}
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate PostgreSQL: %w", err)
		}
		// Several instances share these stores: the instants that decide
		// for everyone come from one clock, the database's.
		db.UseDatabaseClock()
		events := postgres.NewEventStore(db)
		return &database{
			concerts: postgres.NewConcertStore(db),
			wallets:  postgres.NewWalletStore(db),
			bookings: postgres.NewBookingStore(db),
			journal:  postgres.NewQueueJournal(db),
			archive:  postgres.NewRoomArchive(db),
			events:   events,
			setting:  db.Setting,
			ping:     db.Ping,
			Close:    func() { events.Close(); db.Close() },
		}, nil
	}
}

// waitingRoom is the waiting-room adapter chosen by the configuration.
type waitingRoom struct {
	store queue.Store
	// limiter, signups and adminFailures are shared by every instance,
	// and broadcast tells them of event streams opened; nil for the
	// server's own.
	limiter       http.Limiter
	signups       http.Quota
	adminFailures http.Quota
	broadcast     http.Broadcast
	ping          func(ctx context.Context) error
	Close         func() error
}

// openWaitingRoom opens the configured waiting-room store.
func openWaitingRoom(ctx context.Context, cfg Config) (*waitingRoom, error) {
	switch {
	case cfg.RedisURL != "":
		client, err := redis.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("open Redis: %w", err)
		}
		store := redis.NewQueueStore(client, cfg.RedisPrefix)
		// Every instance decides the room's instants on Redis's clock.
		store.UseServerTime()
		wr := &waitingRoom{
			store: store,
			ping:  func(ctx context.Context) error { return client.Ping(ctx).Err() },
			Close: client.Close,
		}
		if cfg.RateLimit > 0 {
			wr.limiter = redis.NewLimiter(client, cfg.RedisPrefix, cfg.RateLimit)
		}
		if cfg.SignupLimit > 0 {
			wr.signups = redis.NewQuota(client, cfg.RedisPrefix+"su:", cfg.SignupLimit, http.SignupWindow)
		}
		wr.adminFailures = redis.NewQuota(client, cfg.RedisPrefix+"af:", http.AdminFailureLimit, http.AdminFailureWindow)
		wr.broadcast = redis.NewBroadcast(client, cfg.RedisPrefix+"streams")
		return wr, nil
	default:
		return &waitingRoom{
			store: memory.NewQueueStore(),
			ping:  func(context.Context) error { return nil },
			Close: func() error { return nil },
		}, nil
	}
}

// identityProvider returns the verifier of the operator's identity
// provider's tokens, or nil when none is configured. An unreachable JWKS
// does not stop the start: the provider's tokens are refused until a later
// fetch succeeds, and everything else works.
func (m *Main) identityProvider(ctx context.Context) (*token.Provider, error) {
	if m.Config.JWKSURL == "" {
		return nil, nil
	}
	p, err := token.NewProvider(ctx, token.ProviderConfig{
		JWKSURL: m.Config.JWKSURL, Issuer: m.Config.JWTIssuer, Audience: m.Config.JWTAudience,
		UserClaim: m.Config.JWTUserClaim, Clock: m.Clock,
	})
	switch {
	case p == nil:
		return nil, err
	case err != nil:
		m.log.Error("identity provider's keys unavailable; its tokens are refused until they are fetched", "err", err)
	default:
		m.log.Info("accepting tokens of the identity provider", "jwks_url", m.Config.JWKSURL,
			"issuer", m.Config.JWTIssuer, "audience", m.Config.JWTAudience, "user_claim", m.Config.JWTUserClaim)
	}
	return p, nil
}

// Run opens everything, starts serving on Config.Addr and starts the
// background loops. It returns once the service accepts requests.
func (m *Main) Run(ctx context.Context) error {
	m.log.Info("starting", "config", m.Config.String(), "version", version)
	db, err := openDatabase(ctx, m.Config)
	if err != nil {
		return err
	}
	m.db = db
	signer, err := m.loadSecrets(ctx)
	if err != nil {
		return err
	}
	room, err := openWaitingRoom(ctx, m.Config)
	if err != nil {
		return err
	}
	m.room = room
	svc := m.newServices(signer)
	provider, err := m.identityProvider(ctx)
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srv := m.newServer(svc, signer, provider, registry)
	svc.queues.OnStep = m.onStep(srv.ObserveAdmission, svc.queues)
	m.endRooms(svc.queues, svc.concerts, registry)
	observeBatches(svc.bookings, registry)
	m.api = srv
	if m.Config.RedisURL == "" && !m.Config.Embedded() {
		m.log.Warn("the waiting room is in process: run a single instance, or set BOXOFFICE_REDIS_URL so that instances share it")
	}
	if m.Config.Demo {
		if err := seedDemo(ctx, svc.concerts, m.Clock.Now()); err != nil {
			return fmt.Errorf("seed demo data: %w", err)
		}
	}
	if err := m.listen(srv); err != nil {
		return err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	m.stop = stop
	m.goLoop(func() { _ = svc.queues.Run(loopCtx) })
	m.goLoop(func() { svc.bookings.RunSweeper(loopCtx, m.Config.SweepEvery, m.log) })
	m.goLoop(func() { svc.queues.RunEnds(loopCtx, m.Config.RoomEndEvery) })
	if err := m.startEvents(loopCtx, registry); err != nil {
		return err
	}
	m.goLoop(func() {
		if err := m.server.Serve(m.listener); err != nil && !errors.Is(err, nethttp.ErrServerClosed) {
			m.log.Error("serve", "err", err)
		}
	})
	if m.Config.PprofAddr != "" {
		if err := m.servePprof(); err != nil {
			return err
		}
	}
	if m.Config.MetricsAddr != "" {
		if err := m.serveMetrics(srv.Metrics()); err != nil {
			return err
		}
	}
	m.log.Info("serving", "url", m.URL(), "mode", m.Config.Mode(), "admin_key", m.adminKeyFrom)
	return nil
}

// loadSecrets reads or generates the token secret and the admin key, and
// returns the signer of the tokens.
func (m *Main) loadSecrets(ctx context.Context) (*token.Signer, error) {
	secret, _, err := m.secret(ctx, "token_secret", m.Config.Secret)
	if err != nil {
		return nil, err
	}
	signer, err := token.NewSigner([]byte(secret))
	if err != nil {
		return nil, err
	}
	if m.adminKey, m.adminKeyFrom, err = m.secret(ctx, "admin_key", m.Config.AdminKey); err != nil {
		return nil, err
	}
	return signer, nil
}

// services are the domain services on the configured adapters.
type services struct {
	wallets  *wallet.Service
	concerts *concert.Service
	bookings *booking.Service
	queues   *queue.Service
}

func (m *Main) newServices(signer *token.Signer) services {
	clock, db := m.Clock, m.db
	cache := concert.NewCache(db.concerts, clock, time.Second)
	bookings := booking.NewService(db.bookings, cache, clock)
	queues := queue.NewService(m.room.store, clock, instanceName(), m.Config.AdmitTick, m.log, signer.LotterySeed,
		func(ctx context.Context, concertID string) (queue.Supply, error) {
			sup, err := bookings.Supply(ctx, concertID)
			return queue.Supply(sup), err
		})
	if db.journal != nil {
		queues.Journal = db.journal
		queues.RoomOf = func(ctx context.Context, concertID string) (queue.Room, error) {
			c, err := cache.Concert(ctx, concertID)
			return c.Room(), err
		}
	}
	return services{
		wallets:  wallet.NewService(db.wallets, clock, wallet.Limits{MaxCharge: m.Config.MaxCharge, MaxBalance: m.Config.MaxBalance}),
		concerts: concert.NewService(db.concerts, cache, queues, clock, m.log),
		bookings: bookings,
		queues:   queues,
	}
}

func (m *Main) newServer(svc services, signer *token.Signer, provider *token.Provider, registry *prometheus.Registry) *http.Server {
	db, room := m.db, m.room
	return http.NewServer(http.Options{
		Wallet:         svc.wallets,
		Concerts:       svc.concerts,
		Booking:        svc.bookings,
		Queue:          svc.queues,
		Signer:         signer,
		Provider:       provider,
		NoSignup:       !m.Config.Signup,
		AccessTTL:      m.Config.AccessTTL,
		AdminKey:       m.adminKey,
		Clock:          m.Clock,
		Logger:         m.log,
		Registry:       registry,
		MetricsApart:   m.Config.MetricsAddr != "",
		RateLimit:      m.Config.RateLimit,
		Limiter:        room.limiter,
		SignupLimit:    m.Config.SignupLimit,
		Signups:        room.signups,
		AdminFailures:  room.adminFailures,
		Broadcast:      room.broadcast,
		TrustedProxies: m.Config.TrustedProxies,
		MaxStreams:     m.Config.MaxStreams,
		RequestTimeout: m.Config.RequestTimeout,
		Events:         db.events,
		Ready: func(ctx context.Context) error {
			if err := db.ping(ctx); err != nil {
				return boxoffice.Unavailable("database", err)
			}
			if err := room.ping(ctx); err != nil {
				return boxoffice.Unavailable("redis", err)
			}
			return nil
		},
	})
}

// listen opens the API's listener and its server, not yet serving.
func (m *Main) listen(srv *http.Server) error {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.listener = ln
	m.server = &nethttp.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		// Well above the API's own limit (http.DefaultMaxHeaderBytes), so
		// that the API answers larger headers with a problem.
		MaxHeaderBytes: 1 << 20,
		ErrorLog:       slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle by themselves: end them when shutdown
	// begins so that requests in flight are all that it waits for.
	m.server.RegisterOnShutdown(srv.CloseStreams)
	return nil
}

// servePprof serves the Go profiling endpoints on their own listener, so
// they are never reachable through the public address.
func (m *Main) servePprof() error {
	ln, err := net.Listen("tcp", m.Config.PprofAddr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := nethttp.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.pprof = &nethttp.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.goLoop(func() { _ = m.pprof.Serve(ln) })
	m.log.Info("profiling", "addr", ln.Addr().String())
	return nil
}

// serveMetrics serves /metrics on its own listener, so that the public
// address does not expose it.
func (m *Main) serveMetrics(h nethttp.Handler) error {
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	m.metricsAddr = ln.Addr().String()
	mux := nethttp.NewServeMux()
	mux.Handle("GET /metrics", h)
	m.metrics = &nethttp.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.goLoop(func() { _ = m.metrics.Serve(ln) })
	m.log.Info("metrics", "addr", m.metricsAddr)
	return nil
}

// MetricsAddr is the address /metrics is served on apart from the API, or
// "" when it is served with the API.
func (m *Main) MetricsAddr() string { return m.metricsAddr }

func (m *Main) goLoop(f func()) {
	m.loops.Add(1)
	go func() {
		defer m.loops.Done()
		f()
	}()
}

// secretSource says where a secret in force came from.
type secretSource string

const (
	secretConfigured secretSource = "configured" // the environment or a flag
	secretGenerated  secretSource = "generated"  // made at this start and stored
	secretLoaded     secretSource = "loaded"     // stored at an earlier start or by another instance
)

// secret returns configured, or the value stored under key, generating and
// storing one the first time so that every instance and restart shares it;
// and where the value came from.
func (m *Main) secret(ctx context.Context, key, configured string) (string, secretSource, error) {
	if configured != "" {
		return configured, secretConfigured, nil
	}
	var generated string
	v, err := m.db.setting(ctx, key, func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		generated = hex.EncodeToString(b)
		return generated, nil
	})
	if err != nil {
		return "", "", fmt.Errorf("load %s: %w", key, err)
	}
	if v == generated {
		return v, secretGenerated, nil
	}
	return v, secretLoaded, nil
}

// URL is the base URL the service answers on.
func (m *Main) URL() string {
	if m.listener == nil {
		return ""
	}
	addr := m.listener.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// AdminKey is the admin bearer key in force.
func (m *Main) AdminKey() string { return m.adminKey }

// PrintBanner writes the short start-up summary for a person at a terminal.
func (m *Main) PrintBanner(w io.Writer) {
	var key string
	switch m.adminKeyFrom {
	case secretConfigured:
		key = "(from BOXOFFICE_ADMIN_KEY)"
	case secretGenerated:
		key = m.adminKey + " (generated at this start and stored with the data)"
	default:
		key = m.adminKey + " (loaded: stored with the data at an earlier start)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nBoxoffice %s is serving\n", version)
	fmt.Fprintf(&b, "  URL:        %s\n", m.URL())
	fmt.Fprintf(&b, "  API docs:   %s/docs\n", m.URL())
	fmt.Fprintf(&b, "  Admin key:  %s\n", key)
	fmt.Fprintf(&b, "  Mode:       %s\n\n", m.Config.Mode())
	io.WriteString(w, b.String())
}

// Close stops accepting requests, lets those in flight finish, stops the
// background loops and closes the stores. It is safe to call more than once.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		var errs []error
		if m.api != nil {
			m.api.Drain() // /readyz answers UNAVAILABLE while requests drain
		}
		if m.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownGrace)
			if err := m.server.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("shutdown: %w", err))
			}
			cancel()
		}
		if m.pprof != nil {
			m.pprof.Close()
		}
		if m.metrics != nil {
			m.metrics.Close()
		}
		if m.stop != nil {
			m.stop()
		}
		m.loops.Wait()
		if m.stream != nil {
			m.stream.Close()
		}
		if m.room != nil {
			errs = append(errs, m.room.Close())
		}
		if m.db != nil {
			m.db.Close()
		}
		m.closeErr = errors.Join(errs...)
		m.log.Info("stopped")
	})
	return m.closeErr
}

// instanceName identifies this process in admission leases.
func instanceName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// observeBatches counts the batches of gathered writes on registry: their
// sizes, how long each ran in the store and how long each request waited
// for its batch, by kind ("hold" or "settle").
func observeBatches(bookings *booking.Service, registry *prometheus.Registry) {
	kind := []string{"kind"}
	requests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "boxoffice_write_batch_requests",
		Help:    "Requests per batch of gathered writes, by kind: hold, or settle (payments and cancels).",
		Buckets: prometheus.ExponentialBucketsRange(1, booking.MaxBatch, 9),
	}, kind)
	took := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "boxoffice_write_batch_seconds",
		Help:    "Time a batch of gathered writes took in the store, by kind.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, kind)
	waited := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "boxoffice_write_batch_wait_seconds",
		Help:    "Time a hold, payment or cancel waited for its batch to start (the batch of its lane in the store before it), by kind.",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, kind)
	registry.MustRegister(requests, took, waited)
	bookings.ObserveBatches(func(kind string, c batch.Call) {
		requests.WithLabelValues(kind).Observe(float64(c.Requests))
		took.WithLabelValues(kind).Observe(c.Took.Seconds())
		w := waited.WithLabelValues(kind)
		for _, d := range c.Waited {
			w.Observe(d.Seconds())
		}
	})
}

// endRooms has queues end the rooms of concerts that can no longer sell,
// RoomGrace after they could first end, keeping their records in the
// database's archive, and counts them on registry.
func (m *Main) endRooms(queues *queue.Service, concerts *concert.Service, registry *prometheus.Registry) {
	queues.Archive = m.db.archive
	queues.Grace = m.Config.RoomGrace
	queues.Closes = func(ctx context.Context, concertID string) (time.Time, error) {
		c, err := concerts.Concert(ctx, concertID)
		if err != nil {
			return time.Time{}, err
		}
		var last time.Time
		for _, d := range c.Dates {
			if d.StartsAt.After(last) {
				last = d.StartsAt
			}
		}
		return last, nil
	}
	ended := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "boxoffice_rooms_ended_total",
		Help: "Waiting rooms this instance ended: archived in the database and removed from the waiting-room store.",
	})
	kept := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "boxoffice_rooms_kept",
		Help: "Waiting rooms in the waiting-room store, live or waiting to end, at this instance's last look.",
	})
	registry.MustRegister(ended, kept)
	queues.OnEnds = func(ids []string, n int) {
		ended.Add(float64(len(ids)))
		kept.Set(float64(n))
	}
}
