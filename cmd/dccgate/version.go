package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/dccgate/dccgate/spec"
)

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, stderr io.Writer) int {
	s, err := spec.Default()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	version, commit := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, st := range bi.Settings {
			if st.Key == "vcs.revision" {
				commit = st.Value
			}
		}
	}
	fmt.Fprintf(stdout, "dccgate %s\ncommit %s\nspec %s\n", version, commit, s.Hash)
	return exitOK
}
