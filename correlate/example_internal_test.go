package correlate

import (
	"encoding/hex"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// documentedExample returns the bytes of the worked example of
// docs/precommand.md, read from the page itself: Correlate is held to the
// document, not to the encoder.
func documentedExample(t testing.TB) []byte {
	t.Helper()
	doc, err := os.ReadFile("../docs/precommand.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- example:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- example:end -->")
	if !ok || !ok2 {
		t.Fatal("no example in docs/precommand.md")
	}
	hexByte := regexp.MustCompile(`^[0-9a-f]{2}$`)
	var sb strings.Builder
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, ";")
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if hexByte.MatchString(f[i]) {
				sb.WriteString(f[i])
			}
		}
	}
	b, err := hex.DecodeString(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// documentedRequest is the request the worked example transforms.
func documentedRequest() Request {
	return Request{
		RequestID: "00-00-00-00-00-00-0A-01:00-DB-00-00-00-00-E0-01:7",
		Service:   "1.1", Variant: "prepayment",
		DeviceID:  "00-DB-00-00-00-00-E0-01",
		UserID:    "00-00-00-00-00-00-0A-01",
		ExecuteAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		Body: map[string]any{
			"tariff_name": "Standard", "standing_charge_pence": 25,
			"unit_rate_millipence": 24500, "tou_blocks": 1,
		},
	}
}

func TestDocumentedExampleCorrelates(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	b := documentedExample(t)
	if len(b) != 113 {
		t.Fatalf("the example has %d bytes, the page says 113", len(b))
	}
	if err := Correlate(sp, documentedRequest(), b); err != nil {
		t.Fatal(err)
	}
	r := documentedRequest()
	r.Body["unit_rate_millipence"] = 24501
	err = Correlate(sp, r, b)
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != CodeMismatch || len(ce.Mismatches) != 1 || ce.Mismatches[0].What != "body.unit_rate_millipence" {
		t.Fatalf("err %v", err)
	}
}

func TestReaderVarints(t *testing.T) {
	tests := []struct {
		in   []byte
		want uint64
		ok   bool
	}{
		{[]byte{0}, 0, true},
		{[]byte{0x7f}, 127, true},
		{[]byte{0x80, 0x01}, 128, true},
		{[]byte{0x80, 0x00}, 0, false},
		{[]byte{0x80}, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, true},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, false},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, false},
	}
	for _, tc := range tests {
		r := &reader{buf: tc.in}
		got := r.unsigned()
		if (r.err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%x: %d %v", tc.in, got, r.err)
		}
	}
	for _, n := range []int64{0, -1, 1, -64, 63, 1 << 62, -1 << 63} {
		u := uint64(n<<1) ^ uint64(n>>63)
		var b []byte
		for u >= 0x80 {
			b = append(b, byte(u)|0x80)
			u >>= 7
		}
		b = append(b, byte(u))
		r := &reader{buf: b}
		if got := r.signed(); got != n || r.err != nil {
			t.Errorf("zigzag %d: %d %v", n, got, r.err)
		}
	}
}
