package loadtest

import (
	"fmt"
	"sort"
	"time"
)

// joinObservation is what a fan saw of its own place: when its join was
// sent and answered, the position the answer gave, the sending of the last
// request answered "still waiting", and the receipt of the first answer
// "admitted". Zero times were not observed.
type joinObservation struct {
	JoinSent, JoinRecv time.Time
	Position           int64
	LastWaiting        time.Time
	Admitted           time.Time
}

// OrderCheck is the result of comparing admissions with joins.
type OrderCheck struct {
	// Method says how order was established.
	Method string `json:"method"`
	// Compared counts admitted fans that had someone surely ahead of them.
	Compared int `json:"compared"`
	// Overtakes counts admitted fans seen admitted while a fan who had
	// joined before them was still seen waiting.
	Overtakes int `json:"overtakes"`
	// WorstMS is the longest such overlap.
	WorstMS float64 `json:"worstMs"`
}

// OK reports whether no fan overtook another.
func (c OrderCheck) OK() bool { return c.Overtakes == 0 }

func (c OrderCheck) String() string {
	s := fmt.Sprintf("%s admitted fans compared with everyone who joined before them; %d overtook", count(int64(c.Compared)), c.Overtakes)
	if c.Overtakes > 0 {
		s += fmt.Sprintf(" (worst by %.0f ms)", c.WorstMS)
	}
	return s + "; " + c.Method
}

// admissionOrder checks that the waiting room admitted in join order, from
// the fans' own observations. Fan A is surely ahead of fan B when A's join
// was answered before B's was sent. B overtook A when B was seen admitted
// before A was last seen waiting: every poll interval lies between those
// two instants, so an admission within it is never counted against the
// room. Positions are not compared across fans, since admissions during the
// joins shift them.
//
// This is the one place to switch over to the server's own admission log.
func admissionOrder(fans []joinObservation) OrderCheck {
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
	c := OrderCheck{Method: "order of answered joins against the fans' own polls (no server admission log)"}
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
		if !seen {
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
