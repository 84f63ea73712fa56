package spec

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sourcePath finds the source document beside the checkout (../shared, as
// laid out for developers and CI) or at $DCCGATE_SOURCE.
func sourcePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DCCGATE_SOURCE"); p != "" {
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", "shared", "source", "sec2-consultation-2013.md"))
	if _, err := os.Stat(p); err != nil {
		t.Skipf("source document not found at %s (set DCCGATE_SOURCE): %v", p, err)
	}
	return p
}

type sourceRow struct {
	ref, variant, name string
	critical           bool
	fd, od             *time.Duration
	roles              []string
	table              string
}

// readSourceTables parses Tables 5.1 and 5.2 of Annex 5 from the Markdown of
// the source, independently of the spec.
func readSourceTables(t *testing.T) []sourceRow {
	t.Helper()
	f, err := os.Open(sourcePath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []sourceRow
	table := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Table 5.1:"):
			table = "5.1"
		case strings.HasPrefix(line, "Table 5.2:"):
			table = "5.2"
		case strings.HasPrefix(line, "Table 5.3:"), strings.HasPrefix(line, "Notes:"):
			table = ""
		}
		if table == "" || !strings.HasPrefix(line, "| ") {
			continue
		}
		cells := strings.Split(line, "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		cells = cells[1 : len(cells)-1]
		ref := cells[0]
		if ref == "" || strings.HasPrefix(ref, "Service Ref") || strings.HasPrefix(ref, "UGC") {
			continue
		}
		r := sourceRow{ref: ref, name: cells[1], table: table}
		var times []string
		if table == "5.1" {
			r.critical = cells[3] == "✓"
			times = cells[4:6]
			r.roles = strings.Fields(cells[6])
		} else {
			times = cells[3:5]
			r.roles = strings.Fields(cells[5])
		}
		r.fd, r.od = parseSourceTime(t, times[0]), parseSourceTime(t, times[1])
		lower := strings.ReplaceAll(strings.ToLower(r.name), "tariff(", "tariff (")
		lower = strings.ReplaceAll(lower, "price(", "price (")
		switch {
		case strings.Contains(lower, "(prepayment)"):
			r.variant = "prepayment"
		case strings.Contains(lower, "(credit)"):
			r.variant = "credit"
		case strings.Contains(lower, "type 2"):
			r.variant = "type2"
		case ref == "8.7" || ref == "8.8":
			r.variant = "type1"
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func parseSourceTime(t *testing.T, cell string) *time.Duration {
	t.Helper()
	if cell == "N/A" {
		return nil
	}
	var d time.Duration
	switch {
	case strings.HasPrefix(cell, "24hrs"):
		d = 24 * time.Hour
	case strings.HasPrefix(cell, "30secs"):
		d = 30 * time.Second
	case strings.HasPrefix(cell, "60secs"):
		d = 60 * time.Second
	case cell == "5 days":
		d = 5 * 24 * time.Hour
	default:
		t.Fatalf("unknown time cell %q", cell)
	}
	return &d
}

// TestSpecMatchesSource checks every row of Tables 5.1 and 5.2 against the
// source document: the same rows, critical flags, times and roles. DNO, which
// the Role Reference Key lacks, is read as ENO (see services.cue).
func TestSpecMatchesSource(t *testing.T) {
	rows := readSourceTables(t)
	s := MustDefault()
	if len(rows) != len(s.Services) {
		t.Errorf("source has %d rows, spec %d", len(rows), len(s.Services))
	}
	for _, r := range rows {
		svc := s.Service(r.ref, r.variant)
		if svc == nil {
			t.Errorf("row %s %q (variant %q) is missing from the spec", r.ref, r.name, r.variant)
			continue
		}
		if svc.Table != r.table {
			t.Errorf("%s: table %s, source %s", svc.Key(), svc.Table, r.table)
		}
		if svc.Critical != r.critical {
			t.Errorf("%s: critical %v, source %v", svc.Key(), svc.Critical, r.critical)
		}
		eq := func(a *Duration, b *time.Duration) bool {
			if a == nil || b == nil {
				return a == nil && b == nil
			}
			return a.Std() == *b
		}
		if !eq(svc.FutureDated, r.fd) {
			t.Errorf("%s: future dated %v, source %v", svc.Key(), svc.FutureDated, r.fd)
		}
		if !eq(svc.OnDemand, r.od) {
			t.Errorf("%s: on demand %v, source %v", svc.Key(), svc.OnDemand, r.od)
		}
		var want []string
		for _, role := range r.roles {
			if role == "DNO" {
				role = "ENO"
			}
			if !slices.Contains(want, role) {
				want = append(want, role)
			}
		}
		got := slices.Clone(svc.Roles)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: roles %v, source %v", svc.Key(), got, want)
		}
		if slices.Contains(r.roles, "DNO") && (svc.AsWritten == nil || !strings.Contains(svc.AsWritten.Roles, "DNO")) {
			t.Errorf("%s: the source's DNO is not kept as written", svc.Key())
		}
	}
}
