package correlate_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/correlate"
)

func TestParse(t *testing.T) {
	sp := testSpec(t)
	at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.FixedZone("x", 3600))
	tests := []struct {
		note    string
		service string
		in      any
		want    string
		err     string
	}{
		{"map", "4.1", map[string]any{"register": "total", "kwh": 12.5, "count": int64(3), "at": at, "log": []map[string]any{{"n": 1}}},
			`{"request_id":"R","service":"4.1","service_name":"Read Instantaneous Import Registers","response":{"at":"2026-01-05T09:00:00Z","count":3,"kwh":12.5,"log":[{"n":1}],"register":"total"}}`, ""},
		{"bytes", "1.1/prepayment", []byte(`{"b": 9007199254740993, "a": [1, "x", null]}`),
			`{"request_id":"R","service":"1.1/prepayment","service_name":"Update Import Tariff (prepayment)","response":{"a":[1,"x",null],"b":9007199254740993}}`, ""},
		{"nil", "7.1", nil, `"response":{}`, ""},
		{"unknown service", "99.1", map[string]any{}, "", "no service"},
		{"NaN", "4.1", map[string]any{"x": math.NaN()}, "", "response.x"},
		{"not an object", "4.1", []byte(`[1]`), "", "not an object"},
		{"not JSON", "4.1", []byte(`{`), "", "not JSON"},
		{"a channel", "4.1", map[string]any{"c": make(chan int)}, "", "response.c"},
		{"empty key", "4.1", map[string]any{"": 1}, "", "empty key"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			b, err := correlate.Parse(sp, tc.service, "R", tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tc.want) {
				t.Fatalf("\nhave %s\nwant %s", b, tc.want)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
		})
	}
	deep := map[string]any{}
	cur := deep
	for range 40 {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	if _, err := correlate.Parse(sp, "4.1", "R", deep); err == nil {
		t.Fatal("40 levels deep accepted")
	}
	if _, err := correlate.Parse(sp, "4.1", "", nil); err == nil {
		t.Fatal("no request ID accepted")
	}
}
