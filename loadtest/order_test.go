package loadtest

import (
	"testing"
	"time"
)

func TestAdmissionOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// fan joined over [sent, recv], was last seen waiting when it sent the
	// poll at waiting, and was first seen admitted at admitted.
	fan := func(sent, recv, waiting, admitted int) joinObservation {
		o := joinObservation{JoinSent: at(sent), JoinRecv: at(recv), LastWaiting: at(waiting)}
		if admitted >= 0 {
			o.Admitted = at(admitted)
		}
		return o
	}
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := admissionOrder(tt.fans)
			if got.Overtakes != tt.wantOvertakes || got.Compared != tt.wantCompared {
				t.Errorf("got %d overtakes of %d compared, want %d of %d", got.Overtakes, got.Compared, tt.wantOvertakes, tt.wantCompared)
			}
			if got.OK() != (tt.wantOvertakes == 0) {
				t.Errorf("OK() = %v, want %v", got.OK(), tt.wantOvertakes == 0)
			}
		})
	}
}
