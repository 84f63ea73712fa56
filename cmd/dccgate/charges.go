package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/hubs"
)

// runCharges prints a month's Communications Hub charges per party (chapter
// 7), read from a hub world file until the gateway records hub orders.
//
//	dccgate charges --month 2026-03 --input hubs/testdata/world.yaml [--format text|json|csv] [--party ID] [--out FILE]
func runCharges(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate charges", flag.ContinueOnError)
	fs.SetOutput(stderr)
	month := fs.String("month", "", "the month, YYYY-MM (required)")
	input := fs.String("input", "", "the hub world: a .json, .yaml or .yml file (docs/hubs.md); - for JSON on stdin")
	format := fs.String("format", "text", "text, json or csv")
	party := fs.String("party", "", "only this party's invoices (a supplier's own view)")
	out := fs.String("out", "", "write to FILE instead of stdout")
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	policyDir := fs.String("policy", "", "directory holding an edited hubs.rego (default: the embedded policy)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: dccgate charges --month YYYY-MM --input FILE [--format text|json|csv] [--party ID] [--out FILE] [--spec DIR] [--policy DIR]

Prints the month's Communications Hub charges per party: the Communications
Hub Finance Charges and the DCC Charges invoices, each line with its rule,
clause and hubs, then the smeared pools, removals, fault assessments, float
and unpaid invoices. The world file's format is in docs/hubs.md; an example
is hubs/testdata/world.yaml.`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorder(args)); err != nil {
		return exitUsage
	}
	if *month == "" || *input == "" || fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	m, err := hubs.ParseMonth(*month)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return exitUsage
	}
	if *format != "text" && *format != "json" && *format != "csv" {
		fmt.Fprintf(stderr, "dccgate charges: unknown format %q (text, json, csv)\n", *format)
		return exitUsage
	}
	var w *hubs.World
	if *input == "-" {
		b, err := io.ReadAll(stdin)
		if err == nil {
			w, err = hubs.ParseWorld(b, false)
		}
		if err != nil {
			fmt.Fprintln(stderr, "dccgate charges: stdin:", err)
			return exitFail
		}
	} else if w, err = hubs.LoadWorld(*input); err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return exitFail
	}
	s, ok := loadSpec(*specDir, stderr)
	if !ok {
		return exitFail
	}
	var opts []hubs.PolicyOption
	if *policyDir != "" {
		opts = append(opts, hubs.WithPolicyFile(os.DirFS(*policyDir), "hubs.rego"))
	}
	e, err := hubs.New(ctx, s, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return exitFail
	}
	b, err := e.Open(ctx, w)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges: the world is not valid:")
		var es hubs.ErrorSet
		if errors.As(err, &es) {
			for _, x := range es {
				fmt.Fprintln(stderr, "  "+x.Error())
			}
		} else {
			fmt.Fprintln(stderr, "  "+err.Error())
		}
		return exitFail
	}
	st, err := b.Charges(m, clock.Real{}.Now())
	if errors.Is(err, hubs.ErrMonthOpen) {
		fmt.Fprintf(stderr, "dccgate charges: %s has not ended: these charges are provisional\n", m)
		st, err = b.Statement(m)
	}
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return exitFail
	}
	if *party != "" {
		st = st.ForParty(*party)
	}
	dst := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(stderr, "dccgate charges:", err)
			return exitFail
		}
		defer f.Close()
		dst = f
	}
	switch *format {
	case "json":
		err = st.WriteJSON(dst)
	case "csv":
		err = st.WriteCSV(dst)
	default:
		err = st.WriteText(dst)
	}
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return exitFail
	}
	return exitOK
}
