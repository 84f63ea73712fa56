package precommand

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

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

// exampleBody is a body of every field of svc at its spec example.
func exampleBody(svc *spec.Service) map[string]any {
	body := map[string]any{}
	for _, f := range svc.Fields {
		body[f.Name] = f.Example
	}
	return body
}

func exampleCommand(svc *spec.Service) Command {
	return Command{
		RequestID: user + ":" + device + ":7",
		Service:   svc.Key(),
		DeviceID:  device,
		UserID:    user,
		Body:      exampleBody(svc),
	}
}

// want is the body as Message.Body returns it for exampleBody.
func want(t *testing.T, svc *spec.Service) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range svc.Fields {
		switch f.Type {
		case "int64":
			n, err := toInt64(f.Example)
			if err != nil {
				t.Fatalf("%s.%s: %v", svc.Key(), f.Name, err)
			}
			out[f.Name] = n
		case "double":
			n, err := toFloat64(f.Example)
			if err != nil {
				t.Fatalf("%s.%s: %v", svc.Key(), f.Name, err)
			}
			out[f.Name] = n
		case "strings":
			l := []any{}
			switch x := f.Example.(type) {
			case []any:
				l = append(l, x...)
			case []string:
				for _, s := range x {
					l = append(l, s)
				}
			}
			out[f.Name] = l
		case "timestamp":
			if f.Example == "" { // an optional time left out
				out[f.Name] = ""
				break
			}
			tm, err := time.Parse(time.RFC3339Nano, f.Example.(string))
			if err != nil {
				t.Fatal(err)
			}
			out[f.Name] = tm.UTC().Format(time.RFC3339Nano)
		default:
			out[f.Name] = f.Example
		}
	}
	return out
}

// Every device service of the spec encodes from its examples and decodes
// back to the same body.
func TestRoundTripEveryService(t *testing.T) {
	sp := testSpec(t)
	n := 0
	for _, svc := range sp.Services {
		if !svc.DeviceService {
			continue
		}
		n++
		t.Run(svc.Key(), func(t *testing.T) {
			cmd := exampleCommand(svc)
			cmd.ExecuteAt = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
			b, err := Encode(svc, cmd)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.RequestID != cmd.RequestID || m.Service != svc.Key() || m.DeviceID != device || m.UserID != user || !m.ExecuteAt.Equal(cmd.ExecuteAt) {
				t.Fatalf("header %+v", m)
			}
			if m.Signature != nil || m.MAC != nil || !bytes.Equal(m.PreCommand, b) {
				t.Fatalf("trailers on a bare Pre-Command")
			}
			body, err := m.Body(svc)
			if err != nil {
				t.Fatal(err)
			}
			if w := want(t, svc); !reflect.DeepEqual(body, w) {
				t.Fatalf("body\n have %#v\n want %#v", body, w)
			}
			if again := marshal(m); !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
	if n < 50 {
		t.Fatalf("only %d device services", n)
	}
}

// The worked example of docs/precommand.md is what Encode writes.
func TestDocumentedExample(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("1.1/prepayment")
	b, err := Encode(svc, Command{
		RequestID: user + ":" + device + ":7",
		DeviceID:  device,
		UserID:    user,
		ExecuteAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC),
		Body: map[string]any{
			"tariff_name": "Standard", "standing_charge_pence": int64(25),
			"unit_rate_millipence": json.Number("24500"), "tou_blocks": 1.0,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/precommand.md")
	if err != nil {
		t.Fatal(err)
	}
	got := hex.EncodeToString(b)
	wantHex := documentedHex(t, string(doc))
	if got != wantHex {
		t.Fatalf("docs/precommand.md's example\n doc %s\n now %s", wantHex, got)
	}
}

// documentedHex collects the hex bytes of the example block of the doc,
// between the "example:begin" and "example:end" markers.
func documentedHex(t *testing.T, doc string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- example:begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- example:end -->")
	if !ok || !ok2 {
		t.Fatal("no example block in docs/precommand.md")
	}
	var sb strings.Builder
	byteRe := regexp.MustCompile(`^[0-9a-f]{2}$`)
	for _, line := range strings.Split(block, "\n") {
		// Lines are "    OFFSET  HEX HEX ...  ; comment".
		line, _, _ = strings.Cut(line, ";")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, f := range fields[1:] {
			if byteRe.MatchString(f) {
				sb.WriteString(f)
			}
		}
	}
	return sb.String()
}

func marshal(m *Message) []byte {
	b := m.append(nil)
	if m.Signature != nil {
		b = appendSignature(b, m.Signature)
	}
	if m.MAC != nil {
		b = append(append(b, TagMAC), m.MAC...)
	}
	return b
}

func TestEncodeErrors(t *testing.T) {
	sp := testSpec(t)
	prep := sp.ServiceByKey("1.1/prepayment")
	han := sp.ServiceByKey("8.11")
	good := exampleCommand(prep)
	tests := []struct {
		note   string
		svc    *spec.Service
		change func(c *Command)
		want   string
	}{
		{"no service", nil, func(*Command) {}, "no service"},
		{"other service", prep, func(c *Command) { c.Service = "1.2/prepayment" }, "names service"},
		{"bad device", prep, func(c *Command) { c.DeviceID = "00-DB" }, "device"},
		{"bad user", prep, func(c *Command) { c.UserID = "00-00-00-00-00-00-0A-0G" }, "user"},
		{"no request ID", prep, func(c *Command) { c.RequestID = "" }, "no request ID"},
		{"long request ID", prep, func(c *Command) { c.RequestID = strings.Repeat("x", 256) }, "longer"},
		{"missing required", prep, func(c *Command) { delete(c.Body, "unit_rate_millipence") }, "unit_rate_millipence is required"},
		{"nil required", prep, func(c *Command) { c.Body["unit_rate_millipence"] = nil }, "unit_rate_millipence is required"},
		{"unknown field", prep, func(c *Command) { c.Body["extra"] = "x" }, `"extra" is not a field`},
		{"string for int", prep, func(c *Command) { c.Body["tou_blocks"] = "1" }, "tou_blocks"},
		{"fraction for int", prep, func(c *Command) { c.Body["tou_blocks"] = 1.5 }, "tou_blocks"},
		{"int for string", prep, func(c *Command) { c.Body["tariff_name"] = 1 }, "tariff_name"},
		{"bad UTF-8", prep, func(c *Command) { c.Body["tariff_name"] = "\xff" }, "UTF-8"},
		{"execute at epoch", prep, func(c *Command) { c.ExecuteAt = time.Unix(0, 0) }, "out of range"},
		{"list of ints", han, func(c *Command) { c.Service = ""; c.Body = map[string]any{"add": []any{1}} }, "entry 0"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			c := good
			c.Body = exampleBody(prep)
			tc.change(&c)
			_, err := Encode(tc.svc, c)
			if err == nil || !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Optional fields at their zero value are written as unset, so proto3's
// "unset" and "zero" have one encoding.
func TestOptionalZeroIsUnset(t *testing.T) {
	sp := testSpec(t)
	han := sp.ServiceByKey("8.11")
	cmd := Command{RequestID: "r", DeviceID: device, UserID: user}
	a, err := Encode(han, cmd)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Body = map[string]any{"add": []string{}, "remove": []any{}}
	b, err := Encode(han, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("missing and empty optional lists encode differently")
	}
	m, _ := Decode(a)
	if m.Fields[0].Type != Unset || m.Fields[1].Type != Unset {
		t.Fatalf("fields %+v", m.Fields)
	}
	body, err := m.Body(han)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(body, map[string]any{"add": []any{}, "remove": []any{}}) {
		t.Fatalf("body %#v", body)
	}
	// A required field at its zero value is written with its type.
	six4 := sp.ServiceByKey("6.4")
	c2 := Command{RequestID: "r", DeviceID: device, UserID: user, Body: map[string]any{"threshold_watts": 0, "reset_counter": false}}
	pc, err := Encode(six4, c2)
	if err != nil {
		t.Fatal(err)
	}
	m, _ = Decode(pc)
	if m.Fields[0].Type != Int64 || m.Fields[1].Type != Bool {
		t.Fatalf("fields %+v", m.Fields)
	}
}

func TestParseBodyKeepsInt64(t *testing.T) {
	body, err := ParseBody([]byte(`{"debt_pence": 9007199254740993, "recovery_rate_pence_per_day": 50}`))
	if err != nil {
		t.Fatal(err)
	}
	svc := testSpec(t).ServiceByKey("2.3")
	b, err := Encode(svc, Command{RequestID: "r", DeviceID: device, UserID: user, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Decode(b)
	if m.Fields[0].Int != 9007199254740993 {
		t.Fatalf("int64 lost precision: %d", m.Fields[0].Int)
	}
	if _, err := ParseBody([]byte(`{} {}`)); err == nil {
		t.Fatal("two objects accepted")
	}
	if body, err := ParseBody(nil); err != nil || len(body) != 0 {
		t.Fatalf("empty body: %v %v", body, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("6.6") // two doubles
	pc, err := Encode(svc, exampleCommand(svc))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := Decode(pc)
	fieldsAt := len(m.PreCommand) - 2*9 // two double fields: tag and 8 bytes each
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), pc...)) }
	tests := []struct {
		note string
		b    []byte
	}{
		{"empty", nil},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version 2", mutate(func(b []byte) []byte { b[4] = 2; return b })},
		{"negative time", mutate(func(b []byte) []byte { b[21] = 0x80; return b })},
		{"unknown tag", mutate(func(b []byte) []byte { b[fieldsAt] = 0x07; return b })},
		{"NaN", mutate(func(b []byte) []byte {
			copy(b[fieldsAt+1:], []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
			return b
		})},
		{"trailing byte", mutate(func(b []byte) []byte { return append(b, 0) })},
		{"empty signature", mutate(func(b []byte) []byte { return append(b, TagSignature, 0) })},
		{"short MAC", mutate(func(b []byte) []byte { return append(b, TagMAC, 1, 2) })},
		{"MAC then signature", mutate(func(b []byte) []byte {
			b = append(b, TagMAC)
			b = append(b, make([]byte, MACLen)...)
			return append(b, TagSignature, 1, 1)
		})},
		// The field count (2) written as a non-minimal varint.
		{"non-minimal varint", mutate(func(b []byte) []byte {
			i := fieldsAt - 1
			return append(b[:i:i], append([]byte{0x82, 0x00}, b[i+1:]...)...)
		})},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if _, err := Decode(tc.b); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v", err)
			}
		})
	}
	for i := range len(pc) {
		if _, err := Decode(pc[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", i)
		}
	}
}

func TestBodyChecksSpec(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("6.4")
	pc, _ := Encode(svc, exampleCommand(svc))
	m, _ := Decode(pc)
	if _, err := m.Body(sp.ServiceByKey("6.6")); err == nil {
		t.Fatal("body of another service accepted")
	}
	m.Fields[1] = Value{Type: Int64}
	if _, err := m.Body(svc); err == nil {
		t.Fatal("wrong type accepted")
	}
	m.Fields[1] = Value{Type: Unset}
	if _, err := m.Body(svc); err == nil {
		t.Fatal("unset required field accepted")
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("7.1")
	pc, err := Encode(svc, exampleCommand(svc))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	signed, err := Sign(pc, key)
	if err != nil {
		t.Fatal(err)
	}
	got, sig, err := SplitSigned(signed)
	if err != nil || !bytes.Equal(got, pc) {
		t.Fatalf("split: %v", err)
	}
	again, err := AppendSignature(pc, sig)
	if err != nil || !bytes.Equal(again, signed) {
		t.Fatalf("append: %v", err)
	}
	if p, err := Verify(signed, &key.PublicKey); err != nil || !bytes.Equal(p, pc) {
		t.Fatalf("verify: %v", err)
	}
	if _, err := Verify(signed, &newKey(t).PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	tampered := append([]byte(nil), signed...)
	tampered[HeaderLen-1]++ // the execution time
	if _, err := Verify(tampered, &key.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := Sign(signed, key); err == nil {
		t.Fatal("signed a Signed Pre-Command")
	}
	if _, _, err := SplitSigned(pc); err == nil {
		t.Fatal("split an unsigned Pre-Command")
	}
	if _, err := Verify(pc, &key.PublicKey); err == nil {
		t.Fatal("verified an unsigned Pre-Command")
	}
}

func TestMAC(t *testing.T) {
	sp := testSpec(t)
	svc := sp.ServiceByKey("7.1")
	pc, _ := Encode(svc, exampleCommand(svc))
	key := newKey(t)
	signed, _ := Sign(pc, key)
	master := bytes.Repeat([]byte{7}, 32)
	dk, err := DeviceKey(master, device)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := DeviceKey(master, "00-DB-00-00-00-00-E0-02")
	if bytes.Equal(dk, other) {
		t.Fatal("two devices share a key")
	}
	for _, msg := range [][]byte{pc, signed} {
		cmd, err := AddMAC(msg, dk)
		if err != nil {
			t.Fatal(err)
		}
		got, err := CheckMAC(cmd, dk)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("check: %v", err)
		}
		// OpenMAC's Message is Decode's of the message the MAC covers,
		// with the MAC's two fields set.
		opened, err := OpenMAC(cmd, dk)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		want, err := Decode(msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(opened.Authenticated, msg) || len(opened.MAC) != MACLen {
			t.Fatalf("open: covers %x with a %d-byte MAC", opened.Authenticated, len(opened.MAC))
		}
		want.Authenticated, want.MAC = opened.Authenticated, opened.MAC
		if !reflect.DeepEqual(opened, want) {
			t.Fatalf("open: %+v, want %+v", opened, want)
		}
		if _, err := OpenMAC(cmd, other); !errors.Is(err, ErrMAC) {
			t.Fatalf("open under the other device's key: %v", err)
		}
		if _, err := CheckMAC(cmd, other); !errors.Is(err, ErrMAC) {
			t.Fatalf("other device's key: %v", err)
		}
		for i := range len(msg) {
			bad := append([]byte(nil), cmd...)
			bad[i] ^= 1
			if _, err := CheckMAC(bad, dk); err == nil {
				t.Fatalf("byte %d flipped: accepted", i)
			}
		}
		if _, err := AddMAC(cmd, dk); err == nil {
			t.Fatal("a second MAC")
		}
		if _, err := CheckMAC(msg, dk); err == nil {
			t.Fatal("no MAC accepted")
		}
	}
	// The signature still verifies on the Command made from the Signed
	// Pre-Command.
	cmd, _ := AddMAC(signed, dk)
	if _, err := Verify(cmd, &key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if _, err := DeviceKey([]byte("short"), device); err == nil {
		t.Fatal("short master key")
	}
}

func TestTypeNames(t *testing.T) {
	for _, name := range []string{"string", "int64", "bool", "double", "strings", "timestamp"} {
		ty, ok := TypeOf(name)
		if !ok || ty.String() != name {
			t.Fatalf("%s: %v %v", name, ty, ok)
		}
	}
	if _, ok := TypeOf("float"); ok {
		t.Fatal("float")
	}
	if Type(9).String() != "type(0x09)" || Unset.String() != "unset" {
		t.Fatal("names")
	}
	if _, err := toFloat64(math.Inf(1)); err != nil {
		t.Fatal(err)
	}
}

// The signature is the one pki.Sign makes and pki.Verify checks, so the
// gateway's SubmitSigned verifies it as it stands.
func TestSignatureIsPKIs(t *testing.T) {
	svc := testSpec(t).ServiceByKey("7.1")
	pc, _ := Encode(svc, exampleCommand(svc))
	ca, err := pki.NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.IssueUser(user, "EIS")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.ParseKey(iss.KeyPEM)
	cert, _ := pki.ParseCert(iss.CertPEM)
	signed, err := Sign(pc, key)
	if err != nil {
		t.Fatal(err)
	}
	p, sig, _ := SplitSigned(signed)
	if !pki.Verify(cert, p, sig) {
		t.Fatal("pki.Verify refuses precommand.Sign's signature")
	}
	s2, _ := pki.Sign(key, pc)
	if !VerifySignature(pc, s2, &key.PublicKey) {
		t.Fatal("VerifySignature refuses pki.Sign's signature")
	}
}
