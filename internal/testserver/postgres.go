package testserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Postgres is a PostgreSQL server owned by one test. Its methods are safe
// for concurrent use; the data directory outlives Stop, Kill and Restart.
type Postgres struct {
	t    testing.TB
	bin  string // directory of initdb and postgres
	dir  string // temporary directory: data/ and server.log
	port int
	cred *syscall.Credential // nil unless running as root

	mu   sync.Mutex
	cmd  *exec.Cmd     // the postmaster, nil while stopped
	done chan struct{} // closed when cmd has exited
}

// StartPostgres initialises a new cluster in a temporary directory and
// starts it on a free port of 127.0.0.1 with trust authentication. It
// returns once the server accepts connections. The server is stopped and
// its directory removed when t ends.
//
// Durability is traded for speed (fsync off), which a crash of the server
// process alone never notices: the operating system keeps what was written.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		missing(t, "PostgreSQL is not installed", err)
	}
	p := &Postgres{t: t, bin: bin}
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "running as root needs the postgres user", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if p.dir, err = os.MkdirTemp("", "testserver-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.logTail()
		}
		os.RemoveAll(p.dir)
	})
	if p.cred != nil {
		if err := os.Chown(p.dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	initdb := p.command(filepath.Join(bin, "initdb"), "-D", p.dataDir(), "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testserver: initdb: %v\n%s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	p.Start()
	return p
}

// postgresBin finds the directory holding initdb and postgres.
func postgresBin() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			dir := filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
				return dir, nil
			}
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(found) == 0 {
		return "", errors.New("no initdb on PATH and nothing in /usr/lib/postgresql/*/bin")
	}
	return filepath.Dir(found[len(found)-1]), nil
}

// URL is the server's address for pgx: user postgres, database postgres.
// It stays the same across restarts.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Port is the server's TCP port.
func (p *Postgres) Port() int { return p.port }

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// Start starts the server on its data directory and port, and returns once
// it accepts connections (after crash recovery, if it was killed). It does
// nothing if the server is running.
func (p *Postgres) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return
	}
	log, err := os.OpenFile(filepath.Join(p.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer log.Close()
	cmd := p.command(filepath.Join(p.bin, "postgres"), "-D", p.dataDir(),
		"-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "fsync=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=100",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("testserver: start postgres: %v", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	err = waitFor("postgres", func() error {
		select {
		case <-done:
			return errors.New("postgres exited; see server.log")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn, err := pgconn.Connect(ctx, p.URL())
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		p.logTail()
		p.t.Fatalf("testserver: %v", err)
	}
}

// Stop shuts the server down the fast way: open transactions are rolled
// back, clients are disconnected, and a checkpoint is written. It does
// nothing if the server is not running.
func (p *Postgres) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.cmd.Process.Signal(syscall.SIGCONT)
	select {
	case <-p.done:
	case <-time.After(startTimeout):
		p.killAll()
	}
	p.cmd = nil
}

// Kill crashes the server: the postmaster and every backend get SIGKILL at
// once, clients see their connections drop without a word, and the next
// Start goes through crash recovery. It does nothing if the server is not
// running.
func (p *Postgres) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	p.killAll()
	p.cmd = nil
}

// killAll stops the postmaster (so it forks nothing more), kills its
// children, then kills it, and waits until all are gone.
func (p *Postgres) killAll() {
	pid := p.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	children := childrenOf(pid)
	for _, c := range children {
		syscall.Kill(c, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	<-p.done
	for _, c := range children {
		for alive(c) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Pause stops the postmaster (SIGSTOP) without touching its backends:
// statements already running go on and answer, but new connections and
// cancel requests wait, unanswered, until Resume. It models a server that
// stops answering.
func (p *Postgres) Pause() { p.signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (p *Postgres) Resume() { p.signal(syscall.SIGCONT) }

func (p *Postgres) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
	}
}

// Restart stops the server the fast way and starts it again on the same
// data directory and port.
func (p *Postgres) Restart() {
	p.t.Helper()
	p.Stop()
	p.Start()
}

func (p *Postgres) logTail() {
	b, err := os.ReadFile(filepath.Join(p.dir, "server.log"))
	if err != nil {
		return
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	p.t.Logf("testserver: end of the PostgreSQL log:\n%s", b)
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		c, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, ok := procStat(c); ok && ppid == pid {
			out = append(out, c)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// procStat reads the parent and the state of pid from /proc.
func procStat(pid int) (ppid int, state string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// Locked is a transaction of a connection of its own that holds locks.
type Locked struct {
	// Conn stays open, for the test's own statements, until the test ends
	// (even while the server takes no new connections).
	Conn *pgx.Conn
	tx   pgx.Tx
	once sync.Once
}

// Lock runs sql, a statement that takes locks (SELECT … FOR UPDATE, LOCK
// TABLE), in a transaction of a connection of its own, and keeps the locks
// until Unlock.
func (p *Postgres) Lock(t testing.TB, sql string, args ...any) *Locked {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	tx, err := conn.Begin(ctx)
	if err == nil {
		_, err = tx.Exec(ctx, sql, args...)
	}
	if err != nil {
		t.Fatal(err)
	}
	l := &Locked{Conn: conn, tx: tx}
	t.Cleanup(l.Unlock)
	return l
}

// Unlock ends the transaction, releasing its locks; later calls do nothing.
func (l *Locked) Unlock() {
	l.once.Do(func() { _ = l.tx.Rollback(context.Background()) })
}
