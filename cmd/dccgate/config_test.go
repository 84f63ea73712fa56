package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/server"
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

// TestConfigServiceDesk: the Service Desk's telephone and email (para 255)
// are shown by config print and checked against the spec's contact
// patterns by config check, as serve checks them.
func TestConfigServiceDesk(t *testing.T) {
	tests := []struct {
		note string
		args []string
		code int
		errs string
	}{
		{"both", []string{"--service-desk-telephone", "0300 123 4567", "--service-desk-email", "desk@dcc.example"}, exitOK, ""},
		{"none", nil, exitOK, ""},
		{"a telephone that is not one", []string{"--service-desk-telephone", "call Bob"}, exitUsage, `service_desk.telephone: "call Bob" is not a telephone number`},
		{"an email that is not one", []string{"--service-desk-email", "desk"}, exitUsage, `service_desk.email: "desk" is not`},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, _, errs := runCmd(t, "", append([]string{"config", "check"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errs, tc.errs) {
				t.Fatalf("config check: %d %q", code, errs)
			}
		})
	}
	code, out, errs := runCmd(t, "", "config", "print", "--service-desk-telephone", "0300 123 4567")
	if code != exitOK || !strings.Contains(out, "service_desk:\n  telephone: 0300 123 4567 # from --service-desk-telephone\n") {
		t.Fatalf("config print: %d %s %s", code, out, errs)
	}
}

// TestServeServiceDesk: serve gives the SSI the configured Service Desk
// contact; with none and the demo world, the demo's example, marked as the
// demo's; with neither, none.
func TestServeServiceDesk(t *testing.T) {
	tests := []struct {
		note   string
		demo   bool
		sd     config.ServiceDesk
		page   []string
		stdout string
	}{
		{"configured", true, config.ServiceDesk{Telephone: "0300 123 4567", Email: "desk@dcc.example"}, []string{"telephone <strong>0300 123 4567</strong>, email <strong>desk@dcc.example</strong>"}, ""},
		{"the demo's", true, config.ServiceDesk{}, []string{"&#43;44 20 7946 0000", "servicedesk@dcc.example", "the demo's example contact details"}, "Service Desk (the demo's example"},
		{"none", false, config.ServiceDesk{}, []string{"telephone and email are not configured"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			srv, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", VirtualClock: true, Start: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), Workers: 1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			if tc.demo {
				if _, err := srv.SeedDemo(ctx, 1); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			if err := setServiceDesk(ctx, srv, tc.sd, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.stdout) || (tc.stdout == "" && out.Len() > 0) {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
			rec := httptest.NewRecorder()
			srv.SSI.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/ssi/servicedesk", nil))
			for _, w := range tc.page {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("the public Service Desk page does not say %q", w)
				}
			}
		})
	}
}
