package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

func sample() *Report {
	ok := &Case{ID: "role.EIS", Key: "4.1.yaml#role.EIS", Row: "4.1", Role: "EIS", User: "00-00-00-00-00-00-0A-01", Status: Passed,
		Description: []string{"4.1, roles: EIS is eligible (para 110)."},
		Steps: []*Step{{Index: 1, ID: "role.EIS", Kind: "request", What: "4.1 to D", Service: "4.1", Device: "D", Category: "on_demand", RequestID: "U:D:1",
			Expected: Outcome{State: "accepted"}, Got: Outcome{State: "accepted"}, StatusBefore: "commissioned", StatusAfter: "commissioned",
			Elapsed: 3 * time.Millisecond, Target: 30 * time.Second}}}
	bad := &Case{ID: "role.OU", Key: "4.1.yaml#role.OU", Row: "4.1", Role: "OU", Status: Failed, Failures: []string{"step 2 (role.OU): expected outcome rejected, got accepted <script>"},
		Steps: []*Step{{Index: 2, ID: "role.OU", Kind: "request", Category: "on_demand", Expected: Outcome{State: "rejected", Reason: "ROLE_NOT_ELIGIBLE"}, Got: Outcome{State: "accepted"},
			Elapsed: 40 * time.Second, Target: 30 * time.Second, Failures: []string{"expected outcome rejected"}}}}
	known := &Case{ID: "role.EES", Key: "8.12.yaml#role.EES", Row: "8.12", Role: "EES", Status: Known, KnownReason: "the hub holds no EES credential", Failures: []string{"x"}}
	return &Report{Title: "dccgate conformance", Gateway: "in-process", SpecHash: "0123456789abcdef", Started: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Duration: 2 * time.Second,
		RoleIndex: []Label{{Code: "EIS", Label: "Electricity Import Supplier"}, {Code: "EES", Label: "Electricity Export Supplier"}, {Code: "OU", Label: "Other User"}},
		RowIndex:  []Label{{Code: "4.1", Label: "Read Instantaneous Import Registers", OnDemand: 30 * time.Second}, {Code: "8.12", Label: "Restore HAN Device Log", OnDemand: 30 * time.Second, FutureDated: 24 * time.Hour}},
		Scenarios: []*Scenario{{File: "conformance/suite/4.1.yaml", Name: "4.1 Read", Row: "4.1", Cases: []*Case{ok, bad}}, {File: "conformance/suite/8.12.yaml", Name: "8.12 Restore", Row: "8.12", Cases: []*Case{known}}},
		Mutation:  &Mutation{Total: 2, Killed: 1, Mutants: []Mutant{{ID: "m1", Status: "killed", KilledBy: "4.1.yaml#role.EIS"}, {ID: "m2", Status: "survived", Description: "4.1 gains OU"}}},
	}
}

func TestSummary(t *testing.T) {
	r := sample()
	s := r.Summary()
	if s.Cases != 3 || s.Passed != 1 || s.Failed != 1 || s.Known != 1 || s.Requests != 2 || s.Timed != 2 || s.Late != 1 || s.Slowest != 40*time.Second {
		t.Errorf("%+v", s)
	}
	if r.OK() {
		t.Error("a failed case fails the run")
	}
	roles := r.ByRole([]string{"EIS", "EES", "OU"})
	if len(roles) != 3 || roles[0].Name != "EIS" || roles[1].Known != 1 || roles[2].Failed != 1 {
		t.Errorf("%+v", roles)
	}
	if m := r.Mutation.Score(); m != 50 {
		t.Errorf("score %v", m)
	}
}

func TestJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not XML: %v\n%s", err, b.String())
	}
	if got.Tests != 3 || got.Failures != 1 || got.Skipped != 1 || len(got.Suites) != 2 {
		t.Errorf("%+v", got)
	}
	c := got.Suites[0].Cases[1]
	if c.Classname != "4.1" || c.Name != "role.OU" || c.Failure == nil || !strings.Contains(c.Failure.Message, "<script>") {
		t.Errorf("%+v", c)
	}
	if !strings.Contains(got.Suites[0].Cases[0].SystemOut, "U:D:1") {
		t.Errorf("the request ID is not in the case's output: %q", got.Suites[0].Cases[0].SystemOut)
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sample()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Summary   Summary     `json:"summary"`
		Scenarios []*Scenario `json:"scenarios"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Summary.Cases != 3 || got.Scenarios[0].Cases[0].Steps[0].RequestID != "U:D:1" {
		t.Errorf("%+v", got.Summary)
	}
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, sample()); err != nil {
		t.Fatal(err)
	}
	h := b.String()
	for _, want := range []string{`id="summary"`, "FAILED", "3 cases: 1 passed, 1 failed, 1 known failures", "Per role", "Per service", "Known failures",
		"the hub holds no EES credential", "U:D:1", "commissioned → commissioned", "Mutation analysis", "4.1 gains OU", ">30s<", ">24h<"} {
		if !strings.Contains(h, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(h, "<script>") {
		t.Error("text is not escaped")
	}
	for _, ext := range []string{"http://", "https://", "<link", "src="} {
		if strings.Contains(h, ext) {
			t.Errorf("the page is not self-contained: %q", ext)
		}
	}
}

// TestScenarioErrors: a scenario that failed outside its cases fails the
// run, is counted in the summary and is a JUnit testcase with an error, in
// every output alike, whether its cases were reached or not.
func TestScenarioErrors(t *testing.T) {
	notRun := &Case{ID: "role.OU", Key: "4.1.yaml#role.OU", Row: "4.1", Status: Failed, Failures: []string{"step 1 (role.OU): not run: reset: refused"},
		Steps: []*Step{{Index: 1, ID: "role.OU", Kind: "request", NotRun: true, Failures: []string{"not run: reset: refused"}}}}
	passed := &Case{ID: "role.EIS", Key: "4.2.yaml#role.EIS", Row: "4.2", Status: Passed,
		Steps: []*Step{{Index: 1, ID: "role.EIS", Kind: "request", Got: Outcome{State: "accepted"}}}}
	tests := []struct {
		note     string
		sc       *Scenario
		summary  Summary
		failures int // JUnit failures
	}{
		{"not started", &Scenario{File: "4.3.yaml", Name: "4.3", Failures: []string{"starting a gateway: no room"}},
			Summary{Scenarios: 1, Errors: 1}, 0},
		{"reset failed", &Scenario{File: "4.1.yaml", Name: "4.1", Failures: []string{"reset: refused"}, Cases: []*Case{notRun}},
			Summary{Scenarios: 1, Errors: 1, Cases: 1, Failed: 1, Steps: 1}, 1},
		{"closing failed", &Scenario{File: "4.2.yaml", Name: "4.2", Failures: []string{"closing the gateway: stuck"}, Cases: []*Case{passed}},
			Summary{Scenarios: 1, Errors: 1, Cases: 1, Passed: 1, Steps: 1, Requests: 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			r := &Report{Title: "t", Scenarios: []*Scenario{tc.sc}}
			if s := r.Summary(); s != tc.summary {
				t.Errorf("summary %+v, want %+v", s, tc.summary)
			}
			if r.OK() {
				t.Error("the run is OK")
			}
			var b bytes.Buffer
			if err := WriteJUnit(&b, r); err != nil {
				t.Fatal(err)
			}
			var got junitSuites
			if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Tests != len(tc.sc.Cases)+1 || got.Errors != 1 || got.Failures != tc.failures {
				t.Errorf("junit: %d tests, %d errors, %d failures", got.Tests, got.Errors, got.Failures)
			}
			if c := got.Suites[0].Cases[0]; c.Name != scenarioCase || c.Error == nil || c.Error.Message != tc.sc.Failures[0] {
				t.Errorf("junit: first testcase %+v", c)
			}
			b.Reset()
			if err := WriteJSON(&b, r); err != nil {
				t.Fatal(err)
			}
			var js struct {
				Summary Summary `json:"summary"`
			}
			if err := json.Unmarshal(b.Bytes(), &js); err != nil || js.Summary != tc.summary {
				t.Errorf("report.json summary %+v, %v", js.Summary, err)
			}
			b.Reset()
			if err := WriteHTML(&b, r); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"FAILED", "1 scenario errors", tc.sc.Failures[0]} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("the page lacks %q", want)
				}
			}
		})
	}
}
