package client_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/pki"
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

// tariffRequest is a future dated 1.1 Update Import Tariff (prepayment) as
// the user sends it over the API.
func tariffRequest() *dccgatev1.ServiceRequest {
	return &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{
			RequestId: user + ":" + device + ":3", UserId: user, DeviceId: device,
			Category:  dccgatev1.Category_CATEGORY_FUTURE_DATED,
			ExecuteAt: timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)),
		},
		Body: &dccgatev1.ServiceRequest_UpdateImportTariffPrepayment{UpdateImportTariffPrepayment: &dccgatev1.UpdateImportTariffPrepayment{
			TariffName: "Standard", StandingChargePence: 25, UnitRateMillipence: 24500, TouBlocks: 1,
		}},
	}
}

// gatewayTransform is what the gateway does with the request: its own
// reading of the body, then the Transform; tamper changes the command first.
func gatewayTransform(t *testing.T, sp *spec.Spec, r client.Request, tamper func(c *precommand.Command)) []byte {
	t.Helper()
	body := map[string]any{}
	for k, v := range r.Body {
		body[k] = v
	}
	c := precommand.Command{RequestID: r.RequestID, DeviceID: r.DeviceID, UserID: r.UserID, ExecuteAt: r.ExecuteAt, Body: body}
	if tamper != nil {
		tamper(&c)
	}
	pc, err := precommand.Encode(sp.Service(r.Service, r.Variant), c)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func userKey(t *testing.T) (*ecdsa.PrivateKey, pki.Issued) {
	t.Helper()
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.IssueUser(user, "EIS")
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(iss.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return key, iss
}

func TestSignsWhatCorrelates(t *testing.T) {
	sp := testSpec(t)
	req, err := client.RequestFromProto(sp, tariffRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	pc := gatewayTransform(t, sp, req, nil)
	key, iss := userKey(t)
	sig, err := client.SignPreCommand(sp, req, pc, key)
	if err != nil {
		t.Fatal(err)
	}
	// The gateway's check (SubmitSigned) and the Transform's both accept it.
	cert, _ := pki.ParseCert(iss.CertPEM)
	if !pki.Verify(cert, pc, sig) || !precommand.VerifySignature(pc, sig, &key.PublicKey) {
		t.Fatal("the signature does not verify")
	}
	sub, err := client.SignedPreCommand(sp, req, pc, key)
	if err != nil || sub.GetRequestId() != req.RequestID || !bytes.Equal(sub.GetSignedPreCommand(), pc) || !pki.Verify(cert, pc, sub.GetSignature()) {
		t.Fatalf("SignedPreCommand: %v %v", sub, err)
	}
}

// A Pre-Command the gateway tampered with is caught before anything is
// signed.
func TestRefusesATamperedPreCommand(t *testing.T) {
	sp := testSpec(t)
	req, err := client.RequestFromProto(sp, tariffRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := userKey(t)
	tamperings := map[string]func(c *precommand.Command){
		"unit rate":      func(c *precommand.Command) { c.Body["unit_rate_millipence"] = int64(245000) },
		"other meter":    func(c *precommand.Command) { c.DeviceID = "00-DB-00-00-00-00-E0-99" },
		"run at once":    func(c *precommand.Command) { c.ExecuteAt = time.Time{} },
		"other sender":   func(c *precommand.Command) { c.UserID = "00-00-00-00-00-00-0A-02" },
		"replayed ID":    func(c *precommand.Command) { c.RequestID = user + ":" + device + ":2" },
		"renamed tariff": func(c *precommand.Command) { c.Body["tariff_name"] = "Standard " },
	}
	for note, tamper := range tamperings {
		t.Run(note, func(t *testing.T) {
			pc := gatewayTransform(t, sp, req, tamper)
			sig, err := client.SignPreCommand(sp, req, pc, key)
			if sig != nil || !errors.Is(err, &correlate.Error{Code: correlate.CodeMismatch}) {
				t.Fatalf("signed %x, err %v", sig, err)
			}
		})
	}
	// Another service's Pre-Command entirely: 1.1 credit, not prepayment.
	credit := sp.ServiceByKey("1.1/credit")
	pc, err := precommand.Encode(credit, precommand.Command{RequestID: req.RequestID, DeviceID: device, UserID: user, ExecuteAt: req.ExecuteAt, Body: req.Body})
	if err != nil {
		t.Fatal(err)
	}
	if sig, err := client.SignPreCommand(sp, req, pc, key); sig != nil || err == nil {
		t.Fatal("signed another service's Pre-Command")
	}
	// And a Pre-Command already signed or truncated.
	good := gatewayTransform(t, sp, req, nil)
	for _, b := range [][]byte{good[:len(good)-1], append(bytes.Clone(good), 'S', 1, 1)} {
		if sig, err := client.SignPreCommand(sp, req, b, key); sig != nil || !errors.Is(err, &correlate.Error{Code: correlate.CodeMalformed}) {
			t.Fatalf("signed %x: %v", b, err)
		}
	}
}

func TestKeyChecks(t *testing.T) {
	sp := testSpec(t)
	req, _ := client.RequestFromProto(sp, tariffRequest(), "")
	pc := gatewayTransform(t, sp, req, nil)
	if _, err := client.SignPreCommand(sp, req, pc, nil); err == nil {
		t.Fatal("no key")
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := client.SignPreCommand(sp, req, pc, k384); err == nil {
		t.Fatal("a P-384 key")
	}
}

func TestRequestFromProto(t *testing.T) {
	sp := testSpec(t)
	req, err := client.RequestFromProto(sp, tariffRequest(), "")
	if err != nil {
		t.Fatal(err)
	}
	want := client.Request{
		RequestID: user + ":" + device + ":3", Service: "1.1", Variant: "prepayment", DeviceID: device, UserID: user,
		ExecuteAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
		Body:      map[string]any{"tariff_name": "Standard", "standing_charge_pence": int64(25), "unit_rate_millipence": int64(24500), "tou_blocks": int64(1)},
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("\nhave %#v\nwant %#v", req, want)
	}
	// The ID the gateway assigned wins over an empty envelope's.
	in := tariffRequest()
	in.Envelope.RequestId = ""
	if req, _ := client.RequestFromProto(sp, in, "ID"); req.RequestID != "ID" {
		t.Fatalf("request ID %q", req.RequestID)
	}
	// Timestamps and lists, set and unset.
	prof := &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: device},
		Body: &dccgatev1.ServiceRequest_ReadProfileData{ReadProfileData: &dccgatev1.ReadProfileData{
			From: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		}},
	}
	req, err = client.RequestFromProto(sp, prof, "")
	if err != nil {
		t.Fatal(err)
	}
	if req.Body["from"] != "2026-01-01T00:00:00Z" || req.Body["to"] != "" || !req.ExecuteAt.IsZero() {
		t.Fatalf("body %v at %v", req.Body, req.ExecuteAt)
	}
	han := &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: device},
		Body:     &dccgatev1.ServiceRequest_UpdateHanDeviceLog{UpdateHanDeviceLog: &dccgatev1.UpdateHANDeviceLog{Add: []string{"x"}}},
	}
	req, _ = client.RequestFromProto(sp, han, "")
	if !reflect.DeepEqual(req.Body, map[string]any{"add": []string{"x"}, "remove": []string{}}) {
		t.Fatalf("body %#v", req.Body)
	}
	for _, bad := range []*dccgatev1.ServiceRequest{nil, {}, {Envelope: &dccgatev1.Envelope{}}} {
		if _, err := client.RequestFromProto(sp, bad, ""); err == nil {
			t.Fatalf("accepted %v", bad)
		}
	}
}
