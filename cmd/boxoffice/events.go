package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/boxoffice/boxoffice/event"
	boxhttp "github.com/boxoffice/boxoffice/http"
	"github.com/boxoffice/boxoffice/nats"
	"github.com/boxoffice/boxoffice/queue"
)

// startEvents starts the event relay: every instance runs one, and the one
// holding the store's claim numbers the outbox, relays it to NATS when
// configured, and trims it. It registers the outbox's metrics.
func (m *Main) startEvents(ctx context.Context, reg prometheus.Registerer) error {
	m.relay = &event.Relay{Store: m.db.events, Keep: m.Config.EventsKeep, Log: m.log.With("loop", "events")}
	if m.Config.NatsURL != "" {
		s, err := nats.Open(m.Config.NatsURL, m.Config.NatsStream, m.log.With("loop", "events"))
		if err != nil {
			return err
		}
		m.stream = s
		m.relay.Publish = s.Publish
	}
	if err := reg.Register(&outboxCollector{store: m.db.events, relay: m.relay, relaying: m.stream != nil, log: m.log}); err != nil {
		return fmt.Errorf("register event metrics: %w", err)
	}
	m.goLoop(func() { m.relay.Run(ctx) })
	return nil
}

// onStep is the admission loop's observer: observe, and in the embedded
// mode, whose in-process room has no journal, the LotteryPublished event of
// a draw (with PostgreSQL, the journal's record of the draw writes it).
func (m *Main) onStep(observe func(string, queue.Admission), queues *queue.Service) func(string, queue.Admission) {
	if m.db.journal != nil {
		return observe
	}
	return func(concertID string, a queue.Admission) {
		observe(concertID, a)
		if !a.Drew {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		users, at, err := queues.Draw(ctx, concertID)
		if err == nil && users != nil {
			err = m.db.events.Append(ctx, event.OfLotteryPublished(concertID, at, len(users)))
		}
		if err != nil {
			m.log.Warn("write the LotteryPublished event", "concert", concertID, "err", err)
		}
	}
}

// outboxCollector reports the outbox's size and the relay's lag at each
// scrape, as every instance sees them, and this instance's relay counts.
type outboxCollector struct {
	store    event.Store
	relay    *event.Relay
	relaying bool
	log      *slog.Logger
}

var (
	descOutbox = prometheus.NewDesc("boxoffice_events_outbox",
		"Committed events waiting to be numbered.", nil, nil)
	descUnrelayed = prometheus.NewDesc("boxoffice_events_unrelayed",
		"Numbered events not yet relayed to NATS (grows without a stream configured).", nil, nil)
	descKept = prometheus.NewDesc("boxoffice_events_kept",
		"Numbered events kept for the feed.", nil, nil)
	descLag = prometheus.NewDesc("boxoffice_events_relay_lag_seconds",
		"Age of the oldest event not yet relayed to NATS (without NATS: not yet numbered for the feed); 0 when none.", nil, nil)
	descNumbered = prometheus.NewDesc("boxoffice_events_numbered_total",
		"Events this instance's relay numbered.", nil, nil)
	descPublished = prometheus.NewDesc("boxoffice_events_published_total",
		"Events this instance's relay published to NATS.", nil, nil)
	descHolder = prometheus.NewDesc("boxoffice_events_relay_holder",
		"1 when this instance's relay holds the claim.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutbox, descUnrelayed, descKept, descLag, descNumbered, descPublished, descHolder} {
		ch <- d
	}
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	numbered, published, holding := c.relay.Counts()
	ch <- prometheus.MustNewConstMetric(descNumbered, prometheus.CounterValue, float64(numbered))
	ch <- prometheus.MustNewConstMetric(descPublished, prometheus.CounterValue, float64(published))
	h := 0.0
	if holding {
		h = 1
	}
	ch <- prometheus.MustNewConstMetric(descHolder, prometheus.GaugeValue, h)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := c.store.Backlog(ctx)
	if err != nil {
		c.log.Warn("measure the outbox", "err", err)
		return
	}
	oldest := b.OldestUnnumbered
	if c.relaying {
		oldest = b.OldestUnrelayed
	}
	lag := 0.0
	if !oldest.IsZero() {
		lag = max(0, time.Since(oldest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(descOutbox, prometheus.GaugeValue, float64(b.Unnumbered))
	ch <- prometheus.MustNewConstMetric(descUnrelayed, prometheus.GaugeValue, float64(b.Unrelayed))
	ch <- prometheus.MustNewConstMetric(descKept, prometheus.GaugeValue, float64(b.Kept))
	ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, lag)
}

const eventsUsage = `Usage: boxoffice events tail [flags]

Follows the events of the sale, one JSON object a line, as they are
numbered: from the admin feed of a running server (GET /v1/admin/events),
or with --nats from the JetStream stream. It starts at the newest event
unless --from-start is given, and runs until interrupted.

Flags:
`

// eventsCommand runs `boxoffice events`.
func eventsCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		fmt.Fprint(stderr, eventsUsage)
		return errors.New("events: the only subcommand is tail")
	}
	fs := newFlagSet("boxoffice events tail", eventsUsage, stderr)
	var (
		url       = fs.String("url", "http://localhost:8080", "base URL of a Boxoffice server")
		adminKey  = fs.String("admin-key", getenv("BOXOFFICE_ADMIN_KEY"), "admin key ($BOXOFFICE_ADMIN_KEY)")
		concertID = fs.String("concert", "", "only this concert's events")
		typ       = fs.String("type", "", "only events of this type")
		fromStart = fs.Bool("from-start", false, "print every event kept before following")
		natsURL   = fs.String("nats", "", "follow the JetStream stream at this nats:// URL instead of the feed")
		stream    = fs.String("stream", nats.DefaultStream, "the stream's name, with --nats")
		every     = fs.Duration("every", time.Second, "how often to ask the feed for new events")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *typ != "" && !event.Type(*typ).Valid() {
		return fmt.Errorf("events tail: unknown type %q", *typ)
	}
	enc := json.NewEncoder(stdout)
	if *natsURL != "" {
		s, err := nats.Open(*natsURL, *stream, slog.New(slog.NewTextHandler(stderr, nil)))
		if err != nil {
			return err
		}
		defer s.Close()
		err = s.Follow(ctx, s.Subjects(*concertID, event.Type(*typ)), *fromStart, func(e event.Event) error { return enc.Encode(e) })
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	if *adminKey == "" {
		return errors.New("events tail: give --admin-key or set BOXOFFICE_ADMIN_KEY")
	}
	cl := boxhttp.NewClient(strings.TrimRight(*url, "/"), &http.Client{Timeout: 30 * time.Second})
	err := tailFeed(ctx, cl, *adminKey, boxhttp.EventQuery{ConcertID: *concertID, Type: *typ, Limit: event.MaxLimit},
		*fromStart, *every, func(e boxhttp.Event) error { return enc.Encode(e) })
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// tailFeed follows the admin feed: it skips what is kept (unless
// fromStart), then hands each new event to fn, asking again every every
// when there is nothing new, until ctx ends. A failed request is retried.
func tailFeed(ctx context.Context, cl *boxhttp.Client, adminKey string, q boxhttp.EventQuery, fromStart bool, every time.Duration, fn func(boxhttp.Event) error) error {
	catching := !fromStart
	for ctx.Err() == nil {
		page, err := cl.Events(ctx, adminKey, q)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if code := boxhttp.StatusCode(err); code == 401 || code == 422 || code == 400 {
				return err
			}
			sleepCtx(ctx, every)
			continue
		}
		if !catching {
			for _, e := range page.Events {
				if err := fn(e); err != nil {
					return err
				}
			}
		}
		q.Cursor = page.NextCursor
		if len(page.Events) < q.Limit {
			catching = false
			sleepCtx(ctx, every)
		}
	}
	return ctx.Err()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
