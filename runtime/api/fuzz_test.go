package api

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/spec"
)

// FuzzDecodeRequest feeds arbitrary bytes to the request decoding of the
// API (protobuf, then the body's fields by reflection) and, where it
// decodes, to the engine: never a panic.
func FuzzDecodeRequest(f *testing.F) {
	sp := spec.MustDefault()
	e, err := engine.New(context.Background(), sp)
	if err != nil {
		f.Fatal(err)
	}
	seeds := []*dccgatev1.ServiceRequest{
		{Envelope: &dccgatev1.Envelope{UserId: "00-00-00-00-00-00-0A-01", DeviceId: "00-DB-00-00-00-00-E0-01"},
			Body: &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}}},
		{Envelope: &dccgatev1.Envelope{UserId: "00-00-00-00-00-00-0A-01", DeviceId: "00-DB-00-00-00-00-C0-01"},
			Body: &dccgatev1.ServiceRequest_UpdateHanDeviceLog{UpdateHanDeviceLog: &dccgatev1.UpdateHANDeviceLog{Add: []string{"00-DB-00-00-00-00-E0-01"}}}},
		{Envelope: &dccgatev1.Envelope{UserId: "x", Category: dccgatev1.Category_CATEGORY_FUTURE_DATED, Schedule: &dccgatev1.ScheduleSpec{Service: "4.8", Every: "24h"}},
			Body: &dccgatev1.ServiceRequest_CreateSchedule{CreateSchedule: &dccgatev1.CreateSchedule{}}},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var msg dccgatev1.ServiceRequest
		if err := proto.Unmarshal(data, &msg); err != nil {
			return
		}
		req, err := toEngine(sp, &msg)
		if err != nil {
			return
		}
		d := e.Decide(t.Context(), req, &engine.Facts{User: engine.User{Known: true, Role: "EIS"}, Device: engine.Device{Known: true, Type: "ESME", Status: "commissioned"}})
		if d.Outcome == "" {
			t.Fatal("no outcome")
		}
	})
}
