// Package mutate checks that the conformance suite is strong: it makes
// mutants of the spec and of the policy, each changing one fact (a role
// dropped from a row, a critical flag flipped, a category marked N/A, a
// status allowed that should not be, a device type taken from a row, a note
// or a transition changed, a request field rule dropped or loosened, a check
// taken out of para 134's order), runs the
// suite against a gateway built on each, and counts the mutants some case
// catches (kills).
//
// The expected outcomes stay those the suite was generated with, from the
// unmutated spec; a mutant is killed when a case that passes against the
// unmutated gateway fails against it. A mutant that does not load (the
// spec's schema or checks refuse it, the policy does not compile) is
// invalid and not counted.
//
// Soundness of running part of the suite: the gateway decides a request
// from its own row (and for 5.1 the row it schedules), so a mutant confined
// to some rows can change only the cases of files that send those rows;
// Select runs those files, the row's own first. Mutants of what all rows
// share run every file. Either way a run stops at the first failing case.
//
// This package edits text; it builds nothing. The caller gives a Factory
// that compiles an engine from a mutant's files and starts a gateway on it.
package mutate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dccgate/dccgate/spec"
)

// Mutant is one mutant: the files it changes and what it changes.
type Mutant struct {
	ID          string
	Kind        string
	Description string
	// Rows are the rows whose requests the change can affect; empty means
	// any.
	Rows []string
	// Spec and Policy map the names of the files the mutant changes (in the
	// spec's and the policy's directories) to their new text.
	Spec   map[string]string
	Policy map[string]string
}

// Sources are the unmutated spec and policy files.
type Sources struct {
	Spec   fs.FS
	Policy fs.FS
}

func read(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, name)
	return string(b), err
}

// Write writes the mutant's spec and policy (every file, with its changes)
// under dir and returns their directories; a mutant that changes no spec
// file gets "" for specDir (use the unmutated spec).
func (m *Mutant) Write(src Sources, dir string) (specDir, policyDir string, err error) {
	copyDir := func(fsys fs.FS, sub string, changed map[string]string, ext string) (string, error) {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		names, err := fs.Glob(fsys, "*"+ext)
		if err != nil {
			return "", err
		}
		for _, n := range names {
			text, ok := changed[n]
			if !ok {
				if text, err = read(fsys, n); err != nil {
					return "", err
				}
			}
			if err := os.WriteFile(filepath.Join(d, n), []byte(text), 0o644); err != nil {
				return "", err
			}
		}
		return d, nil
	}
	if len(m.Spec) > 0 {
		if specDir, err = copyDir(src.Spec, "spec", m.Spec, ".cue"); err != nil {
			return "", "", err
		}
	}
	if policyDir, err = copyDir(src.Policy, "policy", m.Policy, ".rego"); err != nil {
		return "", "", err
	}
	return specDir, policyDir, nil
}

// Options choose the mutants.
type Options struct {
	// All makes every mutant of every row; otherwise each kind of row
	// mutant visits the rows in turn, so every row and every kind is
	// mutated at least once in a set that runs in about a minute.
	All bool
}

// gen collects mutants.
type gen struct {
	sp       *spec.Spec
	src      Sources
	services string // services.cue
	roles    string // roles.cue
	trans    string // transitions.cue
	gateway  string // gateway.rego
	inv      string // inventory.rego
	// fieldSrc holds the files the request field rules are written in.
	fieldSrc map[string]string
	out      []*Mutant
	errs     []string
	ids      map[string]bool
}

func (g *gen) add(m *Mutant) {
	if g.ids[m.ID] {
		g.errs = append(g.errs, "duplicate mutant "+m.ID)
		return
	}
	g.ids[m.ID] = true
	g.out = append(g.out, m)
}

// specEdit adds a mutant that changes services.cue with fn.
func (g *gen) serviceEdit(id, kind, desc string, rows []string, fn func(string) (string, error)) {
	text, err := fn(g.services)
	if err != nil {
		g.errs = append(g.errs, id+": "+err.Error())
		return
	}
	if text == g.services {
		g.errs = append(g.errs, id+": changes nothing")
		return
	}
	g.add(&Mutant{ID: id, Kind: kind, Description: desc, Rows: rows, Spec: map[string]string{"services.cue": text}})
}

// replace adds a mutant that replaces old with new (exactly once) in one
// file of the spec or the policy.
func (g *gen) replace(id, kind, desc string, rows []string, where, file, src, old, new string) {
	if strings.Count(src, old) != 1 {
		g.errs = append(g.errs, fmt.Sprintf("%s: %q occurs %d times in %s", id, old, strings.Count(src, old), file))
		return
	}
	m := &Mutant{ID: id, Kind: kind, Description: desc, Rows: rows}
	text := strings.Replace(src, old, new, 1)
	if where == "spec" {
		m.Spec = map[string]string{file: text}
	} else {
		m.Policy = map[string]string{file: text}
	}
	g.add(m)
}

// Generate makes the mutants, in a fixed order.
func Generate(sp *spec.Spec, src Sources, o Options) ([]*Mutant, error) {
	g := &gen{sp: sp, src: src, ids: map[string]bool{}}
	var err error
	for _, f := range []struct {
		fsys fs.FS
		name string
		dst  *string
	}{{src.Spec, "services.cue", &g.services}, {src.Spec, "roles.cue", &g.roles}, {src.Spec, "transitions.cue", &g.trans},
		{src.Policy, "gateway.rego", &g.gateway}, {src.Policy, "inventory.rego", &g.inv}} {
		if *f.dst, err = read(f.fsys, f.name); err != nil {
			return nil, err
		}
	}
	fields, err := read(src.Spec, "fields.cue")
	if err != nil {
		return nil, err
	}
	g.fieldSrc = map[string]string{"services.cue": g.services, "fields.cue": fields}
	g.rowMutants(o)
	g.fieldMutants(o)
	g.noteMutants()
	g.roleMutants()
	g.transitionMutants()
	g.policyRowMutants(o)
	g.policyMutants()
	if len(g.errs) > 0 {
		return g.out, fmt.Errorf("mutate: %s", strings.Join(g.errs, "; "))
	}
	return g.out, nil
}

// moveEvent is the transition event a row's request makes its target
// take, "" if none.
func (g *gen) moveEvent(s *spec.Service) string {
	for _, t := range g.sp.Transitions {
		if t.Service == s.Ref && t.Subject == "target" {
			return t.Event
		}
	}
	return ""
}

// refusedFrom: no transition of the event that a request can reach moves a
// device from status, so the transition check refuses a request in it
// whatever the row's statuses say; allowing or forbidding the status is an
// equivalent mutant.
func (g *gen) refusedFrom(event, status string) bool {
	if event == "" {
		return false
	}
	for _, t := range g.sp.Transitions {
		if t.Event == event && slices.Contains(t.From, status) && !g.deadTransition(t) {
			return false
		}
	}
	return true
}

// deadTarget: a Type 2 target of a row note 405 does not name is refused
// before its type is looked at; taking it away is an equivalent mutant.
func (g *gen) deadTarget(s *spec.Service, typ string) bool {
	t := g.sp.DeviceType(typ)
	if t == nil || t.Class != "type2" {
		return false
	}
	for _, n := range g.sp.Note405.Services {
		if spec.Key(n.Ref, n.Variant) == s.Key() {
			return false
		}
	}
	return true
}

// thresholdRole: a threshold of Table 5.3 names the role for the service.
func (g *gen) thresholdRole(ref, role string) bool {
	for _, t := range g.sp.Thresholds {
		if t.Service == ref && slices.Contains(t.Roles, role) {
			return true
		}
	}
	return false
}

// scheduledRole: some scheduled service (note 404) has the role; 5.1
// checks the roles of the service it schedules as well as its own.
func (g *gen) scheduledRole(role string) bool {
	for _, s := range g.sp.Services {
		if s.Scheduled != nil && s.HasRole(role) {
			return true
		}
	}
	return false
}

// rows are the rows the suite sends requests of (the alert rows are not).
func (g *gen) rows() []*spec.Service {
	var out []*spec.Service
	for _, s := range g.sp.Services {
		if !s.Alert {
			out = append(out, s)
		}
	}
	return out
}

func slug(key string) string { return strings.ReplaceAll(key, "/", "-") }

// pick chooses, for the i-th row, one of n candidates; all of them with
// o.All.
func pick(o Options, i, n int) []int {
	if n == 0 {
		return nil
	}
	if o.All {
		out := make([]int, n)
		for j := range out {
			out[j] = j
		}
		return out
	}
	return []int{i % n}
}

// every says whether the i-th row gets a mutant of a kind visited every
// stride rows (offset by the kind), or always with o.All.
func every(o Options, i, stride, offset int) bool { return o.All || (i+offset)%stride == 0 }

// rowMutants change one fact of one row of services.cue.
func (g *gen) rowMutants(o Options) {
	for i, s := range g.rows() {
		key := s.Key()
		rows := []string{key}
		edit := func(fn func(src string, open, close int) (string, error)) func(string) (string, error) {
			return func(src string) (string, error) { return editRow(src, s.Ref, s.Variant, fn) }
		}
		setList := func(name string, items []string) func(string) (string, error) {
			return edit(func(src string, open, close int) (string, error) {
				return setField(src, open, close, name, list(items))
			})
		}
		// Roles: drop one (not one a threshold of Table 5.3 names: the spec
		// refuses that), add one.
		var droppable []string
		for _, r := range s.Roles {
			if !g.thresholdRole(s.Ref, r) {
				droppable = append(droppable, r)
			}
		}
		if len(s.Roles) > 1 && every(o, i, 3, 0) {
			for _, j := range pick(o, i, len(droppable)) {
				r := droppable[j]
				j := slices.Index(s.Roles, r)
				g.serviceEdit("spec/drop-role/"+slug(key)+"/"+r, "drop a role from a row", fmt.Sprintf("%s loses role %s", key, r), rows,
					setList("roles", slices.Delete(slices.Clone(s.Roles), j, j+1)))
			}
		}
		var missing []string
		for _, r := range g.sp.Roles {
			if !s.HasRole(r.Code) && (!s.CreatesSchedule || g.scheduledRole(r.Code)) {
				missing = append(missing, r.Code)
			}
		}
		if !every(o, i, 4, 1) {
			missing = nil
		}
		for _, j := range pick(o, i+1, len(missing)) {
			r := missing[j]
			g.serviceEdit("spec/add-role/"+slug(key)+"/"+r, "add a role to a row", fmt.Sprintf("%s gains role %s", key, r), rows,
				setList("roles", append(slices.Clone(s.Roles), r)))
		}
		// Critical: Table 5.1 has the column; Table 5.2 has none. Not the
		// Change of Supplier row: its CoS Party signs it whatever the flag,
		// so its sender has no Pre-Command either way.
		if s.DeviceService && !s.CoS && every(o, i, 4, 3) {
			g.serviceEdit("spec/flip-critical/"+slug(key), "flip the critical flag", fmt.Sprintf("%s critical: %t -> %t", key, s.Critical, !s.Critical), rows,
				edit(func(src string, open, close int) (string, error) {
					return setField(src, open, close, "critical", strconv.FormatBool(!s.Critical))
				}))
		}
		// Categories: mark an available one N/A (if another stays), or make
		// an N/A one available.
		type cat struct {
			name, value string
			d           *spec.Duration
			other       *spec.Duration
		}
		cats := []cat{{"on_demand", "\"30s\"", s.OnDemand, s.FutureDated}, {"future_dated", "\"24h\"", s.FutureDated, s.OnDemand}}
		for ci, c := range cats {
			if !o.All && (i+ci)%4 != 1 {
				continue
			}
			switch {
			case c.d != nil && c.other != nil:
				g.serviceEdit("spec/category-na/"+slug(key)+"/"+c.name, "mark a category N/A", fmt.Sprintf("%s %s: %s -> N/A", key, c.name, c.d.Format()), rows,
					edit(func(src string, open, close int) (string, error) { return setField(src, open, close, c.name, "null") }))
			case c.d == nil && !s.CreatesSchedule:
				g.serviceEdit("spec/category-available/"+slug(key)+"/"+c.name, "make an N/A category available", fmt.Sprintf("%s %s: N/A -> %s", key, c.name, c.value), rows,
					edit(func(src string, open, close int) (string, error) { return setField(src, open, close, c.name, c.value) }))
			}
		}
		// Statuses: allow one it should not, or take one away.
		if s.Target == "device" && !s.CreatesSchedule {
			var others []string
			for _, st := range g.sp.Statuses {
				if !slices.Contains(s.Statuses, st.Code) && !g.refusedFrom(g.moveEvent(s), st.Code) {
					others = append(others, st.Code)
				}
			}
			if !every(o, i, 4, 2) {
				others = nil
			}
			for _, j := range pick(o, i, len(others)) {
				st := others[j]
				g.serviceEdit("spec/allow-status/"+slug(key)+"/"+st, "allow a status", fmt.Sprintf("%s also allowed in status %s", key, st), rows,
					setList("statuses", append(slices.Clone(s.Statuses), st)))
			}
			var live []string
			for _, st := range s.Statuses {
				if !g.refusedFrom(g.moveEvent(s), st) {
					live = append(live, st)
				}
			}
			if len(s.Statuses) > 1 && every(o, i, 3, 1) {
				for _, j := range pick(o, i, len(live)) {
					st := live[j]
					j := slices.Index(s.Statuses, st)
					g.serviceEdit("spec/forbid-status/"+slug(key)+"/"+st, "forbid a status", fmt.Sprintf("%s no longer allowed in status %s", key, st), rows,
						setList("statuses", slices.Delete(slices.Clone(s.Statuses), j, j+1)))
				}
			}
		}
		// Device types: take one from the row, or add one.
		if s.Target == "device" && !s.CreatesSchedule {
			var live []string
			for _, t := range s.Targets {
				if !g.deadTarget(s, t) {
					live = append(live, t)
				}
			}
			if len(live) > 1 && every(o, i, 4, 1) {
				for _, j := range pick(o, i, len(live)) {
					t := live[j]
					j := slices.Index(s.Targets, t)
					g.serviceEdit("spec/drop-target/"+slug(key)+"/"+t, "remove a device type from a row", fmt.Sprintf("%s no longer aimed at a %s", key, t), rows,
						setList("targets", slices.Delete(slices.Clone(s.Targets), j, j+1)))
				}
			}
			var others []string
			for _, t := range g.sp.DeviceTypes {
				if !slices.Contains(s.Targets, t.Code) && t.Class != "type2" {
					others = append(others, t.Code)
				}
			}
			if every(o, i, 4, 0) {
				for _, j := range pick(o, i, len(others)) {
					t := others[j]
					g.serviceEdit("spec/add-target/"+slug(key)+"/"+t, "add a device type to a row", fmt.Sprintf("%s also aimed at a %s", key, t), rows,
						setList("targets", append(slices.Clone(s.Targets), t)))
				}
			}
		}
	}
	// The execution-date Registration Data check (para 144); not of a
	// Change of Supplier request, whose CoS Party checks the same again
	// (para 145): without the DCC's check the outcome is the same.
	for _, s := range g.rows() {
		if s.Registration == "" || s.CoS {
			continue
		}
		g.serviceEdit("spec/drop-registration/"+slug(s.Key()), "drop a Registration Data rule", fmt.Sprintf("%s no longer checked against the Registration Data on its execution date", s.Key()), []string{s.Key()},
			func(src string) (string, error) {
				return editRow(src, s.Ref, s.Variant, func(src string, open, close int) (string, error) {
					return deleteField(src, open, close, "registration")
				})
			})
	}
}

// noteMutants change notes 404 and 405.
func (g *gen) noteMutants() {
	// Note 404: a scheduled service no longer scheduled, a service that
	// becomes one (both the note and the row's target, which the spec
	// checks agree).
	n404 := g.sp.Note404.Services
	for _, ref := range n404 {
		rows := g.sp.ServicesByRef(ref)
		var keys []string
		for _, r := range rows {
			keys = append(keys, r.Key())
		}
		g.serviceEdit("spec/unschedule/"+slug(ref), "take a service out of note 404", fmt.Sprintf("%s can no longer be scheduled", ref), keys, func(src string) (string, error) {
			open, close, err := block(src, "note404")
			if err != nil {
				return "", err
			}
			src, err = setField(src, open, close, "services", list(slices.DeleteFunc(slices.Clone(n404), func(s string) bool { return s == ref })))
			if err != nil {
				return "", err
			}
			for _, r := range rows {
				if src, err = editRow(src, r.Ref, r.Variant, func(src string, open, close int) (string, error) {
					return deleteField(src, open, close, "scheduled")
				}); err != nil {
					return "", err
				}
			}
			return src, nil
		})
	}
	for i, s := range g.rows() {
		if s.Scheduled != nil || !s.DeviceService || s.FutureDated == nil || i%8 != 0 {
			continue
		}
		if slices.Contains(n404, s.Ref) || len(g.sp.ServicesByRef(s.Ref)) > 1 {
			continue
		}
		g.serviceEdit("spec/schedule/"+slug(s.Key()), "add a service to note 404", fmt.Sprintf("%s can also be scheduled", s.Key()), []string{s.Key()}, func(src string) (string, error) {
			open, close, err := block(src, "note404")
			if err != nil {
				return "", err
			}
			if src, err = setField(src, open, close, "services", list(append(slices.Clone(n404), s.Ref))); err != nil {
				return "", err
			}
			return editRow(src, s.Ref, s.Variant, func(src string, open, close int) (string, error) {
				return setField(src, open, close, "scheduled", "note404.target")
			})
		})
	}
	// Note 405: a Type 2 service no longer one, a service that becomes one.
	n405 := g.sp.Note405.Services
	write405 := func(l []spec.ServiceRef) string {
		parts := make([]string, len(l))
		for i, r := range l {
			if r.Variant != "" {
				parts[i] = fmt.Sprintf("{ref: %q, variant: %q}", r.Ref, r.Variant)
			} else {
				parts[i] = fmt.Sprintf("{ref: %q}", r.Ref)
			}
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	set405 := func(l []spec.ServiceRef) func(string) (string, error) {
		return func(src string) (string, error) {
			open, close, err := block(src, "note405")
			if err != nil {
				return "", err
			}
			return setField(src, open, close, "services", write405(l))
		}
	}
	for i, r := range n405 {
		key := spec.Key(r.Ref, r.Variant)
		g.serviceEdit("spec/note405-drop/"+slug(key), "take a service out of note 405", fmt.Sprintf("%s no longer available for Type 2 Devices", key), []string{key},
			set405(slices.Delete(slices.Clone(n405), i, i+1)))
	}
	for i, s := range g.rows() {
		if s.Target != "device" || i%18 != 0 {
			continue
		}
		g.serviceEdit("spec/note405-add/"+slug(s.Key()), "add a service to note 405", fmt.Sprintf("%s also available for Type 2 Devices", s.Key()), []string{s.Key()},
			set405(append(slices.Clone(n405), spec.ServiceRef{Ref: s.Ref, Variant: s.Variant})))
	}
}

// roleMutants change note 406 and the Role Reference Key.
func (g *gen) roleMutants() {
	n := g.sp.Note406
	for _, grp := range []struct {
		name string
		l    []string
	}{{"suppliers", n.Suppliers}, {"others", n.Others}} {
		for i, st := range grp.l {
			g.replace("spec/note406-forbid/"+grp.name+"/"+st, "note 406: forbid a status", fmt.Sprintf("note 406 no longer lets %s ask for local delivery in status %s", grp.name, st), nil,
				"spec", "roles.cue", g.roles, "\t"+grp.name+": "+list(grp.l), "\t"+grp.name+": "+list(slices.Delete(slices.Clone(grp.l), i, i+1)))
		}
		for _, st := range g.sp.Statuses {
			if slices.Contains(grp.l, st.Code) {
				continue
			}
			g.replace("spec/note406-allow/"+grp.name+"/"+st.Code, "note 406: allow a status", fmt.Sprintf("note 406 lets %s ask for local delivery in status %s", grp.name, st.Code), nil,
				"spec", "roles.cue", g.roles, "\t"+grp.name+": "+list(grp.l), "\t"+grp.name+": "+list(append(slices.Clone(grp.l), st.Code)))
			break
		}
	}
	if n.DeviceServicesOnly {
		g.replace("spec/note406-any-service", "note 406: local delivery for any service", "note 406 no longer limits local delivery to Device Services", nil,
			"spec", "roles.cue", g.roles, "device_services_only: true", "device_services_only: false")
	}
	for _, r := range g.sp.Roles {
		if len(r.LocalStatuses) == 0 {
			g.replace("spec/local-statuses/"+r.Code, "note 406: give a role local statuses", fmt.Sprintf("%s may ask for local delivery", r.Code), nil,
				"spec", "roles.cue", g.roles, "\t\tlocal_statuses: []", "\t\tlocal_statuses: note406.others")
		}
	}
	// Registration: the field or the fuel that names a role.
	for _, r := range g.sp.Roles {
		if r.Registration == nil {
			continue
		}
		old := fmt.Sprintf("registration: {field: %q, fuel: %q}", r.Registration.Field, r.Registration.Fuel)
		fuel := "gas"
		if r.Registration.Fuel == "gas" {
			fuel = "electricity"
		}
		g.replace("spec/registration-fuel/"+r.Code, "Registration Data: name a role for the other fuel", fmt.Sprintf("%s is named in the %s Registration Data", r.Code, fuel), nil,
			"spec", "roles.cue", g.roles, old, fmt.Sprintf("registration: {field: %q, fuel: %q}", r.Registration.Field, fuel))
		field := "import_supplier"
		if r.Registration.Field == "import_supplier" {
			field = "export_supplier"
		}
		if r.Registration.Field != "network_operator" {
			g.replace("spec/registration-field/"+r.Code, "Registration Data: name a role by another field", fmt.Sprintf("%s is named by the %s field", r.Code, field), nil,
				"spec", "roles.cue", g.roles, old, fmt.Sprintf("registration: {field: %q, fuel: %q}", field, r.Registration.Fuel))
		}
	}
}

// transitionMutants drop a transition, or one status it moves from, or
// widen who may make it.
func (g *gen) transitionMutants() {
	lines := strings.Split(g.trans, "\n")
	n := 0
	for li, line := range lines {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "{event: ") {
			continue
		}
		n++
		tr := g.sp.Transitions[n-1]
		var rows []string
		if tr.Service != "" {
			for _, s := range g.sp.ServicesByRef(tr.Service) {
				rows = append(rows, s.Key())
			}
		}
		id := fmt.Sprintf("%s-%d", tr.Event, n)
		if g.deadTransition(tr) {
			// Only Type 2 Devices, for a service note 405 keeps from them:
			// nothing reaches it, so every mutant of it is equivalent.
			continue
		}
		mut := func(kind, desc, newLine string) {
			l := slices.Clone(lines)
			l[li] = newLine
			g.add(&Mutant{ID: "spec/transition/" + id + "/" + kind, Kind: "change a status transition", Description: desc, Rows: rows,
				Spec: map[string]string{"transitions.cue": strings.Join(l, "\n")}})
		}
		mut("drop", fmt.Sprintf("transition %d (%s to %s) removed", n, tr.Event, tr.To), "")
		if len(tr.From) > 1 {
			from := list(tr.From)
			mut("from", fmt.Sprintf("transition %d (%s) no longer from %s", n, tr.Event, tr.From[0]), strings.Replace(line, "from: "+from, "from: "+list(tr.From[1:]), 1))
		}
		if len(tr.RoleKinds) > 0 && g.otherKinds(tr) {
			mut("any-role", fmt.Sprintf("transition %d (%s) open to every kind of role", n, tr.Event), strings.Replace(line, ", role_kinds: "+list(tr.RoleKinds), "", 1))
		}
		if len(tr.ToAllowed) > 0 {
			mut("to-any", fmt.Sprintf("transition %d (%s) may set any status", n, tr.Event), strings.Replace(line, ", to_allowed: "+list(tr.ToAllowed), "", 1))
		}
	}
}

// otherClasses: the transition names classes, and its service may be aimed
// at a device of another class (a Type 2 Device only where note 405 lets
// the service reach one) that no other transition of the event already
// lets every eligible sender move. A transition no service makes limits
// nothing the policy sees: only a hub's emulator joins the SMWAN.
func (g *gen) otherClasses(t *spec.Transition) bool {
	if len(t.Classes) == 0 || t.Service == "" {
		return false
	}
	for _, s := range g.sp.ServicesByRef(t.Service) {
		for _, code := range s.Targets {
			dt := g.sp.DeviceType(code)
			if dt == nil || dt.Class == "type2" && !g.sp.Note405.Type2Allowed(s.Key()) || slices.Contains(t.Classes, dt.Class) {
				continue
			}
			if !g.movedByAnother(t, s, dt.Class) {
				return true
			}
		}
	}
	return false
}

// movedByAnother: another transition of t's event moves a device of class
// for every eligible role of s.
func (g *gen) movedByAnother(t *spec.Transition, s *spec.Service, class string) bool {
	for _, o := range g.sp.Transitions {
		if o == t || o.Event != t.Event || len(o.Classes) > 0 && !slices.Contains(o.Classes, class) {
			continue
		}
		all := true
		for _, r := range s.Roles {
			if role := g.sp.Role(r); len(o.RoleKinds) > 0 && (role == nil || !slices.Contains(o.RoleKinds, role.Kind)) {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// otherKinds: some eligible role of the transition's service is of a kind
// the transition does not name (else opening it to every kind is an
// equivalent mutant: no one else may send the request).
func (g *gen) otherKinds(t *spec.Transition) bool {
	for _, s := range g.sp.ServicesByRef(t.Service) {
		for _, r := range s.Roles {
			if role := g.sp.Role(r); role != nil && !slices.Contains(t.RoleKinds, role.Kind) {
				return true
			}
		}
	}
	return false
}

// deadTransition: the transition moves only Type 2 Devices, for a
// service note 405 keeps from them.
func (g *gen) deadTransition(t *spec.Transition) bool {
	if t.Service == "" || len(t.Classes) == 0 {
		return false
	}
	for _, c := range t.Classes {
		if c != "type2" {
			return false
		}
	}
	for _, s := range g.sp.ServicesByRef(t.Service) {
		for _, n := range g.sp.Note405.Services {
			if spec.Key(n.Ref, n.Variant) == s.Key() {
				return false
			}
		}
	}
	return true
}

// policyRowMutants change, in the policy's table of a row, one fact the
// spec gives it: the policy misreading the spec.
func (g *gen) policyRowMutants(o Options) {
	const (
		roles    = `		"roles": {r | some r in s.roles},`
		critical = `		"critical": s.critical,`
		statuses = `		"statuses": {st | some st in s.statuses},`
		targets  = `		"targets": {t | some t in s.targets},`
		type2    = `		"type2": type2_allowed(s),`
		local    = `		"local": local_allowed(s),`
		od       = `			"on_demand": s.on_demand != null,`
		fd       = `			"future_dated": s.future_dated != null,`
		reg      = `		"registration": registration_rule(s),`
	)
	for i, s := range g.rows() {
		if !o.All && (i/6)%2 == 1 {
			// Every kind below on every other run of six rows.
			continue
		}
		key := s.Key()
		q := strconv.Quote(key)
		rows := []string{key}
		rep := func(id, kind, desc, old, new string) {
			g.replace("policy/"+id+"/"+slug(key), kind, desc, rows, "policy", "gateway.rego", g.gateway, old, new)
		}
		switch i % 6 {
		case 0:
			if len(s.Roles) > 0 {
				r := s.Roles[i%len(s.Roles)]
				rep("drop-role-"+r, "policy: drop a role from a row", fmt.Sprintf("the policy's table of %s lacks role %s", key, r), roles,
					fmt.Sprintf(`		"roles": {r | some r in s.roles} - {x | x := %q; key == %s},`, r, q))
			}
		case 1:
			if s.Critical {
				rep("not-critical", "policy: a critical row not critical", fmt.Sprintf("the policy's table of %s says it is not critical", key), critical,
					fmt.Sprintf(`		"critical": s.critical != (key == %s),`, q))
			} else {
				rep("flip-on-demand", "policy: flip on demand", fmt.Sprintf("the policy's table of %s flips on demand", key), od,
					fmt.Sprintf(`			"on_demand": (s.on_demand != null) != (key == %s),`, q))
			}
		case 2:
			rep("flip-future-dated", "policy: flip future dated", fmt.Sprintf("the policy's table of %s flips future dated", key), fd,
				fmt.Sprintf(`			"future_dated": (s.future_dated != null) != (key == %s),`, q))
		case 3:
			st := ""
			for _, c := range []string{"withdrawn", "decommissioned", "pending", "installed_not_commissioned"} {
				if st == "" && !slices.Contains(s.Statuses, c) && !g.refusedFrom(g.moveEvent(s), c) {
					st = c
				}
			}
			if s.Target == "device" && !s.CreatesSchedule && st != "" {
				rep("allow-status-"+st, "policy: allow a status", fmt.Sprintf("the policy's table of %s allows status %s", key, st), statuses,
					fmt.Sprintf(`		"statuses": {st | some st in s.statuses} | {x | x := %q; key == %s},`, st, q))
			} else {
				rep("flip-local", "policy: flip local delivery", fmt.Sprintf("the policy's table of %s flips local delivery", key), local,
					fmt.Sprintf(`		"local": local_allowed(s) != (key == %s),`, q))
			}
		case 4:
			t := ""
			for _, c := range s.Targets {
				if !g.deadTarget(s, c) {
					t = c
				}
			}
			if s.Target == "device" && t != "" && !s.CreatesSchedule {
				rep("drop-target-"+t, "policy: drop a device type", fmt.Sprintf("the policy's table of %s lacks device type %s", key, t), targets,
					fmt.Sprintf(`		"targets": {t | some t in s.targets} - {x | x := %q; key == %s},`, t, q))
			} else {
				rep("flip-type2", "policy: flip note 405", fmt.Sprintf("the policy's table of %s flips note 405", key), type2,
					fmt.Sprintf(`		"type2": type2_allowed(s) != (key == %s),`, q))
			}
		case 5:
			if s.Target == "device" && !s.CreatesSchedule {
				rep("flip-type2", "policy: flip note 405", fmt.Sprintf("the policy's table of %s flips note 405", key), type2,
					fmt.Sprintf(`		"type2": type2_allowed(s) != (key == %s),`, q))
				continue
			}
			// The Registration Data rule the other way round, through a
			// helper the mutant adds.
			id := "policy/flip-registration/" + slug(key)
			if strings.Count(g.gateway, reg) != 1 {
				g.errs = append(g.errs, id+": registration rule not found")
				continue
			}
			text := strings.Replace(g.gateway, reg, `		"registration": mutant_registration(key, registration_rule(s)),`, 1) +
				fmt.Sprintf("\nmutant_registration(k, r) := \"check\" if {\n\tk == %s\n\tr == \"skip\"\n}\n\nmutant_registration(k, r) := \"skip\" if {\n\tk == %s\n\tr != \"skip\"\n}\n\nmutant_registration(k, r) := r if k != %s\n", q, q, q)
			g.add(&Mutant{ID: id, Kind: "policy: change the Registration Data rule", Description: fmt.Sprintf("the policy's table of %s checks the Registration Data the other way", key),
				Rows: rows, Policy: map[string]string{"gateway.rego": text}})
		}
	}
}

// policyMutants change the policy's rules that every row shares.
func (g *gen) policyMutants() {
	rep := func(id, desc, file, src, old, new string) {
		g.replace("policy/"+id, "policy: change a rule", desc, nil, "policy", file, src, old, new)
	}
	gw := g.gateway
	rep("type2-all", "every row may serve Type 2 Devices (note 405 ignored)", "gateway.rego", gw, "default type2_allowed(_) := false", "default type2_allowed(_) := true")
	rep("local-any-service", "local delivery for Non-Device Services too (note 406)", "gateway.rego", gw, "local_allowed(s) if {\n\ts.device_service\n\tnot s.alert\n}", "local_allowed(s) if {\n\tnot s.alert\n}")
	rep("critical-checked", "critical Commands checked against the Registration Data (footnote 13)", "gateway.rego", gw,
		"registration_rule(s) := \"skip\" if {\n\tnot s.registration\n\ts.device_service\n\tnot s.alert\n\ts.critical\n}",
		"registration_rule(s) := \"check\" if {\n\tnot s.registration\n\ts.device_service\n\tnot s.alert\n\ts.critical\n}")
	rep("non-critical-unchecked", "non-critical Commands not checked against the Registration Data (para 134)", "gateway.rego", gw,
		"registration_rule(s) := \"check\" if {\n\tnot s.registration\n\ts.device_service\n\tnot s.alert\n\tnot s.critical\n}",
		"registration_rule(s) := \"skip\" if {\n\tnot s.registration\n\ts.device_service\n\tnot s.alert\n\tnot s.critical\n}")
	rep("activities-checked", "the DCC's activities checked against the Registration Data (para 139)", "gateway.rego", gw,
		"registration_rule(s) := \"skip\" if {\n\tnot s.alert\n\tnot s.registration\n\tnot s.device_service\n}",
		"registration_rule(s) := \"check\" if {\n\tnot s.alert\n\tnot s.registration\n\tnot s.device_service\n}")
	rep("local-statuses-none", "no role may ask for local delivery in any status (note 406)", "gateway.rego", gw,
		"local_statuses[r.code] := {st | some st in r.local_statuses} if some r in data.spec.roles",
		"local_statuses[r.code] := set() if some r in data.spec.roles")
	rep("registration-none", "no role is named in the Registration Data (para 134)", "gateway.rego", gw,
		"registration[r.code] := r.registration if {\n\tsome r in data.spec.roles\n\tr.registration\n}",
		"registration[r.code] := r.registration if {\n\tsome r in data.spec.roles\n\tr.registration\n\tfalse\n}")
	// Para 134: a check taken out, or two checks swapped.
	order := []string{"MALFORMED", "CATEGORY_NOT_AVAILABLE", "UNKNOWN_USER", "USER_SUSPENDED", "ROLE_NOT_ELIGIBLE", "DEVICE_UNKNOWN", "TYPE2_NOT_SUPPORTED", "DEVICE_TYPE", "DEVICE_STATUS",
		"CHF_NOT_COMMISSIONED", "METER_NOT_COMMISSIONED", "MPXN_HAS_METER", "NOT_REGISTERED"}
	for _, code := range order {
		rep("drop-check/"+code, "para 134: the "+code+" check taken out", "gateway.rego", gw, "\t\""+code+"\",\n", "")
	}
	// The pairs the suite can tell apart: a request fails both (an unknown
	// user has no role or rights to check, and the suite sends it with no
	// other fault, since a gateway may refuse it at the TLS handshake; a
	// critical 8.1 is not checked against the Registration Data).
	for _, pair := range [][2]string{{"MALFORMED", "CATEGORY_NOT_AVAILABLE"}, {"USER_SUSPENDED", "ROLE_NOT_ELIGIBLE"}, {"ROLE_NOT_ELIGIBLE", "DEVICE_UNKNOWN"},
		{"TYPE2_NOT_SUPPORTED", "DEVICE_TYPE"}, {"DEVICE_TYPE", "DEVICE_STATUS"}} {
		a, b := "\t\""+pair[0]+"\",\n", "\t\""+pair[1]+"\",\n"
		if !strings.Contains(gw, a+b) {
			g.errs = append(g.errs, "check order: "+pair[0]+" is not just before "+pair[1])
			continue
		}
		rep("swap-checks/"+pair[0]+"/"+pair[1], fmt.Sprintf("para 134: %s checked after %s", pair[0], pair[1]), "gateway.rego", gw, a+b, b+a)
	}
	// The inventory transitions as the policy reads them.
	inv := g.inv
	// Only where some transition's limit matters: a limit the service's
	// roles, device types and note 405 already impose is an equivalent
	// mutant.
	if slices.ContainsFunc(g.sp.Transitions, g.otherClasses) {
		rep("inventory/any-class", "a transition limited to classes applies to every class", "inventory.rego", inv,
			"classes_of(t) := t.classes if t.classes", "classes_of(t) := {d.class | some d in data.spec.device_types} if t.classes")
	}
	if slices.ContainsFunc(g.sp.Transitions, func(t *spec.Transition) bool { return len(t.RoleKinds) > 0 && g.otherKinds(t) }) {
		rep("inventory/any-kind", "a transition limited to kinds of role applies to every kind", "inventory.rego", inv,
			"kinds_of(t) := t.role_kinds if t.role_kinds", "kinds_of(t) := {r.kind | some r in data.spec.roles} if t.role_kinds")
	}
	rep("inventory/to-any", "8.4 may set any status (to_allowed ignored)", "inventory.rego", inv,
		`targets_of(t) := object.get(t, "to_allowed", [s.code | some s in data.spec.statuses]) if t.to == "requested"`,
		`targets_of(t) := [s.code | some s in data.spec.statuses] if t.to == "requested"`)
	rep("inventory/no-target-moves", "the gateway checks no status transition before accepting a request", "inventory.rego", inv,
		"\tt.service\n\tt.subject == \"target\"\n}", "\tt.service\n\tt.subject == \"target\"\n\tfalse\n}")
}
