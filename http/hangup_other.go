//go:build !linux

package http

import (
	"errors"
	"syscall"
)

// canPark reports whether event streams' connections can be parked here:
// not without epoll, where every stream is served by its handler.
const canPark = false

type hangups struct{}

var errNoParking = errors.New("event streams are not parked on this system")

func (*hangups) watch(*stream) error     { return errNoParking }
func (*hangups) arm(*stream, bool) error { return errNoParking }
func (*hangups) forget(*stream)          {}
func (*hangups) stop()                   {}

func rawWrite(syscall.RawConn, []byte) (int, error) { return 0, errNoParking }
