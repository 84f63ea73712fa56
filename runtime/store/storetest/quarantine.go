package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// RunAlertQuarantine checks the quarantine of device alerts (para 136) on
// a backend: what is stored reads back whole, in order, by device, after
// an ID and up to a limit; what is older than the retention is purged.
func RunAlertQuarantine(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	st := open(t)
	q, ok := store.As[store.AlertQuarantine](st)
	if !ok {
		t.Fatal("the backend keeps no quarantine of alerts")
	}
	if got, err := q.QuarantinedAlerts(ctx, store.QuarantineFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("an empty quarantine lists %v, %v", got, err)
	}
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 123000, time.UTC)
	in := []store.QuarantinedAlert{
		{DeviceID: "00-DB-00-00-00-00-E0-01", Code: "A23", Recipients: []string{"00-00-00-00-00-00-0A-01", "00-00-00-00-00-00-0D-01"},
			Payload: []byte(`{"code":"A23"}`), Reason: "ALERT_ANOMALY", Clause: "para 136, footnote 14", Detail: "3 alerts within 1h0m0s, more than 2",
			RaisedAt: t0, QuarantinedAt: t0.Add(time.Millisecond)},
		{DeviceID: "00-DB-00-00-00-00-E0-02", Code: "A1", Reason: "ALERT_ANOMALY", RaisedAt: t0.Add(time.Second), QuarantinedAt: t0.Add(time.Second)},
		{DeviceID: "00-DB-00-00-00-00-E0-01", Code: "A23", Reason: "ALERT_ANOMALY", RaisedAt: t0.Add(2 * time.Second), QuarantinedAt: t0.Add(2 * time.Second)},
	}
	var ids []int64
	for i, a := range in {
		id, err := q.QuarantineAlert(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && id <= ids[len(ids)-1] {
			t.Fatalf("IDs %v then %d: not increasing", ids, id)
		}
		ids = append(ids, id)
		in[i].ID = id
	}
	for _, tc := range []struct {
		name string
		f    store.QuarantineFilter
		want []store.QuarantinedAlert
	}{
		{"all", store.QuarantineFilter{}, in},
		{"a device's", store.QuarantineFilter{DeviceID: in[0].DeviceID}, []store.QuarantinedAlert{in[0], in[2]}},
		{"after an ID", store.QuarantineFilter{AfterID: ids[0]}, in[1:]},
		{"limited", store.QuarantineFilter{Limit: 2}, in[:2]},
		{"none of the device", store.QuarantineFilter{DeviceID: "00-DB-00-00-00-00-E0-09"}, nil},
	} {
		got, err := q.QuarantinedAlerts(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got\n%+v\nwant\n%+v", tc.name, got, tc.want)
		}
	}
	if p, ok := store.As[store.Purger](st); ok {
		n, err := p.PurgeBefore(ctx, t0.Add(1500*time.Millisecond), 1)
		if err != nil || n != 1 {
			t.Fatalf("the first purge (limit 1): %d, %v; want 1", n, err)
		}
		if n, err = p.PurgeBefore(ctx, t0.Add(1500*time.Millisecond), 10); err != nil || n != 1 {
			t.Fatalf("the second purge: %d, %v; want 1", n, err)
		}
		left, err := q.QuarantinedAlerts(ctx, store.QuarantineFilter{})
		if err != nil || len(left) != 1 || left[0].ID != ids[2] {
			t.Fatalf("after the purges: %+v, %v; want the third alone", left, err)
		}
	}
}
