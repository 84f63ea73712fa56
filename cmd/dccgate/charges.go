package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/hubs"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// runCharges prints a month's Communications Hub charges per party (chapter
// 7), from the hub records of a gateway's store (its orders, deliveries,
// installations read from the inventory, removals and enrolled systems), or
// from a hub world file.
//
//	dccgate charges --month 2026-03 [--data DIR | --store URL] [--at RFC3339] [--format text|json|csv] [--party ID] [--out FILE]
//	dccgate charges --month 2026-03 --input hubs/testdata/world.yaml [--format text|json|csv] [--party ID] [--out FILE]
func runCharges(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate charges", flag.ContinueOnError)
	fs.SetOutput(stderr)
	month := fs.String("month", "", "the month, YYYY-MM (required)")
	input := fs.String("input", "", "the hub world: a .json, .yaml or .yml file (docs/hubs.md); - for JSON on stdin (default: the gateway's store)")
	data := fs.String("data", defaultDataDir(), "data directory of the gateway whose store is read (DATA/dccgate.db)")
	storeURL := fs.String("store", "", "store URL: sqlite:///path/file.db or postgres://... (default: DCCGATE_STORE, else DATA/dccgate.db)")
	at := fs.String("at", "", "the time the month is judged ended or not, RFC 3339 (default: now)")
	format := fs.String("format", "text", "text, json or csv")
	party := fs.String("party", "", "only this party's invoices (a supplier's own view)")
	out := fs.String("out", "", "write to FILE instead of stdout")
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	policyDir := fs.String("policy", "", "directory holding an edited hubs.rego (default: the embedded policy)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: dccgate charges --month YYYY-MM [--data DIR | --store URL] [--at RFC3339] [--format text|json|csv] [--party ID] [--out FILE] [--spec DIR] [--policy DIR]
       dccgate charges --month YYYY-MM --input FILE [--format text|json|csv] [--party ID] [--out FILE] [--spec DIR] [--policy DIR]

Prints the month's Communications Hub charges per party: the Communications
Hub Finance Charges and the DCC Charges invoices, each line with its rule,
clause and hubs, then the smeared pools, removals, fault assessments, float
and unpaid invoices. By default they are computed from the hub records of
the gateway's store (orders, deliveries, the inventory's CHF statuses,
removals, enrolled systems per Supplier); with --input, from a world file
(docs/hubs.md; an example is hubs/testdata/world.yaml).`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(reorder(args)); err != nil {
		return exitUsage
	}
	if *month == "" || fs.NArg() != 0 {
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
	now := clock.Real{}.Now()
	if *at != "" {
		if now, err = time.Parse(time.RFC3339Nano, *at); err != nil {
			fmt.Fprintf(stderr, "dccgate charges: --at %q: want an RFC 3339 time such as 2026-03-01T09:00:00Z\n", *at)
			return exitUsage
		}
	}
	var w *hubs.World
	// Without --input the world is the store's, read once the engine is
	// built.
	if *input == "-" {
		b, err := io.ReadAll(stdin)
		if err == nil {
			w, err = hubs.ParseWorld(b, false)
		}
		if err != nil {
			fmt.Fprintln(stderr, "dccgate charges: stdin:", err)
			return exitFail
		}
	} else if *input != "" {
		if w, err = hubs.LoadWorld(*input); err != nil {
			fmt.Fprintln(stderr, "dccgate charges:", err)
			return exitFail
		}
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
	var st *hubs.Statement
	if *input == "" {
		var ok bool
		if st, ok = storeCharges(ctx, e, s, *data, *storeURL, now, m, *party, stderr); !ok {
			return exitFail
		}
		return writeCharges(st, *format, *out, stdout, stderr)
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
	st, err = b.Charges(m, now)
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
	return writeCharges(st, *format, *out, stdout, stderr)
}

// storeCharges computes a month's statement from the hub records of a
// gateway's store (a party's own part if party is set).
func storeCharges(ctx context.Context, e *hubs.Engine, s *spec.Spec, data, url string, now time.Time, m hubs.Month, party string, stderr io.Writer) (*hubs.Statement, bool) {
	url = storeURL(url, data)
	raw, err := store.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, false
	}
	defer raw.Close()
	hst, ok := raw.(hubsvc.Store)
	if !ok {
		fmt.Fprintf(stderr, "dccgate charges: store %s keeps no Communications Hub records\n", url)
		return nil, false
	}
	clk := clock.NewVirtual(now)
	rp, err := reports.New(raw, s, clk)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, false
	}
	svc, err := hubsvc.New(hubsvc.Config{Store: hst, Spec: s, Clock: clk, Engine: e, Enrolled: rp.CountEnrolled})
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, false
	}
	var st *hubsvc.Statement
	if party != "" {
		st, err = svc.Charges(ctx, party, m)
	} else {
		st, err = svc.Statement(ctx, m)
	}
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, false
	}
	if st.Provisional {
		fmt.Fprintf(stderr, "dccgate charges: %s has not ended: these charges are provisional\n", m)
	}
	return st.Statement, true
}

// writeCharges writes a statement in a format to out (a file) or stdout.
func writeCharges(st *hubs.Statement, format, out string, stdout, stderr io.Writer) int {
	var err error
	dst := stdout
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			fmt.Fprintln(stderr, "dccgate charges:", err)
			return exitFail
		}
		defer f.Close()
		dst = f
	}
	switch format {
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
