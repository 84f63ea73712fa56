package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func pctText(p *float64) string {
	if p == nil {
		return "-"
	}
	if *p == math.MaxFloat64 {
		return "inf"
	}
	return fmt.Sprintf("%.2f%%", *p)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

// WriteText writes the performance report for a terminal.
func (p *PerformanceReport) WriteText(w io.Writer) error {
	mo, _ := ParseMonth(p.Month)
	fmt.Fprintf(w, "Code Performance Measures, %s (%s)\n", mo.Label(), p.Clause)
	fmt.Fprintf(w, "made %s; counted: responses, alerts and incident resolutions due from %s to %s\n",
		p.GeneratedAt.Format(time.RFC3339), p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
	if len(p.Maintenance) > 0 {
		how := "reported beside the measures"
		if p.MaintenanceHandling == "excluded" {
			how = "responses and alerts due in it excluded from measures 1 to 3"
		}
		fmt.Fprintf(w, "planned maintenance: %s (%s), %s\n", p.MaintenanceTime, strings.Join(p.Maintenance, ", "), how)
	}
	for _, m := range p.Measures {
		fmt.Fprintf(w, "\nMeasure %d: %s\n", m.Number, m.Name)
		if !m.Measured {
			fmt.Fprintf(w, "  target %s%%, minimum %s%%\n  %s (%s)\n", num(m.Target), num(m.Minimum), m.Requirement, m.Clause)
			continue
		}
		if m.Incidents {
			fmt.Fprintf(w, "  %s (%d of %d incidents resolved within the Target Resolution Time)   target %s%%   minimum %s%%\n",
				pctText(m.Percent), m.Within, m.Total, num(m.Target), num(m.Minimum))
			fmt.Fprintf(w, "  %s (%s)\n", m.Requirement, m.Clause)
			if m.Undelivered+m.NotYetDue > 0 {
				fmt.Fprintf(w, "  %d due and not resolved (late); %d not yet due\n", m.Undelivered, m.NotYetDue)
			}
			continue
		}
		fmt.Fprintf(w, "  %s (%d of %d within the Target Response Time)   target %s%%   minimum %s%%\n",
			pctText(m.Percent), m.Within, m.Total, num(m.Target), num(m.Minimum))
		fmt.Fprintf(w, "  %s (%s)\n", m.Requirement, m.Clause)
		if m.Undelivered+m.Excluded+m.NotYetDue > 0 {
			fmt.Fprintf(w, "  %d due and not delivered (late); %d excluded; %d not yet due\n", m.Undelivered, m.Excluded, m.NotYetDue)
		}
		if len(m.Services) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  service\t\twithin\ttotal\tpercent\ttarget")
			for _, s := range m.Services {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\t%s\n", s.Service, s.Name, s.Within, s.Total, pctText(s.Percent), s.Target)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteText writes the demand report for a terminal.
func (d *DemandReport) WriteText(w io.Writer) error {
	mo, _ := ParseMonth(d.Month)
	fmt.Fprintf(w, "Managing demand, %s (%s)\n", mo.Label(), d.Clause)
	fmt.Fprintf(w, "\nReported to the Panel and all SEC Parties: usage at or above %d%% of forecast or threshold (para 272)\n", d.ReportAtPercent)
	if len(d.Listed) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, l := range d.Listed {
		fmt.Fprintf(w, "  %s %-3s %-5s %-32s %s of %s (%s)\n", l.UserID, l.Role, l.Service, l.Basis, num(l.Usage), num(l.Against), pctText(&l.Percent))
	}
	// What each user's service is listed by, to say on its line: the line
	// gives the forecast first, which need not be what listed it.
	listedBy := map[[2]string][]string{}
	for _, l := range d.Listed {
		k := [2]string{l.UserID, l.Service}
		listedBy[k] = append(listedBy[k], l.Basis)
	}
	fmt.Fprintln(w, "\nPer user and service")
	for _, u := range d.Users {
		fsm := "no Service Request yet"
		if u.FirstServiceMonth != "" {
			fsm = "First Service Month " + u.FirstServiceMonth
		}
		fmt.Fprintf(w, "\n%s %s %s (%s)\n", u.UserID, u.Role, u.Party, fsm)
		for _, s := range u.Services {
			line := fmt.Sprintf("  %s %s: %d requests", s.Service, s.Name, s.Requests)
			if s.Forecast != nil {
				line += fmt.Sprintf("; forecast %d (revision %d): %s", s.Forecast.Count, s.Forecast.Revision, pctText(s.ForecastPercent))
			} else {
				line += "; no forecast in force"
			}
			if s.Listed {
				line += "  LISTED"
				if by := listedBy[[2]string{u.UserID, s.Service}]; len(by) > 0 {
					line += " (" + strings.Join(by, ", ") + ")"
				}
			}
			fmt.Fprintln(w, line)
			for _, t := range s.Thresholds {
				if !t.Determined {
					fmt.Fprintf(w, "      %s: not determined: %s\n", t.ID, t.Note)
					continue
				}
				est := ""
				if t.EnrolmentEstimated {
					est = " (enrolment estimated)"
				}
				fmt.Fprintf(w, "      %s: metric %s, threshold %s (%s)%s\n", t.ID, num(t.Metric), num(t.Threshold), pctText(t.Percent), est)
				fmt.Fprintf(w, "        requests_m %d, requests_12m %d, enrolled_15th %s, asms_m %s, scale_12m %s (%d months counted)\n",
					t.RequestsM, t.Requests12M, num(t.Enrolled15th), num(t.ASMS), num(t.Scale12M), t.MonthsCounted)
			}
		}
	}
	fmt.Fprintln(w, "\nAggregate usage per service, for publication")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  service\t\trequests\tusers")
	for _, a := range d.Aggregate {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\n", a.Service, a.Name, a.Requests, a.Users)
	}
	return tw.Flush()
}

// WriteCSV writes one row per user, service and basis of comparison
// (forecast, or a Table 5.3 row; "none" where there is neither).
func (d *DemandReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"month", "user_id", "role", "service", "name", "requests", "basis", "usage", "against", "percent", "listed"})
	for _, u := range d.Users {
		for _, s := range u.Services {
			base := []string{d.Month, u.UserID, u.Role, s.Service, s.Name, strconv.Itoa(s.Requests)}
			wrote := false
			if s.Forecast != nil {
				listed := atOrAbove(float64(s.Requests), float64(s.Forecast.Count), d.ReportAtPercent)
				_ = cw.Write(append(base, "forecast", strconv.Itoa(s.Requests), strconv.FormatInt(s.Forecast.Count, 10), pctCSV(s.ForecastPercent), strconv.FormatBool(listed)))
				wrote = true
			}
			for _, t := range s.Thresholds {
				if !t.Determined {
					continue
				}
				_ = cw.Write(append(base, "threshold:"+t.ID, num(t.Metric), num(t.Threshold), pctCSV(t.Percent), strconv.FormatBool(t.AtOrAbove)))
				wrote = true
			}
			if !wrote {
				_ = cw.Write(append(base, "none", strconv.Itoa(s.Requests), "", "", "false"))
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func pctCSV(p *float64) string {
	if p == nil {
		return ""
	}
	if *p == math.MaxFloat64 {
		return "inf"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}

// WriteAggregateCSV writes the usage per service for publication.
func (d *DemandReport) WriteAggregateCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"month", "service", "name", "requests", "users"})
	for _, a := range d.Aggregate {
		_ = cw.Write([]string{d.Month, a.Service, a.Name, strconv.Itoa(a.Requests), strconv.Itoa(a.Users)})
	}
	cw.Flush()
	return cw.Error()
}

// Publication is the part of the report that is published (para 272).
type Publication struct {
	Month     string         `json:"month"`
	Clause    string         `json:"clause"`
	Aggregate []ServiceUsage `json:"aggregate"`
}

// Publication returns the aggregate usage for publication.
func (d *DemandReport) Publication() Publication {
	return Publication{Month: d.Month, Clause: d.Clause, Aggregate: d.Aggregate}
}

// WriteCSV writes the measures and their per-service breakdown.
func (p *PerformanceReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"month", "measure", "service", "within", "total", "percent", "target", "minimum", "result"})
	for _, m := range p.Measures {
		_ = cw.Write([]string{p.Month, strconv.Itoa(m.Number), "", strconv.Itoa(m.Within), strconv.Itoa(m.Total), pctCSV(m.Percent), num(m.Target), num(m.Minimum), m.Result})
		for _, s := range m.Services {
			_ = cw.Write([]string{p.Month, strconv.Itoa(m.Number), s.Service, strconv.Itoa(s.Within), strconv.Itoa(s.Total), pctCSV(s.Percent), "", "", ""})
		}
	}
	cw.Flush()
	return cw.Error()
}
