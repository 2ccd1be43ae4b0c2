package loadtest

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestBatchesBetween reads two scrapes of two servers' metrics and
// reports what the batches did between them, by kind, leaving out kinds
// that made none and every other metric.
func TestBatchesBetween(t *testing.T) {
	scrape := func(texts ...string) map[string]float64 {
		t.Helper()
		out := make(map[string]float64)
		for _, text := range texts {
			if err := addBatchCounters(strings.NewReader(text), out); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	server := func(holdBatches, holdRequests, holdWait, holdStore, settleBatches float64) string {
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
		return `# HELP boxoffice_write_batch_requests Requests per batch.
# TYPE boxoffice_write_batch_requests histogram
boxoffice_write_batch_requests_bucket{kind="hold",le="1"} 3
boxoffice_write_batch_requests_sum{kind="hold"} ` + f(holdRequests) + `
boxoffice_write_batch_requests_count{kind="hold"} ` + f(holdBatches) + `
boxoffice_write_batch_requests_sum{kind="settle"} ` + f(settleBatches) + `
boxoffice_write_batch_requests_count{kind="settle"} ` + f(settleBatches) + `
boxoffice_write_batch_seconds_sum{kind="hold"} ` + f(holdStore) + `
boxoffice_write_batch_seconds_count{kind="hold"} ` + f(holdBatches) + `
boxoffice_write_batch_wait_seconds_sum{kind="hold"} ` + f(holdWait) + `
boxoffice_write_batch_wait_seconds_count{kind="hold"} ` + f(holdRequests) + `
boxoffice_holds_total 12
go_goroutines 40
`
	}
	before := scrape(server(10, 100, 1, 0.5, 4), server(0, 0, 0, 0, 4))
	after := scrape(server(30, 700, 7, 1.5, 4), server(20, 300, 1, 1, 4))
	got := batchesBetween(before, after)
	// 40 batches of 900 requests; waits of 7 s over 900, 2 s in the store over 40.
	want := []ServerBatches{{Kind: "hold", Batches: 40, Requests: 900, WaitMeanMS: 7000.0 / 900, StoreMeanMS: 2000.0 / 40}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestAddBatchCountersRejectsABadValue(t *testing.T) {
	err := addBatchCounters(strings.NewReader(`boxoffice_write_batch_requests_sum{kind="hold"} many`+"\n"), map[string]float64{})
	if err == nil {
		t.Error("a sample that is not a number was read")
	}
}
