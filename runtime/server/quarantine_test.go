package server

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/runtime/gateway"
)

// TestQuarantinedAlertsAreListed: with a threshold on a device's alerts
// (Config.AlertAnomaly, the alert_anomaly key), the alerts past it reach
// no stream and OpsService lists them, by device and in pages.
func TestQuarantinedAlertsAreListed(t *testing.T) {
	srv := startOps(t, Config{AlertAnomaly: []gateway.AlertAnomalyRule{{Max: 1, Per: time.Hour}}})
	if _, err := srv.SeedDemo(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for range 3 {
		if err := srv.G.DeviceEvent(ctx, meter, "tamper"); err != nil {
			t.Fatal(err)
		}
	}
	srv.G.WaitIdle(ctx)
	ops := dccgatev1connect.NewOpsServiceClient(http.DefaultClient, srv.AdminURL)
	list := func(req *dccgatev1.ListQuarantinedAlertsRequest) []*dccgatev1.QuarantinedAlert {
		t.Helper()
		resp, err := ops.ListQuarantinedAlerts(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetAlerts()
	}
	all := list(&dccgatev1.ListQuarantinedAlertsRequest{DeviceId: meter})
	if len(all) < 2 {
		t.Fatalf("%d alerts quarantined of three tampers over a threshold of one an hour", len(all))
	}
	for _, a := range all {
		if a.GetReason() != "ALERT_ANOMALY" || a.GetClause() == "" || !slices.Contains(a.GetRecipients(), supplier) ||
			a.GetPayload() == "" || a.GetRaisedAt() == nil || a.GetQuarantinedAt() == nil {
			t.Fatalf("listed %v", a)
		}
	}
	if got := list(&dccgatev1.ListQuarantinedAlertsRequest{DeviceId: "00-DB-00-00-00-00-E0-99"}); len(got) != 0 {
		t.Fatalf("another device's list: %v", got)
	}
	page := list(&dccgatev1.ListQuarantinedAlertsRequest{Limit: 1})
	next := list(&dccgatev1.ListQuarantinedAlertsRequest{Limit: 1, AfterId: page[0].GetId()})
	if len(page) != 1 || len(next) != 1 || next[0].GetId() <= page[0].GetId() {
		t.Fatalf("pages %v then %v", page, next)
	}
	if _, err := ops.ListQuarantinedAlerts(ctx, connect.NewRequest(&dccgatev1.ListQuarantinedAlertsRequest{Limit: -1})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("a negative limit: %v", err)
	}
	// The supplier's stream holds the first alert alone.
	ds, err := srv.Store.Deliveries(ctx, supplier, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range ds {
		if d.Kind == "alert" && d.DeviceID == meter {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d alerts of the meter delivered to the supplier, want 1", n)
	}
}
