package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/boxoffice/boxoffice"
	"github.com/boxoffice/boxoffice/event"
	"github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/nats"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/token"
	"github.com/boxoffice/boxoffice/wallet"
)

// Config is everything an operator can set. Each field has an environment
// variable and a flag of the same meaning; flags win.
type Config struct {
	Addr           string
	DatabaseURL    string // postgres://… ; empty: embedded store in DataFile
	DataFile       string
	RedisURL       string // redis://… ; empty: in-process waiting room
	RedisPrefix    string
	AdminKey       string
	Secret         string
	Demo           bool
	RateLimit      float64
	SignupLimit    int // sign-ups per client address and hour; 0: off
	TrustedProxies []netip.Prefix
	AccessTTL      time.Duration
	MaxCharge      boxoffice.Money
	MaxBalance     boxoffice.Money
	AdmitTick      time.Duration
	SweepEvery     time.Duration
	RoomGrace      time.Duration // how long a room that can end stays in the waiting-room store
	RoomEndEvery   time.Duration // how often rooms that can end are looked for
	ShutdownGrace  time.Duration
	RequestTimeout time.Duration // deadline of every API request but the event stream
	LogLevel       string
	LogFormat      string
	PprofAddr      string // empty: no profiling endpoint
	MetricsAddr    string // empty: /metrics on Addr
	MaxStreams     int    // open queue event streams per instance
	JWKSURL        string // identity provider's keys; empty: its tokens are not accepted
	JWTIssuer      string
	JWTAudience    string
	JWTUserClaim   string
	Signup         bool // POST /v1/users is on

	NatsURL    string        // nats://… ; empty: events are not relayed
	NatsStream string        // the JetStream stream events are relayed to
	EventsKeep time.Duration // how long the event feed keeps events
}

// DefaultConfig is the configuration with nothing set.
func DefaultConfig() Config {
	limits := wallet.DefaultLimits()
	return Config{
		Addr:           ":8080",
		DataFile:       "boxoffice.db",
		RateLimit:      50,
		SignupLimit:    30,
		AccessTTL:      30 * 24 * time.Hour,
		MaxCharge:      limits.MaxCharge,
		MaxBalance:     limits.MaxBalance,
		AdmitTick:      100 * time.Millisecond,
		SweepEvery:     30 * time.Second,
		RoomGrace:      queue.DefaultGrace,
		RoomEndEvery:   time.Minute,
		ShutdownGrace:  15 * time.Second,
		RequestTimeout: http.DefaultRequestTimeout,
		LogLevel:       "info",
		LogFormat:      "text",
		MaxStreams:     http.DefaultMaxStreams,
		JWTUserClaim:   token.DefaultUserClaim,
		Signup:         true,
		NatsStream:     nats.DefaultStream,
		EventsKeep:     event.DefaultKeep,
	}
}

// Embedded reports whether the data lives in the embedded store.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// Mode names the adapters in use, for the banner and logs.
func (c Config) Mode() string {
	switch {
	case c.Embedded() && c.RedisURL == "":
		return "embedded (SQLite file " + c.DataFile + ", in-process waiting room; single instance)"
	case c.Embedded():
		return "SQLite file " + c.DataFile + " + Redis waiting room (single instance)"
	case c.RedisURL == "":
		return "PostgreSQL + in-process waiting room (single instance)"
	default:
		return "PostgreSQL + Redis (multi-instance)"
	}
}

// setting is one configurable field: its env variable, flag and value.
type setting struct {
	env, flag, usage string
	v                field
}

// field parses a setting into its Config field and shows the field's
// value (the default, in -h); kind names what it takes.
type field struct {
	set  func(string) error
	show func() string
	kind string
}

func str(p *string) field {
	return field{func(v string) error { *p = v; return nil }, func() string { return *p }, "string"}
}

func dur(p *time.Duration) field {
	return field{func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("want a positive duration like 30s, got %q", v)
		}
		*p = d
		return nil
	}, func() string { return p.String() }, "duration"}
}

func money(p *boxoffice.Money) field {
	return field{func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return fmt.Errorf("want a positive whole number of won, got %q", v)
		}
		*p = boxoffice.Money(n)
		return nil
	}, func() string { return strconv.FormatInt(int64(*p), 10) }, "won"}
}

func boolean(p *bool) field {
	return field{func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*p = b
		return nil
	}, func() string { return strconv.FormatBool(*p) }, "bool"}
}

// demo is the demo setting, whose default depends on the store.
func demo(p *bool) field {
	f := boolean(p)
	f.show = func() string { return "true when embedded, else false" }
	return f
}

// atLeast is a whole number of at least least (0 or 1).
func atLeast(p *int, least int) field {
	want := "a whole number >= 0"
	if least > 0 {
		want = "a positive whole number"
	}
	return field{func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < least {
			return fmt.Errorf("want %s, got %q", want, v)
		}
		*p = n
		return nil
	}, func() string { return strconv.Itoa(*p) }, "int"}
}

func rate(p *float64) field {
	return field{func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("want a number >= 0, got %q", v)
		}
		*p = f
		return nil
	}, func() string { return strconv.FormatFloat(*p, 'g', -1, 64) }, "number"}
}

func prefixes(p *[]netip.Prefix) field {
	return field{func(v string) error {
		*p = nil
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			pr, err := netip.ParsePrefix(s)
			if err != nil {
				a, err2 := netip.ParseAddr(s)
				if err2 != nil {
					return fmt.Errorf("want CIDRs like 10.0.0.0/8, got %q", s)
				}
				pr = netip.PrefixFrom(a, a.BitLen())
			}
			*p = append(*p, pr.Masked())
		}
		return nil
	}, func() string {
		l := make([]string, len(*p))
		for i, pr := range *p {
			l[i] = pr.String()
		}
		return strings.Join(l, ",")
	}, "CIDRs"}
}

// settings lists every setting: those of the service, then those of
// tuning and operations, then those of identity and events.
func (c *Config) settings() []setting {
	return slices.Concat(c.serviceSettings(), c.tuningSettings(), c.identitySettings())
}

func (c *Config) serviceSettings() []setting {
	return []setting{
		{"BOXOFFICE_ADDR", "addr", "listen address", str(&c.Addr)},
		{"BOXOFFICE_DATABASE_URL", "database-url", "postgres:// URL; empty for the embedded store", str(&c.DatabaseURL)},
		{"BOXOFFICE_DATA_FILE", "data-file", "embedded store file", str(&c.DataFile)},
		{"BOXOFFICE_REDIS_URL", "redis-url", "redis:// URL for the shared waiting room; empty for in-process", str(&c.RedisURL)},
		{"BOXOFFICE_REDIS_PREFIX", "redis-prefix", "prefix of every Redis key (to share one Redis between deployments)", str(&c.RedisPrefix)},
		{"BOXOFFICE_ADMIN_KEY", "admin-key", "admin bearer key; generated and stored when empty", str(&c.AdminKey)},
		{"BOXOFFICE_SECRET", "secret", "token signing secret shared by all instances; generated and stored when empty", str(&c.Secret)},
		{"BOXOFFICE_DEMO", "demo", "seed demo concerts on an empty store", demo(&c.Demo)},
		{"BOXOFFICE_RATE_LIMIT", "rate-limit", "requests per second per client address on joins and writes; 0 turns it off", rate(&c.RateLimit)},
		{"BOXOFFICE_SIGNUP_LIMIT", "signup-limit", "sign-ups per client address and hour (four times that per IPv6 /48); 0 turns it off", atLeast(&c.SignupLimit, 0)},
		{"BOXOFFICE_TRUSTED_PROXIES", "trusted-proxies", "comma-separated CIDRs whose X-Forwarded-For is believed", prefixes(&c.TrustedProxies)},
	}
}

func (c *Config) tuningSettings() []setting {
	return []setting{
		{"BOXOFFICE_ACCESS_TTL", "access-ttl", "lifetime of issued access tokens", dur(&c.AccessTTL)},
		{"BOXOFFICE_MAX_CHARGE", "max-charge", "largest single charge in won", money(&c.MaxCharge)},
		{"BOXOFFICE_MAX_BALANCE", "max-balance", "largest wallet balance in won", money(&c.MaxBalance)},
		{"BOXOFFICE_ADMIT_TICK", "admit-tick", "interval of waiting-room admission steps", dur(&c.AdmitTick)},
		{"BOXOFFICE_SWEEP_EVERY", "sweep-every", "interval of tidying lapsed holds", dur(&c.SweepEvery)},
		{"BOXOFFICE_ROOM_GRACE", "room-grace", "how long a waiting room stays after its concert can no longer sell (sold out with no session left, or its last date started); then its record is kept in the database and the room leaves the waiting-room store", dur(&c.RoomGrace)},
		{"BOXOFFICE_ROOM_END_EVERY", "room-end-every", "interval of looking for waiting rooms to end", dur(&c.RoomEndEvery)},
		{"BOXOFFICE_SHUTDOWN_GRACE", "shutdown-grace", "how long shutdown waits for requests in flight", dur(&c.ShutdownGrace)},
		{"BOXOFFICE_REQUEST_TIMEOUT", "request-timeout", "deadline of every API request (not the event stream); a slower backing service is answered UNAVAILABLE or OUTCOME_UNKNOWN", dur(&c.RequestTimeout)},
		{"BOXOFFICE_LOG_LEVEL", "log-level", "debug, info, warn or error", str(&c.LogLevel)},
		{"BOXOFFICE_LOG_FORMAT", "log-format", "text or json", str(&c.LogFormat)},
		{"BOXOFFICE_MAX_STREAMS", "max-streams", "open queue event streams per instance; beyond it clients are told to poll (each stream costs about 5 KiB and a file descriptor)", atLeast(&c.MaxStreams, 1)},
		{"BOXOFFICE_PPROF_ADDR", "pprof-addr", "listen address of the Go profiling endpoints (/debug/pprof/); keep it private", str(&c.PprofAddr)},
		{"BOXOFFICE_METRICS_ADDR", "metrics-addr", "listen address of /metrics instead of the API's; keep it private", str(&c.MetricsAddr)},
	}
}

func (c *Config) identitySettings() []setting {
	return []setting{
		{"BOXOFFICE_NATS_URL", "nats-url", "nats:// URL(s) of NATS with JetStream to relay every event to; empty: events are only served by the feed", str(&c.NatsURL)},
		{"BOXOFFICE_NATS_STREAM", "nats-stream", "JetStream stream the events are relayed to (created if missing; subjects <lower-case name>.<concertId>.<type>)", str(&c.NatsStream)},
		{"BOXOFFICE_EVENTS_KEEP", "events-keep", "how long the event feed keeps events (relayed ones, when relaying)", dur(&c.EventsKeep)},
		{"BOXOFFICE_JWKS_URL", "jwks-url", "JWKS URL of the operator's identity provider: its JWTs (RS256, ES256, EdDSA) are accepted as bearer tokens too; needs the issuer and audience", str(&c.JWKSURL)},
		{"BOXOFFICE_JWT_ISSUER", "jwt-issuer", "required iss of the identity provider's tokens", str(&c.JWTIssuer)},
		{"BOXOFFICE_JWT_AUDIENCE", "jwt-audience", "required aud of the identity provider's tokens", str(&c.JWTAudience)},
		{"BOXOFFICE_JWT_USER_CLAIM", "jwt-user-claim", "claim of the identity provider's tokens that holds the user id", str(&c.JWTUserClaim)},
		{"BOXOFFICE_SIGNUP", "signup", "accept POST /v1/users; false when fans only come through the identity provider", boolean(&c.Signup)},
	}
}

// flagValue is a setting's flag: -h shows def, the setting's default.
type flagValue struct {
	set  func(string) error
	def  string
	kind string
}

func (v flagValue) Set(s string) error { return v.set(s) }
func (v flagValue) String() string     { return v.def }

// configFlags describes a command's flags: its name and usage text, where
// -h and errors go, and which settings it takes as flags (nil: all).
type configFlags struct {
	name, usage string
	out         io.Writer
	only        []string
}

// LoadConfig reads the environment through getenv, then args as flags.
func LoadConfig(name string, args []string, getenv func(string) string) (Config, error) {
	return loadConfig(configFlags{name: name}, args, getenv)
}

// loadConfig reads every setting's environment variable through getenv,
// then args as the flags of cf.
func loadConfig(cf configFlags, args []string, getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	defaults := DefaultConfig()
	shown := defaults.settings()
	demoSet := false
	fs := flag.NewFlagSet(cf.name, flag.ContinueOnError)
	if cf.out != nil {
		fs.SetOutput(cf.out)
	}
	if cf.usage != "" {
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), cf.usage)
			printFlags(fs)
		}
	}
	for i, s := range c.settings() {
		if v := getenv(s.env); v != "" {
			if err := s.v.set(v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", s.env, err)
			}
			demoSet = demoSet || s.env == "BOXOFFICE_DEMO"
		}
		if cf.only != nil && !slices.Contains(cf.only, s.flag) {
			continue
		}
		fs.Var(flagValue{def: shown[i].v.show(), kind: s.v.kind, set: func(v string) error {
			demoSet = demoSet || s.flag == "demo"
			return s.v.set(v)
		}}, s.flag, s.usage+" ($"+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !demoSet {
		c.Demo = c.Embedded()
	}
	return c, c.validate()
}

// printFlags lists fs's flags with what each takes and its default.
func printFlags(fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		kind := ""
		if v, ok := f.Value.(flagValue); ok {
			kind = " " + v.kind
		}
		fmt.Fprintf(fs.Output(), "  -%s%s\n    \t%s", f.Name, kind, f.Usage)
		if f.DefValue != "" {
			fmt.Fprintf(fs.Output(), " (default %s)", f.DefValue)
		}
		fmt.Fprintln(fs.Output())
	})
}

func (c Config) validate() error {
	if c.Secret != "" && len(c.Secret) < 16 {
		return errors.New("BOXOFFICE_SECRET must be at least 16 characters")
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		return errors.New("BOXOFFICE_ADMIN_KEY must be at least 16 characters")
	}
	if c.MaxBalance > wallet.MaxLimit {
		return fmt.Errorf("BOXOFFICE_MAX_BALANCE must be at most %d won, so that no sum of money can overflow", wallet.MaxLimit)
	}
	if c.MaxCharge > c.MaxBalance {
		return errors.New("BOXOFFICE_MAX_CHARGE must not exceed BOXOFFICE_MAX_BALANCE")
	}
	if err := (wallet.Limits{MaxCharge: c.MaxCharge, MaxBalance: c.MaxBalance}).Validate(); err != nil {
		return fmt.Errorf("BOXOFFICE_MAX_BALANCE, BOXOFFICE_MAX_CHARGE: %w", err)
	}
	if c.NatsStream == "" || strings.ContainsAny(c.NatsStream, ".*> \t") {
		return fmt.Errorf("BOXOFFICE_NATS_STREAM: want a stream name without '.', '*', '>' or spaces, got %q", c.NatsStream)
	}
	if err := c.validateJWT(); err != nil {
		return err
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("BOXOFFICE_LOG_FORMAT: want text or json, got %q", c.LogFormat)
	}
	return nil
}

func (c Config) validateJWT() error {
	if c.JWKSURL == "" {
		if c.JWTIssuer != "" || c.JWTAudience != "" {
			return errors.New("BOXOFFICE_JWT_ISSUER and BOXOFFICE_JWT_AUDIENCE need BOXOFFICE_JWKS_URL")
		}
		return nil
	}
	if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("BOXOFFICE_JWKS_URL: want an https:// (or http://) URL, got %q", c.JWKSURL)
	}
	if c.JWTIssuer == "" || c.JWTAudience == "" {
		return errors.New("BOXOFFICE_JWKS_URL needs BOXOFFICE_JWT_ISSUER and BOXOFFICE_JWT_AUDIENCE: tokens are accepted only from that issuer for that audience")
	}
	if c.JWTUserClaim == "" {
		return errors.New("BOXOFFICE_JWT_USER_CLAIM must not be empty")
	}
	return nil
}

// String prints the configuration with secrets masked.
func (c Config) String() string {
	mask := func(s string) string {
		if s == "" {
			return "(generated)"
		}
		return "****"
	}
	s := fmt.Sprintf("addr=%s mode=%q redis_prefix=%q admin_key=%s secret=%s demo=%v rate_limit=%v signup_limit=%v trusted_proxies=%v request_timeout=%v",
		c.Addr, c.Mode(), c.RedisPrefix, mask(c.AdminKey), mask(c.Secret), c.Demo, c.RateLimit, c.SignupLimit, c.TrustedProxies, c.RequestTimeout)
	if c.JWKSURL != "" {
		s += fmt.Sprintf(" jwks_url=%q jwt_issuer=%q jwt_audience=%q jwt_user_claim=%q", c.JWKSURL, c.JWTIssuer, c.JWTAudience, c.JWTUserClaim)
	}
	if !c.Signup {
		s += " signup=false"
	}
	if c.NatsURL != "" {
		s += fmt.Sprintf(" events_relay=%s", c.NatsStream)
	}
	return s + fmt.Sprintf(" events_keep=%v", c.EventsKeep)
}
