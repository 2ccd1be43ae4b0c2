package web_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/boxoffice/boxoffice/internal/testserver"
)

// The browser tests: a real Boxoffice, built from this repository and
// started here, driven through Debian's Chromium by the Playwright scripts
// in e2e/ (node --test). They run in embedded mode and on PostgreSQL with
// Redis. SCREENSHOT_DIR=<dir> also saves screenshots of the main screens.

const adminKey = "browser-test-admin-key-0123456789"

func chromiumPath() string {
	if p := os.Getenv("BOXOFFICE_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath()); err != nil {
		need(t, "Chromium is not installed at "+chromiumPath(), err)
	}
	nodeModules(t)
	bin := buildBoxoffice(t)

	t.Run("Embedded", func(t *testing.T) {
		t.Parallel()
		env := []string{"BOXOFFICE_DATA_FILE=" + filepath.Join(t.TempDir(), "boxoffice.db")}
		base := startBoxoffice(t, bin, env)
		runPlaywright(t, base, bin, nil, "journey.test.mjs", "race.test.mjs", "live.test.mjs", "lapse.test.mjs", "console.test.mjs")
	})
	t.Run("PostgreSQLAndRedis", func(t *testing.T) {
		t.Parallel()
		env := []string{"BOXOFFICE_DATABASE_URL=" + freshDatabase(t), "BOXOFFICE_REDIS_URL=" + testserver.RedisURL(), "BOXOFFICE_REDIS_PREFIX=" + testserver.RedisPrefix(t, "web")}
		base := startBoxoffice(t, bin, env)
		// The journey on a 360 px phone this time.
		runPlaywright(t, base, bin, []string{"E2E_PHONE=1"}, "journey.test.mjs", "race.test.mjs")
	})
}

// buildBoxoffice builds cmd/boxoffice (without the race detector: it is
// the system under test here, not the code under test).
func buildBoxoffice(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "boxoffice")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/boxoffice")
	cmd.Dir = filepath.Dir(webDir(t))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/boxoffice: %v\n%s", err, b)
	}
	return bin
}

// startBoxoffice runs the binary on a free port and returns its URL once it
// serves; it is stopped (SIGTERM, then waited for) when t ends.
func startBoxoffice(t *testing.T, bin string, env []string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"BOXOFFICE_ADDR=127.0.0.1:0",
		"BOXOFFICE_ADMIN_KEY="+adminKey,
		"BOXOFFICE_DEMO=false",
		"BOXOFFICE_RATE_LIMIT=0",
		"BOXOFFICE_SIGNUP_LIMIT=0", // every fan of the tests signs up from 127.0.0.1
		"BOXOFFICE_LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd.Stderr = &logs // read only after the process has exited
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "URL:"); ok {
				select {
				case urls <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("boxoffice log:\n%s", logs.String())
		}
	})
	select {
	case u := <-urls:
		return u
	case err := <-exited:
		t.Fatalf("boxoffice exited before serving: %v\n%s", err, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("boxoffice did not print its URL within a minute")
	}
	return ""
}

// runPlaywright runs e2e scripts, one after another, against base.
func runPlaywright(t *testing.T, base, bin string, env []string, scripts ...string) {
	t.Helper()
	// The scripts are independent (each makes its own concerts and fans),
	// so they run side by side; most of their time is spent waiting.
	args := []string{"--test", "--test-concurrency=3", "--test-reporter=spec"}
	for _, s := range scripts {
		args = append(args, filepath.Join("e2e", s))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = webDir(t)
	cmd.Env = append(os.Environ(),
		"BASE_URL="+base,
		"ADMIN_KEY="+adminKey,
		"BOXOFFICE_BIN="+bin,
		"CHROMIUM="+chromiumPath(),
	)
	cmd.Env = append(cmd.Env, env...)
	if d := os.Getenv("SCREENSHOT_DIR"); d != "" {
		abs, _ := filepath.Abs(filepath.Join(filepath.Dir(webDir(t)), d))
		if filepath.IsAbs(d) {
			abs = d
		}
		cmd.Env = append(cmd.Env, "SCREENSHOT_DIR="+abs)
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("playwright scripts failed after %s: %v\n%s", time.Since(start).Round(time.Millisecond), err, out)
	}
	t.Logf("playwright scripts passed in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
}

// freshDatabase creates a database of its own and returns its URL; it is
// dropped when t ends.
func freshDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testserver.DatabaseURL())
	if err != nil {
		need(t, "PostgreSQL (BOXOFFICE_TEST_DATABASE_URL) is unreachable", err)
	}
	name := "web_" + testserver.RandomHex(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), testserver.DatabaseURL())
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(testserver.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", "8")
	u.RawQuery = q.Encode()
	return u.String()
}
