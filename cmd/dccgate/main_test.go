package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/spec"
)

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// specCopy writes the embedded spec to a directory, with edits applied.
func specCopy(t *testing.T, edits ...[2]string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(spec.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(spec.Files(), p)
		if err != nil {
			return err
		}
		for _, e := range edits {
			if p == "services.cue" {
				if !strings.Contains(string(b), e[0]) {
					t.Fatalf("edit %q not found", e[0])
				}
				b = []byte(strings.Replace(string(b), e[0], e[1], 1))
			}
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

const row41 = `on_demand: "30s", roles: ["EIS", "GIS", "ENO", "GNO"], targets: _meters, fields: [
		{name: "register"`

func TestSpecVet(t *testing.T) {
	if code, out, errs := runCmd(t, "", "spec", "vet"); code != 0 || !strings.Contains(out, "spec ok: 87 services") {
		t.Fatalf("vet: %d %q %q", code, out, errs)
	}
	bad := specCopy(t, [2]string{row41, strings.Replace(row41, `"GNO"`, `"DNO"`, 1)})
	code, _, errs := runCmd(t, "", "spec", "vet", "--spec", bad)
	if code != exitFail || !regexp.MustCompile(`services\.cue:\d+:\d+: .*unknown role code "DNO"`).MatchString(errs) {
		t.Fatalf("vet of a broken spec: %d %q", code, errs)
	}
	dup := specCopy(t, [2]string{`{ref: "4.2", name:`, `{ref: "4.1", name:`})
	code, _, errs = runCmd(t, "", "spec", "vet", "--spec", dup)
	if code != exitFail || !regexp.MustCompile(`services\.cue:\d+:\d+: services\[\d+\]: duplicate row 4\.1`).MatchString(errs) {
		t.Fatalf("vet of a duplicate row: %d %q", code, errs)
	}
}

func TestSpecExport(t *testing.T) {
	code, out, errs := runCmd(t, "", "spec", "export")
	if code != 0 {
		t.Fatal(errs)
	}
	var doc struct {
		Services []struct {
			Ref           string   `json:"ref"`
			Variant       string   `json:"variant"`
			Name          string   `json:"name"`
			Critical      bool     `json:"critical"`
			DeviceService bool     `json:"device_service"`
			FutureDated   *string  `json:"future_dated"`
			OnDemand      *string  `json:"on_demand"`
			Roles         []string `json:"roles"`
		} `json:"services"`
		Roles      []any `json:"roles"`
		Alerts     []any `json:"alerts"`
		Thresholds []any `json:"thresholds"`
		Measures   []any `json:"measures"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Services) != 87 || len(doc.Roles) != 7 || len(doc.Alerts) != 35 || len(doc.Thresholds) != 7 || len(doc.Measures) != 5 {
		t.Fatalf("export counts: %d services %d roles %d alerts %d thresholds %d measures", len(doc.Services), len(doc.Roles), len(doc.Alerts), len(doc.Thresholds), len(doc.Measures))
	}
	byKey := map[string]int{}
	for i, s := range doc.Services {
		byKey[s.Ref+"/"+s.Variant] = i
	}
	s11 := doc.Services[byKey["1.1/prepayment"]]
	if !s11.Critical || *s11.FutureDated != "24h" || *s11.OnDemand != "30s" || strings.Join(s11.Roles, " ") != "EIS GIS" {
		t.Fatalf("1.1 prepayment: %+v", s11)
	}
	s12 := doc.Services[byKey["1.2/credit"]]
	if s12.OnDemand != nil || s12.Critical {
		t.Fatalf("1.2 credit: %+v", s12)
	}
	if s := doc.Services[byKey["11.1/"]]; *s.FutureDated != "120h" {
		t.Fatalf("11.1: %v", *s.FutureDated)
	}
	if s := doc.Services[byKey["A1/"]]; *s.OnDemand != "1m" {
		t.Fatalf("A1: %v", *s.OnDemand)
	}
	if s := doc.Services[byKey["8.2/"]]; s.DeviceService {
		t.Fatal("8.2 marked as a device service")
	}
}

func TestSpecShow(t *testing.T) {
	code, out, _ := runCmd(t, "", "spec", "show", "1.1")
	if code != 0 || !strings.Contains(out, "Update Import Tariff (prepayment)") || !strings.Contains(out, "Update Import Tariff (credit)") {
		t.Fatalf("show 1.1: %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "", "spec", "show", "99.9"); code != exitFail {
		t.Fatal("show of an unknown service succeeded")
	}
}

func TestSpecDiffAndDecideFollowAnEdit(t *testing.T) {
	orig := specCopy(t)
	edited := specCopy(t, [2]string{row41, strings.Replace(row41, `"GNO"`, ``, 1)})
	code, out, errs := runCmd(t, "", "spec", "diff", orig, edited)
	if code != 0 || !strings.Contains(out, "~ 4.1: GNO lose eligibility") {
		t.Fatalf("diff: %d %q %q", code, out, errs)
	}
	if _, out, _ := runCmd(t, "", "spec", "diff", orig, orig); !strings.Contains(out, "no change") {
		t.Fatalf("diff of identical specs: %q", out)
	}
	input := `{"request": {"service": "4.1", "user_id": "00-00-00-00-00-00-06-01", "device_id": "00-DB-00-00-00-00-E0-01", "body": {"register": "total"}},
	 "facts": {"now": "2026-01-05T09:00:00Z", "user": {"known": true, "role": "GNO"}, "device": {"known": true, "type": "GSME", "status": "commissioned"},
	           "registration": [{"mpxn": "1234567", "fuel": "gas", "import_supplier": "00-00-00-00-00-00-0A-01", "network_operator": "00-00-00-00-00-00-06-01"}]}}`
	for _, tc := range []struct {
		dir, want string
	}{{orig, `"outcome": "accepted"`}, {edited, `"reason": "ROLE_NOT_ELIGIBLE"`}} {
		for _, mode := range [][]string{nil, {"--reference"}} {
			args := append([]string{"decide", "--spec", tc.dir}, mode...)
			code, out, errs := runCmd(t, input, args...)
			if code != 0 || !strings.Contains(out, tc.want) {
				t.Fatalf("decide %v: %d %s %s", args, code, out, errs)
			}
		}
	}
}

func TestDecideBadInput(t *testing.T) {
	if code, _, errs := runCmd(t, `{"request": {"servce": "4.1"}}`, "decide"); code != exitUsage || !strings.Contains(errs, "servce") {
		t.Fatalf("%d %q", code, errs)
	}
}

// TestTransitionTableIsThePolicys: the table `dccgate spec` prints is the
// inventory policy's; every printed move is one the engine makes.
func TestTransitionTableIsThePolicys(t *testing.T) {
	code, out, errs := runCmd(t, "", "spec")
	if code != 0 {
		t.Fatal(errs)
	}
	for _, want := range []string{
		"withdraw       8.5      commissioned                withdrawn",
		"commission     8.1      installed_not_commissioned  commissioned",
		"prenotify      12.2     decommissioned              pending",
		"wan_connected  -        pending                     commissioned",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("transition table lacks %q:\n%s", want, out)
		}
	}
	e, err := engine.New(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range e.Policy().Tables().Moves {
		if m.Event == "wan_connected" {
			continue
		}
		role := map[string]string{"supplier": "EIS", "network_operator": "ENO", "agent": "SNA", "other": "OU"}[m.RoleKind]
		typ := map[string]string{"meter": "ESME", "hub": "CHF", "type1": "PPMID", "type2": "IHD"}[m.Class]
		to, _, ok := e.Move(m.Event, m.From, typ, role, m.To)
		if !ok || to != m.To {
			t.Errorf("engine does not make the move %+v", m)
		}
	}
}

// TestSpecVetCompilesRules: a CEL rule of an edited spec that does not
// compile fails `spec vet` as it fails `serve`, and both name the file and
// line of the rule, the service and its field or check.
func TestSpecVetCompilesRules(t *testing.T) {
	const (
		field    = `rule: "value in ['total', 'tou', 'block']"`
		check    = `checks: [{rule: "body.days > 0 || (`
		envelope = `{field: "user_id", rule: "matches(user_id, '\(patterns.eui64)')"`
	)
	tests := []struct {
		note      string
		edit      [2]string
		want      string // the error after FILE:LINE:COL:
		lineHolds string // the line named holds this
	}{
		{"field rule", [2]string{field, strings.Replace(field, `]"`, `"`, 1)}, `service 4\.1 field register rule: cel_compile_error: `, field[:20]},
		{"check", [2]string{check, strings.Replace(check, `> 0 ||`, `> 0 || ||`, 1)}, `service 4\.17 check 0: cel_compile_error: `, `checks: [{rule: "body.days`},
		{"envelope rule", [2]string{envelope, strings.Replace(envelope, `matches(user_id,`, `matches(user_id`, 1)}, `envelope_rules\[0\]: cel_compile_error: `, `field: "user_id"`},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			dir := specCopy(t, tc.edit)
			at := regexp.MustCompile(`(?m)(?:^|dccgate serve: )(` + regexp.QuoteMeta(dir) + `/services\.cue):(\d+):\d+: ` + tc.want)
			code, out, errs := runCmd(t, "", "spec", "vet", "--spec", dir)
			m := at.FindStringSubmatch(errs)
			if code != exitFail || m == nil {
				t.Fatalf("spec vet: exit %d\n%s\n%s", code, out, errs)
			}
			checkLineHolds(t, m[1], m[2], tc.lineHolds)
			code, _, errs = runCmd(t, "", "serve", "--spec", dir, "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--demo", "0")
			if code != exitFail || !at.MatchString(errs) {
				t.Fatalf("serve: exit %d\n%s", code, errs)
			}
		})
	}
}

// checkLineHolds checks that line of file holds text.
func checkLineHolds(t *testing.T, file, line, text string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	if n := atoi(line); n < 1 || n > len(lines) || !strings.Contains(lines[n-1], text) {
		t.Errorf("%s:%s does not hold %q", file, line, text)
	}
}
