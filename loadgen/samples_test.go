package loadgen

import (
	"bytes"
	"testing"
	"time"
)

// TestFailedSamples: a failed request is written with the others, with no
// acknowledgement, and counts in no latency.
func TestFailedSamples(t *testing.T) {
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	r := &Result{started: start, samples: []sample{
		{item: "read-gas", sent: start.Add(20 * time.Millisecond), lat: 9 * time.Millisecond, ack: 4 * time.Millisecond, outcome: "accepted"},
		{item: "topup", sent: start.Add(10 * time.Millisecond), lat: 250 * time.Millisecond, outcome: "error/submit:unavailable/GATEWAY_BUSY", failed: true},
	}}
	var buf bytes.Buffer
	if err := r.WriteSamples(&buf); err != nil {
		t.Fatal(err)
	}
	want := "sent_s,item,outcome,acknowledged_ms,latency_ms\n" +
		"0.0100,topup,error/submit:unavailable/GATEWAY_BUSY,,250.000\n" +
		"0.0200,read-gas,accepted,4.000,9.000\n"
	if got := buf.String(); got != want {
		t.Errorf("samples:\n%s\nwant:\n%s", got, want)
	}
	lat, byItem := summarise(r.samples)
	if lat["all"].Count != 1 || lat["acknowledged"].Count != 1 || lat["all"].Max != 9 || byItem["topup"].Count != 0 {
		t.Errorf("latency %+v, by item %+v: want only the accepted request", lat, byItem)
	}
}
