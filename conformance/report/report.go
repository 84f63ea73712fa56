// Package report holds the result of a conformance run and writes it for
// the people and systems that read it: JUnit XML for CI systems, JSON for
// tools, and one self-contained HTML page for a test team to file.
//
// A Report is a list of scenarios, each a list of cases; a case is what the
// suite checks of one fact of the spec (a role of a row, a status, a
// category) and holds the steps that check it, each with the gateway's
// request ID, the outcome and reason expected and got, the time it took
// against the Target Response Time, and the device's SMI status before and
// after.
package report

import (
	"sort"
	"time"
)

// Case statuses.
const (
	Passed = "passed"
	Failed = "failed"
	// Known: failed, and listed as a known failure with its reason.
	Known = "known"
	// Fixed: listed as a known failure, yet passed.
	Fixed = "fixed"
)

// Report is one conformance run.
type Report struct {
	Title string `json:"title"`
	// Gateway is what ran the suite: "in-process" or the --target URL.
	Gateway string `json:"gateway"`
	// Roles limits the run to the cases of these roles (empty: all).
	Roles    []string  `json:"roles,omitempty"`
	SpecHash string    `json:"spec_hash"`
	Started  time.Time `json:"started"`
	// Duration is the wall time of the run.
	Duration  time.Duration `json:"duration_ns"`
	Scenarios []*Scenario   `json:"scenarios"`
	// RoleIndex and RowIndex name the roles and rows of the spec, in its
	// order, for the tables per role and per service.
	RoleIndex []Label `json:"role_index,omitempty"`
	RowIndex  []Label `json:"row_index,omitempty"`
	// Mutation is set when the run includes a mutation analysis.
	Mutation *Mutation `json:"mutation,omitempty"`
}

// Label names a role or a row; for a row, OnDemand and FutureDated are its
// Target Response Times (0 for N/A).
type Label struct {
	Code        string        `json:"code"`
	Label       string        `json:"label"`
	OnDemand    time.Duration `json:"on_demand_ns,omitempty"`
	FutureDated time.Duration `json:"future_dated_ns,omitempty"`
}

// Scenario is one scenario file.
type Scenario struct {
	File   string `json:"file"`
	Name   string `json:"name"`
	Source string `json:"source,omitempty"`
	// Row is the schedule row the file checks ("4.1"), empty for files
	// across rows.
	Row      string        `json:"row,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	Cases    []*Case       `json:"cases"`
	// Failures are those of the whole scenario (a gateway that could not
	// be started, reset or closed). A scenario with any is an error of the
	// run, whatever its cases say; the cases it did not reach are failed.
	Failures []string `json:"failures,omitempty"`
}

// Case is one checked fact: a step with an id and the steps that belong to
// it.
type Case struct {
	// ID is the case's step id within its file ("role.EIS").
	ID string `json:"id"`
	// Key is "FILE#ID", unique within the suite.
	Key string `json:"key"`
	// Row is the schedule row the case checks; Role the role of its sender.
	Row  string `json:"row,omitempty"`
	Role string `json:"role,omitempty"`
	User string `json:"user,omitempty"`
	// Description is the comment above the case: the row and the clause.
	Description []string `json:"description,omitempty"`
	Status      string   `json:"status"`
	// KnownReason is why a known failure fails.
	KnownReason string        `json:"known_reason,omitempty"`
	Failures    []string      `json:"failures,omitempty"`
	Steps       []*Step       `json:"steps"`
	Duration    time.Duration `json:"duration_ns"`
}

// Step is one step of a case.
type Step struct {
	Index int    `json:"index"`
	ID    string `json:"id,omitempty"`
	Kind  string `json:"kind"` // request, advance, event
	// What the step does, in a line ("4.1 to 00-DB-...", "advance 1h").
	What      string `json:"what"`
	User      string `json:"user,omitempty"`
	Role      string `json:"role,omitempty"`
	Service   string `json:"service,omitempty"`
	Device    string `json:"device,omitempty"`
	Category  string `json:"category,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Expected and Got are the outcome and reason code.
	Expected Outcome `json:"expected"`
	Got      Outcome `json:"got"`
	// StatusBefore and StatusAfter are the target device's SMI status
	// around the request ("" for a device not on the inventory).
	StatusBefore string `json:"status_before,omitempty"`
	StatusAfter  string `json:"status_after,omitempty"`
	// Elapsed is the wall time the step took; Target the Target Response
	// Time of the request's category (0 where the schedule gives none).
	Elapsed time.Duration `json:"elapsed_ns"`
	Target  time.Duration `json:"target_ns,omitempty"`
	// Later are the outcomes of earlier steps this step looked at (a
	// future dated request once due), by step id.
	Later    map[string]string `json:"later,omitempty"`
	Failures []string          `json:"failures,omitempty"`
	// NotRun is set for a step the run did not reach: its scenario could
	// not start, or stopped before it. Its case is failed.
	NotRun bool `json:"not_run,omitempty"`
}

// Outcome is an outcome and reason code.
type Outcome struct {
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	Clause string `json:"clause,omitempty"`
}

func (o Outcome) String() string {
	if o.State == "" {
		return "-"
	}
	if o.Reason == "" {
		return o.State
	}
	return o.State + " " + o.Reason
}

// Mutation is the result of running the suite against mutants of the spec
// and the policy.
type Mutation struct {
	Total    int           `json:"total"`
	Killed   int           `json:"killed"`
	Invalid  int           `json:"invalid"`
	Duration time.Duration `json:"duration_ns"`
	Mutants  []Mutant      `json:"mutants"`
}

// Score is killed / total, as a percentage.
func (m *Mutation) Score() float64 {
	if m == nil || m.Total == 0 {
		return 0
	}
	return 100 * float64(m.Killed) / float64(m.Total)
}

// Mutant is one mutant and what became of it.
type Mutant struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
	// Status is killed, survived or invalid (the mutant does not load).
	Status string `json:"status"`
	// KilledBy is the first case that failed.
	KilledBy string `json:"killed_by,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// Files is how many suite files ran against it.
	Files    int           `json:"files"`
	Duration time.Duration `json:"duration_ns"`
}

// Summary counts cases.
type Summary struct {
	Scenarios int `json:"scenarios"`
	// Errors is how many scenarios failed outside their cases (Scenario's
	// Failures): each fails the run.
	Errors int `json:"errors"`
	Cases  int `json:"cases"`
	Passed int `json:"passed"`
	Failed int `json:"failed"`
	Known  int `json:"known"`
	Fixed  int `json:"fixed"`
	Steps  int `json:"steps"`
	// Requests is how many requests were sent (of the steps that ran);
	// Timed how many of them ran on demand and were answered, and Late how
	// many of those took longer than their Target Response Time.
	Requests int `json:"requests"`
	Timed    int `json:"timed"`
	Late     int `json:"late"`
	// Slowest is the longest on-demand answer and the share of its Target
	// Response Time it used.
	Slowest      time.Duration `json:"slowest_ns"`
	SlowestShare float64       `json:"slowest_share"`
}

// OK reports whether the run passed: no case failed and every scenario ran
// without an error.
func (r *Report) OK() bool {
	s := r.Summary()
	return s.Failed == 0 && s.Errors == 0
}

// Summary counts the report's scenario errors, cases and steps.
func (r *Report) Summary() Summary {
	var s Summary
	s.Scenarios = len(r.Scenarios)
	for _, sc := range r.Scenarios {
		if len(sc.Failures) > 0 {
			s.Errors++
		}
		for _, c := range sc.Cases {
			s.Cases++
			switch c.Status {
			case Passed:
				s.Passed++
			case Failed:
				s.Failed++
			case Known:
				s.Known++
			case Fixed:
				s.Fixed++
			}
			for _, st := range c.Steps {
				s.Steps++
				if st.Kind != "request" || st.NotRun {
					continue
				}
				s.Requests++
				if st.Target > 0 && st.Category == "on_demand" && st.Got.State == "accepted" {
					s.Timed++
					if st.Elapsed > st.Target {
						s.Late++
					}
					if st.Elapsed > s.Slowest {
						s.Slowest = st.Elapsed
						s.SlowestShare = float64(st.Elapsed) / float64(st.Target)
					}
				}
			}
		}
	}
	return s
}

// Group counts the cases of one role or one row.
type Group struct {
	Name   string `json:"name"`
	Label  string `json:"label,omitempty"`
	Cases  int    `json:"cases"`
	Passed int    `json:"passed"`
	Failed int    `json:"failed"`
	Known  int    `json:"known"`
	// Slowest is the longest on-demand answer among its cases.
	Slowest time.Duration `json:"slowest_ns"`
}

// ByRole groups the cases by the role of their sender, in the order roles
// gives (the spec's); cases without a role come last.
func (r *Report) ByRole(roles []string) []Group {
	return r.group(roles, func(c *Case) string { return c.Role })
}

// ByRow groups the cases by the row they check, in the order rows gives
// (the schedule's); others come last in name order.
func (r *Report) ByRow(rows []string) []Group {
	return r.group(rows, func(c *Case) string { return c.Row })
}

func (r *Report) group(order []string, key func(*Case) string) []Group {
	idx := map[string]*Group{}
	var extra []string
	for _, sc := range r.Scenarios {
		for _, c := range sc.Cases {
			k := key(c)
			if k == "" {
				k = "-"
			}
			g := idx[k]
			if g == nil {
				g = &Group{Name: k}
				idx[k] = g
				known := false
				for _, o := range order {
					if o == k {
						known = true
					}
				}
				if !known {
					extra = append(extra, k)
				}
			}
			g.Cases++
			switch c.Status {
			case Passed, Fixed:
				g.Passed++
			case Failed:
				g.Failed++
			case Known:
				g.Known++
			}
			for _, st := range c.Steps {
				if st.Category == "on_demand" && st.Got.State == "accepted" && st.Elapsed > g.Slowest {
					g.Slowest = st.Elapsed
				}
			}
		}
	}
	sort.Strings(extra)
	var out []Group
	for _, k := range append(append([]string{}, order...), extra...) {
		if g := idx[k]; g != nil {
			out = append(out, *g)
			delete(idx, k)
		}
	}
	return out
}
