package api

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/runtime/store"
)

// Deliveries as the gateway stores them (payloads copied from a store).
var (
	at           = time.Date(2026, 11, 29, 12, 50, 0, 0, time.UTC)
	responseDeli = store.Delivery{Cursor: 42, UserID: "00-00-00-00-00-00-0A-01", Kind: "response", RequestID: "00-00-00-00-00-1A-00-1F:00-DB-00-00-00-08-E0-1F:1",
		DeviceID: "00-DB-00-00-00-08-E0-1F", CreatedAt: at, DueAt: at.Add(time.Minute),
		Payload: []byte(`{"clause":"","device_id":"00-DB-00-00-00-08-E0-1F","message":"","reason":"","request_id":"00-00-00-00-00-1A-00-1F:00-DB-00-00-00-08-E0-1F:1","response":{"at":"2026-11-29T12:50:00Z","import_kwh":12.5,"register":"total","tariff":{"tou_blocks":1,"unit_rate_millipence":24500},"entries":[1,"two",null,true]},"service":"4.1","state":"accepted"}`)}
	failedDeli = store.Delivery{Cursor: 43, UserID: "00-00-00-00-00-00-0A-01", Kind: "response", RequestID: "r2", DeviceID: "d2", CreatedAt: at,
		Payload: []byte(`{"clause":"para 155","device_id":"d2","message":"no signature came","reason":"SIGNATURE_TIMEOUT","request_id":"r2","response":null,"service":"6.15.1","state":"failed"}`)}
	alertDeli = store.Delivery{Cursor: 44, UserID: "00-00-00-00-00-00-0A-01", Kind: "alert", Code: "A23", DeviceID: "00-DB-00-00-00-08-E0-1F", CreatedAt: at,
		Payload: []byte(`{"code":"A23","data":{"credit_pence":500},"device_id":"00-DB-00-00-00-08-E0-1F","name":"Credit added","raised_at":"2026-11-29T12:50:00Z","service":"7.7"}`)}
)

// TestToMessage: each stored payload reaches the stream whole.
func TestToMessage(t *testing.T) {
	tests := []struct {
		d    store.Delivery
		want string // protojson of the StreamMessage
	}{
		{d: responseDeli, want: `{"cursor":"42","response":{"requestId":"00-00-00-00-00-1A-00-1F:00-DB-00-00-00-08-E0-1F:1","userId":"00-00-00-00-00-00-0A-01","deviceId":"00-DB-00-00-00-08-E0-1F","state":"accepted","service":"4.1",` +
			`"response":{"at":"2026-11-29T12:50:00Z","entries":[1,"two",null,true],"import_kwh":12.5,"register":"total","tariff":{"tou_blocks":1,"unit_rate_millipence":24500}},` +
			`"dueAt":"2026-11-29T12:51:00Z","completedAt":"2026-11-29T12:50:00Z"}}`},
		{d: failedDeli, want: `{"cursor":"43","response":{"requestId":"r2","userId":"00-00-00-00-00-00-0A-01","deviceId":"d2","state":"failed","reason":"SIGNATURE_TIMEOUT","clause":"para 155","message":"no signature came","service":"6.15.1","completedAt":"2026-11-29T12:50:00Z"}}`},
		{d: alertDeli, want: `{"cursor":"44","alert":{"code":"A23","deviceId":"00-DB-00-00-00-08-E0-1F","service":"7.7","name":"Credit added","raisedAt":"2026-11-29T12:50:00Z","data":{"credit_pence":500}}}`},
		{d: store.Delivery{Cursor: 45, Kind: "response", RequestID: "r3", Payload: []byte(`not json`)}, want: `{"cursor":"45","response":{"requestId":"r3"}}`},
		{d: store.Delivery{Cursor: 46, Kind: "pre_command", RequestID: "r4", DeviceID: "d4", Payload: []byte(`{"device_id":"d4","pre_command":"AQID","request_id":"r4","response":null,"service":"7.2","state":"awaiting_signature"}`),
			CreatedAt: time.Date(2026, 11, 29, 12, 50, 0, 0, time.UTC), DueAt: time.Date(2026, 11, 29, 13, 50, 0, 0, time.UTC)},
			want: `{"cursor":"46","response":{"requestId":"r4","deviceId":"d4","state":"awaiting_signature","service":"7.2","preCommand":"AQID","dueAt":"2026-11-29T13:50:00Z"}}`},
		// A Command for Local Delivery, also in local_command as GetRequest gives it.
		{d: store.Delivery{Cursor: 47, UserID: "u", Kind: "response", RequestID: "r5", DeviceID: "d5", CreatedAt: at,
			Payload: []byte(`{"device_id":"d5","request_id":"r5","response":{"local_command":{"command":{"device":"d5"}}},"service":"4.1","state":"accepted"}`)},
			want: `{"cursor":"47","response":{"requestId":"r5","userId":"u","deviceId":"d5","state":"accepted","service":"4.1","response":{"local_command":{"command":{"device":"d5"}}},` +
				`"localCommand":"eyJjb21tYW5kIjp7ImRldmljZSI6ImQ1In19","completedAt":"2026-11-29T12:50:00Z"}}`},
	}
	for _, tc := range tests {
		want := &dccgatev1.StreamMessage{}
		if err := protojson.Unmarshal([]byte(tc.want), want); err != nil {
			t.Fatalf("want: %v", err)
		}
		got := toMessage(tc.d)
		if !proto.Equal(got, want) {
			t.Errorf("cursor %d:\n got %s\nwant %s", tc.d.Cursor, protojson.Format(got), protojson.Format(want))
		}
	}
}

func BenchmarkToMessage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		toMessage(responseDeli)
	}
}

// payloadSeeds are payloads at the edges where fastjson and encoding/json
// part: each must still give the reference's message.
var payloadSeeds = []string{
	string(responseDeli.Payload), string(failedDeli.Payload), string(alertDeli.Payload),
	`{"STATE":"accepted","Response":{"a":1}}`, `{"Service":"4.1"}`, `{"Response":{"a":1},"state":"ok"}`, `{"Data":{"a":1}}`, // keys matched without case
	`{"state":"a","state":true,"reason":{"x":1},"clause":[1]}`,     // type errors: skipped
	`{"state":"a","state":null,"response":{"x":1},"response":[1]}`, // duplicates: the last wins, null keeps
	`{"state":7,"service":"4.1","response":{"a":1}}`,               // a type error
	`{"response":{"big":1e999}}`,                                   // out of float64's range
	`{"response":{"n":NaN}}`, `{"response":{"n":01}}`,              // not JSON
	`{"message":"\ud800 alone","response":{"s":"\ud83d\ude00"}}`,      // surrogates
	"{\"message\":\"bad \xff utf-8\",\"response\":{\"k\xfe\":\"v\"}}", // invalid UTF-8
	`{"message":"\u003cnone\u003e \u2028 \" \\ \/ \n","response":{"e":-0,"f":1.5e-7,"l":[[],{},null,true,false,""]}}`,
	`{"data":{"x":{"y":{"z":[1,{"w":"v"}]}}},"name":"n","service":"s"}`,
	`[1,2]`, `"x"`, `null`, ``, `{`, `{"response":{}} trailing`, "{\"message\":\"tab\there\"}",
	`{"response" : { "sp" : [ 1 , 2 ] } , "state" : "ok" }`,
	`{"pre_command":"AQID","state":"awaiting_signature"}`, `{"pre_command":"not base64!"}`, `{"PRE_COMMAND":"AQID"}`, `{"pre_command":7}`, `{"pre_command":"AQ\nID"}`,
}

// FuzzPayload: for any payload, of a response or an alert, what the stream
// reads of it is what encoding/json reads (decodeResponse, decodeAlert).
func FuzzPayload(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, payload string, alert bool) {
		var got, want proto.Message
		if alert {
			g, w := &dccgatev1.Alert{}, &dccgatev1.Alert{}
			readAlert([]byte(payload), g)
			decodeAlert([]byte(payload), w)
			got, want = g, w
		} else {
			g, w := &dccgatev1.RequestState{}, &dccgatev1.RequestState{}
			readResponse([]byte(payload), g)
			decodeResponse([]byte(payload), w)
			got, want = g, w
		}
		if !proto.Equal(got, want) {
			t.Errorf("payload %q:\n got %s\nwant %s", payload, protojson.Format(got), protojson.Format(want))
		}
	})
}

// TestFastPathTaken: the payloads the gateway writes are read by the fast
// path (readResponse, readAlert), not handed to encoding/json.
func TestFastPathTaken(t *testing.T) {
	for _, d := range []store.Delivery{responseDeli, failedDeli, alertDeli} {
		var fast bool
		var service string
		if d.Kind == "alert" {
			a := &dccgatev1.Alert{}
			fast, service = readAlert(d.Payload, a), a.Service
		} else {
			rs := &dccgatev1.RequestState{}
			fast, service = readResponse(d.Payload, rs), rs.Service
		}
		if !fast {
			t.Errorf("cursor %d: the fast path declined %s", d.Cursor, d.Payload)
		}
		if service == "" {
			t.Errorf("cursor %d: no service read", d.Cursor)
		}
	}
}
