package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, file string, env []string, args ...string) (*Loaded, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fl := RegisterFlags(fs)
	if file != "" {
		p := filepath.Join(t.TempDir(), "dccgate.yaml")
		if err := os.WriteFile(p, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"--config", p}, args...)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return Load(fl, env)
}

func TestPrecedence(t *testing.T) {
	file := "workers: 3\ngrace: 5s\nlog:\n  format: text\nsmwan:\n  loss: 0.5\n"
	l, err := load(t, file, []string{"DCCGATE_WORKERS=4", "DCCGATE_LOG_LEVEL=warn", "DCCGATE_TEST_MAIN=1"}, "--workers", "5")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Workers != 5 || c.Grace.Std() != 5*time.Second || c.Log.Format != "text" || c.Log.Level != "warn" || c.SMWAN.Loss != 0.5 || c.Listen != "127.0.0.1:8443" {
		t.Fatalf("effective: %+v", c)
	}
	for key, want := range map[string]string{"workers": "--workers", "log.level": "DCCGATE_LOG_LEVEL", "listen": "default"} {
		if got := l.Sources[key].String(); got != want {
			t.Errorf("source of %s: %s, want %s", key, got, want)
		}
	}
	if got := l.Sources["grace"].String(); !strings.HasSuffix(got, "dccgate.yaml:2") {
		t.Errorf("source of grace: %s", got)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		note string
		file string
		env  []string
		args []string
		want []string
	}{
		{note: "unknown key", file: "wrkers: 3\n", want: []string{"wrkers (from ", "dccgate.yaml:1): unknown key (did you mean workers?)"}},
		{note: "unknown nested key", file: "log:\n  formt: json\n", want: []string{"log.formt", ":2): unknown key (did you mean log.format?)"}},
		{note: "bad value in the file", file: "workers: many\n", want: []string{"workers (from ", `"many" is not a whole number`}},
		{note: "out of range", file: "workers: 0\nsmwan:\n  loss: 2\n", want: []string{"workers (from ", "must be at least 1", "smwan.loss (from ", "dccgate.yaml:3): 2 is not between 0 and 1"}},
		{note: "admission out of range", file: "max_in_flight: 0\nadmission_wait: 0s\n", want: []string{"max_in_flight (from ", "must be at least 1, or -1 for no bound, not 0", "admission_wait (from ", "must be above 0"}},
		{note: "bad variable", env: []string{"DCCGATE_GRACE=soon"}, want: []string{"grace (from DCCGATE_GRACE):", "not a duration"}},
		{note: "bad choice", env: []string{"DCCGATE_LOG_FORMAT=xml"}, want: []string{`log.format (from DCCGATE_LOG_FORMAT): "xml" is not one of auto, json, text`}},
		{note: "bad address", args: []string{"--admin-listen", "9090"}, want: []string{`admin_listen (from --admin-listen): "9090" is not host:port`}},
		{note: "missing directory", args: []string{"--policy", "/does/not/exist"}, want: []string{"policy (from --policy):"}},
		{note: "memory limit", env: []string{"DCCGATE_GC_MEMORY_LIMIT=800MB"}, want: []string{`gc.memory_limit (from DCCGATE_GC_MEMORY_LIMIT): "800MB" is not a size such as 768MiB`}},
		{note: "gc percent", args: []string{"--gc-percent", "-2"}, want: []string{"gc.percent (from --gc-percent): must be -1 (off) or more, not -2"}},
		{note: "gc off without a limit", file: "gc:\n  percent: -1\n  memory_limit: off\n", want: []string{"gc.percent (from ", "needs a gc.memory_limit"}},
		{note: "tracing endpoint", env: []string{"DCCGATE_TRACING_ENDPOINT=collector:4318"}, want: []string{"tracing.endpoint (from DCCGATE_TRACING_ENDPOINT): want an http"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			_, err := load(t, tc.file, tc.env, tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestPrintMasksSecrets(t *testing.T) {
	file := "store: postgres://gw:hunter2@db:5432/dccgate?sslmode=disable\ntracing:\n  endpoint: https://user:pw@otel.example:4318\n  headers:\n    x-api-key: s3cret\n"
	l, err := load(t, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Print()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "s3cret", ":pw@"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("printed a secret %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"store: postgres://gw:****@db:5432/dccgate?sslmode=disable # from ", "x-api-key: '****'", "workers: 64\n", "grace: 30s\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("print lacks %q:\n%s", want, out)
		}
	}
	// What is printed loads back to the same configuration (but secrets).
	again, err := load(t, string(out), nil)
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
	}
	if again.Workers != l.Workers || again.Grace != l.Grace || again.Listen != l.Listen {
		t.Fatalf("round trip: %+v", again.Config)
	}
}

func TestEveryKeyHasAVariable(t *testing.T) {
	for _, f := range fields() {
		if !strings.HasPrefix(f.env, EnvPrefix) || f.usage == "" {
			t.Errorf("%s: env %q, usage %q", f.key, f.env, f.usage)
		}
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "", want: 0}, {in: "off", want: 0},
		{in: "4096", want: 4096}, {in: "512B", want: 512},
		{in: "64KiB", want: 64 << 10}, {in: "768MiB", want: 768 << 20}, {in: " 2GiB ", want: 2 << 30}, {in: "1TiB", want: 1 << 40},
		{in: "800MB", bad: true}, {in: "1.5GiB", bad: true}, {in: "0", bad: true}, {in: "-1MiB", bad: true},
		{in: "MiB", bad: true}, {in: "9999999TiB", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseBytes(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseBytes(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

// TestServiceDesk: the Service Desk's telephone and email (para 255) are
// set like every key, by the file, a variable or a flag, and printed with
// where they came from.
func TestServiceDesk(t *testing.T) {
	tests := []struct {
		note      string
		file      string
		env, args []string
		tel, mail string
		printed   []string
	}{
		{note: "not set", printed: []string{"service_desk:\n  telephone: \"\"\n  email: \"\"\n"}},
		{note: "in the file", file: "service_desk:\n  telephone: 0300 000 0000\n  email: desk@dcc.example\n", tel: "0300 000 0000", mail: "desk@dcc.example",
			printed: []string{"  telephone: 0300 000 0000 # from ", "  email: desk@dcc.example # from "}},
		{note: "by variables", env: []string{"DCCGATE_SERVICE_DESK_TELEPHONE=+44 300 000 0000", "DCCGATE_SERVICE_DESK_EMAIL=sd@dcc.example"}, tel: "+44 300 000 0000", mail: "sd@dcc.example",
			printed: []string{"telephone: +44 300 000 0000 # from DCCGATE_SERVICE_DESK_TELEPHONE", "email: sd@dcc.example # from DCCGATE_SERVICE_DESK_EMAIL"}},
		{note: "by flags", args: []string{"--service-desk-telephone", "0300 111 1111", "--service-desk-email", "x@dcc.example"}, tel: "0300 111 1111", mail: "x@dcc.example",
			printed: []string{"telephone: 0300 111 1111 # from --service-desk-telephone", "email: x@dcc.example # from --service-desk-email"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			l, err := load(t, tc.file, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if l.ServiceDesk.Telephone != tc.tel || l.ServiceDesk.Email != tc.mail {
				t.Fatalf("service desk %+v", l.ServiceDesk)
			}
			out, err := l.Print()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.printed {
				if !strings.Contains(string(out), w) {
					t.Errorf("print lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
