package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
)

func runSpec(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		// Bare `dccgate spec`: the transition table, as the policy decides it.
		fmt.Fprintln(stderr, "(subcommands: vet, export, show REF, diff OLD NEW, transitions)")
		return specTransitions(ctx, args, stdout, stderr)
	}
	switch args[0] {
	case "transitions":
		return specTransitions(ctx, args[1:], stdout, stderr)
	case "vet":
		return specVet(ctx, args[1:], stdout, stderr)
	case "export":
		return specExport(args[1:], stdout, stderr)
	case "show":
		return specShow(args[1:], stdout, stderr)
	case "diff":
		return specDiff(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "dccgate spec: unknown subcommand %q (vet, export, show, diff)\n", args[0])
	return exitUsage
}

// specFlags parses the common --spec flag; rest are the positional args.
func specFlags(name string, args []string, stderr io.Writer) (dir string, rest []string, ok bool) {
	fs := flag.NewFlagSet("dccgate spec "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&dir, "spec", "", "spec directory (default: the embedded spec)")
	if err := fs.Parse(reorder(args)); err != nil {
		return "", nil, false
	}
	return dir, fs.Args(), true
}

// reorder moves flags before positional arguments, so `show 4.1 --spec DIR`
// works as people type it.
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !isBoolFlag(a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

var boolFlags = map[string]bool{"json": true, "reference": true, "virtual-clock": true, "dev": true}

func isBoolFlag(a string) bool { return boolFlags[strings.TrimLeft(a, "-")] }

func loadSpec(dir string, stderr io.Writer) (*spec.Spec, bool) {
	s, err := spec.LoadDir(dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, false
	}
	return s, true
}

// specVet loads the spec and compiles it with the policies as serve does
// (spec.LoadDir, then engine.New): what serve would refuse, a CEL rule
// that does not compile say, vet refuses, naming where it is written.
func specVet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	dir, _, ok := specFlags("vet", args, stderr)
	if !ok {
		return exitUsage
	}
	s, ok := loadSpec(dir, stderr)
	if !ok {
		return exitFail
	}
	if _, err := engine.New(ctx, s); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "spec ok: %d services, %d roles, %d alerts, %d thresholds, %d measures (hash %s)\n",
		len(s.Services), len(s.Roles), len(s.Alerts), len(s.Thresholds), len(s.Measures), s.Hash[:12])
	return exitOK
}

// exportService is the shape of a service in `spec export`.
type exportService struct {
	Ref           string          `json:"ref"`
	Variant       string          `json:"variant,omitempty"`
	Name          string          `json:"name"`
	Description   string          `json:"description"`
	Table         string          `json:"table"`
	Critical      bool            `json:"critical"`
	DeviceService bool            `json:"device_service"`
	Alert         bool            `json:"alert"`
	FutureDated   *spec.Duration  `json:"future_dated"`
	OnDemand      *spec.Duration  `json:"on_demand"`
	Scheduled     *spec.Duration  `json:"scheduled"`
	AsWritten     *spec.AsWritten `json:"as_written,omitempty"`
	Roles         []string        `json:"roles"`
	Target        string          `json:"target"`
	Targets       []string        `json:"targets"`
	Statuses      []string        `json:"statuses"`
	Fields        []spec.Field    `json:"fields"`
	Clause        string          `json:"clause"`
}

func specExport(args []string, stdout, stderr io.Writer) int {
	dir, _, ok := specFlags("export", args, stderr)
	if !ok {
		return exitUsage
	}
	s, ok := loadSpec(dir, stderr)
	if !ok {
		return exitFail
	}
	var svcs []exportService
	for _, v := range s.Services {
		svcs = append(svcs, exportService{
			Ref: v.Ref, Variant: v.Variant, Name: v.Name, Description: v.Description, Table: v.Table,
			Critical: v.Critical, DeviceService: v.DeviceService, Alert: v.Alert,
			FutureDated: v.FutureDated, OnDemand: v.OnDemand, Scheduled: v.Scheduled, AsWritten: v.AsWritten,
			Roles: v.Roles, Target: v.Target, Targets: v.Targets, Statuses: v.Statuses, Fields: v.Fields, Clause: v.Clause,
		})
	}
	out := map[string]any{
		"services":        svcs,
		"roles":           s.Roles,
		"statuses":        s.Statuses,
		"device_types":    s.DeviceTypes,
		"categories":      s.Categories,
		"note404":         s.Note404,
		"note405":         s.Note405,
		"note406":         s.Note406,
		"enrolment":       s.Enrolment,
		"alert_target":    s.AlertTarget,
		"alerts":          s.Alerts,
		"thresholds":      s.Thresholds,
		"threshold_rules": s.ThresholdRules,
		"measures":        s.Measures,
		"reasons":         s.Reasons,
		"hash":            s.Hash,
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return exitOK
}

func specShow(args []string, stdout, stderr io.Writer) int {
	dir, rest, ok := specFlags("show", args, stderr)
	if !ok {
		return exitUsage
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: dccgate spec show REF [--spec DIR]   (e.g. 4.1, 1.1, 1.1/credit)")
		return exitUsage
	}
	s, ok := loadSpec(dir, stderr)
	if !ok {
		return exitFail
	}
	ref, variant, _ := strings.Cut(rest[0], "/")
	rows := s.ServicesByRef(ref)
	if variant != "" {
		rows = nil
		if v := s.Service(ref, variant); v != nil {
			rows = append(rows, v)
		}
	}
	if len(rows) == 0 {
		fmt.Fprintf(stderr, "dccgate spec show: no service %s in the schedule\n", rest[0])
		return exitFail
	}
	for i, v := range rows {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		showService(stdout, s, v)
	}
	return exitOK
}

func showService(w io.Writer, s *spec.Spec, v *spec.Service) {
	title := v.Ref + " " + v.Name
	fmt.Fprintf(w, "%s\n%s\n%s\n", title, strings.Repeat("=", len(title)), v.Description)
	kind := "Device Service (Table 5.1): a Command is sent to a Device"
	if !v.DeviceService {
		kind = "Non-Device Service (Table 5.2): the DCC undertakes an activity"
	}
	if v.Alert {
		kind = "Alert service (Table 5.1): delivers Alerts to users; not a request"
	}
	fmt.Fprintf(w, "\n  Kind:          %s\n", kind)
	if v.Variant != "" {
		fmt.Fprintf(w, "  Variant:       %s\n", v.Variant)
	}
	crit := "no"
	if v.Critical {
		crit = "yes: the user signs a Pre-Command (para 118, 155)"
	}
	fmt.Fprintf(w, "  Critical:      %s\n", crit)
	cat := func(d *spec.Duration, note string) string {
		if d == nil {
			return "N/A"
		}
		s := "target response time " + d.Format()
		if note != "" {
			s += " (as written: " + note + ")"
		}
		return s
	}
	var fdNote, odNote, rolesNote string
	if v.AsWritten != nil {
		fdNote, odNote, rolesNote = v.AsWritten.FutureDated, v.AsWritten.OnDemand, v.AsWritten.Roles
	}
	fmt.Fprintf(w, "  Future dated:  %s\n", cat(v.FutureDated, fdNote))
	fmt.Fprintf(w, "  On demand:     %s\n", cat(v.OnDemand, odNote))
	if v.Scheduled != nil {
		fmt.Fprintf(w, "  Scheduled:     target response time %s from the scheduled time (note 404)\n", v.Scheduled.Format())
	}
	var roles []string
	for _, r := range v.Roles {
		if role := s.Role(r); role != nil {
			roles = append(roles, r+" ("+role.Description+")")
		}
	}
	fmt.Fprintf(w, "  Eligible:      %s\n", strings.Join(roles, ", "))
	if rolesNote != "" {
		fmt.Fprintf(w, "                 as written: %s\n", rolesNote)
	}
	switch v.Target {
	case "device":
		if len(v.Targets) > 0 {
			fmt.Fprintf(w, "  Aimed at:      %s\n", strings.Join(v.Targets, ", "))
			fmt.Fprintf(w, "  Statuses:      %s (over the SMWAN)\n", strings.Join(v.Statuses, ", "))
		}
	default:
		fmt.Fprintf(w, "  Aimed at:      %s\n", strings.ReplaceAll(v.Target, "_", " "))
	}
	if len(v.Fields) > 0 {
		fmt.Fprintln(w, "  Fields:")
		for _, f := range v.Fields {
			opt := ""
			if !f.Required {
				opt = ", optional"
			}
			fmt.Fprintf(w, "    %-28s %s%s. %s", f.Name, f.Type, opt, f.Doc)
			if f.Rule != "" {
				fmt.Fprintf(w, " Rule: %s", f.Rule)
			}
			ex, _ := json.Marshal(f.Example)
			fmt.Fprintf(w, " Example: %s\n", ex)
		}
	}
	fmt.Fprintf(w, "  Clause:        %s\n", v.Clause)
}

// specDiff reports what an edit changes: services added or removed, and per
// service roles gained and lost, critical flags and times.
func specDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate spec diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "write the changes as JSON")
	if err := fs.Parse(reorder(args)); err != nil {
		return exitUsage
	}
	if fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: dccgate spec diff [--json] OLD_DIR NEW_DIR")
		return exitUsage
	}
	old, ok := loadSpec(fs.Arg(0), stderr)
	if !ok {
		return exitFail
	}
	neu, ok := loadSpec(fs.Arg(1), stderr)
	if !ok {
		return exitFail
	}
	changes := diffSpecs(old, neu)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if changes == nil {
			changes = []Change{}
		}
		_ = enc.Encode(changes)
		return exitOK
	}
	if len(changes) == 0 {
		fmt.Fprintln(stdout, "no change to services, roles, thresholds or measures")
		return exitOK
	}
	for _, c := range changes {
		fmt.Fprintln(stdout, c.String())
	}
	return exitOK
}

// Change is one difference between two specs.
type Change struct {
	Kind    string `json:"kind"` // service_added, service_removed, roles_gained, roles_lost, critical, time, name, role_added, role_removed, threshold, measure
	Service string `json:"service,omitempty"`
	What    string `json:"what,omitempty"`
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
}

func (c Change) String() string {
	switch c.Kind {
	case "service_added":
		return fmt.Sprintf("+ service %s added: %s", c.Service, c.New)
	case "service_removed":
		return fmt.Sprintf("- service %s removed: %s", c.Service, c.Old)
	case "roles_gained":
		return fmt.Sprintf("~ %s: %s gain eligibility", c.Service, c.New)
	case "roles_lost":
		return fmt.Sprintf("~ %s: %s lose eligibility", c.Service, c.Old)
	case "role_added", "role_removed":
		return fmt.Sprintf("~ role key: %s %s", c.What, strings.TrimPrefix(c.Kind, "role_"))
	}
	subject := c.Service
	if subject == "" {
		subject = c.What
	} else if c.What != "" {
		subject += " " + c.What
	}
	return fmt.Sprintf("~ %s: %s -> %s", subject, c.Old, c.New)
}

func diffSpecs(old, neu *spec.Spec) []Change {
	var out []Change
	for _, o := range old.Services {
		n := neu.ServiceByKey(o.Key())
		if n == nil {
			out = append(out, Change{Kind: "service_removed", Service: o.Key(), Old: o.Name})
			continue
		}
		var gained, lost []string
		for _, r := range n.Roles {
			if !o.HasRole(r) {
				gained = append(gained, r)
			}
		}
		for _, r := range o.Roles {
			if !n.HasRole(r) {
				lost = append(lost, r)
			}
		}
		if len(gained) > 0 {
			out = append(out, Change{Kind: "roles_gained", Service: o.Key(), New: strings.Join(gained, " ")})
		}
		if len(lost) > 0 {
			out = append(out, Change{Kind: "roles_lost", Service: o.Key(), Old: strings.Join(lost, " ")})
		}
		if o.Critical != n.Critical {
			out = append(out, Change{Kind: "critical", Service: o.Key(), What: "critical", Old: fmt.Sprint(o.Critical), New: fmt.Sprint(n.Critical)})
		}
		for _, t := range []struct {
			what     string
			old, new *spec.Duration
		}{{"future dated", o.FutureDated, n.FutureDated}, {"on demand", o.OnDemand, n.OnDemand}, {"scheduled", o.Scheduled, n.Scheduled}} {
			if a, b := durOrNA(t.old), durOrNA(t.new); a != b {
				out = append(out, Change{Kind: "time", Service: o.Key(), What: t.what, Old: a, New: b})
			}
		}
		if o.Name != n.Name {
			out = append(out, Change{Kind: "name", Service: o.Key(), What: "name", Old: o.Name, New: n.Name})
		}
		if !slices.Equal(o.Targets, n.Targets) {
			out = append(out, Change{Kind: "targets", Service: o.Key(), What: "devices", Old: strings.Join(o.Targets, " "), New: strings.Join(n.Targets, " ")})
		}
		if !slices.Equal(o.Statuses, n.Statuses) {
			out = append(out, Change{Kind: "statuses", Service: o.Key(), What: "statuses", Old: strings.Join(o.Statuses, " "), New: strings.Join(n.Statuses, " ")})
		}
	}
	for _, n := range neu.Services {
		if old.ServiceByKey(n.Key()) == nil {
			out = append(out, Change{Kind: "service_added", Service: n.Key(), New: n.Name})
		}
	}
	for _, r := range old.Roles {
		if neu.Role(r.Code) == nil {
			out = append(out, Change{Kind: "role_removed", What: r.Code})
		}
	}
	for _, r := range neu.Roles {
		if old.Role(r.Code) == nil {
			out = append(out, Change{Kind: "role_added", What: r.Code})
		}
	}
	oldT := map[string]*spec.Threshold{}
	for _, t := range old.Thresholds {
		oldT[t.ID] = t
	}
	for _, t := range neu.Thresholds {
		if o, ok := oldT[t.ID]; !ok {
			out = append(out, Change{Kind: "threshold", What: "threshold " + t.ID, Old: "none", New: t.Threshold})
		} else if o.Threshold != t.Threshold || o.Metric != t.Metric || !slices.Equal(o.Roles, t.Roles) {
			out = append(out, Change{Kind: "threshold", What: "threshold " + t.ID, Old: o.Threshold + " for " + strings.Join(o.Roles, " "), New: t.Threshold + " for " + strings.Join(t.Roles, " ")})
		}
	}
	oldM := map[int]*spec.Measure{}
	for _, m := range old.Measures {
		oldM[m.Number] = m
	}
	for _, m := range neu.Measures {
		if o, ok := oldM[m.Number]; ok && (o.Target != m.Target || o.Minimum != m.Minimum) {
			out = append(out, Change{Kind: "measure", What: fmt.Sprintf("measure %d", m.Number), Old: fmt.Sprintf("target %g%%, minimum %g%%", o.Target, o.Minimum), New: fmt.Sprintf("target %g%%, minimum %g%%", m.Target, m.Minimum)})
		}
	}
	return out
}

func durOrNA(d *spec.Duration) string {
	if d == nil {
		return "N/A"
	}
	return d.Format()
}

// specTransitions prints the Smart Metering Inventory's status transitions
// as the inventory policy decides them over the spec: generated from the
// policy that runs, not written twice.
func specTransitions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	dir, _, ok := specFlags("transitions", args, stderr)
	if !ok {
		return exitUsage
	}
	s, ok := loadSpec(dir, stderr)
	if !ok {
		return exitFail
	}
	p, err := policy.Compile(ctx, s)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	type key struct{ event, service, from, to, clause string }
	rows := map[key]map[string]map[string]bool{} // -> class -> role kinds
	var order []key
	for _, m := range p.Tables().Moves {
		k := key{m.Event, m.Service, m.From, m.To, m.Clause}
		if rows[k] == nil {
			rows[k] = map[string]map[string]bool{}
			order = append(order, k)
		}
		if rows[k][m.Class] == nil {
			rows[k][m.Class] = map[string]bool{}
		}
		rows[k][m.Class][m.RoleKind] = true
	}
	evOrder := map[string]int{}
	for i, t := range s.Transitions {
		if _, ok := evOrder[t.Event]; !ok {
			evOrder[t.Event] = i
		}
	}
	stOrder := map[string]int{"none": 0}
	for _, st := range s.Statuses {
		stOrder[st.Code] = st.Order
	}
	slices.SortFunc(order, func(a, b key) int {
		if c := evOrder[a.event] - evOrder[b.event]; c != 0 {
			return c
		}
		if c := stOrder[a.from] - stOrder[b.from]; c != 0 {
			return c
		}
		return stOrder[a.to] - stOrder[b.to]
	})
	fmt.Fprintln(stdout, "Smart Metering Inventory transitions (from policy/rego/inventory.rego over spec/transitions.cue)")
	fmt.Fprintf(stdout, "%-14s %-8s %-27s %-27s %-40s %s\n", "EVENT", "SERVICE", "FROM", "TO", "DEVICES (ROLES)", "CLAUSE")
	for _, k := range order {
		var who []string
		classes := make([]string, 0, len(rows[k]))
		for c := range rows[k] {
			classes = append(classes, c)
		}
		slices.Sort(classes)
		for _, c := range classes {
			var kinds []string
			for kd := range rows[k][c] {
				kinds = append(kinds, kd)
			}
			slices.Sort(kinds)
			who = append(who, c+" ("+strings.Join(kinds, ",")+")")
		}
		svc := k.service
		if svc == "" {
			svc = "-"
		}
		fmt.Fprintf(stdout, "%-14s %-8s %-27s %-27s %-40s %s\n", k.event, svc, k.from, k.to, strings.Join(who, " "), k.clause)
	}
	return exitOK
}
