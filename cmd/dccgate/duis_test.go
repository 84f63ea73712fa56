package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/pki"
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
