package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs the command line args with env as the environment.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		out, _, err := runCLI(t, nil, args...)
		if err != nil {
			t.Fatalf("%q: got %v, want no error", args, err)
		}
		for _, cmd := range []string{"serve", "migrate", "verify-lottery", "loadtest", "events tail", "version"} {
			if !strings.Contains(out, "\n  "+cmd+" ") {
				t.Errorf("%q: the usage does not list %q:\n%s", args, cmd, out)
			}
		}
	}
}

func TestServeHelpShowsDefaults(t *testing.T) {
	for _, args := range [][]string{{"serve", "-h"}, {"-addr", ":1", "-h"}} {
		_, out, err := runCLI(t, map[string]string{"BOXOFFICE_ADMIN_KEY": "secret-admin-key-from-env", "BOXOFFICE_ADDR": ":9999"}, args...)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("%q: got %v, want flag.ErrHelp", args, err)
		}
		for _, want := range []string{
			"-addr string\n", "(default :8080)",
			"-access-ttl duration\n", "(default 720h0m0s)",
			"-rate-limit number\n", "(default 50)",
			"-max-charge won\n", "(default 1000000)",
			"-signup bool\n", "(default true)",
			"-demo bool\n", "(default true when embedded, else false)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: the help lacks %q:\n%s", args, want, out)
			}
		}
		// Defaults are the built-in ones: the environment's values, and
		// secrets above all, are not shown.
		for _, leak := range []string{"secret-admin-key-from-env", ":9999"} {
			if strings.Contains(out, leak) {
				t.Errorf("%q: the help shows %q from the environment", args, leak)
			}
		}
	}
}

func TestMigrateHelpShowsItsFlags(t *testing.T) {
	_, out, err := runCLI(t, nil, "migrate", "-h")
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: boxoffice migrate", "-database-url string", "-data-file string"} {
		if !strings.Contains(out, want) {
			t.Errorf("the help lacks %q:\n%s", want, out)
		}
	}
	for _, other := range []string{"-addr", "-rate-limit", "-admin-key", "-redis-url"} {
		if strings.Contains(out, other) {
			t.Errorf("the help shows %s, which migrate does not use:\n%s", other, out)
		}
	}
	if _, _, err := runCLI(t, nil, "migrate", "-addr", ":1"); err == nil {
		t.Errorf("migrate -addr: got no error, want the flag refused")
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "boxoffice ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("got %q, %v; want a line naming the Go version", out, err)
	}
	build := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name, version string
		info          *debug.BuildInfo
		want          string
	}{
		{"Checkout", "dev", build, "dev (revision 0123456789ab+dirty, 2026-12-01T10:00:00Z) go1.26.0"},
		{"Release", "1.4.0", build, "1.4.0 (revision 0123456789ab+dirty, 2026-12-01T10:00:00Z) go1.26.0"},
		{"Module", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 (no VCS revision: not built from a checkout) go1.26.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := describeBuild(tc.version, tc.info); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAdminKeySource checks that the start-up line and the banner say
// whether the admin key was generated at this start, loaded from the
// store, or configured.
func TestAdminKeySource(t *testing.T) {
	cfg := testConfig()
	cfg.DataFile = filepath.Join(t.TempDir(), "boxoffice.db")
	start := func(cfg Config) (*Main, string, string) {
		t.Helper()
		var logs, banner bytes.Buffer
		cfg.LogLevel = "info"
		m := NewMain(cfg, &logs)
		if err := m.Run(context.Background()); err != nil {
			m.Close()
			t.Fatal(err)
		}
		m.PrintBanner(&banner)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		return m, logs.String(), banner.String()
	}
	first, logs, banner := start(cfg)
	if !strings.Contains(logs, "admin_key=generated") || !strings.Contains(banner, first.AdminKey()+" (generated") {
		t.Errorf("first start: got logs %q and banner %q, want the key said generated", logs, banner)
	}
	second, logs, banner := start(cfg)
	if second.AdminKey() != first.AdminKey() {
		t.Errorf("second start: got key %q, want the stored %q", second.AdminKey(), first.AdminKey())
	}
	if !strings.Contains(logs, "admin_key=loaded") || !strings.Contains(banner, first.AdminKey()+" (loaded") {
		t.Errorf("second start: got logs %q and banner %q, want the key said loaded", logs, banner)
	}
	cfg.AdminKey = "configured-admin-key-0123456789"
	_, logs, banner = start(cfg)
	if !strings.Contains(logs, "admin_key=configured") || strings.Contains(banner, cfg.AdminKey) || !strings.Contains(banner, "(from BOXOFFICE_ADMIN_KEY)") {
		t.Errorf("configured: got logs %q and banner %q, want the key said configured and not shown", logs, banner)
	}
}
