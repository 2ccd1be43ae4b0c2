//go:build unix

package postgres

import (
	"errors"
	"net"
	"syscall"
)

// endedByServer reports whether the server has closed conn or sent on it
// unasked (as it does when it shuts down: a FATAL message, then the end),
// without blocking and without consuming anything. A connection between
// statements has nothing to read unless the server ended it.
func endedByServer(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ended := false
	// Control, not Read: the driver may have a read of its own pending on
	// the connection, and Read would wait for it. A peek that does not
	// wait takes nothing from that read.
	_ = rc.Control(func(fd uintptr) {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ended = err == nil || !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
	})
	return ended
}
