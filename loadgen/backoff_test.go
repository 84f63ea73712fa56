package loadgen

import (
	"math"
	"testing"
	"time"
)

// TestBackoff: the delay after n failures in a row doubles from the base
// to the cap, and stays there however many follow (no overflow); the
// gate's and the setup's from 10 ms, a stream's reopening from 100 ms,
// both to 1 s.
func TestBackoff(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		note string
		b    backoff
		n    int
		want time.Duration
	}{
		{"request: first", requestBackoff, 0, 10 * ms},
		{"request: second", requestBackoff, 1, 20 * ms},
		{"request: seventh", requestBackoff, 6, 640 * ms},
		{"request: capped", requestBackoff, 7, time.Second},
		{"request: long capped", requestBackoff, 10_000, time.Second},
		{"subscribe: first", subscribeBackoff, 0, 100 * ms},
		{"subscribe: second", subscribeBackoff, 1, 200 * ms},
		{"subscribe: fourth", subscribeBackoff, 3, 800 * ms},
		{"subscribe: capped", subscribeBackoff, 4, time.Second},
		{"subscribe: long capped", subscribeBackoff, 1 << 20, time.Second},
		{"negative n: the base", subscribeBackoff, -1, 100 * ms},
		{"base above the cap", backoff{base: 2 * time.Second, max: time.Second}, 0, time.Second},
		{"exactly the cap", backoff{base: 250 * ms, max: time.Second}, 2, time.Second},
		{"a cap near the largest: no overflow", backoff{base: 1, max: math.MaxInt64}, 100, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if got := tc.b.delay(tc.n); got != tc.want {
				t.Errorf("%+v.delay(%d) = %v, want %v", tc.b, tc.n, got, tc.want)
			}
		})
	}
}
