package gen

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"

	"github.com/dccgate/dccgate/spec"
)

// The request field rules of the spec, broken one at a time (malformed.*
// cases), the sender that has not completed User Entry (user.unknown) and
// the Request ID counter (replay.yaml).

// unknownUser is a User ID that no generated world names: a party that has
// not completed User Entry (para 116, 281).
const unknownUser = "00-00-00-00-00-00-0D-01"

// ---------------------------------------------------------------- rules

// rules evaluates the spec's CEL rules as the gateway's policy declares
// them (`value` of any type; `body` a map of the fields), to find values
// that break them. gen imports no gateway code: the rules are the spec's
// text, and cel-go reads them.
type rules struct {
	mu               sync.Mutex
	once             sync.Once
	valueEnv, bodyEn *cel.Env
	err              error
	progs            map[string]cel.Program
}

var celRules = &rules{progs: map[string]cel.Program{}}

func (r *rules) init() {
	r.once.Do(func() {
		if r.valueEnv, r.err = cel.NewEnv(cel.Variable("value", cel.DynType)); r.err != nil {
			return
		}
		r.bodyEn, r.err = cel.NewEnv(cel.Variable("body", cel.MapType(cel.StringType, cel.DynType)))
	})
}

// passes evaluates rule with name bound to v; an error (a type the rule
// does not take, say) is a failure, as the gateway counts it.
func (r *rules) passes(env func() *cel.Env, rule, name string, v any) (bool, error) {
	r.init()
	if r.err != nil {
		return false, r.err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := name + "\x00" + rule
	prg, ok := r.progs[key]
	if !ok {
		ast, iss := env().Compile(rule)
		if iss.Err() != nil {
			return false, fmt.Errorf("rule %q: %w", rule, iss.Err())
		}
		var err error
		if prg, err = env().Program(ast); err != nil {
			return false, fmt.Errorf("rule %q: %w", rule, err)
		}
		r.progs[key] = prg
	}
	out, _, err := prg.Eval(map[string]any{name: v})
	if err != nil {
		return false, nil
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}

func (r *rules) value(rule string, v any) (bool, error) {
	return r.passes(func() *cel.Env { return r.valueEnv }, rule, "value", v)
}

func (r *rules) body(rule string, body map[string]any) (bool, error) {
	return r.passes(func() *cel.Env { return r.bodyEn }, rule, "body", body)
}

// typed is a spec example (decoded from JSON) in its field's Go type, as
// the gateway sees it.
func typed(f spec.Field, v any) any {
	switch f.Type {
	case "int64":
		if n, ok := v.(float64); ok {
			return int64(n)
		}
	case "double":
		if n, ok := v.(float64); ok {
			return n
		}
	case "strings":
		out := []string{}
		if l, ok := v.([]any); ok {
			for _, x := range l {
				s, _ := x.(string)
				out = append(out, s)
			}
		}
		return out
	case "bool":
		if b, ok := v.(bool); ok {
			return b
		}
		return false
	}
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// yamlValue writes a typed value as the body of a scenario step writes it.
func yamlValue(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case bool:
		return strconv.FormatBool(x)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = q(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return q(x)
	}
	return fmt.Sprint(v)
}

// shown is a value as a comment shows it: long strings by their length.
func shown(v any) string {
	if s, ok := v.(string); ok && len(s) > 24 {
		return fmt.Sprintf("a string of %d characters", len(s))
	}
	return yamlValue(v)
}

// violation is one way of breaking a row's field rules.
type violation struct {
	id   string   // FIELD.KIND or check
	what string   // what it breaks, for the comments
	body []string // the request's body fields
}

// maxTooLong bounds the strings the suite writes: a rule that allows
// longer ones gets no too-long case (its bound is still checked by the
// mutants of the rule's other cases).
const maxTooLong = 512

// violations are the ways the row's field rules can be broken, in the
// order of the row's fields and then its checks, each with a body whose
// other fields take the row's (valid) examples.
func (g *suiteGen) violations(svc *spec.Service) ([]violation, error) {
	var out []violation
	for _, f := range svc.Fields {
		vs, err := fieldViolations(f)
		if err != nil {
			return nil, fmt.Errorf("%s field %s: %w", svc.Key(), f.Name, err)
		}
		for _, v := range vs {
			out = append(out, violation{id: f.Name + "." + v.kind, what: v.what, body: []string{f.Name + ": " + yamlValue(v.value)}})
		}
	}
	for i, c := range svc.Checks {
		v, ok, err := checkViolation(svc, c)
		if err != nil {
			return nil, fmt.Errorf("%s check %q: %w", svc.Key(), c.Rule, err)
		}
		if !ok {
			continue
		}
		v.id = "check"
		if len(svc.Checks) > 1 {
			v.id += strconv.Itoa(i + 1)
		}
		out = append(out, v)
	}
	return out, nil
}

type badValue struct {
	kind, what string
	value      any
}

// fieldViolations finds, for one field, the values that break its rule or
// its type: the zero or empty value an absent field takes on the API
// (missing), the first integer beyond each bound (below, above), a value
// of the wrong form (format) and the shortest one too long (too-long).
// Duplicates keep their first kind.
func fieldViolations(f spec.Field) ([]badValue, error) {
	ex := typed(f, f.Example)
	var out []badValue
	addIf := func(kind string, v any) error {
		bad := false
		if f.Rule == "" {
			// No rule: only the type refuses (a timestamp must be RFC 3339,
			// but an optional one may be left out).
			bad = f.Type == "timestamp" && v == "" && f.Required
		} else {
			ok, err := celRules.value(f.Rule, v)
			if err != nil {
				return err
			}
			bad = !ok
		}
		if !bad || slices.ContainsFunc(out, func(b badValue) bool { return yamlValue(b.value) == yamlValue(v) }) {
			return nil
		}
		val := f.Name + " = " + shown(v)
		if kind == "missing" {
			val += ", the value of an absent field on the API,"
		}
		what := fmt.Sprintf("%s breaks the rule %s", val, f.Rule)
		if f.Rule == "" {
			what = fmt.Sprintf("%s is not an RFC 3339 time", val)
		}
		out = append(out, badValue{kind: kind, what: what, value: v})
		return nil
	}
	pass := func(v any) bool {
		ok, _ := celRules.value(f.Rule, v)
		return ok
	}
	switch f.Type {
	case "int64", "double":
		if err := addIf("missing", zeroOf(f.Type)); err != nil {
			return nil, err
		}
		if f.Rule == "" {
			break
		}
		start := ex
		if f.Type == "double" {
			// Search whole numbers: the bound itself is one.
			start = math.Floor(ex.(float64))
			if !pass(start) {
				start = math.Ceil(ex.(float64))
			}
			if !pass(start) {
				break
			}
		}
		for _, dir := range []struct {
			kind string
			sign int64
		}{{"below", -1}, {"above", 1}} {
			if v, ok := boundary(f.Type, start, dir.sign, pass); ok {
				if err := addIf(dir.kind, v); err != nil {
					return nil, err
				}
			}
		}
	case "string", "timestamp":
		if err := addIf("missing", ""); err != nil {
			return nil, err
		}
		if f.Type == "timestamp" || f.Rule == "" {
			break
		}
		s := ex.(string)
		if err := addIf("format", s+"!"); err != nil {
			return nil, err
		}
		if pass(s + "x") {
			// A longer value of the allowed characters: the shortest one
			// refused, if the rule bounds the length.
			lo, hi := len(s)+1, 0
			for n := len(s) + 2; n <= maxTooLong; n = min(n*2, maxTooLong+1) {
				if !pass(pad(s, n)) {
					hi = n
					break
				}
				lo = n
			}
			if hi > 0 {
				for hi-lo > 1 {
					mid := lo + (hi-lo)/2
					if pass(pad(s, mid)) {
						lo = mid
					} else {
						hi = mid
					}
				}
				if err := addIf("too-long", pad(s, hi)); err != nil {
					return nil, err
				}
			}
		}
	case "strings":
		if f.Rule != "" {
			if err := addIf("format", append(slices.Clone(ex.([]string)), "!")); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func pad(s string, n int) string { return s + strings.Repeat("x", n-len(s)) }

func zeroOf(typ string) any {
	if typ == "double" {
		return 0.0
	}
	return int64(0)
}

// boundary walks from start (which passes) in steps that double, then
// halves the gap: the first whole number in direction sign that fails.
func boundary(typ string, start any, sign int64, pass func(any) bool) (any, bool) {
	val := func(x int64) any {
		if typ == "double" {
			return float64(x)
		}
		return x
	}
	var base int64
	switch s := start.(type) {
	case int64:
		base = s
	case float64:
		base = int64(s)
	}
	lo, hi, found := base, int64(0), false
	for step := int64(1); step < 1<<52; step *= 2 {
		x := base + sign*step
		if !pass(val(x)) {
			hi, found = x, true
			break
		}
		lo = x
	}
	if !found {
		return nil, false
	}
	for hi-lo > 1 || lo-hi > 1 {
		mid := lo + (hi-lo)/2
		if pass(val(mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return val(hi), true
}

// checkViolation finds a body that passes every field rule and every
// other check of the row but fails this check (so that the case fails by
// it alone): the examples as they are, two fields of a type the check
// names swapped, one field it names at its zero value (the value of an
// absent field on the API), all those it names, or every field, at theirs.
func checkViolation(svc *spec.Service, c spec.Check) (violation, bool, error) {
	base := map[string]any{}
	var named []spec.Field
	for _, f := range svc.Fields {
		base[f.Name] = typed(f, f.Example)
		if strings.Contains(c.Rule, "body."+f.Name) {
			named = append(named, f)
		}
	}
	try := func(body map[string]any) (bool, error) {
		for _, f := range svc.Fields {
			if f.Rule == "" {
				continue
			}
			ok, err := celRules.value(f.Rule, body[f.Name])
			if err != nil || !ok {
				return false, err
			}
		}
		for _, o := range svc.Checks {
			if o.Rule == c.Rule {
				continue
			}
			if ok, err := celRules.body(o.Rule, body); err != nil || !ok {
				return false, err
			}
		}
		ok, err := celRules.body(c.Rule, body)
		return !ok, err
	}
	write := func(body map[string]any, what string) violation {
		var parts []string
		for _, f := range svc.Fields {
			if slices.ContainsFunc(named, func(n spec.Field) bool { return n.Name == f.Name }) || yamlValue(body[f.Name]) != yamlValue(base[f.Name]) {
				parts = append(parts, f.Name+": "+yamlValue(body[f.Name]))
			}
		}
		return violation{what: fmt.Sprintf("%s (%s) fail the check %s: %s", what, strings.Join(parts, ", "), c.Rule, c.Message), body: parts}
	}
	if bad, err := try(base); err != nil || bad {
		return write(base, "the examples"), bad, err
	}
	if len(c.Counter) > 0 {
		// The spec's own counterexample, over the examples.
		body := maps.Clone(base)
		var names []string
		for _, f := range svc.Fields {
			if v, ok := c.Counter[f.Name]; ok {
				body[f.Name] = typed(f, v)
				names = append(names, f.Name)
			}
		}
		bad, err := try(body)
		if err != nil {
			return violation{}, false, err
		}
		if !bad {
			return violation{}, false, fmt.Errorf("its counter (%s) does not break it, or breaks a field rule", strings.Join(names, ", "))
		}
		return write(body, "the examples with the spec's counterexample"), true, nil
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if a.Type != b.Type {
				continue
			}
			body := map[string]any{}
			for k, v := range base {
				body[k] = v
			}
			body[a.Name], body[b.Name] = base[b.Name], base[a.Name]
			bad, err := try(body)
			if err != nil {
				return violation{}, false, err
			}
			if bad {
				return write(body, fmt.Sprintf("the examples with %s and %s swapped", a.Name, b.Name)), true, nil
			}
		}
	}
	zeroed := func(fields []spec.Field) map[string]any {
		body := maps.Clone(base)
		for _, f := range fields {
			body[f.Name] = typed(f, zeroValue(f.Type))
		}
		return body
	}
	type leftOut struct {
		what   string
		fields []spec.Field
	}
	var tries []leftOut
	for _, f := range named {
		tries = append(tries, leftOut{"the examples with " + f.Name + " left out", []spec.Field{f}})
	}
	tries = append(tries, leftOut{"the examples with the fields it names left out", named}, leftOut{"every field left out", svc.Fields})
	for _, t := range tries {
		body := zeroed(t.fields)
		bad, err := try(body)
		if err != nil {
			return violation{}, false, err
		}
		if bad {
			return write(body, t.what), true, nil
		}
	}
	return violation{}, false, nil
}

// zeroValue is the value a field of that type takes when a request leaves
// it out, as an example decoded from JSON gives it (typed makes it the
// field's Go type).
func zeroValue(typ string) any {
	switch typ {
	case "int64", "double":
		return 0.0
	case "bool":
		return false
	case "strings":
		return []any{}
	}
	return ""
}

// ---------------------------------------------------------------- row cases

// unknownUser: the request the row's first role is accepted on, sent by a
// User ID no world names (para 116, 281).
func (r *rowGen) unknownUser() {
	r.emit(caseSpec{id: "user.unknown", role: r.firstRole(), unknown: true, ch: r.refusedChoice(), comment: []string{
		fmt.Sprintf("%s, users: %s has not completed User Entry (no world names it); its request, the one %s is accepted on, is refused (para 116, 281).", r.rowRef(), unknownUser, r.firstRole()),
	}})
}

// malformed: every violation of the row's field rules, sent by the row's
// first role on the device it is accepted on.
func (r *rowGen) malformed() {
	vs, err := r.g.violations(r.svc)
	if err != nil {
		r.g.errs = append(r.g.errs, err)
		return
	}
	for _, v := range vs {
		r.emit(caseSpec{id: "malformed." + v.id, role: r.firstRole(), ch: r.refusedChoice(), malformed: v.what, body: v.body, comment: []string{
			fmt.Sprintf("%s, field rules: %s (spec: the row's fields; para 133, 134).", r.rowRef(), v.what),
		}})
	}
}

// ---------------------------------------------------------------- replay

// replayFile: the Request ID's counter (originatorID:targetID:counter) must
// be above the user's last (the interface rules, para 133), asked with the
// row the local delivery file uses.
func (g *suiteGen) replayFile() *sfile {
	svc := g.localRow()
	if svc == nil || svc.OnDemand == nil {
		return nil
	}
	clause := g.reasonClause("REPLAY")
	f := g.newFile("replay.yaml", "Request ID counters (REPLAY)", clause)
	f.intro = []string{
		fmt.Sprintf("The Request ID is originatorID:targetID:counter; a counter not above the user's last is a replay; %s.", clause),
		fmt.Sprintf("Asked with %s %s; each case sets the counter where the default (one above the last sent) would not test it.", svc.Key(), svc.Name),
	}
	rg := &rowGen{g: g, f: f, svc: svc, cat: "on_demand"}
	role := rg.firstRole()
	ch, ok := rg.acceptedChoice(role)
	if !ok {
		return nil
	}
	other := ""
	for _, r := range svc.Roles {
		if r != role {
			if _, ok := rg.acceptedChoice(r); ok {
				other = r
				break
			}
		}
	}
	u := g.reg[role]
	fuel := g.roleFuel(role)
	p := f.own("the replay cases' device")
	d := f.device(p, ch.typ, ch.status, fuel)
	p2 := f.own("a second device of the same sender")
	d2 := f.device(p2, ch.typ, ch.status, fuel)
	row := fmt.Sprintf("%s %s, Request IDs", svc.Key(), svc.Name)
	accepted, replay := []string{"outcome: accepted"}, []string{"outcome: rejected", "reason: REPLAY"}

	c := &scase{id: "replay.same-id", comment: []string{
		fmt.Sprintf("%s: %s sends a request, then the same Request ID again; %s.", row, role, clause),
		"Expected: the first accepted, the second REPLAY.",
	}}
	n := f.counters[u] + 1
	f.send(c, c.id+"/first", u, req{svc: svc, device: d.id}, accepted...)
	f.send(c, c.id, u, req{svc: svc, device: d.id, counter: n}, replay...)
	f.addCase(c)

	c = &scase{id: "replay.gap", comment: []string{
		fmt.Sprintf("%s: a counter ten above the last is above it: counters need not be consecutive; %s.", row, clause),
		"Expected: accepted.",
	}}
	f.send(c, c.id, u, req{svc: svc, device: d.id, counter: f.counters[u] + 10}, accepted...)
	f.addCase(c)

	c = &scase{id: "replay.lower", comment: []string{
		fmt.Sprintf("%s: a counter below the last, never used before, is not above it; %s.", row, clause),
		"Expected: REPLAY.",
	}}
	f.send(c, c.id, u, req{svc: svc, device: d.id, counter: f.counters[u] - 1}, replay...)
	f.addCase(c)

	c = &scase{id: "replay.other-device", comment: []string{
		fmt.Sprintf("%s: the last counter again, aimed at another device (another Request ID): the counter is the user's, not the device's; %s.", row, clause),
		"Expected: REPLAY.",
	}}
	f.send(c, c.id, u, req{svc: svc, device: d2.id, counter: f.counters[u]}, replay...)
	f.addCase(c)

	if other != "" {
		och, _ := rg.acceptedChoice(other)
		od := f.device(p, och.typ, och.status, g.roleFuel(other))
		c = &scase{id: "replay.other-user", comment: []string{
			fmt.Sprintf("%s: %s sends the counter %s used last: each user has counters of its own; %s.", row, other, role, clause),
			"Expected: accepted.",
		}}
		f.send(c, c.id, g.reg[other], req{svc: svc, device: od.id, counter: f.counters[u]}, accepted...)
		f.addCase(c)
	}

	c = &scase{id: "replay.next", comment: []string{
		fmt.Sprintf("%s: after the refused replays, the next counter above the last; %s.", row, clause),
		"Expected: accepted: a replay refused leaves the user's counter as it was.",
	}}
	f.send(c, c.id, u, req{svc: svc, device: d.id}, accepted...)
	f.addCase(c)
	return f
}
