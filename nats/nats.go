// Package nats relays Boxoffice's events to a NATS JetStream stream: it is
// the event.Publisher of event.Relay. The outbox itself lives in each SQL
// store.
package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/boxoffice/boxoffice/event"
)

// DefaultStream is the production stream's name.
const DefaultStream = "BOXOFFICE"

// ackTimeout bounds the wait for the stream's acknowledgement of a
// published event.
const ackTimeout = 5 * time.Second

// Stream publishes events to one JetStream stream, created if missing, on
// subjects <prefix>.<concertId or "none">.<type> where prefix is the
// stream's name in lower case ("boxoffice" for BOXOFFICE). Each message's
// Nats-Msg-Id is the event's id, so the stream stores an event offered
// twice (within its duplicate window, two minutes by default) once, and its
// body is the event's JSON.
type Stream struct {
	nc     *natsgo.Conn
	js     jetstream.JetStream
	name   string
	prefix string

	mu    sync.Mutex
	ready bool // the stream is known to exist
}

// Open connects to the NATS server(s) at url for the stream name. It does
// not wait for a server: while none answers, Publish fails and the relay
// offers the events again later.
func Open(url, name string, log *slog.Logger) (*Stream, error) {
	if name == "" {
		name = DefaultStream
	}
	if log == nil {
		log = slog.Default()
	}
	nc, err := natsgo.Connect(url,
		natsgo.Name("boxoffice event relay"),
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(500*time.Millisecond),
		// Nothing is buffered while disconnected: a publish then fails at
		// once and is offered again, in order, once the server is back.
		natsgo.ReconnectBufSize(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { log.Info("NATS reconnected", "server", c.ConnectedUrlRedacted()) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(ackTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect to JetStream: %w", err)
	}
	return &Stream{nc: nc, js: js, name: name, prefix: strings.ToLower(name)}, nil
}

// Name is the stream's name; Prefix the first token of its subjects.
func (s *Stream) Name() string   { return s.name }
func (s *Stream) Prefix() string { return s.prefix }

// JetStream is the stream's JetStream context, for readers of the stream.
func (s *Stream) JetStream() jetstream.JetStream { return s.js }

// Close closes the connection.
func (s *Stream) Close() { s.nc.Close() }

// ensure creates the stream when it does not exist.
func (s *Stream) ensure(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready {
		return nil
	}
	_, err := s.js.Stream(ctx, s.name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        s.name,
			Description: "Boxoffice events",
			Subjects:    []string{s.prefix + ".>"},
			Storage:     jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil // another instance made it
		}
	}
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.name, err)
	}
	s.ready = true
	return nil
}

// Publish stores evs on the stream in order and returns how many, from the
// first, it acknowledged. Every event but the first is published on the
// condition that the one before it is the stream's last message, so the
// stream never stores an event after one it lost: what follows a failure
// is refused and offered again, after it, in the next call.
func (s *Stream) Publish(ctx context.Context, evs []event.Event) (int, error) {
	if err := s.ensure(ctx); err != nil {
		return 0, err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var failed error
	for i, e := range evs {
		body, err := json.Marshal(e)
		if err != nil {
			failed = fmt.Errorf("encode event %s: %w", e.ID, err)
			break
		}
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(e.ID), jetstream.WithExpectStream(s.name)}
		if i > 0 {
			opts = append(opts, jetstream.WithExpectLastMsgID(evs[i-1].ID))
		}
		f, err := s.js.PublishMsgAsync(&natsgo.Msg{Subject: e.Subject(s.prefix), Data: body}, opts...)
		if err != nil {
			failed = fmt.Errorf("publish event %s: %w", e.ID, err)
			break
		}
		futures = append(futures, f)
	}
	acked := 0
	for i, f := range futures {
		select {
		case <-f.Ok():
			if acked == i {
				acked++
			}
		case err := <-f.Err():
			if failed == nil {
				failed = fmt.Errorf("publish event %s: %w", evs[i].ID, err)
			}
			if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrNoStreamResponse) {
				s.mu.Lock()
				s.ready = false // deleted under us: make it again
				s.mu.Unlock()
			}
		case <-ctx.Done():
			if failed == nil {
				failed = ctx.Err()
			}
			return acked, failed
		}
	}
	if acked < len(evs) && failed == nil {
		failed = errors.New("the stream acknowledged part of the events")
	}
	return acked, failed
}

// Subjects is the subject filter of events of concertID ("" for any, "none"
// for no concert) of type t ("" for any).
func (s *Stream) Subjects(concertID string, t event.Type) string {
	c, ty := "*", "*"
	if concertID != "" {
		c = concertID
	}
	if t != "" {
		ty = string(t)
	}
	return s.prefix + "." + c + "." + ty
}

// Read calls fn with every event stored on the stream now, in the stream's
// order, and its subject.
func (s *Stream) Read(ctx context.Context, fn func(e event.Event, subject string) error) error {
	st, err := s.js.Stream(ctx, s.name)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.name, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return fmt.Errorf("stream %s: %w", s.name, err)
	}
	for seq := info.State.FirstSeq; seq > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read message %d: %w", seq, err)
		}
		var e event.Event
		if err := json.Unmarshal(msg.Data, &e); err != nil {
			return fmt.Errorf("decode message %d: %w", seq, err)
		}
		if err := fn(e, msg.Subject); err != nil {
			return err
		}
	}
	return nil
}

// Follow calls fn with each event stored on the stream whose subject
// matches filter (see Subjects), from the first kept when all is set or
// else from the next one stored, until ctx ends or fn fails.
func (s *Stream) Follow(ctx context.Context, filter string, all bool, fn func(e event.Event) error) error {
	if err := s.ensure(ctx); err != nil {
		return err
	}
	policy := jetstream.DeliverNewPolicy
	if all {
		policy = jetstream.DeliverAllPolicy
	}
	cons, err := s.js.OrderedConsumer(ctx, s.name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter},
		DeliverPolicy:  policy,
	})
	if err != nil {
		return fmt.Errorf("follow %s: %w", filter, err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow %s: %w", filter, err)
	}
	defer msgs.Stop()
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	for {
		msg, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("follow %s: %w", filter, err)
		}
		var e event.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			return fmt.Errorf("decode %s: %w", msg.Subject(), err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}
