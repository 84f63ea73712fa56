package correlate_test

import (
	"testing"

	"github.com/dccgate/dccgate/correlate"
)

// BenchmarkCorrelate is the DCC User's check of one Pre-Command before it
// signs (1.1 Update Import Tariff, prepayment: a string and three int64s).
func BenchmarkCorrelate(b *testing.B) {
	sp := testSpec(b)
	svc := sp.ServiceByKey("1.1/prepayment")
	r := requestOf(svc)
	pc := transform(b, svc, r)
	b.ReportAllocs()
	for b.Loop() {
		if err := correlate.Correlate(sp, r, pc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse turns a small device response into the API's JSON.
func BenchmarkParse(b *testing.B) {
	sp := testSpec(b)
	resp := map[string]any{"register": "total", "kwh": 1234.5, "tou": []any{1.0, 2.0, 3.0}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := correlate.Parse(sp, "4.1", "R", resp); err != nil {
			b.Fatal(err)
		}
	}
}
