package loadtest

import (
	"fmt"
	"testing"
	"time"

	boxhttp "github.com/boxoffice/boxoffice/http"
)

func TestAdmissionOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// fan joined over [sent, recv], was last seen waiting when it sent the
	// poll at waiting, and was first seen admitted at admitted.
	fan := func(sent, recv, waiting, admitted int) joinObservation {
		o := joinObservation{UserID: fmt.Sprint("u", sent), JoinSent: at(sent), JoinRecv: at(recv), LastWaiting: at(waiting)}
		if admitted >= 0 {
			o.Admitted = at(admitted)
		}
		return o
	}
	drawn := func(o joinObservation) joinObservation { o.Drawn = true; return o }
	tests := []struct {
		name          string
		fans          []joinObservation
		wantOvertakes int
		wantCompared  int
	}{
		{"OK", []joinObservation{fan(0, 10, 1000, 2010), fan(20, 30, 2000, 3010), fan(40, 50, 3000, 4010)}, 0, 2},
		{"Overtaken", []joinObservation{fan(0, 10, 5000, 6010), fan(20, 30, 1000, 2010)}, 1, 1},
		{"WithinPollInterval", []joinObservation{fan(0, 10, 1000, 2500), fan(20, 30, 1000, 1500)}, 0, 1},
		{"ConcurrentJoins", []joinObservation{fan(0, 30, 5000, 6010), fan(20, 40, 1000, 2010)}, 0, 0},
		{"AheadLeftWaiting", []joinObservation{fan(0, 10, 1000, -1), fan(20, 30, 1000, 2010)}, 0, 1},
		{"NotJoined", []joinObservation{{}, fan(20, 30, 1000, 2010)}, 0, 0},
		{"DrawnInAnyOrder", []joinObservation{drawn(fan(0, 10, 5000, 6010)), drawn(fan(20, 30, 1000, 2010))}, 0, 0},
		{"DrawnAheadOfLaterJoins", []joinObservation{drawn(fan(0, 10, 5000, 6010)), fan(20, 30, 1000, 2010)}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := admissionOrder(tt.fans, joinOrderLog(tt.fans))
			if got.Overtakes != tt.wantOvertakes || got.Compared != tt.wantCompared {
				t.Errorf("got %d overtakes of %d compared, want %d of %d", got.Overtakes, got.Compared, tt.wantOvertakes, tt.wantCompared)
			}
			if got.OK() != (tt.wantOvertakes == 0) {
				t.Errorf("OK() = %v, want %v", got.OK(), tt.wantOvertakes == 0)
			}
		})
	}
}

// joinOrderLog is the admission log of a room that admitted the admitted
// fans in the order they are given, numbering them in that order.
func joinOrderLog(fans []joinObservation) []boxhttp.AdmissionRecord {
	var log []boxhttp.AdmissionRecord
	for i, f := range fans {
		if !f.Admitted.IsZero() {
			log = append(log, boxhttp.AdmissionRecord{N: int64(len(log) + 1), UserID: f.UserID, Seq: int64(i + 1)})
		}
	}
	return log
}

func TestAdmissionLogCheck(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Fans a, b and c joined one after the other; all were admitted.
	fans := []joinObservation{
		{UserID: "a", JoinSent: at(0), JoinRecv: at(10), LastWaiting: at(100), Admitted: at(200)},
		{UserID: "b", JoinSent: at(20), JoinRecv: at(30), LastWaiting: at(100), Admitted: at(300)},
		{UserID: "c", JoinSent: at(40), JoinRecv: at(50), LastWaiting: at(100), Admitted: at(400)},
	}
	rec := func(user string, seq int64) boxhttp.AdmissionRecord {
		return boxhttp.AdmissionRecord{UserID: user, Seq: seq}
	}
	tests := []struct {
		name string
		log  []boxhttp.AdmissionRecord
		want OrderCheck
	}{
		{"OK", []boxhttp.AdmissionRecord{rec("a", 1), rec("b", 2), rec("c", 3)}, OrderCheck{Logged: 3}},
		{"GapsAndOthersAreFine", []boxhttp.AdmissionRecord{rec("x", 1), rec("a", 4), rec("b", 7), rec("y", 8), rec("c", 9)}, OrderCheck{Logged: 5}},
		{"OutOfOrder", []boxhttp.AdmissionRecord{rec("a", 1), rec("c", 3), rec("b", 2)}, OrderCheck{Logged: 3, OutOfOrder: 1}},
		{"Repeated", []boxhttp.AdmissionRecord{rec("a", 1), rec("b", 2), rec("b", 2), rec("c", 3)}, OrderCheck{Logged: 4, Repeated: 1}},
		{"Unlogged", []boxhttp.AdmissionRecord{rec("a", 1), rec("c", 3)}, OrderCheck{Logged: 2, Unlogged: 1}},
		// The log is in its own order, but b's number says b joined before
		// a, whose join was answered before b's was sent.
		{"Misnumbered", []boxhttp.AdmissionRecord{rec("b", 1), rec("a", 2), rec("c", 3)}, OrderCheck{Logged: 3, Misnumbered: 1}},
		{"DrawnAtTheOpeningAreNotFirstCome", []boxhttp.AdmissionRecord{{UserID: "p", Seq: 9, Prequeue: true}, rec("a", 1), rec("b", 2), rec("c", 3)}, OrderCheck{Logged: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkLog(fans, tt.log)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if got.OK() != (tt.want == OrderCheck{Logged: tt.want.Logged}) {
				t.Errorf("OK() = %v", got.OK())
			}
			if all := admissionOrder(fans, tt.log); all.OK() != got.OK() {
				t.Errorf("admissionOrder OK() = %v, want %v", all.OK(), got.OK())
			}
		})
	}
}
