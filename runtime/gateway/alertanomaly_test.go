package gateway_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestAlertsPastTheThresholdAreQuarantined: a device's alerts past the
// threshold of para 136 are kept in the quarantine with the users they
// were for and not sent on; once the window has passed, its alerts go
// out again. A threshold on another code does not count them.
func TestAlertsPastTheThresholdAreQuarantined(t *testing.T) {
	w := newWorldConfig(t, func(c *gateway.Config) {
		c.AlertAnomaly = []gateway.AlertAnomalyRule{{Code: "A99", Max: 1, Per: time.Minute}, {Max: 2, Per: time.Hour}}
	}, nil)
	obs := &quarantineCount{}
	w.g.SetObserver(obs)
	ctx := t.Context()
	tamper := func(n int) {
		t.Helper()
		for range n {
			if err := w.g.DeviceEvent(ctx, esme, "tamper"); err != nil {
				t.Fatal(err)
			}
		}
		w.g.WaitIdle(ctx)
	}
	delivered := func() int {
		t.Helper()
		return delivered(t, w.g, alpha, alertOf(esme))
	}
	quarantined := func() []store.QuarantinedAlert {
		t.Helper()
		q, ok := store.As[store.AlertQuarantine](w.g.Store())
		if !ok {
			t.Fatal("the store keeps no quarantine")
		}
		l, err := q.QuarantinedAlerts(ctx, store.QuarantineFilter{DeviceID: esme})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	tamper(1)
	per := delivered() // the alerts one tamper raises
	if per == 0 {
		t.Fatal("a tamper raised no alert to the supplier")
	}
	tamper(4)
	if got, want := delivered(), 2; got != want {
		t.Fatalf("%d alerts delivered after 5 tampers, want %d (a threshold of 2 an hour)", got, want)
	}
	q := quarantined()
	if len(q) == 0 || delivered()+len(q) != 5*per {
		t.Fatalf("%d delivered and %d quarantined of %d alerts", delivered(), len(q), 5*per)
	}
	if int(obs.n.Load()) != len(q) {
		t.Fatalf("the observer was told of %d quarantined alerts, the store keeps %d", obs.n.Load(), len(q))
	}
	for _, a := range q {
		if a.Reason != "ALERT_ANOMALY" || a.Clause != "para 136, footnote 14" || a.Detail == "" ||
			!slices.Contains(a.Recipients, alpha) || len(a.Payload) == 0 || a.RaisedAt.IsZero() {
			t.Fatalf("quarantined %+v", a)
		}
	}

	// An hour on, the device's alerts go out again.
	before := delivered()
	if _, err := w.g.Advance(ctx, time.Hour+time.Second); err != nil {
		t.Fatal(err)
	}
	tamper(1)
	if delivered() != before+per {
		t.Fatalf("after the window: %d alerts delivered, want %d", delivered(), before+per)
	}
	w.g.SetAlertAnomaly(nil)
	tamper(3)
	if delivered() != before+4*per {
		t.Fatalf("with no threshold: %d alerts delivered, want %d", delivered(), before+4*per)
	}
}

// quarantineCount counts the alerts an Observer is told were quarantined.
type quarantineCount struct {
	faults
	n atomic.Int32
}

func (q *quarantineCount) AlertQuarantined(string) { q.n.Add(1) }
