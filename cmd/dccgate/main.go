// Command dccgate is the DCC User Gateway made executable: one binary for
// policy authors, DCC Users and test teams.
//
//	dccgate serve [--config FILE] [--data DIR] [--store URL] [--admin-listen ADDR] [--virtual-clock]
//	dccgate config print [--config FILE]    the effective configuration, secrets masked
//	dccgate dev init [--data DIR]           local CA and user certificates
//	dccgate scenario run [--target URL] FILE_OR_DIR...
//	dccgate spec vet [--spec DIR]          validate the spec (file:line errors)
//	dccgate spec export [--spec DIR]       the whole spec as JSON
//	dccgate spec show REF [--spec DIR]     one service as a person reads it
//	dccgate spec diff OLD_DIR NEW_DIR      what an edit changes
//	dccgate decide [--spec DIR] [FILE]     decide a JSON request and facts
//	dccgate conformance run|mutate         the conformance suite and its mutation score
//	dccgate load [--fleet N] [--rate R]    seed a large world and drive load at a gateway
//	dccgate version                        the build and the spec's hash
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and found a problem (invalid spec, failed scenarios)
	exitUsage = 2
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the gateway (embedded SQLite, demo world, local mTLS)", runServe},
		{"scenario", "run scenario files against an in-process or a running gateway", runScenario},
		{"conformance", "run the conformance suite (reports, --role, --target) or its mutation analysis", runConformance},
		{"dev", "set up local certificates (dev init)", runDev},
		{"keys", "a user's key and certificate (keys new); correlate and sign a Pre-Command (keys sign)", runKeys},
		{"duis", "DUIS XML: sign and verify sr:Request documents, list the SRVs, issue DUIS certificates", runDUIS},
		{"spec", "vet, export, show and diff the spec", runSpec},
		{"decide", "decide a request against the spec and policy (reads JSON)", runDecide},
		{"config", "print or check the effective serve configuration (secrets masked)", runConfig},
		{"charges", "a month's Communications Hub charges per party (text, JSON, CSV)", runCharges},
		{"registration", "the Registration Data Interface: load RDP files, RDPs, nominations, refreshes, incidents", runRegistration},
		{"load", "seed a large world (--fleet N) and drive load at a gateway; throughput, latency percentiles, memory", runLoad},
		{"report", "the monthly reports: performance (para 262), demand (para 272), forecasts", runReport},
		{"version", "print the build and the spec's content hash", runVersion},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "dccgate: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: dccgate COMMAND [ARGS]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'dccgate COMMAND -h' for a command's flags.")
}
