package testserver

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
)

// TestRunReportsExit: a server that exits before it answers (as one does
// whose port was taken) is reported as exited, and may be started again.
func TestRunReportsExit(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	var p process
	err = p.run("exiting server", t.TempDir(), []string{sh, "-c", "exit 1"}, func() error { return errors.New("no answer") })
	if !errors.Is(err, errExited) {
		t.Fatalf("run = %v, want errExited", err)
	}
	if p.running() {
		t.Error("a server that exited is still running")
	}
	if err := p.run("server", t.TempDir(), []string{sh, "-c", "sleep 30"}, func() error { return nil }); err != nil {
		t.Fatalf("run after an exit: %v", err)
	}
	if !p.running() {
		t.Error("the server started again is not running")
	}
	p.stop(syscall.SIGKILL)
}
