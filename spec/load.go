// Package spec loads and validates the dccgate spec: the CUE files of this
// directory (embedded in the binary) or an edited copy of them (--spec DIR).
// It is the single source of truth of roles, services, times and thresholds.
package spec

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"
)

//go:embed *.cue
var embedded embed.FS

// Files returns the embedded CUE sources.
func Files() fs.FS { return embedded }

var (
	defaultOnce sync.Once
	defaultSpec *Spec
	defaultErr  error
)

// Default returns the embedded spec, loaded and validated once.
func Default() (*Spec, error) {
	defaultOnce.Do(func() { defaultSpec, defaultErr = load(embedded, "spec") })
	return defaultSpec, defaultErr
}

// MustDefault returns the embedded spec and panics if it is invalid, which
// `make test` rules out; for tests and generators.
func MustDefault() *Spec {
	s, err := Default()
	if err != nil {
		panic(err)
	}
	return s
}

// LoadDir loads the spec from the .cue files of dir; an empty dir means the
// embedded spec.
func LoadDir(dir string) (*Spec, error) {
	if dir == "" {
		return Default()
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return load(os.DirFS(dir), dir)
}

// load reads every .cue file of fsys; prefix is how file names are shown.
func load(fsys fs.FS, prefix string) (*Spec, error) {
	names, err := fs.Glob(fsys, "*.cue")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("spec: no .cue files in %s", prefix)
	}
	sort.Strings(names)
	h := sha256.New()
	inst := build.NewContext().NewInstance("", nil)
	var errs ErrorSet
	for _, name := range names {
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(src))
		h.Write(src)
		f, err := parser.ParseFile(path.Join(prefix, name), src, parser.ParseComments)
		if err != nil {
			errs = append(errs, fromCUE(err)...)
			continue
		}
		if err := inst.AddSyntax(f); err != nil {
			errs = append(errs, fromCUE(err)...)
		}
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	ctx := cuecontext.New()
	v := ctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return nil, ErrorSet(fromCUE(err)).sorted()
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, ErrorSet(fromCUE(err)).sorted()
	}
	s, err := decode(v)
	if err != nil {
		return nil, err
	}
	s.Hash = hex.EncodeToString(h.Sum(nil))
	if errs := s.check(v); len(errs) > 0 {
		return nil, errs.sorted()
	}
	s.index()
	s.rulePositions(v)
	return s, nil
}

// decode turns the validated CUE value into the typed model and the plain
// data that policies read.
func decode(v cue.Value) (*Spec, error) {
	raw, err := v.MarshalJSON()
	if err != nil {
		return nil, ErrorSet(fromCUE(err)).sorted()
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return nil, err
	}
	// Maps keyed by code become ordered lists with the code inside, in the
	// order the spec writes them.
	keyed := map[string]bool{"roles": true, "statuses": true, "device_types": true, "categories": true, "deliveries": true, "reasons": true}
	flat := map[string]any{}
	for k, val := range data {
		flat[k] = val
	}
	for k := range keyed {
		var list []any
		it, err := v.LookupPath(cue.ParsePath(k)).Fields()
		if err != nil {
			return nil, ErrorSet(fromCUE(err)).sorted()
		}
		m, _ := data[k].(map[string]any)
		for it.Next() {
			code := it.Selector().Unquoted()
			entry, _ := m[code].(map[string]any)
			e := map[string]any{"code": code}
			for ek, ev := range entry {
				e[ek] = ev
			}
			list = append(list, e)
		}
		flat[k] = list
	}
	b, err := json.Marshal(flat)
	if err != nil {
		return nil, err
	}
	s := &Spec{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("spec: decoding: %w", err)
	}
	s.data = flat
	return s, nil
}

// check runs the rules that need the whole spec, reporting each at the
// position of the row at fault.
func (s *Spec) check(v cue.Value) ErrorSet {
	var errs ErrorSet
	at := func(p string, format string, args ...any) {
		e := &Error{Path: p, Message: fmt.Sprintf(format, args...)}
		pos := v.LookupPath(cue.ParsePath(p)).Pos()
		if pos.IsValid() {
			e.File, e.Line, e.Column = pos.Filename(), pos.Line(), pos.Column()
		}
		errs = append(errs, e)
	}
	note404 := map[string]bool{}
	for _, r := range s.Note404.Services {
		note404[r] = true
	}
	seen := map[string]int{}
	refs := map[string][]*Service{}
	for i, svc := range s.Services {
		p := fmt.Sprintf("services[%d]", i)
		if j, dup := seen[svc.Key()]; dup {
			at(p, "duplicate row %s: services[%d] already has reference %q variant %q", svc.Key(), j, svc.Ref, svc.Variant)
		}
		seen[svc.Key()] = i
		refs[svc.Ref] = append(refs[svc.Ref], svc)
		if svc.FutureDated == nil && svc.OnDemand == nil {
			at(p, "service %s has no available category: future_dated and on_demand are both N/A", svc.Key())
		}
		if svc.Scheduled != nil && !note404[svc.Ref] {
			at(p+".scheduled", "service %s is marked scheduled but is not listed in note 404", svc.Key())
		}
		if svc.Scheduled == nil && note404[svc.Ref] {
			at(p, "service %s is listed in note 404 but has no scheduled target", svc.Key())
		}
		if svc.Scheduled != nil && *svc.Scheduled != s.Note404.Target {
			at(p+".scheduled", "service %s: note 404 gives scheduled services a target of %s", svc.Key(), s.Note404.Target.Format())
		}
		roleSeen := map[string]bool{}
		for j, r := range svc.Roles {
			if roleSeen[r] {
				at(fmt.Sprintf("%s.roles[%d]", p, j), "role %s listed twice for %s", r, svc.Key())
			}
			roleSeen[r] = true
		}
		if svc.Target == "device" && len(svc.Targets) == 0 && !svc.Alert {
			at(p+".targets", "service %s is aimed at a device but names no device type", svc.Key())
		}
		fieldSeen := map[string]bool{}
		for j, f := range svc.Fields {
			if fieldSeen[f.Name] {
				at(fmt.Sprintf("%s.fields[%d]", p, j), "field %s defined twice for %s", f.Name, svc.Key())
			}
			fieldSeen[f.Name] = true
		}
	}
	for ref, rows := range refs {
		if len(rows) > 1 {
			for _, r := range rows {
				if r.Variant == "" {
					i := seen[r.Key()]
					at(fmt.Sprintf("services[%d]", i), "reference %s has %d rows: each needs a variant", ref, len(rows))
				}
			}
		}
	}
	for _, r := range s.Note404.Services {
		if len(refs[r]) == 0 {
			at("note404.services", "note 404 lists %s, which is not in the schedule", r)
		}
	}
	for _, r := range s.Note405.Services {
		if seen[Key(r.Ref, r.Variant)] == 0 && (len(s.Services) == 0 || s.Services[0].Key() != Key(r.Ref, r.Variant)) {
			at("note405.services", "note 405 lists %s, which is not in the schedule", Key(r.Ref, r.Variant))
		}
	}
	for i, a := range s.Alerts {
		if len(refs[a.Service]) == 0 {
			at(fmt.Sprintf("alerts[%d]", i), "alert %s travels as %s, which is not in the schedule", a.Code, a.Service)
		}
	}
	for i, t := range s.Thresholds {
		rows := refs[t.Service]
		if len(rows) == 0 {
			at(fmt.Sprintf("thresholds[%d]", i), "threshold %s names service %s, which is not in the schedule", t.ID, t.Service)
			continue
		}
		for _, r := range t.Roles {
			if !rows[0].HasRole(r) {
				at(fmt.Sprintf("thresholds[%d]", i), "threshold %s applies to %s, which is not eligible for %s", t.ID, r, t.Service)
			}
		}
	}
	// A transition of the devices a request adds or removes needs a row of
	// its service with such a field.
	for i, t := range s.Transitions {
		kind := map[string]string{"added": "add", "removed": "remove"}[t.Subject]
		if kind == "" {
			continue
		}
		found := false
		for _, svc := range refs[t.Service] {
			found = found || len(svc.DeviceLogFields(kind)) > 0
		}
		if !found {
			at(fmt.Sprintf("transitions[%d]", i), "transition %s moves the devices %s %s, which has no field with device_log: %q", t.Event, t.Subject, t.Service, kind)
		}
	}
	s.checkServiceManagement(at)
	s.checkDUIS(at)
	return errs
}

// Error is one spec error at a file position.
type Error struct {
	File    string
	Line    int
	Column  int
	Path    string
	Message string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorSet is every error of a load, sorted by file, line and column.
type ErrorSet []*Error

func (es ErrorSet) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es ErrorSet) sorted() ErrorSet {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Message < b.Message
	})
	out := es[:0]
	for i, e := range es {
		if i > 0 && e.Error() == es[i-1].Error() {
			continue
		}
		out = append(out, e)
	}
	return out
}

// fromCUE flattens a CUE error into positioned errors. CUE reports a value
// outside a disjunction (an unknown role code, say) as one conflict per
// alternative; those are folded into one message naming the value and the
// allowed ones.
func fromCUE(err error) []*Error {
	var out []*Error
	type conflict struct {
		e       *Error
		allowed []string
	}
	folded := map[string]*conflict{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		pe := &Error{Path: strings.Join(e.Path(), "."), Message: msg}
		pos := e.Position()
		for _, p := range e.InputPositions() {
			if p.IsValid() && !isSchema(p) {
				pos = p
				break
			}
		}
		if pos.IsValid() {
			pe.File, pe.Line, pe.Column = pos.Filename(), pos.Line(), pos.Column()
		}
		if strings.HasSuffix(format, "errors in empty disjunction:") && !pos.IsValid() {
			continue // the conflicts that follow say it with positions
		}
		if format == "conflicting values %s and %s" && len(args) == 2 {
			key := pe.Path + "\x00" + fmt.Sprint(args[1])
			c, ok := folded[key]
			if !ok {
				c = &conflict{e: pe}
				folded[key] = c
				out = append(out, pe)
			}
			c.allowed = append(c.allowed, fmt.Sprint(args[0]))
			what := "value"
			if strings.Contains(pe.Path, "roles.") {
				what = "role code"
			}
			if len(c.allowed) > 1 {
				sort.Strings(c.allowed)
				c.e.Message = fmt.Sprintf("unknown %s %v: allowed are %s", what, args[1], strings.Join(c.allowed, ", "))
			}
			continue
		}
		out = append(out, pe)
	}
	return out
}

// isSchema reports whether a position is in the schema file, so errors point
// at the data that broke it rather than at the definition.
func isSchema(p token.Pos) bool { return path.Base(p.Filename()) == "schema.cue" }
