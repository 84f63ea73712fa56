package main

import (
	"path/filepath"
	"regexp"
	"testing"
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
	srv := startServe(t, "--data", data, "--listen", freePort(t), "--virtual-clock", "--demo", "0")
	args := append([]string{"scenario", "run", "--target", srv.url, "--certs", filepath.Join(data, "pki")}, scenarioDirs...)
	code, out, errs := runCmd(t, "", args...)
	if code != 0 || !regexp.MustCompile(`(?m)^\d+ passed, 0 failed$`).MatchString(out) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

func TestScenarioFileErrors(t *testing.T) {
	code, _, errs := runCmd(t, "", "scenario", "run", "../../conformance/scenario/testdata/invalid")
	if code == 0 || !regexp.MustCompile(`\.yaml:\d+`).MatchString(errs) {
		t.Fatalf("invalid scenarios: exit %d, %q", code, errs)
	}
}
