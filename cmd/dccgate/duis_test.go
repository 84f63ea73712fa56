package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/spec"
)

const duisRequest = `<?xml version="1.0" encoding="UTF-8"?>
<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" schemaVersion="5.4">
  <sr:Header>
    <sr:RequestID>90-B3-D5-1F-30-01-00-00:00-DB-12-34-56-78-90-A0:7</sr:RequestID>
    <sr:CommandVariant>1</sr:CommandVariant>
    <sr:ServiceReference>4.1</sr:ServiceReference>
    <sr:ServiceReferenceVariant>4.1.1</sr:ServiceReferenceVariant>
  </sr:Header>
  <sr:Body><sr:ReadInstantaneousImportRegisters/></sr:Body>
</sr:Request>
`

func TestDUISSignVerify(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("Z1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	issue := func(user string) (cert, key string) {
		t.Helper()
		args := []string{"duis", "cert"}
		if strings.HasSuffix(user, "02-00-00") {
			args = []string{"keys", "duis"} // the same command under dccgate keys
		}
		code, out, errs := runCmd(t, "", append(args, "--user", user, "--role", "02", "--ca-dir", dir, "--out", dir)...)
		if code != 0 {
			t.Fatalf("duis cert: %d %s", code, errs)
		}
		lines := strings.Fields(out)
		return lines[0], lines[1]
	}
	cert, key := issue("90-B3-D5-1F-30-01-00-00")
	otherCert, _ := issue("90-B3-D5-1F-30-02-00-00")
	in := filepath.Join(dir, "req.xml")
	if err := os.WriteFile(in, []byte(duisRequest), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(dir, "signed.xml")
	if code, _, errs := runCmd(t, "", "duis", "sign", in, "--key", key, "--cert", cert, "--out", signed); code != 0 {
		t.Fatalf("sign: %d %s", code, errs)
	}
	b, err := os.ReadFile(signed)
	if err != nil {
		t.Fatal(err)
	}
	// A document binding ds to another namespace is signed all the same
	// (the signature takes a free prefix), never written unsigned.
	clash := filepath.Join(dir, "clash.xml")
	if err := os.WriteFile(clash, []byte(strings.Replace(duisRequest, `schemaVersion=`, `xmlns:ds="urn:not-dsig" schemaVersion=`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	clashSigned := filepath.Join(dir, "clash.signed.xml")
	if code, _, errs := runCmd(t, "", "duis", "sign", clash, "--key", key, "--cert", cert, "--out", clashSigned); code != 0 {
		t.Fatalf("sign, ds bound to another namespace: %d %s", code, errs)
	}
	_, otherKey := issue("90-B3-D5-1F-30-03-00-00")
	tampered := filepath.Join(dir, "tampered.xml")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(b), ":7<", ":8<", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note string
		args []string
		code int
	}{
		{"valid", []string{"duis", "verify", signed, "--cert", cert}, 0},
		{"flags first", []string{"duis", "verify", "--cert", cert, signed}, 0},
		{"tampered", []string{"duis", "verify", tampered, "--cert", cert}, 10},
		{"another certificate", []string{"duis", "verify", signed, "--cert", otherCert}, 10},
		{"unsigned", []string{"duis", "verify", in, "--cert", cert}, 10},
		{"ds bound to another namespace, signed", []string{"duis", "verify", clashSigned, "--cert", cert}, 0},
		{"signing with a key not the certificate's", []string{"duis", "sign", in, "--key", otherKey, "--cert", cert}, 1},
		{"no certificate", []string{"duis", "verify", signed}, 2},
		{"no file", []string{"duis", "sign", "--key", key, "--cert", cert}, 2},
		{"unknown subcommand", []string{"duis", "frobnicate"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if code, out, errs := runCmd(t, "", tc.args...); code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errs)
			}
		})
	}
}

func TestDUISSRVs(t *testing.T) {
	code, out, errs := runCmd(t, "", "duis", "srvs")
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	golden := filepath.Join("testdata", "duis-srvs.golden")
	if os.Getenv("DCCGATE_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (regenerate with DCCGATE_UPDATE_GOLDEN=1)", err)
	}
	if out != string(want) {
		t.Fatalf("dccgate duis srvs differs from %s (regenerate with DCCGATE_UPDATE_GOLDEN=1):\n%s", golden, out)
	}
}

// TestDUISPreCommand: duis precommand signs the Pre-Command of an answer
// only if the gateway signed that answer (its certificate given, or found
// beside the key as in the gateway's pki directory), and says what a
// refusal was rather than that it is not an sr:Response.
func TestDUISPreCommand(t *testing.T) {
	sp := spec.MustDefault()
	dir := t.TempDir()
	ca, err := pki.NewCA("Z1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	// As `dccgate serve` lays them out: PKI/users/ID-key.pem, PKI/duis/gateway.pem.
	for _, d := range []string{"users", "duis", "other"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	issue := func(user, out, name string) (cert, key string) {
		t.Helper()
		code, _, errs := runCmd(t, "", "duis", "cert", "--user", user, "--role", "02", "--ca-dir", dir, "--out", filepath.Join(dir, out))
		if code != 0 {
			t.Fatalf("duis cert: %d %s", code, errs)
		}
		cert, key = filepath.Join(dir, out, name+".pem"), filepath.Join(dir, out, name+"-key.pem")
		for from, to := range map[string]string{filepath.Join(dir, out, user+"-duis.pem"): cert, filepath.Join(dir, out, user+"-duis-key.pem"): key} {
			if err := os.Rename(from, to); err != nil {
				t.Fatal(err)
			}
		}
		return cert, key
	}
	const user, device = "90-B3-D5-1F-30-01-00-00", "00-DB-12-34-56-78-90-A0"
	gwCert, gwKey := issue("90-B3-D5-1F-30-00-00-02", "duis", "gateway")
	_, userKey := issue(user, "users", user)
	otherCert, otherKey := issue("90-B3-D5-1F-30-00-00-02", "other", "gateway")

	enable := strings.NewReplacer(":7<", ":1001<", "<sr:CommandVariant>1<", "<sr:CommandVariant>4<", ">4.1<", ">7.1<", ">4.1.1<", ">7.1<",
		"<sr:ReadInstantaneousImportRegisters/>", "<sr:EnableSupply/>").Replace(duisRequest)
	reqPath := filepath.Join(dir, "enable.xml")
	if err := os.WriteFile(reqPath, []byte(enable), 0o644); err != nil {
		t.Fatal(err)
	}
	reqDoc, err := duis.Parse([]byte(enable), duis.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	req, err := duis.DecodeRequest(reqDoc, sp)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := precommand.Encode(req.SRV.Service, precommand.Command{RequestID: req.RequestID, DeviceID: device, UserID: user, Body: req.Fields})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	answer := func(code, certPath, keyPath string) string {
		t.Helper()
		r := duis.Response{Namespace: sp.DUIS.Namespace, SchemaVersion: "5.4", RequestID: req.RequestID, Code: code, At: at, SRV: "7.1", Ref: "7.1"}
		if code == "I0" {
			r.PreCommand = pc
		}
		doc, err := r.Document()
		if err != nil {
			t.Fatal(err)
		}
		if certPath == "" {
			return string(duis.Serialize(doc))
		}
		c, err := readDUISCert(certPath)
		if err != nil {
			t.Fatal(err)
		}
		k, err := readKey(keyPath)
		if err != nil {
			t.Fatal(err)
		}
		b, err := duis.Sign(doc, k, c.IssuerSerial())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	signed := answer("I0", gwCert, gwKey)
	tests := []struct {
		note, response string
		args           []string
		code           int
		stdout, stderr string // substrings
	}{
		{"signed by the gateway", signed, []string{"--cert", gwCert}, 0, "<sr:CommandVariant>5</sr:CommandVariant>", ""},
		{"the gateway's certificate found beside the key", signed, nil, 0, "<sr:CommandVariant>5</sr:CommandVariant>", ""},
		{"CV 6, which the gateway accepts", signed, []string{"--variant", "6"}, 0, "<sr:CommandVariant>6</sr:CommandVariant>", ""},
		{"a variant no Signed Pre-Command has", signed, []string{"--variant", "8"}, 2, "", "CV 5, 6 or 7"},
		{"unsigned", answer("I0", "", ""), nil, 10, "", "not signed"},
		{"the signature removed", strings.Replace(signed, signed[strings.Index(signed, "<ds:Signature"):strings.Index(signed, "</ds:Signature>")+len("</ds:Signature>")], "", 1), nil, 10, "", "not signed"},
		{"tampered", strings.Replace(signed, "2026-01-05T09", "2026-01-06T09", 1), nil, 10, "", "digest"},
		{"signed by another certificate", answer("I0", otherCert, otherKey), nil, 10, "", "not the gateway's"},
		{"another certificate given", signed, []string{"--cert", otherCert}, 10, "", "not the gateway's"},
		{"the gateway's refusal document", `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<dg:Refusal xmlns:dg="urn:dccgate:duis:1" reason="REPLAY" code="refused" clause="para 133">counter 1001 is not above the last one accepted, 1001</dg:Refusal>`, nil, 10, "", "refused the request (an HTTP 4xx, not a Pre-Command): REPLAY (refused, para 133): counter 1001"},
		{"an HTTP error's text", "POST an sr:Request\n", nil, 10, "", `HTTP error's text?): "POST an sr:Request"`},
		{"a response refusing the request", answer("E12", gwCert, gwKey), nil, 10, "", "answered E12"},
	}
	for i, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			resp := filepath.Join(dir, fmt.Sprintf("resp%d.xml", i))
			if err := os.WriteFile(resp, []byte(tc.response), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runCmd(t, "", append([]string{"duis", "precommand", reqPath, "--response", resp, "--key", userKey}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)\n%s%s", code, tc.code, tc.stdout, tc.stderr, out, errs)
			}
			if strings.Contains(errs, "is not sr:Response") {
				t.Fatalf("a refusal said as a wrong root: %s", errs)
			}
		})
	}
}
