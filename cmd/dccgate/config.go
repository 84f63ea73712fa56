package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// runConfig: `dccgate config print [--config FILE] [serve flags]` prints the
// effective configuration of `dccgate serve` with the same file,
// environment and flags, secrets masked, each value not a default followed
// by where it came from; `dccgate config check` only validates it, as
// serve does when it starts (checkServe).
func runConfig(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "print" && args[0] != "check") {
		fmt.Fprintln(stderr, "usage: dccgate config print|check [--config FILE] [serve flags]")
		return exitUsage
	}
	fs := flag.NewFlagSet("dccgate config "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fl := config.RegisterFlags(fs)
	verbose := fs.Bool("v", false, "log debug lines (log.level debug)")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	if *verbose {
		fl.Set("log.level", "debug")
	}
	l, err := config.Load(fl, os.Environ())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if args[0] == "check" {
		if code := checkServe(ctx, l.Config, stderr); code != exitOK {
			return code
		}
		fmt.Fprintln(stdout, "config ok")
		return exitOK
	}
	out, err := l.Print()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if l.File != "" {
		fmt.Fprintf(stdout, "# dccgate configuration (file %s, then DCCGATE_* variables, then flags)\n", l.File)
	} else {
		fmt.Fprintln(stdout, "# dccgate configuration (no file; DCCGATE_* variables, then flags)")
	}
	stdout.Write(out)
	return exitOK
}

// checkServe checks a configuration as `dccgate serve` does when it starts,
// short of opening its store and listeners: it loads the spec and compiles
// it with the policies (spec.LoadDir, engine.New), builds the traffic
// management policy, and builds a gateway with them (gateway.New, the very
// checks serve's gateway makes of its configuration: traffic management on
// with a max_in_flight that keeps the load below where its policy acts,
// say) over an empty in-memory store, then closes it. Errors go to stderr;
// the result is the exit code.
func checkServe(ctx context.Context, c config.Config, stderr io.Writer) int {
	sp, err := spec.LoadDir(c.Spec)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if err := checkServiceDesk(sp, c.ServiceDesk); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if err := checkAnomaly(sp, anomalyRules(c.Anomaly), alertAnomalyRules(c.AlertAnomaly)); err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	if _, err := server.PolicyHash(c.Policy); err != nil { // reads the policy directory as serve does
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	var opts []policy.Option
	if c.Policy != "" {
		opts = append(opts, policy.WithModules(os.DirFS(c.Policy), c.Policy))
	}
	eng, err := engine.New(ctx, sp, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	tm, err := traffic.New(ctx, sp, traffic.Enabled(c.Traffic))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	st, err := store.Open(ctx, "sqlite://:memory:")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	defer st.Close()
	g, err := gateway.New(ctx, gateway.Config{Store: st, Engine: eng, Spec: sp, Clock: clock.Real{}, Traffic: tm,
		Workers: c.Workers, MaxInFlight: c.MaxInFlight, AdmissionWait: c.AdmitWait.Std()})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage // the configuration is at fault
	}
	g.Close()
	return exitOK
}
