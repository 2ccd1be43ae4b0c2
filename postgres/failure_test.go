package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestFailureOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want failure
	}{
		{"UniqueViolation", &pgconn.PgError{Code: "23505"}, refused},
		{"Plain", errors.New("boom"), refused},
		{"NotSent", notSent{io.EOF}, unchanged},
		{"PoolWaitDeadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), unchanged},
		{"QueryCanceled", &pgconn.PgError{Code: "57014"}, unchanged},
		{"TooManyConnections", &pgconn.PgError{Code: "53300"}, unchanged},
		{"ConnectionException", &pgconn.PgError{Code: "08006"}, lost},
		{"AdminShutdown", &pgconn.PgError{Code: "57P01"}, lost},
		{"CrashShutdown", &pgconn.PgError{Code: "57P02"}, lost},
		{"EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), lost},
		{"Reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, lost},
		{"Canceled", context.Canceled, lost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := failureOf(tt.err); got != tt.want {
				t.Errorf("failureOf(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
