//go:build !unix

package postgres

import "net"

// endedByServer cannot tell without blocking here; the connection is
// assumed alive, and a change sent on a dead one is OUTCOME_UNKNOWN.
func endedByServer(net.Conn) bool { return false }
