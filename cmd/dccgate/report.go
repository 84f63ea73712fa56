package main

// dccgate report: the reports the gateway makes of itself, over its store.
//
//	dccgate report performance --month YYYY-MM [--format text|json|csv]
//	    the Code Performance Measures of para 262 over the month, each
//	    against its Target and Minimum Service Level, with what the source
//	    requires (para 260-261) and a breakdown per service
//	dccgate report demand --month YYYY-MM [--format text|json|csv] [--publication]
//	    usage per user and service against forecast and Table 5.3's
//	    thresholds, the users listed for the Panel and all parties (>= 110%,
//	    para 272), the aggregate per service (--publication: that alone)
//	dccgate report forecast --user ID SERVICE:YYYY-MM=COUNT...
//	    file or revise a user's forecasts (para 271)
//	dccgate report forecasts [--user ID] [--month YYYY-MM] [--history] [--json]
//	dccgate report enrolment
//	    record today's counts of enrolled systems per user (User ASMS, para
//	    408; the gateway should do this daily)
//
// Common flags: --data DIR, --store URL, --spec DIR, --at TIME (RFC 3339).

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/runtime/store"
)

const reportUsage = `usage:
  dccgate report performance --month YYYY-MM [--format text|json|csv]
  dccgate report demand --month YYYY-MM [--format text|json|csv] [--publication]
  dccgate report forecast --user ID SERVICE:YYYY-MM=COUNT...
  dccgate report forecasts [--user ID] [--month YYYY-MM] [--history] [--json]
  dccgate report enrolment
common flags: --data DIR, --store URL, --spec DIR, --at RFC3339 (default now)`

func runReport(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, reportUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, reportUsage)
		return exitOK
	case "performance", "demand", "forecast", "forecasts", "enrolment":
	default:
		fmt.Fprintf(stderr, "dccgate report: unknown subcommand %q\n%s\n", sub, reportUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("dccgate report "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	monthS := fs.String("month", "", "the month, YYYY-MM")
	format := fs.String("format", "text", "text, json or csv")
	publication := fs.Bool("publication", false, "the aggregate usage per service alone (para 272)")
	user := fs.String("user", "", "a User ID")
	history := fs.Bool("history", false, "every revision")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(flagsFirst(fs, args)); err != nil {
		return exitUsage
	}
	var m reports.Month
	var entries []reports.ForecastEntry
	switch sub {
	case "performance", "demand":
		var err error
		if m, err = reports.ParseMonth(*monthS); err != nil {
			fmt.Fprintf(stderr, "dccgate report %s: --month YYYY-MM is required: %v\n", sub, err)
			return exitUsage
		}
		if *format != "text" && *format != "json" && *format != "csv" {
			fmt.Fprintf(stderr, "dccgate report %s: unknown format %q (text, json, csv)\n", sub, *format)
			return exitUsage
		}
	case "forecast":
		if *user == "" || fs.NArg() == 0 {
			fmt.Fprintln(stderr, "dccgate report forecast: --user ID SERVICE:YYYY-MM=COUNT...")
			return exitUsage
		}
		for _, a := range fs.Args() {
			e, err := parseForecast(a)
			if err != nil {
				fmt.Fprintf(stderr, "dccgate report forecast: %v\n", err)
				return exitUsage
			}
			entries = append(entries, e)
		}
	}
	st, sp, clk, ok := sf.open(ctx, stderr)
	if !ok {
		return exitFail
	}
	defer st.Close()
	rp, err := reports.New(st, sp, clk)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dccgate report %s: %v\n", sub, err)
		return exitFail
	}
	switch sub {
	case "performance":
		p, err := rp.Performance(ctx, m)
		if err != nil {
			return fail(err)
		}
		switch *format {
		case "json":
			return printJSON(stdout, p)
		case "csv":
			err = p.WriteCSV(stdout)
		default:
			err = p.WriteText(stdout)
		}
		if err != nil {
			return fail(err)
		}
	case "demand":
		d, err := rp.Demand(ctx, m)
		if err != nil {
			return fail(err)
		}
		switch {
		case *format == "json" && *publication:
			return printJSON(stdout, d.Publication())
		case *format == "json":
			return printJSON(stdout, d)
		case *format == "csv" && *publication:
			err = d.WriteAggregateCSV(stdout)
		case *format == "csv":
			err = d.WriteCSV(stdout)
		case *publication:
			err = d.WriteAggregateCSV(stdout)
		default:
			err = d.WriteText(stdout)
		}
		if err != nil {
			return fail(err)
		}
	case "forecast":
		got, err := rp.FileForecasts(ctx, *user, entries)
		if err != nil {
			return fail(err)
		}
		for _, f := range got {
			fmt.Fprintf(stdout, "%s %s %s: %d requests (revision %d, filed %s)\n", f.UserID, f.Service, f.Month, f.Count, f.Revision, f.FiledAt.Format(time.RFC3339))
		}
	case "forecasts":
		fcs, err := rp.Forecasts(ctx, store.ForecastFilter{UserID: *user, Month: *monthS, Latest: !*history})
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, fcs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "user\tservice\tmonth\trequests\trevision\tfiled")
		for _, f := range fcs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", f.UserID, f.Service, f.Month, f.Count, f.Revision, f.FiledAt.Format(time.RFC3339))
		}
		tw.Flush()
	case "enrolment":
		counts, err := rp.RecordEnrolment(ctx)
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, counts)
		}
		ids := make([]string, 0, len(counts))
		for id := range counts {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Fprintf(stdout, "enrolled Smart Metering Systems on %s, recorded:\n", clk.Now().UTC().Format(time.DateOnly))
		for _, id := range ids {
			fmt.Fprintf(stdout, "  %s %d\n", id, counts[id])
		}
	}
	return exitOK
}

// parseForecast reads SERVICE:YYYY-MM=COUNT.
func parseForecast(s string) (reports.ForecastEntry, error) {
	svcMonth, count, ok := strings.Cut(s, "=")
	svc, month, ok2 := strings.Cut(svcMonth, ":")
	n, err := strconv.ParseInt(count, 10, 64)
	if !ok || !ok2 || err != nil {
		return reports.ForecastEntry{}, fmt.Errorf("%q: want SERVICE:YYYY-MM=COUNT, e.g. 4.8:2026-04=1200", s)
	}
	return reports.ForecastEntry{Service: svc, Month: month, Count: n}, nil
}
