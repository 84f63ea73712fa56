package api

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/runtime/pki"
)

// TestResetRefusesThresholdsThatCannotBe: a Reset's anomaly threshold with
// a negative max, or a window of 0, is refused as an invalid argument
// naming it, before the world is touched (max 0 is a threshold: see
// conformance/scenarios/anomaly-zero.yaml).
func TestResetRefusesThresholdsThatCannotBe(t *testing.T) {
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	a := &AdminServer{CA: ca} // no gateway: a refusal must come first
	ctx := WithCaller(t.Context(), Caller{Admin: true})
	for _, tc := range []struct {
		name string
		rule *dccgatev1.AnomalyThreshold
	}{
		{"negative max", &dccgatev1.AnomalyThreshold{Service: "4.1", Max: -1, Per: durationpb.New(time.Hour)}},
		{"no window", &dccgatev1.AnomalyThreshold{Service: "4.1", Max: 0}},
		{"window of 0", &dccgatev1.AnomalyThreshold{Service: "4.1", Max: 3, Per: durationpb.New(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Reset(ctx, connect.NewRequest(&dccgatev1.ResetRequest{Anomaly: []*dccgatev1.AnomalyThreshold{tc.rule}}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("Reset: %v, want invalid_argument", err)
			}
		})
	}
}
