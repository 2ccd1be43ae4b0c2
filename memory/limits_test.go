package memory

import (
	"testing"

	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
)

func TestQueueStoreLimits(t *testing.T) {
	storetest.RunQueueStoreLimits(t, func(*testing.T) queue.Store {
		s := NewQueueStore()
		s.sweepBatch, s.admitLimit, s.logLen = 2, 3, 4
		return s
	})
}
