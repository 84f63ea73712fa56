package store_test

import (
	"encoding/json"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestResponsePayloadAsAMap: a response's payload is the JSON a map of the
// same keys gives (what the gateway wrote before the type, and what the
// DUIS outbox and other readers of stored deliveries parse).
func TestResponsePayloadAsAMap(t *testing.T) {
	answer := json.RawMessage(`{"register":"total","import_kwh":12.5}`)
	for _, p := range []store.ResponsePayload{
		{RequestID: "u:d:1", Service: "4.1", State: "accepted", DeviceID: "00-DB-00-00-00-08-E0-1F", Response: answer},
		{RequestID: "u:d:2", Service: "6.15.1", State: "failed", Reason: "SIGNATURE_TIMEOUT", Clause: "para 155", Message: "<none> & \u2028", Response: json.RawMessage("null")},
	} {
		got, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"request_id": p.RequestID, "service": p.Service, "state": p.State, "reason": p.Reason,
			"clause": p.Clause, "message": p.Message, "device_id": p.DeviceID, "response": p.Response})
		if string(got) != string(want) {
			t.Errorf("payload\n got %s\nwant %s", got, want)
		}
	}
}
