package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/spec"
)

// TestSuiteFilesParse checks every generated scenario against the public
// format's parser, and that each case says what it checks: a step with an
// id, a comment above the case naming the row and a clause, an expectation.
func TestSuiteFilesParse(t *testing.T) {
	outs, err := Suite(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	cases := 0
	for _, o := range outs {
		if !strings.HasSuffix(o.Path, ".yaml") {
			continue
		}
		sc, err := scenario.Parse(o.Path, o.Content)
		if err != nil {
			t.Errorf("%s: %v", o.Path, err)
			continue
		}
		if other, dup := names[sc.Name]; dup {
			t.Errorf("%s: scenario name %q also in %s", o.Path, sc.Name, other)
		}
		names[sc.Name] = o.Path
		lines := strings.Split(string(o.Content), "\n")
		for _, st := range sc.Steps {
			if st.ID == "" {
				t.Errorf("%s: step %d has no id", o.Path, st.Index)
				continue
			}
			if st.Expect == nil && st.Kind == scenario.StepRequest {
				t.Errorf("%s: step %s expects nothing", o.Path, st.ID)
			}
			if strings.Contains(st.ID, "/") {
				continue
			}
			cases++
			// The comment block above the case's first step.
			first := st
			for _, s := range sc.Steps {
				if strings.HasPrefix(s.ID, st.ID+"/") && s.Index < first.Index {
					first = s
				}
			}
			above := lines[first.Line-2]
			if !strings.HasPrefix(strings.TrimSpace(above), "# Expected") {
				t.Errorf("%s: case %s: no comment above it (%q)", o.Path, st.ID, above)
			}
			if c := lines[first.Line-3]; !strings.Contains(c, "(") {
				t.Errorf("%s: case %s: the comment names no clause: %q", o.Path, st.ID, c)
			}
		}
	}
	if cases < 2000 {
		t.Errorf("only %d cases generated", cases)
	}
	t.Logf("%d files, %d cases", len(names), cases)
}

// TestSuiteIsDeterministic generates the suite twice.
func TestSuiteIsDeterministic(t *testing.T) {
	a, err := Suite(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Suite(spec.MustDefault())
	if len(a) != len(b) {
		t.Fatalf("%d outputs, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Path != b[i].Path || !bytes.Equal(a[i].Content, b[i].Content) {
			t.Errorf("%s differs between two runs", a[i].Path)
		}
	}
}

// TestSuiteHasNoStaleFiles: a generated file the generator no longer
// writes (a row taken out of the spec) must not stay behind.
func TestSuiteHasNoStaleFiles(t *testing.T) {
	outs, err := Suite(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, o := range outs {
		want[filepath.Base(o.Path)] = true
	}
	entries, err := os.ReadDir(filepath.Join("..", suiteDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("..", suiteDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b, []byte("# "+header)) && !want[e.Name()] {
			t.Errorf("%s/%s is generated but the generator no longer writes it: delete it", suiteDir, e.Name())
		}
	}
}

// TestSuiteModel checks the model on facts the spec states outright.
func TestSuiteModel(t *testing.T) {
	s := spec.MustDefault()
	g := newSuiteGen(s)
	tests := []struct {
		note string
		a    attempt
		want string // outcome or reason
	}{
		{"eligible and registered", attempt{row: s.Service("4.1", ""), role: "EIS", typ: "ESME", status: "commissioned", known: true}, "accepted"},
		{"not eligible", attempt{row: s.Service("4.1", ""), role: "OU", typ: "ESME", status: "commissioned", known: true}, "ROLE_NOT_ELIGIBLE"},
		{"category N/A", attempt{row: s.Service("4.1", ""), role: "EIS", category: "future_dated", typ: "ESME", status: "commissioned", known: true}, "CATEGORY_NOT_AVAILABLE"},
		{"type 2", attempt{row: s.Service("4.1", ""), role: "EIS", typ: "IHD", status: "commissioned", known: true}, "TYPE2_NOT_SUPPORTED"},
		{"type 2 row", attempt{row: s.Service("8.7", "type2"), role: "OU", typ: "IHD", status: "commissioned", known: true}, "accepted"},
		{"status", attempt{row: s.Service("4.1", ""), role: "EIS", typ: "ESME", status: "withdrawn", known: true}, "DEVICE_STATUS"},
		{"unregistered, non-critical", attempt{row: s.Service("4.1", ""), role: "GNO", unregistered: true, typ: "GSME", status: "commissioned", known: true}, "NOT_REGISTERED"},
		{"unregistered, critical", attempt{row: s.Service("7.1", ""), role: "EIS", unregistered: true, typ: "ESME", status: "commissioned", known: true}, "DEVICE_REJECTED"},
		{"unregistered, activity", attempt{row: s.Service("8.2", ""), role: "EIS", unregistered: true, typ: "ESME", status: "commissioned", known: true}, "accepted"},
		{"unregistered, change to a device's entry", attempt{row: s.Service("8.3", ""), role: "EIS", unregistered: true, typ: "ESME", status: "commissioned", known: true}, "NOT_REGISTERED"},
		{"local, SNA", attempt{row: s.Service("6.2", ""), role: "SNA", local: true, typ: "ESME", status: "commissioned", known: true}, "DEVICE_STATUS"},
		{"local, supplier, pending", attempt{row: s.Service("6.2", ""), role: "EIS", local: true, typ: "ESME", status: "pending", known: true}, "accepted"},
		{"local, activity", attempt{row: s.Service("8.2", ""), role: "EIS", local: true}, "CATEGORY_NOT_AVAILABLE"},
		{"commission from pending", attempt{row: s.Service("8.1", ""), role: "EIS", typ: "ESME", status: "pending", known: true}, "accepted"},
		{"update to commissioned", attempt{row: s.Service("8.4", ""), role: "EIS", typ: "ESME", status: "pending", requested: "commissioned", known: true}, "DEVICE_STATUS"},
		{"scheduled", attempt{row: s.Service("5.1", ""), inner: s.Service("4.8", ""), role: "OU", typ: "ESME", status: "commissioned", known: true}, "accepted"},
		{"not scheduled", attempt{row: s.Service("5.1", ""), inner: s.Service("4.1", ""), role: "EIS", typ: "ESME", status: "commissioned", known: true}, "CATEGORY_NOT_AVAILABLE"},
		{"unknown user", attempt{row: s.Service("4.1", ""), role: "EIS", unknownUser: true, typ: "ESME", status: "commissioned", known: true}, "UNKNOWN_USER"},
		{"unknown user, category N/A", attempt{row: s.Service("4.1", ""), role: "EIS", unknownUser: true, category: "future_dated", typ: "ESME", status: "commissioned", known: true}, "CATEGORY_NOT_AVAILABLE"},
		{"malformed before all", attempt{row: s.Service("4.1", ""), role: "OU", unknownUser: true, malformed: "x", category: "future_dated", typ: "IHD", status: "withdrawn"}, "MALFORMED"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			v := g.expect(tc.a)
			got := v.outcome
			if v.reason != "" {
				got = v.reason
			}
			if got != tc.want {
				t.Errorf("got %s (%s), want %s", got, v.clause, tc.want)
			}
		})
	}
}

// TestViolations: the values that break a rule are found from the rule
// itself, at its bounds.
func TestViolations(t *testing.T) {
	s := spec.MustDefault()
	g := newSuiteGen(s)
	tests := []struct {
		row  string
		want []string // id = body
	}{
		{"4.4", []string{"entry.below = entry: -1", "entry.above = entry: 31"}},
		{"3.4", []string{`supplier_name.missing = supplier_name: ""`, `supplier_name.too-long = supplier_name: "Alpha Energyxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`}},
		{"6.6", []string{"calorific_value.missing = calorific_value: 0.0", "calorific_value.above = calorific_value: 100.0", "conversion_factor.missing = conversion_factor: 0.0", "conversion_factor.above = conversion_factor: 10.0"}},
		{"6.18", []string{"period_minutes.below = period_minutes: 29", "period_minutes.above = period_minutes: 31", `timeframe_start.format = timeframe_start: "17:00:00Z!"`, `timeframe_end.format = timeframe_end: "22:00:00Z!"`,
			`check1 = period_minutes: 0, timeframe_start: "", timeframe_end: "", reset: false`, `check2 = timeframe_start: "", timeframe_end: "22:00:00Z"`}},
		{"3.2", []string{`tenancy_start.missing = tenancy_start: ""`}},
		{"6.5", []string{"over_voltage.missing = over_voltage: 0", "over_voltage.above = over_voltage: 501", "under_voltage.missing = under_voltage: 0", "under_voltage.above = under_voltage: 501", "check = over_voltage: 216, under_voltage: 253"}},
		{"8.11", []string{`add.format = add: ["!"]`, `remove.format = remove: ["!"]`, "check = add: [], remove: []"}},
		// A check broken by a field left out, and one broken with every
		// other check kept (each case fails by its check alone).
		{"1.5", []string{"adjustment_pence.below = adjustment_pence: -10000001", "adjustment_pence.above = adjustment_pence: 10000001", "check = adjustment_pence: 0, reset: false"}},
		{"6.22", []string{`alert_code.format = alert_code: "A10!"`, `action.format = action: "alert!"`, `settings.format = settings: ["!"]`, `check1 = alert_code: "A10", action: ""`, `check2 = alert_code: "", action: "", settings: []`}},
	}
	for _, tc := range tests {
		t.Run(tc.row, func(t *testing.T) {
			vs, err := g.violations(s.ServiceByKey(tc.row))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.id+" = "+strings.Join(v.body, ", "))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
