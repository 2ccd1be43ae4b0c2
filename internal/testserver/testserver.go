// Package testserver starts PostgreSQL and Redis servers that a test owns,
// on free ports of 127.0.0.1, so that the test may stop, crash and restart
// them without disturbing the shared servers other tests use.
//
// A server is removed, data and all, when the test ends. When the server's
// binaries are missing the test is skipped, or failed when CI=true: CI must
// never pass by skipping.
package testserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to accept connections
// (PostgreSQL's crash recovery included).
const startTimeout = 30 * time.Second

// missing skips t, or fails it when CI=true, because what is not installed.
func missing(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testserver: %s: %v", what, err)
	}
	t.Skipf("testserver: %s (%v); tests that need it fail instead of skipping when CI=true", what, err)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor calls ready until it succeeds or startTimeout passes.
func waitFor(what string, ready func() error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := ready()
		if err == nil || errors.Is(err, errExited) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", what, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// process is a server process a test started: its command while it runs,
// and a channel closed when it has exited.
type process struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// start runs the server args[0] with args[1:], its output appended to
// dir/server.log, and returns once ping succeeds; it fails t if the server
// exits or does not answer in time. It does nothing if the server is
// running.
func (p *process) start(t testing.TB, name, dir string, args []string, ping func() error) {
	t.Helper()
	if err := p.run(name, dir, args, ping); err != nil {
		t.Fatalf("testserver: %v", err)
	}
}

// errExited: the server exited before it answered, as one does whose port
// was taken between freePort and its listen.
var errExited = errors.New("exited")

// run is start, returning its failure: errExited when the server exited
// before it answered.
func (p *process) run(name, dir string, args []string, ping func() error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	logPath := filepath.Join(dir, "server.log")
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	err = waitFor(name, func() error {
		select {
		case <-done:
			return fmt.Errorf("%s %w; see %s", name, errExited, logPath)
		default:
		}
		return ping()
	})
	if errors.Is(err, errExited) {
		p.cmd = nil
	}
	return err
}

// stop sends sig to the process and waits until it has exited, killing it
// if it takes longer than startTimeout. It does nothing if the process is
// not running.
func (p *process) stop(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// running reports whether the process was started and not stopped since.
func (p *process) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}
