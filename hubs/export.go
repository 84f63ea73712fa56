package hubs

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteJSON writes the statement as indented JSON.
func (st *Statement) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

// CSVHeader is the header row of WriteCSV.
var CSVHeader = []string{"month", "party", "invoice", "kind", "label", "rule", "clause", "amount_pence", "amount_gbp", "pool", "share", "hubs", "detail"}

// WriteCSV writes one row per invoice line, hubs separated by spaces.
func (st *Statement) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, inv := range st.Invoices {
		for _, l := range inv.Lines {
			row := []string{st.Month, l.Party, inv.Invoice, l.Kind, l.Label, l.Rule, l.Clause,
				strconv.FormatInt(int64(l.Amount), 10), l.Amount.Decimal(), l.Pool, l.Share,
				strings.Join(l.Hubs, " "), l.Detail}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes the statement as a person reads it: each party's
// invoices with their lines, then the pools, removals, fault assessments,
// float and defaults.
func (st *Statement) WriteText(w io.Writer) error {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("Communications Hub charges for %s (spec %s)\n", st.Month, short(st.SpecHash))
	for _, inv := range st.Invoices {
		p("\n%s  %s (%s)  total %s\n", inv.Party, inv.Label, inv.Clause, inv.Total)
		for _, l := range inv.Lines {
			p("  %-13s %-58s %s\n", l.Amount, l.Label, l.Clause)
			how := "rule: " + l.Rule
			if l.Pool != "" {
				how += fmt.Sprintf(", share %s of pool %s", l.Share, l.Pool)
			} else if l.Share != "" {
				how += ", " + l.Share
			}
			p("  %13s %s\n", "", how)
			if len(l.Hubs) > 0 {
				p("  %13s hubs: %s\n", "", hubList(l.Hubs))
			}
			if l.Detail != "" {
				p("  %13s %s\n", "", l.Detail)
			}
		}
	}
	if len(st.Pools) > 0 {
		p("\nPools smeared\n")
		for _, pl := range st.Pools {
			p("  %-30s %s over %d hubs by %s (%s)\n", pl.Kind, pl.Total, len(pl.Items), pl.Basis, pl.Clause)
			for _, s := range pl.Shares {
				p("  %30s %s %s\n", s.Party, s.Weight, s.Amount)
			}
		}
	}
	if len(st.Removals) > 0 {
		p("\nRemovals\n")
		for _, r := range st.Removals {
			p("  %s %s by %s: %s -> %s, %s (%s)\n", r.Date, r.Hub, r.Supplier, r.Reason, r.Category, r.Responsibility, r.Clause)
			p("      remaining %s, recovered %s by %s, written off %s\n", r.Remaining, r.Recovered, r.Rule, r.WrittenOff)
			if strings.Contains(r.Detail, "claimed") {
				p("      %s\n", r.Detail)
			}
		}
	}
	for _, t := range st.TypeFaults {
		p("\nType faults, region %q, %s: %d faults of %d installed, threshold %d, %d above: %s\n",
			t.Region, t.Year, t.Faults, t.Installed, t.Threshold, t.Above, t.Damages)
	}
	for _, b := range st.BatchFaults {
		p("\nBatch faults, order %s (%s): %d of %d failed (threshold %d): %s\n", b.Order, b.Supplier, b.Faults, b.Delivered, b.Threshold, b.Damages)
	}
	f := st.Float
	p("\nFloat: opening %s, recovered %s, target %s, top up %s, drawn %s, closing %s\n", f.Opening, f.Recovered, f.Target, f.TopUp, f.Drawn, f.Closing)
	for _, d := range st.Defaults {
		p("Unpaid: %s's %s invoice of %s, %s (float draw %s), socialised in %s\n", d.Party, d.Invoice, d.Month, d.Unpaid, d.FloatDraw, d.SocialisedIn)
	}
	return nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func hubList(hs []string) string {
	const max = 8
	if len(hs) <= max {
		return strings.Join(hs, " ")
	}
	return fmt.Sprintf("%s ... (%d in all)", strings.Join(hs[:max], " "), len(hs))
}

// ForParty returns the statement as one party sees it: its own invoices,
// the pools it has a share of with only its share, its own removals and
// unpaid invoices, and the fault assessments and float (which are the
// same for everyone).
func (st *Statement) ForParty(party string) *Statement {
	out := *st
	out.Invoices, out.Pools, out.Removals, out.Defaults, out.Carried, out.BatchFaults = nil, nil, nil, nil, nil, nil
	for _, i := range st.Invoices {
		if i.Party == party {
			out.Invoices = append(out.Invoices, i)
		}
	}
	for _, p := range st.Pools {
		for _, s := range p.Shares {
			if s.Party == party {
				cp := *p
				cp.Shares = []Share{s}
				out.Pools = append(out.Pools, &cp)
			}
		}
	}
	for _, r := range st.Removals {
		if r.Supplier == party {
			out.Removals = append(out.Removals, r)
		}
	}
	for _, d := range st.Defaults {
		if d.Party == party {
			out.Defaults = append(out.Defaults, d)
		}
	}
	for _, b := range st.BatchFaults {
		if b.Supplier == party {
			out.BatchFaults = append(out.BatchFaults, b)
		}
	}
	return &out
}
