package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// Times are stored as int64 nanoseconds since the Unix epoch (UTC), which
// sort and compare the same in both databases. The zero time is stored as
// math.MinInt64, so it sorts first ("since always", "due now").
const zeroTime = math.MinInt64

// errTimeRange is returned for a time the encoding cannot hold.
var errTimeRange = errors.New("store: time out of range (years 1678 to 2262)")

// encTime encodes t; it fails for a non-zero time out of range.
func encTime(t time.Time) (int64, error) {
	if t.IsZero() {
		return zeroTime, nil
	}
	if t.Before(store.MinTime) || t.After(store.MaxTime) {
		return 0, fmt.Errorf("%w: %s", errTimeRange, t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// decTime decodes what encTime stored, in UTC.
func decTime(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Counters are uint64 but both databases have signed 64-bit integers only,
// so a counter is stored shifted by 2^63 (its top bit flipped): the mapping
// keeps the order, so "last_counter < ?" compares correctly over the whole
// uint64 range. A stored 0 counter reads math.MinInt64.
func encCounter(c uint64) int64 { return int64(c ^ 1<<63) }

func decCounter(n int64) uint64 { return uint64(n) ^ 1<<63 }

// encBytes stores an empty slice as NULL, so nil and empty read back nil.
func encBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// decBytes returns nil for an empty value.
func decBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// times encodes several times, failing on the first out of range.
type timeEncoder struct{ err error }

func (e *timeEncoder) enc(t time.Time) int64 {
	n, err := encTime(t)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n
}
