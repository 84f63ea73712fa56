package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/spec"
)

const (
	keysUser   = "00-00-00-00-00-00-0A-09"
	keysDevice = "00-DB-00-00-00-00-E0-01"
)

func TestKeysNew(t *testing.T) {
	ca, out := t.TempDir(), t.TempDir()
	code, stdout, stderr := runCmd(t, "", "keys", "new", "--user", keysUser, "--role", "EIS", "--ca-dir", ca, "--out", out)
	if code != exitOK {
		t.Fatalf("%d %s", code, stderr)
	}
	if strings.Contains(stdout+stderr, "PRIVATE KEY") {
		t.Fatal("the key was printed")
	}
	certPath, keyPath := filepath.Join(out, keysUser+".pem"), filepath.Join(out, keysUser+"-key.pem")
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
	certPEM, _ := os.ReadFile(certPath)
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := pki.UserID(cert); err != nil || id != keysUser || cert.Subject.OrganizationalUnit[0] != "EIS" {
		t.Fatalf("subject %v", cert.Subject)
	}
	caCA, err := pki.LoadCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(caCA.Cert); err != nil {
		t.Fatalf("not signed by the CA: %v", err)
	}

	// No overwriting by accident; --force replaces, and the key stays 0600.
	if code, _, stderr := runCmd(t, "", "keys", "new", "--user", keysUser, "--role", "EIS", "--ca-dir", ca, "--out", out); code != exitFail || !strings.Contains(stderr, "exists") {
		t.Fatalf("overwrote: %d %s", code, stderr)
	}
	if err := os.Chmod(keyPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCmd(t, "", "keys", "new", "--user", keysUser, "--role", "EIS", "--ca-dir", ca, "--out", out, "--force"); code != exitOK {
		t.Fatalf("--force: %d %s", code, stderr)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Fatalf("replaced key mode %v", fi.Mode().Perm())
	}

	for _, bad := range [][]string{
		{"keys", "new", "--user", keysUser, "--role", "XYZ", "--ca-dir", ca, "--out", t.TempDir()},
		{"keys", "new", "--role", "EIS"},
		{"keys"},
		{"keys", "rotate"},
	} {
		if code, _, _ := runCmd(t, "", bad...); code != exitUsage {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
	if code, _, _ := runCmd(t, "", "keys", "new", "--user", "not-an-id", "--role", "EIS", "--ca-dir", ca, "--out", t.TempDir()); code != exitFail {
		t.Errorf("bad user ID: exit %d", code)
	}
}

// The critical round trip by hand: the request a person sent with curl, the
// Pre-Command the gateway answered, `keys sign`, and the signature verifies
// against the user's certificate; a tampered Pre-Command is not signed.
func TestKeysSign(t *testing.T) {
	ca, out := t.TempDir(), t.TempDir()
	if code, _, stderr := runCmd(t, "", "keys", "new", "--user", keysUser, "--role", "EIS", "--ca-dir", ca, "--out", out); code != exitOK {
		t.Fatal(stderr)
	}
	keyPath := filepath.Join(out, keysUser+"-key.pem")
	certPEM, _ := os.ReadFile(filepath.Join(out, keysUser+".pem"))
	cert, _ := pki.ParseCert(certPEM)

	dir := t.TempDir()
	reqPath := filepath.Join(dir, "request.json")
	// As in the README: the body of Submit, with no request ID.
	reqJSON := `{"request":{"envelope":{"userId":"` + keysUser + `","deviceId":"` + keysDevice + `",
	  "category":"CATEGORY_FUTURE_DATED","executeAt":"2026-02-01T00:00:00Z"},
	  "updateImportTariffPrepayment":{"tariffName":"Standard","standingChargePence":"25","unitRateMillipence":"24500","touBlocks":"1"}}}`
	if err := os.WriteFile(reqPath, []byte(reqJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	id := keysUser + ":" + keysDevice + ":1"
	body := map[string]any{"tariff_name": "Standard", "standing_charge_pence": 25, "unit_rate_millipence": 24500, "tou_blocks": 1}
	transform := func(b map[string]any) []byte {
		pc, err := precommand.Encode(spec.MustDefault().ServiceByKey("1.1/prepayment"), precommand.Command{
			RequestID: id, DeviceID: keysDevice, UserID: keysUser, ExecuteAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Body: b,
		})
		if err != nil {
			t.Fatal(err)
		}
		return pc
	}
	pc := transform(body)
	// The gateway's answer to GetRequest, saved by curl.
	state, _ := json.Marshal(map[string]any{"requestId": id, "state": "awaiting_signature", "preCommand": base64.StdEncoding.EncodeToString(pc)})
	statePath := filepath.Join(dir, "state.json")
	if err := os.WriteFile(statePath, state, 0o644); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCmd(t, "", "keys", "sign", "--key", keyPath, "--request-json", reqPath, "--pre-command", statePath)
	if code != exitOK {
		t.Fatalf("%d %s", code, stderr)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(stdout))
	if err != nil || !pki.Verify(cert, pc, sig) {
		t.Fatalf("signature %q does not verify: %v", stdout, err)
	}

	// Base64 on the command line, --request-id, --json, the request on stdin.
	code, stdout, stderr = runCmd(t, reqJSON, "keys", "sign", "--key", keyPath, "--request-json", "-",
		"--pre-command", base64.StdEncoding.EncodeToString(pc), "--request-id", id, "--json")
	if code != exitOK {
		t.Fatalf("%d %s", code, stderr)
	}
	var sub struct{ RequestID, SignedPreCommand, Signature string }
	if err := json.Unmarshal([]byte(stdout), &sub); err != nil {
		t.Fatal(err)
	}
	sig, _ = base64.StdEncoding.DecodeString(sub.Signature)
	if sub.RequestID != id || sub.SignedPreCommand != base64.StdEncoding.EncodeToString(pc) || !pki.Verify(cert, pc, sig) {
		t.Fatalf("json %s", stdout)
	}

	// A raw Pre-Command file works too.
	rawPath := filepath.Join(dir, "pc.bin")
	_ = os.WriteFile(rawPath, pc, 0o644)
	if code, _, stderr := runCmd(t, "", "keys", "sign", "--key", keyPath, "--request-json", reqPath, "--pre-command", rawPath, "--request-id", id); code != exitOK {
		t.Fatalf("raw file: %s", stderr)
	}

	// Tampered: the unit rate ten times over. Nothing is printed on stdout.
	body["unit_rate_millipence"] = 245000
	bad := base64.StdEncoding.EncodeToString(transform(body))
	code, stdout, stderr = runCmd(t, "", "keys", "sign", "--key", keyPath, "--request-json", reqPath, "--pre-command", bad, "--request-id", id)
	if code != exitFail || stdout != "" || !strings.Contains(stderr, "NOT SIGNED") || !strings.Contains(stderr, "body.unit_rate_millipence: the request says 24500, the Pre-Command says 245000") {
		t.Fatalf("tampered: %d %q %q", code, stdout, stderr)
	}
	if strings.Contains(stderr, "PRIVATE KEY") {
		t.Fatal("the key was printed")
	}

	// No request ID anywhere: the request cannot be correlated.
	if code, _, stderr := runCmd(t, "", "keys", "sign", "--key", keyPath, "--request-json", reqPath, "--pre-command", base64.StdEncoding.EncodeToString(pc)); code != exitFail || !strings.Contains(stderr, "request ID") {
		t.Fatalf("no ID: %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "", "keys", "sign", "--key", keyPath); code != exitUsage {
		t.Fatal("missing flags")
	}
	if code, _, stderr := runCmd(t, "", "keys", "sign", "--key", reqPath, "--request-json", reqPath, "--pre-command", statePath); code != exitFail || !strings.Contains(stderr, "not an EC private key") {
		t.Fatalf("bad key: %d %s", code, stderr)
	}
}
