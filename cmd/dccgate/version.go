package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

// version and commit are set at link time by `make build` and `make
// install` (-ldflags '-X main.version=... -X main.commit=...'); a plain
// `go build` or `go install` falls back to what the Go toolchain recorded.
var (
	version string
	commit  string
)

// buildInfo returns the build's version and commit.
func buildInfo() (ver, rev string) {
	ver, rev = version, commit
	bi, ok := debug.ReadBuildInfo()
	if ok && ver == "" && bi.Main.Version != "" {
		ver = bi.Main.Version
	}
	if ok && rev == "" {
		dirty := false
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				rev = st.Value
			case "vcs.modified":
				dirty = st.Value == "true"
			}
		}
		if rev != "" && dirty {
			rev += "-dirty"
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, stderr io.Writer) int {
	s, err := spec.Default()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	pol, err := server.PolicyHash("")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	ver, rev := buildInfo()
	fmt.Fprintf(stdout, "dccgate %s\ncommit %s\nspec %s\npolicy %s\n%s\n", ver, rev, s.Hash, pol, runtime.Version())
	return exitOK
}
