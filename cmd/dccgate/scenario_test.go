package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/server"
)

// scenarioDirs are our scenarios and the public examples (copied into the
// parser's fixtures).
var scenarioDirs = []string{"../../conformance/scenarios", "../../conformance/scenario/testdata/valid"}

func TestScenariosInProcess(t *testing.T) {
	code, out, errs := runCmd(t, "", append([]string{"scenario", "run", "--parallel", "2"}, scenarioDirs...)...)
	if code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(out) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	t.Log(out)
}

// TestScenariosAgainstTarget runs the same scenarios against a running
// `dccgate serve --virtual-clock`, through its public API only.
func TestScenariosAgainstTarget(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	data := t.TempDir()
	// No SMWAN retries, as the in-process runner's gateway: each retry of
	// a Command to a hub without power pauses a quarter of the SMWAN
	// timeout in wall time, and firmware-outage.yaml retries every 15
	// minutes of a 72-hour outage (288 attempts: 19 minutes of pauses).
	srv := startServe(t, "--data", data, "--listen", freePort(t), "--virtual-clock", "--demo", "0", "--smwan-retries", "0")
	args := append([]string{"scenario", "run", "--target", srv.url, "--certs", filepath.Join(data, "pki")}, scenarioDirs...)
	code, out, errs := runCmd(t, "", args...)
	if code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(out) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestScenarioFileErrors(t *testing.T) {
	code, out, errs := runCmd(t, "", "scenario", "run", "../../conformance/scenario/testdata/invalid")
	if code == 0 || !regexp.MustCompile(`\.yaml:\d+`).MatchString(errs) {
		t.Fatalf("invalid scenarios: exit %d, %q", code, errs)
	}
	// The last line counts each invalid file as failed: a job reading it
	// alone never sees a clean run.
	files, err := filepath.Glob("../../conformance/scenario/testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	if want := fmt.Sprintf("0 passed, %d failed\n", len(files)); !strings.HasSuffix(out, want) {
		t.Errorf("last line of %q, want %q", out, want)
	}
	// Files of one directory named one by one: a repeated name is an
	// error as it is when the directory is named.
	code, out, errs = runCmd(t, "", "scenario", "run", "../../conformance/scenario/testdata/dupnames/a.yaml", "../../conformance/scenario/testdata/dupnames/b.yaml")
	if code == 0 || !strings.Contains(errs, "duplicate scenario name") || !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("duplicate names file by file: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestScenarioHeldCriticalSigned: a critical request held behind a
// future-dated one is released with its Pre-Command when its predecessor
// succeeds, and the sender signs it then (sign: own, the default; para
// 155 sets no deadline of its own), however long the advance that runs the
// predecessor: the runner must not let the gateway's signature time-to-live
// (an hour) run out inside one move of the clock. A long advance stays
// fast.
func TestScenarioHeldCriticalSigned(t *testing.T) {
	const head = `name: held-critical
users:
  - {id: "00-00-00-00-00-00-0A-01", role: EIS}
registration:
  - {mpxn: "1900000000011", fuel: electricity, import_supplier: "00-00-00-00-00-00-0A-01", network_operator: "00-00-00-00-00-00-0E-01", postcode: "LS1 1AA", premises: "7"}
inventory:
  - {device: "00-DB-00-00-00-00-C0-01", type: CHF, status: commissioned}
  - {device: "00-DB-00-00-00-00-E0-01", type: ESME, status: commissioned, mpxn: "1900000000011", chf: "00-DB-00-00-00-00-C0-01"}
steps:
`
	// step is a request step of the EIS on the ESME.
	step := func(id, req, want string) string {
		return "  - id: " + id + "\n    as: \"00-00-00-00-00-00-0A-01\"\n    request: {device: \"00-DB-00-00-00-00-E0-01\", " + req + "}\n    expect: {outcome: " + want + "}\n"
	}
	mode := func(at string) string {
		return step("mode", `service: "1.6", when: {future: "`+at+`"}, body: {mode: prepayment}`, "pending")
	}
	key := step("key", `service: "7.1", after: mode`, "held")
	cases := []struct {
		name  string
		steps string
	}{
		{"short advance", mode("2026-01-05T12:00:00Z") + key +
			"  - advance: 3h30m\n    expect: {outcomes: {mode: accepted, key: accepted}}\n"},
		{"advance of a day", mode("2026-01-05T12:00:00Z") + key +
			"  - advance: 24h\n    expect: {outcomes: {mode: accepted, key: accepted}}\n"},
		{"advance of 720h", mode("2026-01-05T12:00:00Z") + key +
			"  - advance: 720h\n    expect: {outcomes: {mode: accepted, key: accepted}}\n"},
		{"predecessor due at the end of 720h", mode("2026-02-03T08:00:00Z") + key +
			"  - advance: 720h\n    expect: {outcomes: {mode: accepted, key: accepted}}\n"},
		// A chain of held requests, critical and not.
		{"chain", mode("2026-01-20T12:00:00Z") + key +
			step("read", `service: "4.1", after: key`, "held") +
			step("cfg", `service: "2.1", after: read`, "held") +
			"  - advance: 720h\n    expect: {outcomes: {mode: accepted, key: accepted, read: accepted, cfg: accepted}}\n"},
		// The successor's request ID sorts before its predecessor's
		// (counter 100 before 20), and both are released by the advance's
		// last move: the one released by signing the other is signed too.
		{"successor released by signing", mode("2026-01-05T12:00:00Z") +
			step("key", `service: "7.1", after: mode, counter: 20`, "held") +
			step("cfg", `service: "2.1", after: key, counter: 100`, "held") +
			"  - advance: 3h\n    expect: {outcomes: {mode: accepted, key: accepted, cfg: accepted}}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "held.yaml")
			if err := os.WriteFile(file, []byte(head+tc.steps), 0o600); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			code, out, errs := runCmd(t, "", "scenario", "run", file)
			if code != 0 || !strings.Contains(out, "1 passed, 0 failed") {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			// In-process start included; slicing 720h in minutes would
			// take far longer.
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("took %s", took)
			}
			t.Logf("%s: %s", tc.name, time.Since(start))
		})
	}
}

// TestTargetWithoutVirtualClock: a target served without --virtual-clock
// has no AdminService to set up worlds; running scenarios against it says
// so, and what to do, in one line.
func TestTargetWithoutVirtualClock(t *testing.T) {
	p, err := server.LoadOrCreatePKI(filepath.Join(t.TempDir(), "pki"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(t.Context(), server.Config{DataDir: t.TempDir(), StoreURL: "sqlite://:memory:", Listen: "127.0.0.1:0", PKI: p})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	target := []string{"--target", srv.URL, "--certs", p.Dir}
	tests := []struct {
		note string
		args []string
	}{
		{"scenario run", append(append([]string{"scenario", "run"}, target...), "../../conformance/scenarios/alerts.yaml")},
		{"conformance run", append(append([]string{"conformance", "run", "--progress", "none"}, target...), "../../conformance/suite/4.1.yaml")},
	}
	want := regexp.MustCompile(`(?m)^(FAIL )?\S*(alerts|4\.1)\.yaml: reset: ` + regexp.QuoteMeta(srv.URL) + ` has no AdminService \(unimplemented: [^\n]*\): the target must be served with ` + "`dccgate serve --virtual-clock`" + `$`)
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, out, errs := runCmd(t, "", tc.args...)
			if code != exitFail || !want.MatchString(out) || strings.Contains(out, "reset: reset:") {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
		})
	}
}
