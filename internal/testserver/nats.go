package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NATS is a nats-server with JetStream owned by one test. Its store
// directory outlives a Stop or Kill, so a restarted server keeps its
// streams, as a production one does. Its methods are safe for concurrent
// use.
type NATS struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	process
}

// StartNATS starts nats-server -js on a free port of 127.0.0.1 and returns
// once it answers. The server is killed and its directory removed when t
// ends.
func StartNATS(t testing.TB) *NATS {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr != nil {
			missing(t, "nats-server is not installed", err)
		}
		bin = "/usr/sbin/nats-server"
	}
	n := &NATS{t: t, bin: bin}
	if n.dir, err = os.MkdirTemp("", "testserver-nats-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		n.Kill()
		os.RemoveAll(n.dir)
	})
	if n.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	n.Start()
	return n
}

// URL is the server's nats:// address. It stays the same across restarts.
func (n *NATS) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.port) }

// Start starts the server on its port and returns once it answers. It
// does nothing if the server is running.
func (n *NATS) Start() {
	n.t.Helper()
	n.start(n.t, "nats-server", n.dir, []string{n.bin, "-js", "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-sd", filepath.Join(n.dir, "store")}, n.ping)
}

// ping reads the server's INFO line and answers PING with PONG.
func (n *NATS) ping() error {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.port), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("nats-server greeted with %q", line)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		return err
	}
	if line, err = r.ReadString('\n'); err != nil {
		return err
	}
	if line != "PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop shuts the server down (SIGTERM) and waits until it has exited. It
// does nothing if the server is not running.
func (n *NATS) Stop() { n.stop(syscall.SIGTERM) }

// Kill kills the server (SIGKILL) and waits until it has exited. It does
// nothing if the server is not running.
func (n *NATS) Kill() { n.stop(syscall.SIGKILL) }
