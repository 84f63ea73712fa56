package api

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/spec"
)

// TestToEngineCategory: the category and delivery the engine is given. An
// execution time without a category makes a future dated request; numbers
// the API does not define reach the engine as such, to be refused.
func TestToEngineCategory(t *testing.T) {
	sp := spec.MustDefault()
	at := timestamppb.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	tests := []struct {
		note             string
		cat              dccgatev1.Category
		del              dccgatev1.Delivery
		executeAt        *timestamppb.Timestamp
		wantCat, wantDel string
	}{
		{"nothing named", 0, 0, nil, "on_demand", "wan"},
		{"an execution time alone", 0, 0, at, "future_dated", "wan"},
		{"on demand with an execution time (the engine refuses it)", dccgatev1.Category_CATEGORY_ON_DEMAND, 0, at, "on_demand", "wan"},
		{"future dated", dccgatev1.Category_CATEGORY_FUTURE_DATED, dccgatev1.Delivery_DELIVERY_LOCAL, at, "future_dated", "local"},
		{"scheduled, both", dccgatev1.Category_CATEGORY_SCHEDULED, dccgatev1.Delivery_DELIVERY_BOTH, nil, "scheduled", "both"},
		{"a category number not defined", 7, 0, nil, "category 7", "wan"},
		{"a delivery number not defined", 0, 9, nil, "on_demand", "delivery 9"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			in := &dccgatev1.ServiceRequest{
				Envelope: &dccgatev1.Envelope{UserId: "00-00-00-00-00-00-0A-01", DeviceId: "00-DB-00-00-00-00-E0-01", Category: tc.cat, Delivery: tc.del, ExecuteAt: tc.executeAt},
				Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{}},
			}
			req, err := toEngine(sp, in)
			if err != nil {
				t.Fatal(err)
			}
			if req.Category != tc.wantCat || req.Delivery != tc.wantDel {
				t.Fatalf("category %q, delivery %q; want %q, %q", req.Category, req.Delivery, tc.wantCat, tc.wantDel)
			}
		})
	}
}
