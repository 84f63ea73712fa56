package mutate

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/conformance/report"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/conformance/suite"
	"github.com/dccgate/dccgate/spec"
)

// Factory builds gateways on a mutant: it loads the spec of specDir (""
// for the unmutated spec), compiles the policy of policyDir over it, and
// returns what gives a gateway on that engine and what stops them all. An
// error means the mutant does not load: it is invalid.
type Factory func(ctx context.Context, specDir, policyDir string) (newGateway func() (scenario.Gateway, error), stop func(), err error)

// RunOptions configure Run.
type RunOptions struct {
	// Parallel mutants run at once; 0 or 1: one after the other.
	Parallel int
	// Known are the suite's known failures (case key to reason): a case
	// that fails against the unmutated gateway kills nothing.
	Known map[string]string
	// Progress, if set, is called after each mutant, in the order they end.
	Progress func(done, total int, m report.Mutant)
}

// Run runs the suite against each mutant and reports which it kills.
func Run(ctx context.Context, src Sources, mutants []*Mutant, files []*suite.File, factory Factory, o RunOptions) *report.Mutation {
	start := time.Now()
	res := &report.Mutation{Mutants: make([]report.Mutant, len(mutants))}
	next := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(max(o.Parallel, 1), len(mutants)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := runMutant(ctx, src, mutants[i], files, factory, o)
				mu.Lock()
				res.Mutants[i] = r
				done++
				if o.Progress != nil {
					o.Progress(done, len(mutants), r)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range mutants {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for _, m := range res.Mutants {
		switch m.Status {
		case "killed":
			res.Total++
			res.Killed++
		case "survived":
			res.Total++
		case "invalid":
			res.Invalid++
		}
	}
	res.Duration = time.Since(start)
	return res
}

func runMutant(ctx context.Context, src Sources, m *Mutant, files []*suite.File, factory Factory, o RunOptions) (out report.Mutant) {
	start := time.Now()
	out = report.Mutant{ID: m.ID, Kind: m.Kind, Description: m.Description}
	defer func() { out.Duration = time.Since(start) }()
	dir, err := os.MkdirTemp("", "dccgate-mutant-")
	if err != nil {
		out.Status, out.Detail = "error", err.Error()
		return out
	}
	defer os.RemoveAll(dir)
	specDir, policyDir, err := m.Write(src, dir)
	if err != nil {
		out.Status, out.Detail = "error", err.Error()
		return out
	}
	newGateway, stop, err := factory(ctx, specDir, policyDir)
	if err != nil {
		out.Status, out.Detail = "invalid", firstLine(err.Error())
		return out
	}
	defer stop()
	out.Status = "survived"
	for _, f := range Select(m, files) {
		out.Files++
		if by, detail := kills(ctx, f, newGateway, o.Known); by != "" {
			out.Status, out.KilledBy, out.Detail = "killed", by, detail
			break
		}
		if ctx.Err() != nil {
			out.Status, out.Detail = "error", ctx.Err().Error()
			break
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Select chooses the suite files a mutant can change the cases of, in the
// order to run them: for a mutant confined to rows, the files that send
// one of those rows (the rows' own files first); for any other, every
// file, the files across rows first.
func Select(m *Mutant, files []*suite.File) []*suite.File {
	sp := spec.MustDefault()
	var own, rest []*suite.File
	for _, f := range files {
		row := suite.FileRow(f.Scenario, sp)
		if len(m.Rows) == 0 {
			if row == "" {
				own = append(own, f)
			} else {
				rest = append(rest, f)
			}
			continue
		}
		if slices.Contains(m.Rows, row) {
			own = append(own, f)
			continue
		}
		for _, k := range suite.Services(f.Scenario) {
			if slices.Contains(m.Rows, k) {
				rest = append(rest, f)
				break
			}
		}
	}
	return append(own, rest...)
}

// kills runs one file and returns the first case that fails and is not a
// known failure ("" if none), with what failed. It stops the file at the
// first request whose outcome or reason is not the one expected.
func kills(ctx context.Context, f *suite.File, newGateway func() (scenario.Gateway, error), known map[string]string) (string, string) {
	sc := f.Scenario
	gw, err := newGateway()
	if err != nil {
		return sc.File, "starting a gateway: " + err.Error()
	}
	if c, ok := gw.(interface{ Close() error }); ok {
		defer c.Close()
	}
	cases := suite.Cases(sc)
	key := suite.FileKey(sc.File)
	var requests []*scenario.Step
	for _, st := range sc.Steps {
		if st.Kind == scenario.StepRequest {
			requests = append(requests, st)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := &checker{Gateway: gw, requests: requests, cancel: cancel, caseOf: func(step int) string {
		id := suite.CaseOf(cases, step)
		if _, isKnown := known[key+"#"+id]; isKnown {
			return ""
		}
		return key + "#" + id
	}}
	res := scenario.Run(cctx, ch, sc)
	if ch.killer != "" {
		return ch.killer, ch.detail
	}
	for _, fl := range res.Failures {
		if fl.Step == 0 {
			return key, fl.Message
		}
		if k := ch.caseOf(fl.Step); k != "" {
			return k, fmt.Sprintf("step %d: %s", fl.Step, fl.Message)
		}
	}
	return "", ""
}

// checker passes a scenario's calls on and compares each request's answer
// with what its step expects: at the first difference in a case that is
// not a known failure it notes the case and stops the scenario.
type checker struct {
	scenario.Gateway
	requests []*scenario.Step
	n        int
	cancel   func()
	caseOf   func(step int) string
	killer   string
	detail   string
}

func (c *checker) Submit(ctx context.Context, as string, r scenario.SubmitRequest) (scenario.SubmitResult, error) {
	res, err := c.Gateway.Submit(ctx, as, r)
	if c.n < len(c.requests) && err == nil && c.killer == "" {
		st := c.requests[c.n]
		if x := st.Expect; x != nil && (x.Outcome != "" && res.Outcome.State != x.Outcome || x.Reason != "" && res.Outcome.Reason != x.Reason) {
			if k := c.caseOf(st.Index); k != "" {
				want := x.Outcome
				if x.Reason != "" {
					want += " " + x.Reason
				}
				c.killer, c.detail = k, fmt.Sprintf("step %d: expected %s, got %s", st.Index, want, res.Outcome)
				c.cancel()
			}
		}
	}
	c.n++
	return res, err
}
