package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/conformance/connectgw"
	"github.com/dccgate/dccgate/conformance/report"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/conformance/suite"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

// runConformance: `dccgate conformance run|mutate`.
//
//	dccgate conformance run [--target URL [--certs DIR]] [--role ROLE]... [--report DIR] [FILE_OR_DIR...]
//	dccgate conformance mutate [--report DIR] [--parallel N]
func runConformance(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: dccgate conformance run [--target URL [--certs DIR]] [--role ROLE]... [--report DIR] [FILE_OR_DIR...]\n       dccgate conformance mutate [--report DIR] [--parallel N]")
		return exitUsage
	}
	switch args[0] {
	case "run":
		return conformanceRun(ctx, args[1:], stdout, stderr)
	case "mutate":
		return conformanceMutate(ctx, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dccgate conformance: unknown subcommand %q (run, mutate)\n", args[0])
	return exitUsage
}

// roleList is a repeatable --role flag (ROLE or ROLE,ROLE).
type roleList []string

func (r *roleList) String() string { return strings.Join(*r, ",") }
func (r *roleList) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(strings.ToUpper(p)); p != "" {
			*r = append(*r, p)
		}
	}
	return nil
}

// reorderFlags moves flags before positional arguments, knowing which of
// fs's flags take no value.
func reorderFlags(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			isBool := false
			if f := fs.Lookup(name); f != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
					isBool = true
				}
			}
			if !isBool && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func conformanceRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate conformance run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "URL of a running `dccgate serve --virtual-clock` (default: in-process gateways)")
	certs := fs.String("certs", filepath.Join(defaultDataDir(), "pki"), "with --target: the directory holding ca.pem, admin.pem and admin-key.pem of that gateway (and ca-key.pem, if there, to send as User IDs no world names)")
	var roles roleList
	fs.Var(&roles, "role", "run only the cases of this role (repeatable): the part of the suite a supplier entering that role runs")
	reportDir := fs.String("report", "", "write junit.xml, report.json and report.html to this directory")
	parallel := fs.Int("parallel", 4, "in-process: scenarios run at once, each on a gateway of its own")
	store := fs.String("store", "memory", "in-process: the gateways' store, memory or file (SQLite files in a temporary directory)")
	progress := fs.String("progress", "auto", "progress display: auto (a bar on a terminal, lines in CI), bar, lines or none")
	strict := fs.Bool("strict", false, "fail on known failures too")
	record := fs.Bool("record", true, "record the target device's SMI status before and after each request (two more calls per request)")
	if err := fs.Parse(reorderFlags(fs, args)); err != nil {
		return exitUsage
	}
	sp, err := spec.Default()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	for _, r := range roles {
		if sp.Role(r) == nil {
			fmt.Fprintf(stderr, "dccgate conformance run: unknown role %q\n", r)
			return exitUsage
		}
	}
	var files []*suite.File
	if fs.NArg() > 0 {
		files, err = suite.LoadPaths(fs.Args()...)
	} else {
		files, err = suite.Load()
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	files = suite.ForRoles(files, roles)
	if len(files) == 0 {
		fmt.Fprintln(stderr, "dccgate conformance run: no cases to run")
		return exitFail
	}

	opts := suite.Options{Spec: sp, Known: suite.KnownMap(), Record: *record}
	where := "in-process"
	if *target != "" {
		client, err := remoteClient(*target, *certs, sp)
		if err != nil {
			fmt.Fprintf(stderr, "dccgate conformance run: %v\n", err)
			return exitFail
		}
		warnNoIssuer(stderr, "conformance run", client, *certs)
		opts.NewGateway = func() (scenario.Gateway, error) { return client, nil }
		opts.Parallel = 1
		where = *target
	} else {
		eng, err := engine.New(ctx, sp)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		pool, err := newGatewayPool(ctx, eng, sp, *store == "file")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		defer pool.Close()
		opts.NewGateway = pool.Get
		opts.Parallel = max(*parallel, 1)
	}
	total := 0
	for _, f := range files {
		total += len(suite.Cases(f.Scenario))
	}
	fmt.Fprintf(stdout, "dccgate conformance: %d cases in %d scenarios against %s\n", total, len(files), where)
	opts.Progress = newProgress(*progress, stderr, len(files))
	rep := suite.Run(ctx, files, opts)
	rep.Gateway = where
	rep.Roles = roles
	printSummary(stdout, rep)
	if *reportDir != "" {
		if err := writeReports(*reportDir, rep); err != nil {
			fmt.Fprintf(stderr, "dccgate conformance run: %v\n", err)
			return exitFail
		}
		fmt.Fprintf(stdout, "reports: %s\n", strings.Join([]string{filepath.Join(*reportDir, "junit.xml"), filepath.Join(*reportDir, "report.json"), filepath.Join(*reportDir, "report.html")}, ", "))
	}
	if !rep.OK() || *strict && rep.Summary().Known > 0 {
		return exitFail
	}
	return exitOK
}

// printSummary writes what failed, the known failures, and the counts.
func printSummary(w io.Writer, rep *report.Report) {
	s := rep.Summary()
	for _, sc := range rep.Scenarios {
		for _, f := range sc.Failures {
			fmt.Fprintf(w, "FAIL %s: %s\n", sc.File, f)
		}
		for _, c := range sc.Cases {
			switch c.Status {
			case report.Failed:
				for _, f := range c.Failures {
					fmt.Fprintf(w, "FAIL %s: %s\n", c.Key, f)
				}
			case report.Known:
				fmt.Fprintf(w, "known %s: %s\n", c.Key, c.KnownReason)
			case report.Fixed:
				fmt.Fprintf(w, "fixed %s: a known failure now passes; take it off conformance/suite/known.go\n", c.Key)
			}
		}
	}
	timing := "all within their Target Response Times"
	if s.Late > 0 {
		timing = fmt.Sprintf("%d later than their Target Response Time", s.Late)
	}
	fmt.Fprintf(w, "%d on-demand Service Responses, %s (slowest %s)\n", s.Timed, timing, s.Slowest.Round(time.Microsecond))
	errs := ""
	if s.Errors > 0 {
		errs = fmt.Sprintf(", %d scenario errors", s.Errors)
	}
	fmt.Fprintf(w, "%d cases: %d passed, %d failed, %d known failures%s; %d requests in %s\n", s.Cases, s.Passed+s.Fixed, s.Failed, s.Known, errs, s.Requests, rep.Duration.Round(time.Millisecond))
}

func writeReports(dir string, rep *report.Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer, *report.Report) error{
		"junit.xml": report.WriteJUnit, "report.json": report.WriteJSON, "report.html": report.WriteHTML,
	} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f, rep); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// ---------------------------------------------------------------- progress

// newProgress shows the run's progress: a bar redrawn in place on a
// terminal, a plain line per scenario elsewhere (CI logs).
func newProgress(mode string, w io.Writer, total int) func(done, total int, sc *report.Scenario) {
	if mode == "auto" {
		mode = "lines"
		if isTerminal(w) && os.Getenv("CI") == "" {
			mode = "bar"
		}
	}
	switch mode {
	case "none":
		return nil
	case "bar":
		b := &bar{w: w, start: time.Now()}
		return b.update
	}
	return func(done, total int, sc *report.Scenario) {
		p, f, k := counts(sc)
		status := "ok  "
		if f > 0 || len(sc.Failures) > 0 {
			status = "FAIL"
		}
		extra := ""
		if k > 0 {
			extra = fmt.Sprintf(", %d known", k)
		}
		if f > 0 {
			extra += fmt.Sprintf(", %d failed", f)
		}
		if len(sc.Failures) > 0 {
			extra += ", scenario error"
		}
		fmt.Fprintf(w, "%s [%*d/%d] %s: %d cases, %d passed%s (%s)\n", status, len(fmt.Sprint(total)), done, total, sc.File, len(sc.Cases), p, extra, sc.Duration.Round(time.Millisecond))
	}
}

func counts(sc *report.Scenario) (passed, failed, known int) {
	for _, c := range sc.Cases {
		switch c.Status {
		case report.Passed, report.Fixed:
			passed++
		case report.Failed:
			failed++
		case report.Known:
			known++
		}
	}
	return
}

type bar struct {
	w      io.Writer
	start  time.Time
	failed int
	cases  int
	errors int
}

func (b *bar) update(done, total int, sc *report.Scenario) {
	_, f, _ := counts(sc)
	b.failed += f
	b.cases += len(sc.Cases)
	if len(sc.Failures) > 0 {
		b.errors++
	}
	errs := ""
	if b.errors > 0 {
		errs = fmt.Sprintf("%d scenario errors, ", b.errors)
	}
	const width = 30
	n := width * done / max(total, 1)
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d scenarios, %d cases, %d failed, %s%s ", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total, b.cases, b.failed, errs, time.Since(b.start).Round(100*time.Millisecond))
	if done == total {
		fmt.Fprintln(b.w)
	}
}

// ---------------------------------------------------------------- in-process gateways

// gatewayPool keeps in-process gateways (each a `serve --virtual-clock` on
// loopback, sharing one compiled engine) for the scenarios to reuse: a
// scenario starts with a Reset of its world, so a gateway that ran one is as
// good as new for the next.
type gatewayPool struct {
	ctx  context.Context
	eng  *engine.Engine
	sp   *spec.Spec
	file bool
	dir  string
	pki  *server.PKI

	mu   sync.Mutex
	idle []*pooled
	all  []*pooled
	n    int
}

type pooled struct {
	*connectgw.Client
	srv  *server.Server
	pool *gatewayPool
}

// Close gives the gateway back to its pool.
func (g *pooled) Close() error {
	g.pool.mu.Lock()
	defer g.pool.mu.Unlock()
	g.pool.idle = append(g.pool.idle, g)
	return nil
}

func newGatewayPool(ctx context.Context, eng *engine.Engine, sp *spec.Spec, file bool) (*gatewayPool, error) {
	dir, err := os.MkdirTemp("", "dccgate-conformance-")
	if err != nil {
		return nil, err
	}
	p, err := server.LoadOrCreatePKI(filepath.Join(dir, "pki"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &gatewayPool{ctx: ctx, eng: eng, sp: sp, file: file, dir: dir, pki: p}, nil
}

// Get returns an idle gateway or starts one.
func (p *gatewayPool) Get() (scenario.Gateway, error) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		g := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return g, nil
	}
	p.n++
	n := p.n
	p.mu.Unlock()
	cfg := server.Config{DataDir: filepath.Join(p.dir, fmt.Sprint(n)), Listen: "127.0.0.1:0", VirtualClock: true, Engine: p.eng, Spec: p.sp, PKI: p.pki}
	if !p.file {
		cfg.StoreURL = "sqlite://:memory:"
	}
	srv, err := server.Start(p.ctx, cfg)
	if err != nil {
		return nil, err
	}
	c, err := connectgw.New(srv.URL, p.pki.CA.CertPEM, p.pki.Admin, p.sp)
	if err != nil {
		srv.Close()
		return nil, err
	}
	c.Issue = userIssuer(p.pki)
	g := &pooled{Client: c, srv: srv, pool: p}
	p.mu.Lock()
	p.all = append(p.all, g)
	p.mu.Unlock()
	return g, nil
}

// userIssuer issues, from the in-process gateways' own CA, the certificate
// of a User ID no world names: the request of a party that has not
// completed User Entry (para 116, 281) then reaches the gateway, which must
// refuse it (UNKNOWN_USER), rather than failing at the TLS handshake.
func userIssuer(p *server.PKI) func(string) (pki.Issued, error) {
	return func(id string) (pki.Issued, error) { return p.CA.IssueUser(id, "") }
}

// Close stops every gateway of the pool.
func (p *gatewayPool) Close() error {
	p.mu.Lock()
	all := p.all
	p.all, p.idle = nil, nil
	p.mu.Unlock()
	// Closing waits for the server's connections to go idle: close them all
	// at once.
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, g := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.srv.Close()
		}()
	}
	wg.Wait()
	os.RemoveAll(p.dir)
	return errors.Join(errs...)
}
