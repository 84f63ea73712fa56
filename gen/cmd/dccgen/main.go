// Command dccgen writes every generated file from the spec:
//
//	go run ./gen/cmd/dccgen [-root DIR] [-spec DIR]
//
// `make generate` runs it, then `buf generate` for the Go and Connect code.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/dccgate/dccgate/gen"
	"github.com/dccgate/dccgate/spec"
)

func main() {
	root := flag.String("root", ".", "repository root to write under")
	specDir := flag.String("spec", "", "spec directory (default: the embedded spec)")
	flag.Parse()
	s, err := spec.LoadDir(*specDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outs, err := gen.All(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := gen.Write(*root, outs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
