package gateway_test

import (
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/gateway"
)

// TestCategoryWithoutItsTime: a request whose category and execution time do
// not fit (future dated with none, or in the past; a scheduled category sent
// directly) is refused with a reason code and stored as refused, never an
// error of the store (para 133-135).
func TestCategoryWithoutItsTime(t *testing.T) {
	w := newWorld(t)
	now := w.g.Now()
	tests := []struct {
		note   string
		req    engine.Request
		reason string
	}{
		{"future dated with no time", engine.Request{Service: "4.4", Category: "future_dated"}, "MALFORMED"},
		{"future dated in the past", engine.Request{Service: "4.4", Category: "future_dated", ExecuteAt: now.Add(-time.Hour)}, "MALFORMED"},
		{"future dated in the year 3000", engine.Request{Service: "4.4", Category: "future_dated", ExecuteAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, "MALFORMED"},
		{"a schedule first run in the year 3000", engine.Request{Service: "5.1", Schedule: &engine.Schedule{Service: "4.8", Every: 24 * time.Hour, First: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}, "MALFORMED"},
		{"scheduled sent directly, no time", engine.Request{Service: "4.8", Category: "scheduled",
			Body: map[string]any{"from": now.Add(-48 * time.Hour).Format(time.RFC3339), "to": now.Add(-24 * time.Hour).Format(time.RFC3339)}}, "CATEGORY_NOT_AVAILABLE"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			req := tc.req
			req.UserID, req.DeviceID = alpha, esme
			r, err := w.g.Submit(t.Context(), alpha, &req)
			if err != nil {
				t.Fatalf("an error, not a refusal: %v", err)
			}
			if r.State != gateway.StateRejected || r.Reason != tc.reason {
				t.Fatalf("%s %s (%s), want rejected %s", r.State, r.Reason, r.Message, tc.reason)
			}
			if !r.DueAt.IsZero() && r.DueAt.Before(r.ReceivedAt) {
				t.Errorf("due %v, before its receipt %v", r.DueAt, r.ReceivedAt)
			}
		})
	}
}
