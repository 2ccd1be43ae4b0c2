package testserver

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server owned by one test, keeping nothing on disk: every
// start, Restart included, begins empty. Its methods are safe for
// concurrent use.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	process
}

// StartRedis starts redis-server on a free port of 127.0.0.1 with
// persistence off (save "", appendonly no) and returns once it answers
// PING. The server is killed and its directory removed when t ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "Redis is not installed", err)
	}
	r := &Redis{t: t, bin: bin}
	if r.dir, err = os.MkdirTemp("", "testserver-redis-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Kill()
		os.RemoveAll(r.dir)
	})
	if r.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	r.Start()
	return r
}

// URL is the server's address for go-redis, database 0. It stays the same
// across restarts.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

// Addr is the server's host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server, empty, on its port and returns once it answers
// PING. It does nothing if the server is running.
func (r *Redis) Start() {
	r.t.Helper()
	r.start(r.t, "redis-server", r.dir, []string{r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir}, r.ping)
}

func (r *Redis) ping() error {
	conn, err := net.DialTimeout("tcp", r.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Stop shuts the server down (SIGTERM) and waits until it has exited. It
// does nothing if the server is not running.
func (r *Redis) Stop() { r.stop(syscall.SIGTERM) }

// Kill kills the server (SIGKILL) and waits until it has exited. It does
// nothing if the server is not running.
func (r *Redis) Kill() { r.stop(syscall.SIGKILL) }

// Restart stops the server and starts it again on the same port, empty.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	r.Start()
}
