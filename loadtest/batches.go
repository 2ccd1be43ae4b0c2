package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	nethttp "net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ServerBatches is what the servers' metrics tell of their batches of
// gathered writes of one kind (hold, or settle: payments and cancels)
// while a phase ran, its warmup included: summed over the servers, the
// batches made, the requests they carried, and the means of a request's
// wait for its batch and of a batch's time in the store.
type ServerBatches struct {
	Kind        string  `json:"kind"`
	Batches     int64   `json:"batches"`
	Requests    int64   `json:"requests"`
	WaitMeanMS  float64 `json:"waitMeanMs"`
	StoreMeanMS float64 `json:"storeMeanMs"`
}

// batchMetric is the prefix of the servers' batch metrics
// (boxoffice_write_batch_requests, _seconds, _wait_seconds).
const batchMetric = "boxoffice_write_batch_"

// metricsURLs are the servers' /metrics: MetricsURLs, or each target's.
func (e *engine) metricsURLs() []string {
	if len(e.opts.MetricsURLs) > 0 {
		return e.opts.MetricsURLs
	}
	urls := make([]string, len(e.opts.Targets))
	for i, t := range e.opts.Targets {
		urls[i] = strings.TrimSuffix(t, "/") + "/metrics"
	}
	return urls
}

// batchCounters reads the batch metrics' sums and counts from every
// server and adds them up, by sample name and labels as written.
func (e *engine) batchCounters(ctx context.Context) (map[string]float64, error) {
	out := make(map[string]float64)
	for _, u := range e.metricsURLs() {
		if err := readBatchCounters(ctx, u, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readBatchCounters(ctx context.Context, url string, into map[string]float64) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	res, err := nethttp.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return addBatchCounters(res.Body, into)
}

// addBatchCounters adds the _sum and _count samples of the batch metrics
// in the Prometheus text r to into.
func addBatchCounters(r io.Reader, into map[string]float64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, batchMetric) {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		base, _, _ := strings.Cut(name, "{")
		if !ok || !(strings.HasSuffix(base, "_sum") || strings.HasSuffix(base, "_count")) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return fmt.Errorf("metrics line %q: %v", line, err)
		}
		into[name] += v
	}
	return sc.Err()
}

// batchesBetween is what the servers did between the counters before and
// after, by kind, for the kinds that made a batch.
func batchesBetween(before, after map[string]float64) []ServerBatches {
	delta := func(name, kind string) float64 {
		k := batchMetric + name + `{kind="` + kind + `"}`
		return after[k] - before[k]
	}
	kinds := map[string]bool{}
	for k := range after {
		if _, rest, ok := strings.Cut(k, `{kind="`); ok {
			kinds[strings.TrimSuffix(rest, `"}`)] = true
		}
	}
	var out []ServerBatches
	for kind := range kinds {
		n := delta("requests_count", kind)
		if n <= 0 {
			continue
		}
		b := ServerBatches{Kind: kind, Batches: int64(n), Requests: int64(delta("requests_sum", kind))}
		if w := delta("wait_seconds_count", kind); w > 0 {
			b.WaitMeanMS = delta("wait_seconds_sum", kind) / w * 1000
		}
		if t := delta("seconds_count", kind); t > 0 {
			b.StoreMeanMS = delta("seconds_sum", kind) / t * 1000
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}
