package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/boxoffice/boxoffice/nats"
)

// StreamName is a fresh JetStream stream name for one test.
func StreamName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "TEST_EVENTS_" + strings.ToUpper(hex.EncodeToString(b))
}

// OpenStream opens (creating it if missing) the stream name on the NATS at
// url; the stream and its messages are deleted when t ends.
func OpenStream(t testing.TB, url, name string) *nats.Stream {
	t.Helper()
	s, err := nats.Open(url, name, nil)
	if err != nil {
		t.Fatalf("open stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.JetStream().DeleteStream(ctx, s.Name())
		s.Close()
	})
	return s
}
