package loadgen

import (
	"bytes"
	"testing"
	"time"
)

// TestFailedSamples: a failed request is written with the others, with no
// acknowledgement (and no Request ID if its Submit failed), and counts in
// no latency.
func TestFailedSamples(t *testing.T) {
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := &Result{started: start, samples: []sample{
		{item: "read-gas", id: "00-00-00-00-00-1B-00-01:00-DB-00-00-00-02-6A-02:7", sent: start.Add(20 * time.Millisecond), lat: 9 * time.Millisecond, ack: 4 * time.Millisecond, outcome: "accepted"},
		{item: "topup", sent: start.Add(10 * time.Millisecond), lat: 250 * time.Millisecond, outcome: "error/submit:unavailable/GATEWAY_BUSY", failed: true},
		{item: "profile", id: "00-00-00-00-00-1A-00-00:00-DB-00-00-00-04-E0-04:9", sent: start.Add(30 * time.Millisecond), lat: 2 * time.Millisecond, outcome: "error/stream", failed: true},
	}}
	var buf bytes.Buffer
	if err := r.WriteSamples(&buf); err != nil {
		t.Fatal(err)
	}
	// The Request ID last; none for a Submit that failed.
	want := "sent_s,item,outcome,acknowledged_ms,latency_ms,request_id\n" +
		"0.0100,topup,error/submit:unavailable/GATEWAY_BUSY,,250.000,\n" +
		"0.0200,read-gas,accepted,4.000,9.000,00-00-00-00-00-1B-00-01:00-DB-00-00-00-02-6A-02:7\n" +
		"0.0300,profile,error/stream,,2.000,00-00-00-00-00-1A-00-00:00-DB-00-00-00-04-E0-04:9\n"
	if got := buf.String(); got != want {
		t.Errorf("samples:\n%s\nwant:\n%s", got, want)
	}
	lat, byItem := summarise(r.samples)
	if lat["all"].Count != 1 || lat["acknowledged"].Count != 1 || lat["all"].Max != 9 || byItem["topup"].Count != 0 {
		t.Errorf("latency %+v, by item %+v: want only the accepted request", lat, byItem)
	}
}
