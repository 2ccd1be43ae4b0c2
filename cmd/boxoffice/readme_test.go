package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadmeWalkthrough runs the README's walk-through, as a newcomer
// pastes it, against the embedded default with its demo concerts, so that
// it cannot silently stop working.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the walk-through needs %s: %v", tool, err)
			}
			t.Skipf("the walk-through needs %s (%v); this test fails instead of skipping when CI=true", tool, err)
		}
	}
	script := walkthrough(t)
	const base = "B=http://localhost:8080\n"
	if !strings.HasPrefix(script, base) {
		t.Fatalf("the walk-through should start with %q, got:\n%s", base, script)
	}
	cfg := DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataFile = filepath.Join(t.TempDir(), "boxoffice.db")
	cfg.Demo = true
	cfg.LogLevel = "warn"
	m := startMain(t, cfg, nil)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", "B="+m.URL()+"\n"+strings.TrimPrefix(script, base))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through: %v; output:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for _, want := range []string{`"balance":200000`, `"paymentId":`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, `"status":"PAID"`) {
		t.Errorf("the ticket: got %s, want a PAID reservation", last)
	}
}

// walkthrough returns the sh block that follows the README's
// "<!-- walkthrough -->" marker.
func walkthrough(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- walkthrough -->\n```sh\n")
	if !ok {
		t.Fatal("README.md has no walk-through: a \"<!-- walkthrough -->\" line followed by a sh block")
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("README.md: the walk-through's sh block does not end")
	}
	return block
}
