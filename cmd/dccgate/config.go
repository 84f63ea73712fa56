package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dccgate/dccgate/runtime/config"
)

// runConfig: `dccgate config print [--config FILE] [serve flags]` prints the
// effective configuration of `dccgate serve` with the same file,
// environment and flags, secrets masked, each value not a default followed
// by where it came from; `dccgate config check` only validates it.
func runConfig(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
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
