package gateway_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestHistoryKeptSevenYears: a Service Request and its response are kept
// for the spec's archive_years (para 248: seven) and deleted after, on the
// virtual clock.
func TestHistoryKeptSevenYears(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	r, err := w.g.Submit(ctx, alpha, &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}})
	if err != nil || r.State != gateway.StateAcknowledged {
		t.Fatalf("4.1: %s %s %v", r.State, r.Reason, err)
	}
	w.g.WaitIdle(ctx)
	responses := func() int {
		t.Helper()
		return delivered(t, w.g, alpha, func(d store.Delivery) bool { return d.RequestID == r.ID })
	}
	if responses() != 1 {
		t.Fatal("no response delivered")
	}
	years := w.g.Spec().ServiceManagement.SSI.ArchiveYears
	if years != 7 {
		t.Fatalf("archive_years %d, want the seven of para 248", years)
	}
	// A day short of seven years: kept.
	if _, err := w.g.Advance(ctx, r.ReceivedAt.AddDate(years, 0, -1).Sub(w.g.Now())); err != nil {
		t.Fatal(err)
	}
	if got, err := w.g.Store().GetRequest(ctx, r.ID); err != nil || got.State != gateway.StateAccepted || responses() != 1 {
		t.Fatalf("a day before seven years: %s %v, %d responses", got.State, err, responses())
	}
	// Two days later: gone, with its response.
	if _, err := w.g.Advance(ctx, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Store().GetRequest(ctx, r.ID); !errors.Is(err, store.ErrNotFound) || responses() != 0 {
		t.Fatalf("after seven years: %v, %d responses", err, responses())
	}
}
