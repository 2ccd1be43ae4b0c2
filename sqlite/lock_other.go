//go:build !unix || solaris || aix

package sqlite

import (
	"os"
	"path/filepath"
	"sync"
)

// Where flock is missing, the lock only keeps out a second Open in this
// process: a second process on the same file is not detected.
var (
	lockedMu sync.Mutex
	locked   = map[string]bool{}
)

func lockKey(f *os.File) string {
	if abs, err := filepath.Abs(f.Name()); err == nil {
		return abs
	}
	return f.Name()
}

func tryLock(f *os.File) (bool, error) {
	lockedMu.Lock()
	defer lockedMu.Unlock()
	k := lockKey(f)
	if locked[k] {
		return false, nil
	}
	locked[k] = true
	return true, nil
}

func unlock(f *os.File) {
	lockedMu.Lock()
	delete(locked, lockKey(f))
	lockedMu.Unlock()
}
