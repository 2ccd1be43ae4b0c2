//go:build unix && !solaris && !aix

package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/boxoffice/boxoffice/sqlite"
)

// startHolder starts another process that holds path.
func startHolder(t *testing.T, path string) (*exec.Cmd, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holderEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start holder: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("holder: got %q, %v, want ready", line, err)
	}
	return cmd, func() { stdin.Close() }
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	t.Run("ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "boxoffice.db")
		holder, release := startHolder(t, path)
		_, err := sqlite.Open(ctx, path)
		if !errors.Is(err, sqlite.ErrLocked) {
			t.Fatalf("Open of a file another process holds: got %v, want %v", err, sqlite.ErrLocked)
		}
		if want := fmt.Sprintf("(pid %d)", holder.Process.Pid); !strings.Contains(err.Error(), want) {
			t.Errorf("Open: got message %q, want it to name the holder %s", err, want)
		}
		release()
		if err := holder.Wait(); err != nil {
			t.Fatalf("holder: %v", err)
		}
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open after the holder closed: got %v, want none", err)
		}
		db.Close()
	})

	// A holder that dies without closing leaves no stale lock behind.
	t.Run("HolderKilled", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "boxoffice.db")
		holder, _ := startHolder(t, path)
		if err := holder.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		holder.Wait()
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open after the holder was killed: got %v, want none", err)
		}
		db.Close()
	})
}
