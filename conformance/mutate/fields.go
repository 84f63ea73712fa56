package mutate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dccgate/dccgate/spec"
)

// Mutants of the request field rules (para 133-134: MALFORMED): a field's
// CEL rule dropped or one of its bounds loosened by one, a row's check
// across fields dropped. The suite's malformed.* cases send the first value
// beyond each bound, so each such mutant lets one through.

// ruleLit finds the rules of fields and checks written in the spec's
// source: `rule: "..."` (a string with no quote or backslash but CUE's
// interpolations).
var ruleLit = regexp.MustCompile(`rule: "((?:[^"\\]|\\\([^)]*\))*)"`)

// bound is one comparison of a field's value (or its size) with a number.
var bound = regexp.MustCompile(`(value|size\(value\)) (<=|>=|<|>) (-?[0-9]+(?:\.[0-9]+)?)`)

// maxLoosened bounds the size limits whose loosening the suite is asked to
// see: it sends no string longer than this (gen/suite_rules.go,
// maxTooLong), so loosening a longer limit would survive for want of a
// case, not of a check.
const maxLoosened = 512

// referential are the fields that name something the gateway holds (a
// schedule of the user's, a request of the user's): a value that breaks
// their rule names nothing, so the DCC's activity refuses it as MALFORMED
// with or without the rule, and mutants of their rules are equivalent.
var referential = []string{"schedule_id", "original_request_id"}

// ruleSite is one rule in the source of the spec.
type ruleSite struct {
	file       string
	start, end int // the span of the rule's text, inside its quotes
	text       string
	name       string // the field's name or shared definition, or "check"
	check      bool
	rows       []string
}

// fieldMutants drop and loosen the field rules and drop the checks.
func (g *gen) fieldMutants(o Options) {
	var sites []ruleSite
	for _, file := range []string{"services.cue", "fields.cue"} {
		src := g.fieldSrc[file]
		for _, m := range ruleLit.FindAllStringSubmatchIndex(src, -1) {
			line := lineAt(src, m[0])
			if strings.Contains(line, "field: ") {
				continue // an envelope rule
			}
			s := ruleSite{file: file, start: m[2], end: m[3], text: src[m[2]:m[3]], check: strings.Contains(line, "message: ")}
			s.name = siteName(line, s.check)
			if slices.Contains(referential, s.name) {
				continue
			}
			s.rows = g.ruleRows(s)
			if len(s.rows) == 0 {
				g.errs = append(g.errs, fmt.Sprintf("field rule %q in %s: no row has it", s.text, file))
				continue
			}
			sites = append(sites, s)
		}
	}
	seen := map[string]int{}
	for i, s := range sites {
		base := slug(strings.Join(s.rows, "+")) + "/" + s.name
		seen[base]++
		if n := seen[base]; n > 1 {
			base += "-" + strconv.Itoa(n)
		}
		src := g.fieldSrc[s.file]
		with := func(rule string) string { return src[:s.start] + rule + src[s.end:] }
		what := "field rule"
		if s.check {
			what = "check"
		}
		if o.All || i%2 == 0 || s.check {
			g.add(&Mutant{ID: "spec/field-rule-drop/" + base, Kind: "drop a request field rule", Rows: s.rows,
				Description: fmt.Sprintf("%s of %s %s (%s) dropped", what, strings.Join(s.rows, ", "), s.name, s.text),
				Spec:        map[string]string{s.file: with("true")}})
		}
		if s.check {
			continue
		}
		for j, b := range bound.FindAllStringSubmatchIndex(s.text, -1) {
			if !o.All && (i+j)%3 != 0 {
				continue
			}
			op, num := s.text[b[4]:b[5]], s.text[b[6]:b[7]]
			loose, ok := loosen(s.text[b[2]:b[3]], op, num)
			if !ok || (s.text[b[2]:b[3]] == "value" && g.impliedBound(s.rows, s.name, op, num)) {
				continue
			}
			rule := s.text[:b[0]] + loose + s.text[b[1]:]
			g.add(&Mutant{ID: fmt.Sprintf("spec/field-rule-loosen/%s/%d", base, j+1), Kind: "loosen a request field rule", Rows: s.rows,
				Description: fmt.Sprintf("field rule of %s %s loosened: %s -> %s", strings.Join(s.rows, ", "), s.name, s.text[b[0]:b[1]], loose),
				Spec:        map[string]string{s.file: with(rule)}})
		}
	}
}

// ordered is a check that orders two fields: body.A < body.B (or <=).
var ordered = regexp.MustCompile(`^body\.([a-z0-9_]+) (<|<=) body\.([a-z0-9_]+)$`)

// impliedBound: in every row, a check orders the field against another
// whose own rule already keeps the field within this bound of it (6.5:
// under_voltage < over_voltage <= 500 keeps under_voltage below 500), so
// loosening the bound is an equivalent mutant: no request the other rules
// and checks pass reaches the value it lets through. Whole numbers only.
func (g *gen) impliedBound(rows []string, field, op, num string) bool {
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || len(rows) == 0 {
		return false
	}
	upper := op == "<" || op == "<="
	// The field's own extreme: the largest (upper) or smallest value it allows.
	own := n
	switch op {
	case "<":
		own = n - 1
	case ">":
		own = n + 1
	}
	for _, key := range rows {
		svc := g.sp.ServiceByKey(key)
		if svc == nil || !g.impliedIn(svc, field, upper, own) {
			return false
		}
	}
	return true
}

func (g *gen) impliedIn(svc *spec.Service, field string, upper bool, own int64) bool {
	rules := map[string]string{}
	for _, f := range svc.Fields {
		rules[f.Name] = f.Rule
	}
	for _, c := range svc.Checks {
		m := ordered.FindStringSubmatch(c.Rule)
		if m == nil {
			continue
		}
		strict := int64(0)
		if m[2] == "<" {
			strict = 1
		}
		// field < other: the field is below other's largest value; other <
		// field: it is above other's smallest.
		other := ""
		switch {
		case upper && m[1] == field:
			other = m[3]
		case !upper && m[3] == field:
			other = m[1]
		default:
			continue
		}
		lim, ok := extreme(rules[other], upper)
		if !ok {
			continue
		}
		if upper && lim-strict <= own || !upper && lim+strict >= own {
			return true
		}
	}
	return false
}

// extreme is the largest (upper) or smallest whole number a rule's bounds
// allow, if it bounds that side.
func extreme(rule string, upper bool) (int64, bool) {
	for _, b := range bound.FindAllStringSubmatch(rule, -1) {
		if b[1] != "value" {
			continue
		}
		n, err := strconv.ParseInt(b[3], 10, 64)
		if err != nil {
			continue
		}
		switch {
		case upper && b[2] == "<=":
			return n, true
		case upper && b[2] == "<":
			return n - 1, true
		case !upper && b[2] == ">=":
			return n, true
		case !upper && b[2] == ">":
			return n + 1, true
		}
	}
	return 0, false
}

// loosen widens a bound by one (a strict comparison becomes inclusive); ok
// is false for a size limit longer than the suite's strings.
func loosen(lhs, op, num string) (string, bool) {
	if strings.Contains(num, ".") {
		// A double: strict bounds become inclusive, inclusive ones move by one.
		switch op {
		case "<":
			return lhs + " <= " + num, true
		case ">":
			return lhs + " >= " + num, true
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return "", false
		}
		if op == "<=" {
			f++
		} else {
			f--
		}
		return lhs + " " + op + " " + strconv.FormatFloat(f, 'f', -1, 64) + ".0", true
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return "", false
	}
	if lhs != "value" && n >= maxLoosened {
		return "", false
	}
	switch op {
	case "<":
		return lhs + " <= " + num, true
	case ">":
		return lhs + " >= " + num, true
	case "<=":
		n++
	case ">=":
		n--
	}
	return lhs + " " + op + " " + strconv.FormatInt(n, 10), true
}

// lineAt is the line of src around offset i.
func lineAt(src string, i int) string {
	start := strings.LastIndexByte(src[:i], '\n') + 1
	end := strings.IndexByte(src[i:], '\n')
	if end < 0 {
		return src[start:]
	}
	return src[start : i+end]
}

var (
	nameLit  = regexp.MustCompile(`name: "([a-z0-9_]+)"`)
	leadName = regexp.MustCompile(`^\s*_?([A-Za-z0-9_]+):`)
)

// siteName names a rule: its field's name, or the shared definition's
// (fields.cue's _f.pence, say).
func siteName(line string, check bool) string {
	if check {
		return "check"
	}
	if m := nameLit.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	if m := leadName.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return "rule"
}

// wildcards is a regular expression of a CUE string's text, each
// interpolation \(...) (parentheses nest) matching anything.
func wildcards(text string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, `\(`)
		if i < 0 {
			b.WriteString(regexp.QuoteMeta(text))
			return b.String()
		}
		b.WriteString(regexp.QuoteMeta(text[:i]))
		depth, j := 0, i+1
		for ; j < len(text); j++ {
			if text[j] == '(' {
				depth++
			} else if text[j] == ')' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		b.WriteString(".*")
		if j >= len(text) {
			return b.String()
		}
		text = text[j+1:]
	}
}

// ruleRows are the rows whose fields (or checks) have the rule: its text
// with CUE's interpolations read as wildcards, and for a field written
// with its name, that name.
func (g *gen) ruleRows(s ruleSite) []string {
	re := regexp.MustCompile("^" + wildcards(s.text) + "$")
	name := ""
	if !s.check && strings.Contains(lineAt(g.fieldSrc[s.file], s.start), `name: "`+s.name+`"`) {
		name = s.name
	}
	var rows []string
	for _, svc := range g.rows() {
		has := false
		if s.check {
			has = slices.ContainsFunc(svc.Checks, func(c spec.Check) bool { return re.MatchString(c.Rule) })
		} else {
			has = slices.ContainsFunc(svc.Fields, func(f spec.Field) bool { return re.MatchString(f.Rule) && (name == "" || f.Name == name) })
		}
		if has {
			rows = append(rows, svc.Key())
		}
	}
	return rows
}
