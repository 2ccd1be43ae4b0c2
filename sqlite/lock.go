package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrLocked means that another Open holds the database file, in this
// process or another. Open returns it wrapped in an error that names the
// file and, when known, the process that holds it.
var ErrLocked = errors.New("database file is in use")

// lockedError is ErrLocked with what an operator needs to act on it.
type lockedError struct {
	path string
	pid  int // 0 when unknown
}

func (e *lockedError) Error() string {
	who := ""
	if e.pid > 0 {
		who = fmt.Sprintf(" (pid %d)", e.pid)
	}
	return fmt.Sprintf("another boxoffice is using %s%s; the embedded store is single-instance"+
		" — use PostgreSQL and Redis to run several instances", e.path, who)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// fileLock is an exclusive advisory lock on <database>.lock. The file holds
// the pid of the process that has the lock. It is never removed: removing
// it would let two processes lock two different files of the same name.
type fileLock struct{ f *os.File }

// lockFile takes the lock of the database at path, or fails at once with
// ErrLocked when someone else has it.
func lockFile(path string) (*fileLock, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if !ok {
		pid := readPID(f)
		f.Close()
		return nil, &lockedError{path: path, pid: pid}
	}
	// The pid is for the message of whoever is refused next; failing to
	// write it costs nothing else.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &fileLock{f: f}, nil
}

// unlock releases the lock.
func (l *fileLock) unlock() {
	unlock(l.f)
	l.f.Close()
}

func readPID(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil {
		return 0
	}
	return pid
}
