package memory

import (
	"testing"

	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
)

func TestQueueStoreLimits(t *testing.T) {
	storetest.RunQueueStoreLimits(t, func(*testing.T) queue.Store {
		s := NewQueueStore()
		s.sweepBatch, s.admitLimit = 2, 3
		return s
	})
}
