package gen

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/dccgate/dccgate/spec"
)

// ScheduleDoc writes docs/schedule.md, the schedule as a person reads it.
func ScheduleDoc(s *spec.Spec) (Output, error) {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<!-- %s -->\n\n", header)
	w("# The DCC User Gateway Services Schedule\n\n")
	w("Annex 5 of the source, as the spec (`spec/*.cue`) records it. N/A: the category is not available.\n")
	w("Times are Target Response Times; scheduled services (note %s) have %s from the scheduled time.\n\n", strings.TrimPrefix(s.Note404.Clause, "Annex 5, note "), s.Note404.Target.Format())
	w("## Roles\n\n| Code | Role |\n| --- | --- |\n")
	for _, r := range s.Roles {
		w("| %s | %s |\n", r.Code, r.Description)
	}
	for _, table := range []struct{ id, title string }{
		{"5.1", "Table 5.1: Device Services (a Command is sent to a Device)"},
		{"5.2", "Table 5.2: Non-Device Services (the DCC undertakes an activity)"},
	} {
		w("\n## %s\n\n", table.title)
		w("| Ref | Service | Critical | Future dated | On demand | Scheduled | Roles | Devices |\n")
		w("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		for _, svc := range s.Services {
			if svc.Table != table.id {
				continue
			}
			crit := "no"
			if svc.Critical {
				crit = "**yes**"
			}
			fd, od := durText(svc.FutureDated), durText(svc.OnDemand)
			roles := strings.Join(svc.Roles, " ")
			if aw := svc.AsWritten; aw != nil {
				if aw.FutureDated != "" {
					fd += " (" + aw.FutureDated + ")"
				}
				if aw.OnDemand != "" {
					od += " (" + aw.OnDemand + ")"
				}
				if aw.Roles != "" {
					roles += " (as written: " + aw.Roles + ")"
				}
			}
			sch := "-"
			if svc.Scheduled != nil {
				sch = svc.Scheduled.Format()
			}
			devs := strings.Join(svc.Targets, " ")
			if svc.Target != "device" {
				devs = svc.Target
			}
			if svc.Alert {
				devs = "alert"
			}
			w("| %s | %s | %s | %s | %s | %s | %s | %s |\n", svc.Key(), svc.Name, crit, fd, od, sch, roles, devs)
		}
	}
	w("\n## Notes\n\n")
	w("- Note 404: %s can also be scheduled (target %s from the scheduled time).\n", strings.Join(s.Note404.Services, ", "), s.Note404.Target.Format())
	var n405 []string
	for _, r := range s.Note405.Services {
		n405 = append(n405, spec.Key(r.Ref, r.Variant))
	}
	w("- Note 405: only %s are available for Type 2 Devices.\n", strings.Join(n405, ", "))
	w("- Note 406: Commands for Local Delivery: EIS, EES, GIS in statuses %s; ENO, GNO, OU in %s.\n", strings.Join(s.Note406.Suppliers, ", "), strings.Join(s.Note406.Others, ", "))
	w("\n## Table 5.3: Monthly Service Thresholds\n\n| Roles | Service | Metric (CEL) | Threshold (CEL) |\n| --- | --- | --- | --- |\n")
	for _, t := range s.Thresholds {
		w("| %s | %s | `%s` | `%s` |\n", strings.Join(t.Roles, " "), t.Service, t.Metric, t.Threshold)
	}
	w("\n## Code Performance Measures (para 262)\n\n| # | Measure | Target | Minimum |\n| --- | --- | --- | --- |\n")
	for _, m := range s.Measures {
		w("| %d | %s | %g%% | %g%% |\n", m.Number, m.Name, m.Target, m.Minimum)
	}
	w("\n## Table 5.4: Alerts\n\n| Code | Alert | Issued by | Delivered as |\n| --- | --- | --- | --- |\n")
	for _, a := range s.Alerts {
		by := strings.Join(a.IssuedBy, ", ")
		if a.AsWritten != "" {
			by = a.AsWritten
		}
		w("| %s | %s | %s | %s |\n", a.Code, a.Name, by, a.Service)
	}
	return Output{Path: "docs/schedule.md", Content: b.Bytes()}, nil
}
