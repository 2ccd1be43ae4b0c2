package memory_test

import (
	"testing"

	"github.com/boxoffice/boxoffice/memory"
	"github.com/boxoffice/boxoffice/queue"
	"github.com/boxoffice/boxoffice/storetest"
)

func TestQueueStore(t *testing.T) {
	storetest.RunQueueStore(t, func(*testing.T) queue.Store { return memory.NewQueueStore() })
}

func TestQueueStoreShared(t *testing.T) {
	storetest.RunQueueStoreShared(t, func(_ *testing.T, n int) []queue.Store {
		s := memory.NewQueueStore()
		stores := make([]queue.Store, n)
		for i := range stores {
			stores[i] = s
		}
		return stores
	})
}

func BenchmarkJoin(b *testing.B)   { storetest.BenchmarkQueueJoin(b, memory.NewQueueStore()) }
func BenchmarkStatus(b *testing.B) { storetest.BenchmarkQueueStatus(b, memory.NewQueueStore()) }
func BenchmarkUse(b *testing.B)    { storetest.BenchmarkQueueUse(b, memory.NewQueueStore()) }
