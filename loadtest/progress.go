package loadtest

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// startProgress shows line on w until the returned stop is called: one line
// redrawn about four times a second on a terminal, otherwise a new line
// every five seconds. A nil w shows nothing.
func startProgress(w io.Writer, terminal bool, line func(elapsed time.Duration) string) (stop func()) {
	if w == nil {
		return func() {}
	}
	every := 5 * time.Second
	if terminal {
		every = 250 * time.Millisecond
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				if terminal {
					fmt.Fprintf(w, "\r\033[K%s\n", line(time.Since(start)))
				}
				return
			case <-t.C:
				if terminal {
					fmt.Fprintf(w, "\r\033[K%s", line(time.Since(start)))
				} else {
					fmt.Fprintln(w, line(time.Since(start)))
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// bar draws a fraction of 0..1 as a bar of width cells.
func bar(fraction float64, width int) string {
	fraction = min(max(fraction, 0), 1)
	full := int(fraction*float64(width) + 0.5)
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// won formats an amount of money.
func won(n int64) string { return count(n) + " won" }
