package loadtest

import (
	"fmt"
	"slices"
	"sort"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

// joinObservation is what a fan saw of its own place: when its join was
// sent and answered, the position the answer gave, the sending of the last
// request answered "still waiting", and the receipt of the first answer
// "admitted". Zero times were not observed.
type joinObservation struct {
	UserID             string
	JoinSent, JoinRecv time.Time
	Position           int64
	LastWaiting        time.Time
	Admitted           time.Time
	// Drawn is true for a fan who joined before the opening: the draw,
	// not the join, orders it among those who did too.
	Drawn bool
}

// OrderCheck is the result of comparing admissions with joins: the
// server's admission log against itself and against what the fans saw.
type OrderCheck struct {
	// Logged counts the entries of the room's admission log.
	Logged int `json:"logged"`
	// OutOfOrder counts first-come admissions (not from the opening's
	// draw) whose join number is below that of an admission before them.
	OutOfOrder int `json:"outOfOrder"`
	// Repeated counts log entries of a user already admitted.
	Repeated int `json:"repeated"`
	// Unlogged counts fans who were answered "admitted" but are not in the
	// log.
	Unlogged int `json:"unlogged"`
	// Misnumbered counts admitted fans whose join number is below that of
	// a fan whose join was answered before theirs was sent.
	Misnumbered int `json:"misnumbered"`
	// Compared counts admitted fans that had someone surely ahead of them.
	Compared int `json:"compared"`
	// Overtakes counts admitted fans seen admitted while a fan who had
	// joined before them was still seen waiting.
	Overtakes int `json:"overtakes"`
	// WorstMS is the longest such overlap.
	WorstMS float64 `json:"worstMs"`
}

// OK reports whether admissions kept join order.
func (c OrderCheck) OK() bool {
	return c.OutOfOrder == 0 && c.Repeated == 0 && c.Unlogged == 0 && c.Misnumbered == 0 && c.Overtakes == 0
}

func (c OrderCheck) String() string {
	s := fmt.Sprintf("admission log of %s: %d out of join order, %d repeated, %d admitted fans missing, %d join numbers contradicting the fans' joins; ",
		count(int64(c.Logged)), c.OutOfOrder, c.Repeated, c.Unlogged, c.Misnumbered)
	s += fmt.Sprintf("%s admitted fans compared with everyone who joined before them; %d overtook", count(int64(c.Compared)), c.Overtakes)
	if c.Overtakes > 0 {
		s += fmt.Sprintf(" (worst by %.0f ms)", c.WorstMS)
	}
	return s
}

// admissionOrder checks that the waiting room admitted in join order.
//
// The server's admission log gives each admission its place's join number:
// first-come admissions must follow those numbers, nobody is admitted
// twice, every fan answered "admitted" is logged, and the numbers agree
// with the fans' clocks — fan A is surely ahead of fan B when A's join was
// answered before B's was sent, so A's number must be the lower.
//
// Fans never admitted are not in the log; for them the fans' own
// observations are compared: B overtook A, surely ahead, when B was seen
// admitted before A was last seen waiting. Every poll interval lies between
// those two instants, so an admission within it is never counted against
// the room. Positions are not compared across fans, since admissions during
// the joins shift them.
func admissionOrder(fans []joinObservation, log []boxhttp.AdmissionRecord) OrderCheck {
	c := checkLog(fans, log)
	ahead := make([]joinObservation, 0, len(fans))
	var admitted []joinObservation
	for _, f := range fans {
		if f.JoinRecv.IsZero() {
			continue
		}
		if !f.LastWaiting.IsZero() {
			ahead = append(ahead, f)
		}
		if !f.Admitted.IsZero() {
			admitted = append(admitted, f)
		}
	}
	sort.Slice(ahead, func(i, j int) bool { return ahead[i].JoinRecv.Before(ahead[j].JoinRecv) })
	sort.Slice(admitted, func(i, j int) bool { return admitted[i].JoinSent.Before(admitted[j].JoinSent) })
	var latest time.Time // the latest "still waiting" among fans surely ahead
	k := 0
	seen := false
	for _, b := range admitted {
		for k < len(ahead) && ahead[k].JoinRecv.Before(b.JoinSent) {
			if ahead[k].LastWaiting.After(latest) {
				latest = ahead[k].LastWaiting
			}
			seen = true
			k++
		}
		if !seen || b.Drawn {
			// Only fans who joined before b, and so before the
			// opening, could be ahead of a drawn fan: the draw orders
			// them.
			continue
		}
		c.Compared++
		if latest.After(b.Admitted) {
			c.Overtakes++
			c.WorstMS = max(c.WorstMS, ms(latest.Sub(b.Admitted)))
		}
	}
	return c
}

// checkLog checks the admission log against itself and the fans' joins.
func checkLog(fans []joinObservation, log []boxhttp.AdmissionRecord) OrderCheck {
	c := OrderCheck{Logged: len(log)}
	seqs := make(map[string]int64, len(log))
	var last int64
	for _, r := range log {
		if _, dup := seqs[r.UserID]; dup {
			c.Repeated++
			continue
		}
		seqs[r.UserID] = r.Seq
		if r.Prequeue {
			continue // the draw's order is checked by verify-lottery
		}
		if r.Seq < last {
			c.OutOfOrder++
		}
		last = max(last, r.Seq)
	}
	type numbered struct {
		joinObservation
		seq int64
	}
	var admitted []numbered
	for _, f := range fans {
		if f.Admitted.IsZero() {
			continue
		}
		seq, ok := seqs[f.UserID]
		if !ok {
			c.Unlogged++
			continue
		}
		if !f.JoinRecv.IsZero() {
			admitted = append(admitted, numbered{f, seq})
		}
	}
	ahead := slices.Clone(admitted)
	sort.Slice(ahead, func(i, j int) bool { return ahead[i].JoinRecv.Before(ahead[j].JoinRecv) })
	sort.Slice(admitted, func(i, j int) bool { return admitted[i].JoinSent.Before(admitted[j].JoinSent) })
	var highest int64 // the highest join number among fans surely ahead
	k := 0
	for _, b := range admitted {
		for k < len(ahead) && ahead[k].JoinRecv.Before(b.JoinSent) {
			highest = max(highest, ahead[k].seq)
			k++
		}
		if highest > b.seq && !b.Drawn {
			c.Misnumbered++
		}
	}
	return c
}
