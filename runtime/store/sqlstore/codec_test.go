package sqlstore

import (
	"math"
	"testing"
	"time"
)

func TestCounterOrder(t *testing.T) {
	cs := []uint64{0, 1, 2, 1<<63 - 1, 1 << 63, 1<<63 + 1, math.MaxUint64 - 1, math.MaxUint64}
	for i, c := range cs {
		if decCounter(encCounter(c)) != c {
			t.Fatalf("counter %d does not round-trip", c)
		}
		if i > 0 && encCounter(cs[i-1]) >= encCounter(c) {
			t.Fatalf("encCounter(%d) >= encCounter(%d): order lost", cs[i-1], c)
		}
	}
}

func TestTimeCodec(t *testing.T) {
	for _, tc := range []time.Time{{}, time.Unix(0, 0), time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64+1),
		time.Date(2026, 3, 29, 1, 30, 0, 1, time.FixedZone("X", -5*3600))} {
		n, err := encTime(tc)
		if err != nil {
			t.Fatalf("%v: %v", tc, err)
		}
		if got := decTime(n); !got.Equal(tc) || got.IsZero() != tc.IsZero() {
			t.Fatalf("%v read back %v", tc, got)
		}
	}
	zero, _ := encTime(time.Time{})
	first, _ := encTime(time.Unix(0, math.MinInt64+1))
	if zero >= first {
		t.Fatal("the zero time does not sort first")
	}
	for _, bad := range []time.Time{time.Unix(0, math.MinInt64), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)} {
		if _, err := encTime(bad); err == nil {
			t.Fatalf("%v encoded", bad)
		}
	}
}

func TestRebind(t *testing.T) {
	s := &Store{d: Dialect{Numbered: true}}
	if got := s.q("a = ? AND b IN (?, ?)"); got != "a = $1 AND b IN ($2, $3)" {
		t.Fatal(got)
	}
}
