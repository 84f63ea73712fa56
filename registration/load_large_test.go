package registration_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/dccgate/dccgate/registration"
)

// bigFile is a file of n electricity MPxNs of the network eno.
func bigFile(t testing.TB, w *world, format, kind string, n int, supplier string) []byte {
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{"mpxn": fmt.Sprintf("18%011d", i), "effective_from": "2026-01-01", "network_operator": eno,
			"import_supplier": supplier, "meter_agent": "MA01", "profile_class": "01", "postcode": "SW1H 0ET",
			"premises": fmt.Sprint(i), "uprn": fmt.Sprint(100000000 + i)}
	}
	return w.file(t.(*testing.T), format, rdpA, kind, "electricity", rows...)
}

// TestLoad100000 loads a file of 100,000 MPxNs into a SQLite file (the
// embedded default) and reports the times: the first load (every record
// written), the same data as a full file (reconciled, nothing to write),
// and a full file changing every supplier (every MPxN replaced).
func TestLoad100000(t *testing.T) {
	if testing.Short() {
		t.Skip("large load: not in -short")
	}
	ctx := t.Context()
	w := newWorld(t, nil)
	const n = 100000
	tests := []struct {
		note     string
		kind     string
		supplier string
		written  int
	}{
		{"incremental, all new", registration.KindIncremental, supA, n},
		{"full, the same", registration.KindFull, supA, 0},
		{"full, every supplier changed", registration.KindFull, supB, n},
	}
	for _, tc := range tests {
		data := bigFile(t, w, "csv", tc.kind, n, tc.supplier)
		begin := time.Now()
		res, err := w.svc.Load(ctx, rdpA, "big.csv", data)
		took := time.Since(begin)
		must(t, err)
		if !res.Applied() || res.File.Written != tc.written {
			t.Fatalf("%s: %s", tc.note, res.Summary())
		}
		t.Logf("%s: %d MPxNs (%d bytes) in %s", tc.note, n, len(data), took.Round(time.Millisecond))
		if took > 30*time.Second {
			t.Errorf("%s took %s", tc.note, took)
		}
	}
}
