package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
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
(docs/hubs.md; an example is hubs/testdata/world.yaml), which cannot be
combined with --data or --store. --party names a party the records know.`)
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *input != "" {
		// A world file and a gateway's store are two sources of the hub
		// records: refuse both rather than read one and ignore the other.
		for _, other := range []string{"data", "store"} {
			if set[other] {
				fmt.Fprintf(stderr, "dccgate charges: --input and --%s are two sources of the hub records: give --input FILE (a world file) or --data DIR / --store URL (a gateway's store), not both\n", other)
				return exitUsage
			}
		}
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
		var code int
		if st, code = storeCharges(ctx, e, s, *data, *storeURL, now, m, *party, stderr); code != exitOK {
			return code
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
		known := worldParties(w)
		addStatementParties(known, st)
		known[s.Hubs.CSPParty] = true
		if !known[*party] {
			fmt.Fprintln(stderr, "dccgate charges:", unknownParty(*party, known, "the world"))
			return exitUsage
		}
		st = st.ForParty(*party)
	}
	return writeCharges(st, *format, *out, stdout, stderr)
}

// maxListedParties bounds the known parties an unknown party's error lists.
const maxListedParties = 20

// unknownParty is the error of a --party that is none of known, which it
// lists (the first maxListedParties of them) as those of source.
func unknownParty(party string, known map[string]bool, source string) error {
	names := slices.Sorted(maps.Keys(known))
	names = slices.DeleteFunc(names, func(n string) bool { return n == "" })
	if len(names) == 0 {
		return fmt.Errorf("unknown party %q: %s names no party", party, source)
	}
	more := ""
	if len(names) > maxListedParties {
		more = fmt.Sprintf(" and %d more", len(names)-maxListedParties)
		names = names[:maxListedParties]
	}
	return fmt.Errorf("unknown party %q: the parties of %s are %s%s", party, source, strings.Join(names, ", "), more)
}

// worldParties are the parties a hub world names.
func worldParties(w *hubs.World) map[string]bool {
	known := map[string]bool{}
	if w == nil {
		return known
	}
	for _, f := range w.Forecasts {
		known[f.Supplier] = true
	}
	for _, o := range w.Orders {
		known[o.Supplier] = true
	}
	for _, i := range w.Installs {
		known[i.Supplier] = true
	}
	for _, r := range w.Removals {
		known[r.Supplier] = true
	}
	for _, m := range w.Market {
		for _, counts := range []map[string]int64{m.Enrolled, m.EnrolledNonDomestic, m.CommissionedCHF} {
			for p := range counts {
				known[p] = true
			}
		}
	}
	for _, d := range w.Defaults {
		known[d.Party] = true
	}
	return known
}

// addStatementParties adds to known the parties a statement names.
func addStatementParties(known map[string]bool, st *hubs.Statement) {
	for _, i := range st.Invoices {
		known[i.Party] = true
	}
	for _, p := range st.Pools {
		for _, sh := range p.Shares {
			known[sh.Party] = true
		}
	}
	for _, r := range st.Removals {
		known[r.Supplier] = true
	}
	for _, d := range st.Defaults {
		known[d.Party] = true
	}
	for _, d := range st.Carried {
		known[d.Party] = true
	}
	for _, b := range st.BatchFaults {
		known[b.Supplier] = true
	}
}

// storeParties are the parties a gateway's store knows: its users, and
// the Suppliers its hub records name.
func storeParties(ctx context.Context, raw store.Store, hst hubsvc.Store) (map[string]bool, error) {
	known := map[string]bool{}
	us, err := raw.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		known[u.ID] = true
	}
	hs, err := hst.ListHubs(ctx, store.HubFilter{})
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		known[h.Supplier], known[h.Installer], known[h.RemovedBy] = true, true, true
	}
	return known, nil
}

// storeCharges computes a month's statement from the hub records of a
// gateway's store (a party's own part if party is set), and the exit code:
// exitOK, exitUsage for a party the store does not know, else exitFail.
func storeCharges(ctx context.Context, e *hubs.Engine, s *spec.Spec, data, url string, now time.Time, m hubs.Month, party string, stderr io.Writer) (*hubs.Statement, int) {
	url = storeURL(url, data)
	raw, err := store.Open(ctx, url)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, exitFail
	}
	defer raw.Close()
	hst, ok := raw.(hubsvc.Store)
	if !ok {
		fmt.Fprintf(stderr, "dccgate charges: store %s keeps no Communications Hub records\n", url)
		return nil, exitFail
	}
	clk := clock.NewVirtual(now)
	rp, err := reports.New(raw, s, clk)
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, exitFail
	}
	svc, err := hubsvc.New(hubsvc.Config{Store: hst, Spec: s, Clock: clk, Engine: e, Enrolled: rp.CountEnrolled})
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, exitFail
	}
	var st *hubsvc.Statement
	if party != "" {
		known, err := storeParties(ctx, raw, hst)
		if err == nil {
			st, err = svc.Statement(ctx, m)
		}
		if err != nil {
			fmt.Fprintln(stderr, "dccgate charges:", err)
			return nil, exitFail
		}
		addStatementParties(known, st.Statement)
		known[s.Hubs.CSPParty] = true
		if !known[party] {
			fmt.Fprintln(stderr, "dccgate charges:", unknownParty(party, known, "store "+url))
			return nil, exitUsage
		}
		st, err = svc.Charges(ctx, party, m)
	} else {
		st, err = svc.Statement(ctx, m)
	}
	if err != nil {
		fmt.Fprintln(stderr, "dccgate charges:", err)
		return nil, exitFail
	}
	if st.Provisional {
		fmt.Fprintf(stderr, "dccgate charges: %s has not ended: these charges are provisional\n", m)
	}
	return st.Statement, exitOK
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
