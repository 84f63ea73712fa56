package engine

import (
	"testing"
)

// FuzzDecide feeds arbitrary JSON to the decoder and, where it decodes, to
// both the fast path and the reference policy: neither may panic, and they
// must agree.
func FuzzDecide(f *testing.F) {
	f.Add([]byte(`{"request":{"service":"4.1","user_id":"00-00-00-00-00-00-0A-01","device_id":"00-DB-00-00-00-00-E0-01","body":{"register":"total"}},"facts":{"now":"2026-01-05T09:00:00Z","user":{"known":true,"role":"EIS"},"device":{"known":true,"type":"ESME","status":"commissioned"},"registration":[{"mpxn":"1900000000011","fuel":"electricity","import_supplier":"00-00-00-00-00-00-0A-01"}]}}`))
	f.Add([]byte(`{"request":{"service":"5.1","user_id":"00-00-00-00-00-00-0A-01","device_id":"00-DB-00-00-00-00-E0-01","schedule":{"service":"4.8","every":"24h"}},"facts":{"user":{"known":true,"role":"EIS"},"device":{"known":true,"type":"ESME","status":"commissioned"}}}`))
	f.Add([]byte(`{"request":{"service":"8.11","user_id":"00-00-00-00-00-00-0A-01","device_id":"00-DB-00-00-00-00-C0-01","body":{"add":["x",1,null]}},"facts":{"user":{"known":true,"role":"EIS"},"device":{"known":true,"type":"CHF","status":"commissioned"}}}`))
	f.Add([]byte(`{"request":{"service":"2.2","variant":"x","category":"future_dated","execute_at":"2026-01-05T09:00:00Z","body":{"amount_pence":1e300,"utrn":{}}},"facts":{}}`))
	f.Add([]byte(`{"request":{"service":"8.11","user_id":"00-00-00-00-00-00-0A-01","device_id":"00-DB-00-00-00-00-C0-01","body":{"add":["00-DB-00-00-00-00-E0-01"]}},"facts":{"user":{"known":true,"role":"EIS"},"device":{"known":true,"type":"CHF","status":"commissioned","unbound":true}}}`))
	f.Add([]byte(`{"request":{"service":"8.11","user_id":"00-00-00-00-00-00-0A-03","device_id":"00-DB-00-00-00-00-C0-01","body":{"add":["00-DB-00-00-00-00-6A-01"]}},"facts":{"user":{"known":true,"role":"GIS"},"device":{"known":true,"type":"CHF","status":"commissioned"},"registration":[{"mpxn":"1900000000011","fuel":"electricity","import_supplier":"00-00-00-00-00-00-0A-01","postcode":"LS1 1AA","premises":"7"}],"listed":{"00-DB-00-00-00-00-6A-01":{"type":"GSME","status":"pending","registration":[{"mpxn":"7000000011","fuel":"gas","import_supplier":"00-00-00-00-00-00-0A-03","postcode":"LS1 1AA","premises":"7"}]}}}}`))
	f.Add([]byte(`{"request":{"service":"8.11","user_id":"00-00-00-00-00-00-0A-03","device_id":"00-DB-00-00-00-00-C0-01","body":{"add":"00-DB-00-00-00-00-6A-01","remove":{"a":"00-DB-00-00-00-00-6A-01"}}},"facts":{"user":{"known":true,"role":"GIS"},"device":{"known":true,"type":"CHF","status":"commissioned"},"listed":{"00-DB-00-00-00-00-6A-01":{}}}}`))
	f.Add([]byte(`{"request":{"service":"4.1","user_id":"00-00-00-00-00-00-0A-01","device_id":"00-DB-00-00-00-00-E0-01"},"facts":{"user":{"known":true,"role":"EIS"},"device":{"known":true,"type":"ESME","status":"commissioned","no_hub":true}}}`))
	f.Add([]byte(`{}`))
	e := testEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, facts, err := DecodeInput(data)
		if err != nil {
			return
		}
		fast := e.Decide(t.Context(), req, facts)
		ref, err := e.DecideReference(t.Context(), req, facts)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		if fast.Outcome != ref.Outcome || fast.Reason != ref.Reason {
			t.Fatalf("fast %s %s (%s), reference %s %s (%s)", fast.Outcome, fast.Reason, fast.Detail, ref.Outcome, ref.Reason, ref.Detail)
		}
	})
}
