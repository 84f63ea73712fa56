package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/spec"
)

// TestConfigDefaultsAreTheGateways: the configuration's defaults are the
// gateway's own (config does not import the gateway, so they are written
// twice).
func TestConfigDefaultsAreTheGateways(t *testing.T) {
	d := config.Default()
	if d.Workers != gateway.DefaultWorkers || d.MaxInFlight != gateway.DefaultMaxInFlight || d.AdmitWait.Std() != gateway.DefaultAdmissionWait {
		t.Errorf("config defaults workers %d, max_in_flight %d, admission_wait %s; the gateway's %d, %d, %s",
			d.Workers, d.MaxInFlight, d.AdmitWait.Std(), gateway.DefaultWorkers, gateway.DefaultMaxInFlight, gateway.DefaultAdmissionWait)
	}
}

func TestConfigPrint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "dccgate.yaml")
	if err := os.WriteFile(file, []byte("workers: 3\nadmin_listen: 127.0.0.1:9090\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DCCGATE_CONFIG", file)
	t.Setenv("DCCGATE_STORE", "postgres://gw:hunter2@db:5432/dccgate")
	code, out, errs := runCmd(t, "", "config", "print", "--grace", "10s")
	if code != exitOK {
		t.Fatalf("%d %s", code, errs)
	}
	for _, want := range []string{"workers: 3 # from " + file + ":1", "admin_listen: 127.0.0.1:9090 # from " + file + ":2",
		"store: postgres://gw:****@db:5432/dccgate # from DCCGATE_STORE", "grace: 10s # from --grace"} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("config print shows the password:\n%s", out)
	}
	t.Setenv("DCCGATE_WORKERS", "none")
	if code, _, errs := runCmd(t, "", "config", "check"); code != exitUsage || !strings.Contains(errs, "workers (from DCCGATE_WORKERS)") {
		t.Fatalf("config check of a bad variable: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "", "serve", "--log-format", "xml"); code != exitUsage || !strings.Contains(errs, "log.format (from --log-format)") {
		t.Fatalf("serve with a bad flag value: %d %q", code, errs)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCmd(t, "", "version")
	if code != exitOK || !strings.Contains(out, "\ncommit ") || !strings.Contains(out, "\nspec "+spec.MustDefault().Hash+"\n") || !strings.Contains(out, "\npolicy ") {
		t.Fatalf("version: %d %q", code, out)
	}
	old := commit
	commit = "0123abc"
	defer func() { commit = old }()
	if _, out, _ := runCmd(t, "", "version"); !strings.Contains(out, "commit 0123abc\n") {
		t.Fatalf("version with a linked commit: %q", out)
	}
}

// TestConfigCheckIsServes: `config check` refuses the configuration that
// `serve` refuses when it starts, with the same error: traffic management
// on, with a max_in_flight that keeps the requests in flight below where
// its policy first acts.
func TestConfigCheckIsServes(t *testing.T) {
	const below = "traffic management is on, but max_in_flight 512 keeps the requests in flight below 2000"
	tests := []struct {
		note string
		args []string
		want string // in the error; "" for config ok
	}{
		{"traffic management off", nil, ""},
		{"on, max_in_flight below where the policy acts", []string{"--traffic-management"}, below},
		{"on, max_in_flight above", []string{"--traffic-management", "--max-in-flight", "4000"}, ""},
		{"on, no bound", []string{"--traffic-management", "--max-in-flight", "-1"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, out, errs := runCmd(t, "", append([]string{"config", "check"}, tc.args...)...)
			if tc.want == "" {
				if code != exitOK || !strings.Contains(out, "config ok") {
					t.Fatalf("config check: exit %d %q %q", code, out, errs)
				}
				return
			}
			if code != exitUsage || !strings.Contains(errs, tc.want) || strings.Contains(out, "config ok") {
				t.Fatalf("config check: exit %d %q %q", code, out, errs)
			}
			serve := append([]string{"serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--demo", "0"}, tc.args...)
			if code, _, errs := runCmd(t, "", serve...); code != exitFail || !strings.Contains(errs, tc.want) {
				t.Fatalf("serve: exit %d %q", code, errs)
			}
		})
	}
}
