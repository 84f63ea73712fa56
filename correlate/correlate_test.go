package correlate_test

// These tests take real Pre-Commands from the gateway's Transform (package
// precommand) and tamper with them. Only the tests import it: Correlate
// itself reads the format from docs/precommand.md on its own (para 157).

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/spec"
)

const (
	device = "00-DB-00-00-00-00-E0-01"
	user   = "00-00-00-00-00-00-0A-01"
)

func testSpec(t testing.TB) *spec.Spec {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// requestOf is a request of svc with every field at its spec example.
func requestOf(svc *spec.Service) correlate.Request {
	body := map[string]any{}
	for _, f := range svc.Fields {
		body[f.Name] = f.Example
	}
	return correlate.Request{
		RequestID: user + ":" + device + ":42",
		Service:   svc.Ref, Variant: svc.Variant,
		DeviceID: device, UserID: user,
		ExecuteAt: time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
		Body:      body,
	}
}

// transform is the gateway's side: the Pre-Command of r.
func transform(t testing.TB, svc *spec.Service, r correlate.Request) []byte {
	t.Helper()
	pc, err := precommand.Encode(svc, precommand.Command{
		RequestID: r.RequestID, Service: svc.Key(), DeviceID: r.DeviceID, UserID: r.UserID,
		ExecuteAt: r.ExecuteAt, Body: r.Body,
	})
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func clone(r correlate.Request) correlate.Request {
	body := make(map[string]any, len(r.Body))
	for k, v := range r.Body {
		body[k] = v
	}
	r.Body = body
	return r
}

func mustMismatch(t *testing.T, err error, what string) {
	t.Helper()
	var ce *correlate.Error
	if !errors.As(err, &ce) || ce.Code != correlate.CodeMismatch {
		t.Fatalf("want a mismatch of %s, have %v", what, err)
	}
	for _, m := range ce.Mismatches {
		if m.What == what {
			return
		}
	}
	t.Fatalf("want a mismatch of %s, have %v", what, err)
}

// Every device service's honest Pre-Command correlates with its request.
func TestHonestTransformCorrelates(t *testing.T) {
	sp := testSpec(t)
	for _, svc := range sp.Services {
		if !svc.DeviceService {
			continue
		}
		r := requestOf(svc)
		if err := correlate.Correlate(sp, r, transform(t, svc, r)); err != nil {
			t.Errorf("%s: %v", svc.Key(), err)
		}
		r.ExecuteAt = time.Time{}
		if err := correlate.Correlate(sp, r, transform(t, svc, r)); err != nil {
			t.Errorf("%s on demand: %v", svc.Key(), err)
		}
	}
}

// A Transform that changes any one thing is caught, naming what changed:
// the request ID, the service, the Device, the sender, the execution time,
// and each field of each critical service.
func TestEveryTamperingIsCaught(t *testing.T) {
	sp := testSpec(t)
	tariff := sp.ServiceByKey("1.1/prepayment")
	base := requestOf(tariff)
	tests := []struct {
		note   string
		svc    *spec.Service
		change func(r *correlate.Request)
		what   string
	}{
		{"request ID", tariff, func(r *correlate.Request) { r.RequestID += "1" }, "request_id"},
		{"device", tariff, func(r *correlate.Request) { r.DeviceID = "00-DB-00-00-00-00-E0-02" }, "device"},
		{"sender", tariff, func(r *correlate.Request) { r.UserID = "00-00-00-00-00-00-0A-02" }, "user"},
		{"execution time", tariff, func(r *correlate.Request) { r.ExecuteAt = r.ExecuteAt.Add(time.Second) }, "execute_at"},
		{"on demand made future dated", tariff, func(r *correlate.Request) {}, "execute_at"},
		{"service", sp.ServiceByKey("1.2/prepayment"), func(r *correlate.Request) {
			r.Variant = "prepayment"
			delete(r.Body, "tariff_name")
			delete(r.Body, "tou_blocks")
		}, "service"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			tampered := clone(base)
			tc.change(&tampered)
			if tc.svc.Key() != tariff.Key() {
				tampered.Service = tc.svc.Ref
			}
			pc := transform(t, tc.svc, tampered)
			req := base
			if tc.note == "on demand made future dated" {
				req = clone(base)
				req.ExecuteAt = time.Time{}
			}
			mustMismatch(t, correlate.Correlate(sp, req, pc), tc.what)
		})
	}
	// Each field of each critical service, changed alone.
	for _, svc := range sp.Services {
		if !svc.Critical || !svc.DeviceService {
			continue
		}
		for _, f := range svc.Fields {
			t.Run(svc.Key()+"."+f.Name, func(t *testing.T) {
				r := requestOf(svc)
				tampered := clone(r)
				tampered.Body[f.Name] = other(t, f)
				mustMismatch(t, correlate.Correlate(sp, r, transform(t, svc, tampered)), "body."+f.Name)
			})
		}
	}
}

// other is a value of f's type unlike its example.
func other(t *testing.T, f spec.Field) any {
	switch f.Type {
	case "string":
		return fmt.Sprint(f.Example) + "x"
	case "int64":
		switch n := f.Example.(type) {
		case float64:
			return int64(n) + 1
		case int64:
			return n + 1
		case int:
			return n + 1
		}
	case "double":
		switch n := f.Example.(type) {
		case float64:
			return n + 0.5
		case int64:
			return float64(n) + 0.5
		}
	case "bool":
		return !f.Example.(bool)
	case "timestamp":
		tm, _ := time.Parse(time.RFC3339, f.Example.(string))
		return tm.Add(time.Second).Format(time.RFC3339)
	case "strings":
		return []string{"00-DB-00-00-00-00-D0-09"}
	}
	t.Fatalf("no other value for %s (%s, %T)", f.Name, f.Type, f.Example)
	return nil
}

// Every single-bit change anywhere in the Pre-Command of every critical
// service is caught: as a mismatch, or as a message that does not read.
func TestEveryBitFlipIsCaught(t *testing.T) {
	sp := testSpec(t)
	for _, svc := range sp.Services {
		if !svc.Critical || !svc.DeviceService {
			continue
		}
		r := requestOf(svc)
		pc := transform(t, svc, r)
		for i := range pc {
			for bit := range 8 {
				b := bytes.Clone(pc)
				b[i] ^= 1 << bit
				if err := correlate.Correlate(sp, r, b); err == nil {
					t.Fatalf("%s: byte %d bit %d flipped: correlates", svc.Key(), i, bit)
				}
			}
		}
	}
}

// A truncated or extended Pre-Command does not read.
func TestTruncatedOrExtended(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("6.6")
	r := requestOf(svc)
	pc := transform(t, svc, r)
	malformed := &correlate.Error{Code: correlate.CodeMalformed}
	for n := range len(pc) {
		if err := correlate.Correlate(sp, r, pc[:n]); !errors.Is(err, malformed) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	signed, err := precommand.AppendSignature(pc, bytes.Repeat([]byte{1}, 70))
	if err != nil {
		t.Fatal(err)
	}
	withMAC, err := precommand.AddMAC(pc, bytes.Repeat([]byte{2}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for note, b := range map[string][]byte{
		"one byte more": append(bytes.Clone(pc), 0),
		"signed":        signed,
		"with a MAC":    withMAC,
		"twice":         append(bytes.Clone(pc), pc...),
	} {
		if err := correlate.Correlate(sp, r, b); !errors.Is(err, malformed) {
			t.Errorf("%s: %v", note, err)
		}
	}
}

// A Pre-Command with a field more or less than the spec's is caught, and
// so is a required field written unset or with another type.
func TestExtraMissingAndRetypedFields(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("6.4") // threshold_watts int64, reset_counter bool
	r := requestOf(svc)
	pc := transform(t, svc, r)
	// The field count is the byte before the first field; the two fields
	// are the last 2+2 bytes here (02 <zigzag 20000: 3 bytes>, 03 00).
	m, err := precommand.Decode(pc)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) != 2 || pc[len(pc)-2] != byte(precommand.Bool) {
		t.Fatalf("unexpected layout %x", pc)
	}
	countAt := len(pc) - 2 - 4 - 1
	if pc[countAt] != 2 {
		t.Fatalf("field count at %d is %d", countAt, pc[countAt])
	}
	extra := append(bytes.Clone(pc), byte(precommand.Int64), 2)
	extra[countAt] = 3
	mustMismatch(t, correlate.Correlate(sp, r, extra), "body[#3]")
	mustMismatch(t, correlate.Correlate(sp, r, extra), "field_count")

	missing := bytes.Clone(pc[:len(pc)-2])
	missing[countAt] = 1
	mustMismatch(t, correlate.Correlate(sp, r, missing), "body.reset_counter")

	unset := append(bytes.Clone(pc[:len(pc)-2]), byte(precommand.Unset))
	mustMismatch(t, correlate.Correlate(sp, r, unset), "body.reset_counter")

	retyped := append(bytes.Clone(pc[:len(pc)-2]), byte(precommand.Int64), 0)
	mustMismatch(t, correlate.Correlate(sp, r, retyped), "body.reset_counter")

	// A field in the request that the spec does not have cannot be in the
	// Pre-Command.
	r2 := clone(r)
	r2.Body["surprise"] = 1
	mustMismatch(t, correlate.Correlate(sp, r2, pc), "body.surprise")
}

// An optional field the request leaves out or at its zero value matches
// unset; one it sets does not.
func TestOptionalFields(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("8.11")
	r := requestOf(svc)
	r.Body = map[string]any{}
	pc := transform(t, svc, r)
	if err := correlate.Correlate(sp, r, pc); err != nil {
		t.Fatal(err)
	}
	r.Body = map[string]any{"add": []string{}, "remove": nil}
	if err := correlate.Correlate(sp, r, pc); err != nil {
		t.Fatal(err)
	}
	r.Body = map[string]any{"add": []any{"00-DB-00-00-00-00-D0-01"}}
	mustMismatch(t, correlate.Correlate(sp, r, pc), "body.add")
	// And the other way round: the gateway adds a device the user did not.
	withAdd := transform(t, svc, r)
	r.Body = map[string]any{}
	mustMismatch(t, correlate.Correlate(sp, r, withAdd), "body.add")
}

// A request Correlate cannot compare is an error of its own code.
func TestRequestErrors(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("7.1")
	r := requestOf(svc)
	pc := transform(t, svc, r)
	bad := &correlate.Error{Code: correlate.CodeRequest}
	for note, change := range map[string]func(r *correlate.Request){
		"unknown service": func(r *correlate.Request) { r.Service = "99.9" },
		"no request ID":   func(r *correlate.Request) { r.RequestID = "" },
		"bad device":      func(r *correlate.Request) { r.DeviceID = "meter" },
		"bad user":        func(r *correlate.Request) { r.UserID = "00-00" },
	} {
		r2 := clone(r)
		change(&r2)
		if err := correlate.Correlate(sp, r2, pc); !errors.Is(err, bad) {
			t.Errorf("%s: %v", note, err)
		}
	}
	six := sp.ServiceByKey("6.4")
	r6 := requestOf(six)
	r6.Body["threshold_watts"] = "lots"
	if err := correlate.Correlate(sp, r6, transform(t, six, requestOf(six))); !errors.Is(err, bad) {
		t.Errorf("wrong type: %v", err)
	}
	if err := correlate.Correlate(nil, r, pc); !errors.Is(err, bad) {
		t.Errorf("no spec: %v", err)
	}
}

// All mismatches are reported, and the message names them.
func TestReportsEveryMismatch(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("1.1/prepayment")
	r := requestOf(svc)
	tampered := clone(r)
	tampered.DeviceID = "00-DB-00-00-00-00-E0-09"
	tampered.Body["tariff_name"] = "Premium"
	tampered.Body["unit_rate_millipence"] = 99999
	err := correlate.Correlate(sp, r, transform(t, svc, tampered))
	var ce *correlate.Error
	if !errors.As(err, &ce) || len(ce.Mismatches) != 3 {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	for _, s := range []string{"device: request 00-DB-00-00-00-00-E0-01, Pre-Command 00-DB-00-00-00-00-E0-09", `body.tariff_name: request "Standard", Pre-Command "Premium"`, "body.unit_rate_millipence: request 24500, Pre-Command 99999"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
}

// Values the user's request may hold in several Go types compare by
// meaning: int, int64, float64, json-like; RFC 3339 strings in any offset.
func TestRequestValueTypes(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("4.8")
	r := requestOf(svc)
	pc := transform(t, svc, r)
	r.Body["from"] = "2026-01-01T01:00:00+01:00"
	r.Body["to"], _ = time.Parse(time.RFC3339, "2026-01-02T00:00:00Z")
	if err := correlate.Correlate(sp, r, pc); err != nil {
		t.Fatal(err)
	}
	six6 := sp.ServiceByKey("6.6")
	r6 := requestOf(six6)
	pc6 := transform(t, six6, r6)
	r6.Body["calorific_value"] = float32(39.5)
	if err := correlate.Correlate(sp, r6, pc6); err != nil {
		t.Fatal(err)
	}
}
