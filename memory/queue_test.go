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

func BenchmarkJoin(b *testing.B)   { storetest.BenchmarkQueueJoin(b, memory.NewQueueStore()) }
func BenchmarkStatus(b *testing.B) { storetest.BenchmarkQueueStatus(b, memory.NewQueueStore()) }
func BenchmarkUse(b *testing.B)    { storetest.BenchmarkQueueUse(b, memory.NewQueueStore()) }
