package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/http"
)

func TestLoadConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}

	t.Run("Defaults", func(t *testing.T) {
		c, err := LoadConfig("serve", nil, env())
		if err != nil {
			t.Fatal(err)
		}
		if !c.Embedded() || !c.Demo || c.Addr != ":8080" || c.DataFile != "boxoffice.db" || c.RateLimit != 50 ||
			c.MaxStreams != http.DefaultMaxStreams || c.AccessTTL != 30*24*time.Hour || c.RequestTimeout != 10*time.Second {
			t.Errorf("defaults: got %+v", c)
		}
	})

	t.Run("LargestLimits", func(t *testing.T) {
		c, err := LoadConfig("serve", nil, env("BOXOFFICE_MAX_BALANCE", "1000000000000", "BOXOFFICE_MAX_CHARGE", "1000000000000"))
		if err != nil || c.MaxBalance != 1_000_000_000_000 || c.MaxCharge != 1_000_000_000_000 {
			t.Errorf("got %v, %v; want both limits at 10^12", c.MaxBalance, err)
		}
	})

	t.Run("EnvironmentThenFlags", func(t *testing.T) {
		c, err := LoadConfig("serve", []string{"-max-streams", "50000", "-addr", ":9090"}, env(
			"BOXOFFICE_DATABASE_URL", "postgres://db/boxoffice",
			"BOXOFFICE_MAX_STREAMS", "30000",
			"BOXOFFICE_ADDR", ":8081",
			"BOXOFFICE_RATE_LIMIT", "0",
			"BOXOFFICE_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7",
			"BOXOFFICE_ACCESS_TTL", "24h",
		))
		if err != nil {
			t.Fatal(err)
		}
		wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}
		if c.Embedded() || c.Demo || c.MaxStreams != 50000 || c.Addr != ":9090" || c.RateLimit != 0 ||
			c.AccessTTL != 24*time.Hour || len(c.TrustedProxies) != 2 || c.TrustedProxies[0] != wantProxies[0] || c.TrustedProxies[1] != wantProxies[1] {
			t.Errorf("got %+v", c)
		}
	})

	t.Run("RequestTimeout", func(t *testing.T) {
		c, err := LoadConfig("serve", nil, env("BOXOFFICE_REQUEST_TIMEOUT", "2500ms"))
		if err != nil {
			t.Fatal(err)
		}
		if c.RequestTimeout != 2500*time.Millisecond {
			t.Errorf("got RequestTimeout %v, want 2.5s", c.RequestTimeout)
		}
		c, err = LoadConfig("serve", []string{"-request-timeout", "3s"}, env("BOXOFFICE_REQUEST_TIMEOUT", "2500ms"))
		if err != nil || c.RequestTimeout != 3*time.Second {
			t.Errorf("got %v, %v; want the flag's 3s", c.RequestTimeout, err)
		}
	})

	t.Run("Limits", func(t *testing.T) {
		c, err := LoadConfig("serve", nil, env())
		if err != nil || c.SignupLimit != 30 || c.MetricsAddr != "" {
			t.Errorf("defaults: got signup limit %d, metrics addr %q, %v; want 30, none", c.SignupLimit, c.MetricsAddr, err)
		}
		c, err = LoadConfig("serve", []string{"-metrics-addr", "127.0.0.1:9100"}, env("BOXOFFICE_SIGNUP_LIMIT", "0", "BOXOFFICE_METRICS_ADDR", ":9090"))
		if err != nil || c.SignupLimit != 0 || c.MetricsAddr != "127.0.0.1:9100" {
			t.Errorf("got signup limit %d, metrics addr %q, %v; want 0, the flag's 127.0.0.1:9100", c.SignupLimit, c.MetricsAddr, err)
		}
	})

	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"MaxStreamsZero", []string{"BOXOFFICE_MAX_STREAMS", "0"}, nil, "BOXOFFICE_MAX_STREAMS"},
		{"MaxStreamsFlag", nil, []string{"-max-streams", "many"}, "max-streams"},
		{"RateLimitNegative", []string{"BOXOFFICE_RATE_LIMIT", "-1"}, nil, "BOXOFFICE_RATE_LIMIT"},
		{"SignupLimitNegative", []string{"BOXOFFICE_SIGNUP_LIMIT", "-1"}, nil, "BOXOFFICE_SIGNUP_LIMIT"},
		{"SignupLimitFlag", nil, []string{"-signup-limit", "1.5"}, "signup-limit"},
		{"ShortSecret", []string{"BOXOFFICE_SECRET", "short"}, nil, "BOXOFFICE_SECRET"},
		{"ChargeAboveBalance", []string{"BOXOFFICE_MAX_CHARGE", "200", "BOXOFFICE_MAX_BALANCE", "100"}, nil, "BOXOFFICE_MAX_CHARGE"},
		{"MaxBalanceOverflows", []string{"BOXOFFICE_MAX_BALANCE", "9223372036854775807"}, nil, "BOXOFFICE_MAX_BALANCE"},
		{"MaxBalanceAboveBound", []string{"BOXOFFICE_MAX_BALANCE", "1000000000001"}, nil, "BOXOFFICE_MAX_BALANCE"},
		{"MaxBalanceNotInt64", []string{"BOXOFFICE_MAX_BALANCE", "9223372036854775808"}, nil, "BOXOFFICE_MAX_BALANCE"},
		{"BadProxy", []string{"BOXOFFICE_TRUSTED_PROXIES", "lb.internal"}, nil, "BOXOFFICE_TRUSTED_PROXIES"},
		{"LogFormat", []string{"BOXOFFICE_LOG_FORMAT", "xml"}, nil, "BOXOFFICE_LOG_FORMAT"},
		{"RequestTimeoutZero", []string{"BOXOFFICE_REQUEST_TIMEOUT", "0s"}, nil, "BOXOFFICE_REQUEST_TIMEOUT"},
		{"ExtraArgument", nil, []string{"now"}, "unexpected argument"},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			_, err := LoadConfig("serve", tc.args, env(tc.env...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
