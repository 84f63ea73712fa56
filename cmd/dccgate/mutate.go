package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/conformance/connectgw"
	"github.com/dccgate/dccgate/conformance/mutate"
	"github.com/dccgate/dccgate/conformance/report"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/conformance/suite"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

// conformanceMutate: `dccgate conformance mutate`: the suite against
// mutants of the spec and the policy, each on in-process gateways of its
// own; prints the mutation score and exits non-zero if a mutant survives.
func conformanceMutate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate conformance mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reportDir := fs.String("report", "", "write mutation.json and mutation.html to this directory")
	parallel := fs.Int("parallel", 2, "mutants run at once")
	all := fs.Bool("all", false, "every mutant of every row (hundreds more; slow) rather than each kind visiting the rows in turn")
	match := fs.String("match", "", "only the mutants whose id contains this")
	progress := fs.String("progress", "auto", "progress display: auto, bar, lines or none")
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return exitUsage
	}
	sp, err := spec.Default()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	files, err := suite.Load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	res, err := mutationRun(ctx, sp, files, mutationOptions{all: *all, match: *match, parallel: *parallel, progress: *progress, out: stderr})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	printMutation(stdout, res)
	if *reportDir != "" {
		rep := &report.Report{Title: "dccgate conformance: mutation analysis", Gateway: "in-process mutants", SpecHash: sp.Hash, Started: time.Now().Add(-res.Duration), Duration: res.Duration, Mutation: res}
		if err := os.MkdirAll(*reportDir, 0o755); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		for name, write := range map[string]func(io.Writer, *report.Report) error{"mutation.json": report.WriteJSON, "mutation.html": report.WriteHTML} {
			f, err := os.Create(filepath.Join(*reportDir, name))
			if err == nil {
				err = write(f, rep)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintln(stderr, err)
				return exitFail
			}
		}
	}
	if res.Killed < res.Total {
		return exitFail
	}
	return exitOK
}

type mutationOptions struct {
	all      bool
	match    string
	parallel int
	progress string
	out      io.Writer
}

// mutationRun makes the mutants and runs the suite against each.
func mutationRun(ctx context.Context, sp *spec.Spec, files []*suite.File, o mutationOptions) (*report.Mutation, error) {
	src := mutate.Sources{Spec: spec.Files(), Policy: policy.Modules()}
	mutants, err := mutate.Generate(sp, src, mutate.Options{All: o.all})
	if err != nil {
		return nil, err
	}
	if o.match != "" {
		var keep []*mutate.Mutant
		for _, m := range mutants {
			if strings.Contains(m.ID, o.match) {
				keep = append(keep, m)
			}
		}
		mutants = keep
	}
	tmp, err := os.MkdirTemp("", "dccgate-mutation-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p, err := server.LoadOrCreatePKI(filepath.Join(tmp, "pki"))
	if err != nil {
		return nil, err
	}
	var closing sync.WaitGroup
	defer closing.Wait()
	factory := func(ctx context.Context, specDir, policyDir string) (func() (scenario.Gateway, error), func(), error) {
		msp := sp
		if specDir != "" {
			if msp, err = spec.LoadDir(specDir); err != nil {
				return nil, nil, err
			}
		}
		eng, err := engine.New(ctx, msp, policy.WithModules(os.DirFS(policyDir), policyDir))
		if err != nil {
			return nil, nil, err
		}
		var mu sync.Mutex
		var servers []*server.Server
		newGateway := func() (scenario.Gateway, error) {
			srv, err := server.Start(ctx, server.Config{DataDir: filepath.Join(tmp, "data"), StoreURL: "sqlite://:memory:", Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng, Spec: msp, PKI: p})
			if err != nil {
				return nil, err
			}
			mu.Lock()
			servers = append(servers, srv)
			mu.Unlock()
			// The client encodes requests as the unmutated spec's API does.
			c, err := connectgw.New(srv.URL, p.CA.CertPEM, p.Admin, sp)
			if err != nil {
				return nil, err
			}
			c.Issue = userIssuer(p)
			return c, nil
		}
		stop := func() {
			// A server's Close waits for its connections to go idle: let
			// that happen while the next mutant runs.
			mu.Lock()
			defer mu.Unlock()
			for _, s := range servers {
				closing.Add(1)
				go func() {
					defer closing.Done()
					s.Close()
				}()
			}
		}
		return newGateway, stop, nil
	}
	var progress func(done, total int, m report.Mutant)
	mode := o.progress
	if mode == "auto" {
		mode = "lines"
		if isTerminal(o.out) && os.Getenv("CI") == "" {
			mode = "bar"
		}
	}
	start := time.Now()
	killed := 0
	switch mode {
	case "bar":
		progress = func(done, total int, m report.Mutant) {
			if m.Status == "killed" {
				killed++
			}
			const width = 30
			n := width * done / max(total, 1)
			fmt.Fprintf(o.out, "\r[%s%s] %d/%d mutants, %d killed, %s ", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, killed, time.Since(start).Round(100*time.Millisecond))
			if done == total {
				fmt.Fprintln(o.out)
			}
		}
	case "lines":
		progress = func(done, total int, m report.Mutant) {
			fmt.Fprintf(o.out, "%-8s [%d/%d] %s: %s", m.Status, done, total, m.ID, m.Description)
			if m.KilledBy != "" {
				fmt.Fprintf(o.out, " (killed by %s)", m.KilledBy)
			} else if m.Detail != "" {
				fmt.Fprintf(o.out, " (%s)", m.Detail)
			}
			fmt.Fprintf(o.out, " %s\n", m.Duration.Round(time.Millisecond))
		}
	}
	return mutate.Run(ctx, src, mutants, files, factory, mutate.RunOptions{Parallel: o.parallel, Known: suite.KnownMap(), Progress: progress}), nil
}

// printMutation writes the survivors and the score.
func printMutation(w io.Writer, res *report.Mutation) {
	for _, m := range res.Mutants {
		switch m.Status {
		case "survived":
			fmt.Fprintf(w, "SURVIVED %s: %s\n", m.ID, m.Description)
		case "error":
			fmt.Fprintf(w, "ERROR %s: %s\n", m.ID, m.Detail)
		}
	}
	fmt.Fprintf(w, "mutation score: %d/%d killed (%.1f%%), %d invalid mutants not counted, in %s\n", res.Killed, res.Total, res.Score(), res.Invalid, res.Duration.Round(time.Millisecond))
}
