package correlate_test

import (
	"bytes"
	"testing"

	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/precommand"
)

// FuzzCorrelate feeds arbitrary bytes to Correlate: it never panics, and
// it agrees with the Transform's own decoder, written apart. What
// precommand.Decode rejects, Correlate rejects; what it accepts as a
// Pre-Command of a spec row, Correlate accepts against the request that
// Pre-Command spells out.
func FuzzCorrelate(f *testing.F) {
	sp := testSpec(f)
	for _, k := range []string{"1.1/prepayment", "6.4", "6.6", "8.11", "4.8", "7.1", "11.3"} {
		svc := sp.ServiceByKey(k)
		f.Add(transform(f, svc, requestOf(svc)))
	}
	f.Add([]byte("DCPC\x01"))
	fixed := requestOf(sp.ServiceByKey("6.4"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := precommand.Decode(data)
		if err != nil || m.Signature != nil || m.MAC != nil {
			if cerr := correlate.Correlate(sp, fixed, data); cerr == nil {
				t.Fatalf("precommand rejects %x (%v); Correlate accepts it", data, err)
			}
			return
		}
		svc := sp.ServiceByKey(m.Service)
		if svc == nil {
			return
		}
		body, berr := m.Body(svc)
		if berr != nil {
			err := correlate.Correlate(sp, correlate.Request{RequestID: m.RequestID, Service: svc.Ref, Variant: svc.Variant, DeviceID: m.DeviceID, UserID: m.UserID, ExecuteAt: m.ExecuteAt}, data)
			if err == nil {
				t.Fatalf("precommand finds %x does not fit %s (%v); Correlate accepts it", data, svc.Key(), berr)
			}
			return
		}
		r := correlate.Request{RequestID: m.RequestID, Service: svc.Ref, Variant: svc.Variant, DeviceID: m.DeviceID, UserID: m.UserID, ExecuteAt: m.ExecuteAt, Body: body}
		if err := correlate.Correlate(sp, r, data); err != nil {
			t.Fatalf("%x: %v", data, err)
		}
		// And a transform of that request is the same bytes, or
		// another encoding of the same meaning that Correlate accepts too.
		again, err := precommand.Encode(svc, precommand.Command{RequestID: r.RequestID, DeviceID: r.DeviceID, UserID: r.UserID, ExecuteAt: r.ExecuteAt, Body: body})
		if err == nil && !bytes.Equal(again, data) {
			if err := correlate.Correlate(sp, r, again); err != nil {
				t.Fatalf("re-encoded %x: %v", again, err)
			}
		}
	})
}
