package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
)

// runDecide reads {"request": ..., "facts": ...} from FILE or stdin and
// prints the decision: a way for a policy author to try a rule.
func runDecide(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate decide", flag.ContinueOnError)
	fs.SetOutput(stderr)
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	policyDir := fs.String("policy", "", "Rego policy directory (default: the embedded policy)")
	reference := fs.Bool("reference", false, "evaluate the Rego decision rule in full instead of the fast path")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: dccgate decide [--spec DIR] [--policy DIR] [--reference] [FILE]

Reads a JSON object {"request": {...}, "facts": {...}} from FILE (or stdin)
and prints the decision. Example:

  {"request": {"service": "4.1", "user_id": "00-00-00-00-00-00-0A-01",
               "device_id": "00-DB-00-00-00-00-E0-01", "body": {"register": "total"}},
   "facts": {"now": "2026-01-05T09:00:00Z",
             "user": {"known": true, "role": "EIS"},
             "device": {"known": true, "type": "ESME", "status": "commissioned"},
             "registration": [{"mpxn": "1900000000011", "fuel": "electricity",
                               "import_supplier": "00-00-00-00-00-00-0A-01"}]}}`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorder(args)); err != nil {
		return exitUsage
	}
	var data []byte
	var err error
	switch fs.NArg() {
	case 0:
		data, err = io.ReadAll(stdin)
	case 1:
		data, err = os.ReadFile(fs.Arg(0))
	default:
		fs.Usage()
		return exitUsage
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	s, ok := loadSpec(*specDir, stderr)
	if !ok {
		return exitFail
	}
	var opts []policy.Option
	if *policyDir != "" {
		opts = append(opts, policy.WithModules(os.DirFS(*policyDir), *policyDir))
	}
	e, err := engine.New(ctx, s, opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	req, facts, err := engine.DecodeInput(data)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	var d engine.Decision
	if *reference {
		if d, err = e.DecideReference(ctx, req, facts); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
	} else {
		d = e.Decide(ctx, req, facts)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(d.JSON())
	return exitOK
}
