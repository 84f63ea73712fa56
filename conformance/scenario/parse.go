package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	// The maintained continuation of gopkg.in/yaml.v3, same API; the module
	// already requires it, so this package adds nothing to go.mod.
	yaml "go.yaml.in/yaml/v3"

	"github.com/dccgate/dccgate/spec"
)

// Fallback patterns, used only if an edited spec drops its own.
const (
	fallbackEUI64 = `^([0-9A-F]{2}-){7}[0-9A-F]{2}$`
	fallbackMPxN  = `^([0-9]{13}|[0-9]{6,10})$`
)

// nodeBudget bounds how many YAML nodes one file may expand to. Aliases
// let a small file name the same subtree many times over (and even
// contain itself); counting visits keeps hostile input cheap.
const nodeBudget = 1 << 18

// maxDepth bounds the nesting of free-form values (request bodies).
const maxDepth = 64

// Load reads the scenario file at path, or every .yaml and .yml file under
// the directory at path (recursively, in lexical order, skipping hidden
// directories); a directory without any is an error.
//
// It returns the scenarios that are valid and, if any file is not, an
// ErrorList of every problem of every file, sorted; so a caller may run the
// valid ones and still fail the run. Scenario names must be unique within a
// directory: a later file that repeats a name is an error and is left out.
func Load(path string) ([]*Scenario, error) { return LoadAll(path) }

// LoadAll is Load over several paths as one run: names are unique within a
// directory whether its files are named one by one (dir/*.yaml) or by the
// directory, and a file named twice is read once.
func LoadAll(paths ...string) ([]*Scenario, error) {
	sp, err := spec.Default()
	if err != nil {
		return nil, fmt.Errorf("scenario: loading the spec: %w", err)
	}
	var (
		files []string
		errs  ErrorList
		seen  = map[string]bool{}
	)
	for _, path := range paths {
		fs, err := scenarioFiles(path)
		if err != nil {
			var el ErrorList
			if errors.As(err, &el) {
				errs = append(errs, el...)
			} else {
				errs = append(errs, fileError(path, err))
			}
			continue
		}
		for _, f := range fs {
			abs, err := filepath.Abs(f)
			if err != nil {
				abs = f
			}
			if !seen[abs] {
				seen[abs] = true
				files = append(files, f)
			}
		}
	}
	var (
		out []*Scenario
		// names maps a directory to its scenario names and their files.
		names = map[string]map[string]string{}
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fileError(f, err))
			continue
		}
		sc, err := parse(sp, f, data)
		if err != nil {
			var el ErrorList
			if errors.As(err, &el) {
				errs = append(errs, el...)
			} else {
				errs = append(errs, &Error{File: f, Message: err.Error()})
			}
			continue
		}
		dir, err := filepath.Abs(filepath.Dir(f))
		if err != nil {
			dir = filepath.Dir(f)
		}
		if names[dir] == nil {
			names[dir] = map[string]string{}
		}
		if first, dup := names[dir][sc.Name]; dup {
			errs = append(errs, &Error{File: f, Line: sc.nameLine, Column: sc.nameColumn, Key: "name",
				Message: fmt.Sprintf("duplicate scenario name %q (also in %s)", sc.Name, first)})
			continue
		}
		names[dir][sc.Name] = f
		out = append(out, sc)
	}
	return out, errs.err()
}

// fileError is a file that cannot be read, named once.
func fileError(path string, err error) *Error {
	msg := err.Error()
	if pe, ok := err.(*fs.PathError); ok && pe.Path == path {
		msg = pe.Err.Error()
	}
	return &Error{File: path, Message: msg, Err: err}
}

// scenarioFiles is the file at path, or the scenario files under the
// directory at path (an ErrorList if there are none).
func scenarioFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	// A symbolic link is followed, to a file or a directory (a suite may
	// link another's directory in), each directory walked once: a link
	// back up the tree is not a loop.
	seen := map[string]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		// WalkDir does not descend a root that is a link: walk where it
		// leads, naming the files by the link.
		return filepath.WalkDir(real, func(rp string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(real, rp)
			if err != nil {
				return err
			}
			p := filepath.Join(dir, rel)
			if rp != real && strings.HasPrefix(e.Name(), ".") {
				if e.IsDir() {
					return filepath.SkipDir // .git and the like
				}
				return nil
			}
			if e.Type()&fs.ModeSymlink != 0 {
				info, err := os.Stat(rp)
				if err != nil {
					return err // a dangling link: an error, not a silent skip
				}
				if info.IsDir() {
					return walk(p)
				}
			} else if e.IsDir() {
				return nil
			}
			if isScenarioFile(p) {
				files = append(files, p)
			}
			return nil
		})
	}
	if err := walk(path); err != nil {
		return nil, err
	}
	if len(files) == 0 {
		// Running nothing would pass; an empty suite is a mistake.
		return nil, ErrorList{{File: path, Message: "no .yaml or .yml scenario files"}}
	}
	return files, nil
}

// isScenarioFile: .yaml or .yml, in any case (FOO.YAML too).
func isScenarioFile(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	return ext == ".yaml" || ext == ".yml"
}

// Parse decodes one scenario; name is how errors and failures name the file.
// The error, if any, is an ErrorList.
func Parse(name string, data []byte) (*Scenario, error) {
	sp, err := spec.Default()
	if err != nil {
		return nil, fmt.Errorf("scenario: loading the spec: %w", err)
	}
	return parse(sp, name, data)
}

func parse(sp *spec.Spec, name string, data []byte) (*Scenario, error) {
	d := newDecoder(sp, name)
	root := d.document(data)
	if root == nil {
		return nil, d.errs.err()
	}
	sc := d.scenario(root)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// decoder walks the YAML node tree of one file, collecting every error.
type decoder struct {
	file   string
	sp     *spec.Spec
	errs   ErrorList
	budget int
	spent  bool
	eui64  *regexp.Regexp
	mpxn   *regexp.Regexp
	post   *regexp.Regexp
	// enrolled are the MPxNs enrolled expectations name, checked against
	// the scenario's once it is read.
	enrolled []mpxnRef
}

// mpxnRef is an MPxN a key names.
type mpxnRef struct {
	node *yaml.Node
	key  string
}

func newDecoder(sp *spec.Spec, file string) *decoder {
	d := &decoder{file: file, sp: sp, budget: nodeBudget}
	d.eui64 = d.pattern("eui64", fallbackEUI64)
	d.mpxn = d.pattern("mpxn", fallbackMPxN)
	d.post = d.pattern("postcode", "")
	return d
}

// pattern compiles a pattern of the spec, so IDs are checked as the gateway
// checks them; fallback serves an edited spec that lacks it.
func (d *decoder) pattern(name, fallback string) *regexp.Regexp {
	if p, ok := d.sp.Patterns[name]; ok {
		if re, err := regexp.Compile(p); err == nil {
			return re
		}
	}
	if fallback == "" {
		return nil
	}
	return regexp.MustCompile(fallback)
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	e := &Error{File: d.file, Key: key, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	d.errs = append(d.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document decodes data into the node of its one document.
func (d *decoder) document(data []byte) (root *yaml.Node) {
	// The YAML library is a port of libyaml; should some input still make
	// it panic, that is a bad file, not a reason to stop a whole run.
	defer func() {
		if r := recover(); r != nil {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Message: fmt.Sprintf("cannot read YAML: %v", r)})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{File: d.file, Line: 1, Message: "empty file: a scenario needs at least name and steps"})
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "", "only one scenario per file: a second YAML document starts here")
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
	}
	if len(doc.Content) == 0 {
		d.errs = append(d.errs, &Error{File: d.file, Line: 1, Message: "empty file: a scenario needs at least name and steps"})
		return nil
	}
	return doc.Content[0]
}

func (d *decoder) yamlError(err error) {
	e := &Error{File: d.file, Line: 1, Message: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Message = "invalid YAML: " + m[2]
	}
	d.errs = append(d.errs, e)
}

// node follows aliases and charges the budget; nil means stop here.
func (d *decoder) node(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 100 {
			d.errorf(n, "", "alias chain too long")
			return nil
		}
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	d.budget--
	if d.budget < 0 {
		if !d.spent {
			d.spent = true
			d.errorf(n, "", "file expands to more than %d YAML nodes (aliases?)", nodeBudget)
		}
		return nil
	}
	return n
}

// entry is one key of a mapping, with the nodes of the key and its value.
type entry struct {
	key, val *yaml.Node
}

// fields is a decoded mapping.
type fields map[string]entry

func (f fields) has(k string) bool { _, ok := f[k]; return ok }

func join(parent, k string) string {
	if parent == "" {
		return k
	}
	return parent + "." + k
}

func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

// mapping checks that n is a mapping whose keys are all among known, each
// once, and that every key of required is there. It returns nil if n is
// not a mapping.
func (d *decoder) mapping(n *yaml.Node, key string, known []string, required ...string) fields {
	n = d.node(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "expected a mapping with keys %s, got %s", strings.Join(known, ", "), describe(n))
		return nil
	}
	f := fields{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.node(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, key, "a key must be a plain word, got %s", describe(k))
			continue
		}
		name := k.Value
		if !slices.Contains(known, name) {
			d.errorf(k, join(key, name), "unknown key; expected one of %s", strings.Join(known, ", "))
			continue
		}
		if prev, dup := f[name]; dup {
			d.errorf(k, join(key, name), "duplicate key (first at line %d)", prev.key.Line)
			continue
		}
		f[name] = entry{k, v}
	}
	for _, r := range required {
		if !f.has(r) {
			d.errorf(n, join(key, r), "missing required key")
		}
	}
	return f
}

// sequence returns the items of a sequence, or nil with an error.
func (d *decoder) sequence(n *yaml.Node, key string) []*yaml.Node {
	n = d.node(n)
	if n == nil {
		return nil
	}
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "expected a list, got %s", describe(n))
		return nil
	}
	return n.Content
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// text returns the text of a scalar; YAML's own types do not matter here,
// so `service: 8.1` (a float to YAML) reads as "8.1". Null reads as "".
// ok is false when n is not a scalar (already reported) or was cut off.
func (d *decoder) text(n *yaml.Node, key string) (s string, ok bool) {
	n = d.node(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "expected a single value, got %s", describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// str returns the text of an optional key.
func (d *decoder) str(f fields, name, key string) string {
	e, ok := f[name]
	if !ok {
		return ""
	}
	s, _ := d.text(e.val, join(key, name))
	return s
}

// nonEmpty returns the text of a key that, when present, must have a
// value; mapping reports the key's absence where it is required.
func (d *decoder) nonEmpty(f fields, name, key string) string {
	e, ok := f[name]
	if !ok {
		return ""
	}
	s, ok := d.text(e.val, join(key, name))
	if ok && s == "" {
		d.errorf(e.val, join(key, name), "must not be empty")
	}
	return s
}

// id reads an EUI-64 Device or User ID.
func (d *decoder) id(f fields, name, key string, required bool) string {
	var s string
	if required {
		s = d.nonEmpty(f, name, key)
	} else {
		s = d.str(f, name, key)
	}
	if s != "" {
		d.checkID(f[name].val, join(key, name), s)
	}
	return s
}

func (d *decoder) checkID(n *yaml.Node, key, s string) bool {
	if d.eui64.MatchString(s) {
		return true
	}
	d.errorf(n, key, "%q is not an EUI-64 ID (uppercase hex in pairs, like 00-11-22-33-44-55-66-77)", s)
	return false
}

func (d *decoder) checkMPxN(n *yaml.Node, key, s string) {
	if !d.mpxn.MatchString(s) {
		d.errorf(n, key, "%q is not an MPxN (an MPAN core of 13 digits or an MPRN of 6 to 10)", s)
	}
}

// code reads a value that must be one of the codes the spec knows.
func (d *decoder) code(f fields, name, key, what string, known func(string) bool, list func() []string) string {
	s := d.str(f, name, key)
	if s != "" && !known(s) {
		d.errorf(f[name].val, join(key, name), "unknown %s %q; the spec knows %s", what, s, strings.Join(list(), ", "))
	}
	return s
}

func (d *decoder) role(f fields, name, key string) string {
	return d.code(f, name, key, "role", func(s string) bool { return d.sp.Role(s) != nil }, func() []string {
		var l []string
		for _, r := range d.sp.Roles {
			l = append(l, r.Code)
		}
		return l
	})
}

func (d *decoder) status(n *yaml.Node, key, s string) {
	if d.sp.Status(s) != nil {
		return
	}
	var l []string
	for _, st := range d.sp.Statuses {
		l = append(l, st.Code)
	}
	d.errorf(n, key, "unknown status %q; the spec knows %s", s, strings.Join(l, ", "))
}

func (d *decoder) outcome(n *yaml.Node, key, s string) {
	if !slices.Contains(outcomes, s) {
		d.errorf(n, key, "unknown outcome %q; expected one of %s", s, strings.Join(outcomes, ", "))
	}
}

func (d *decoder) boolean(f fields, name, key string) bool {
	e, ok := f[name]
	if !ok {
		return false
	}
	return d.boolNode(e.val, join(key, name))
}

func (d *decoder) boolNode(n *yaml.Node, key string) bool {
	n = d.node(n)
	if n == nil {
		return false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		d.errorf(n, key, "expected true or false, got %s", describe(n))
	}
	return b
}

func (d *decoder) integer(n *yaml.Node, key string) int {
	n = d.node(n)
	if n == nil {
		return 0
	}
	var i int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
		d.errorf(n, key, "expected a whole number, got %s", describe(n))
		return 0
	}
	if i < 0 {
		d.errorf(n, key, "must not be negative")
	}
	return i
}

func (d *decoder) duration(f fields, name, key string) (time.Duration, bool) {
	s := d.nonEmpty(f, name, key)
	if s == "" {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(f[name].val, join(key, name), "bad duration %q: expected a duration such as 30s, 24h or 720h", s)
		return 0, false
	}
	return v, true
}

func (d *decoder) timestamp(f fields, name, key string) (time.Time, bool) {
	s := d.nonEmpty(f, name, key)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		d.errorf(f[name].val, join(key, name), "bad time %q: expected RFC 3339, like 2026-01-05T09:00:00Z", s)
		return time.Time{}, false
	}
	return t.UTC(), true
}

// resolved follows aliases without charging the budget, for positions.
func resolved(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i <= 100; i++ {
		n = n.Alias
	}
	return n
}

var topKeys = []string{"name", "source", "start", "users", "registration", "inventory", "anomaly", "steps"}

func (d *decoder) scenario(root *yaml.Node) *Scenario {
	sc := &Scenario{File: d.file}
	sc.Start = DefaultStart
	f := d.mapping(root, "", topKeys, "name", "steps")
	if f == nil {
		return sc
	}
	sc.Name = d.nonEmpty(f, "name", "")
	if e, ok := f["name"]; ok {
		sc.nameLine, sc.nameColumn = e.val.Line, e.val.Column
	}
	sc.Source = d.str(f, "source", "")
	if t, ok := d.timestamp(f, "start", ""); ok {
		sc.Start = t
	}
	sc.Users = d.users(f)
	sc.Registration = d.registrations(f)
	sc.Inventory = d.inventory(f)
	sc.Anomaly = d.anomaly(f)
	if e, ok := f["steps"]; ok {
		sc.Steps = d.steps(e.val)
		if n := resolved(e.val); n != nil && (isNull(n) || n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
			d.errorf(n, "steps", "a scenario needs at least one step")
		}
	}
	d.checkEnrolled(sc)
	return sc
}

// checkEnrolled refuses an enrolled expectation about an MPxN the
// scenario has nowhere (registration, inventory, an 8.2 or 12.2 step): it
// could only ever read false, and a typo would pass.
func (d *decoder) checkEnrolled(sc *Scenario) {
	if len(d.enrolled) == 0 {
		return
	}
	known := map[string]bool{}
	for _, r := range sc.Registration {
		known[r.MPxN] = true
	}
	for _, it := range sc.Inventory {
		known[it.MPxN] = true
	}
	for _, st := range sc.Steps {
		if st.Request == nil {
			continue
		}
		known[st.Request.MPxN] = true
		if m, ok := st.Request.Body["mpxn"].(string); ok {
			known[m] = true
		}
	}
	for _, r := range d.enrolled {
		if r.node.Value != "" && !known[r.node.Value] {
			d.errorf(r.node, r.key, "MPxN %s is in no registration, inventory entry or step of the scenario: it could only ever be unenrolled", r.node.Value)
		}
	}
}

var userKeys = []string{"id", "role", "party", "suspended"}

func (d *decoder) users(top fields) []User {
	e, ok := top["users"]
	if !ok {
		return nil
	}
	var out []User
	seen := map[string]int{}
	for i, n := range d.sequence(e.val, "users") {
		key := index("users", i)
		f := d.mapping(n, key, userKeys, "id", "role")
		if f == nil {
			continue
		}
		u := User{
			ID:        d.id(f, "id", key, true),
			Role:      d.role(f, "role", key),
			Party:     d.str(f, "party", key),
			Suspended: d.boolean(f, "suspended", key),
		}
		if u.ID != "" {
			if line, dup := seen[u.ID]; dup {
				d.errorf(f["id"].val, join(key, "id"), "duplicate user %s (first at line %d); one role per User ID (para 117)", u.ID, line)
			} else {
				seen[u.ID] = f["id"].val.Line
			}
		}
		out = append(out, u)
	}
	return out
}

var registrationKeys = []string{"mpxn", "fuel", "import_supplier", "export_supplier", "network_operator", "postcode", "premises", "uprn"}

func (d *decoder) registrations(top fields) []Registration {
	e, ok := top["registration"]
	if !ok {
		return nil
	}
	var out []Registration
	seen := map[string]int{}
	for i, n := range d.sequence(e.val, "registration") {
		key := index("registration", i)
		f := d.mapping(n, key, registrationKeys, "mpxn", "fuel", "import_supplier", "network_operator", "postcode", "premises")
		if f == nil {
			continue
		}
		r := Registration{
			MPxN:            d.nonEmpty(f, "mpxn", key),
			Fuel:            d.nonEmpty(f, "fuel", key),
			ImportSupplier:  d.id(f, "import_supplier", key, true),
			ExportSupplier:  d.id(f, "export_supplier", key, false),
			NetworkOperator: d.id(f, "network_operator", key, true),
			Postcode:        d.nonEmpty(f, "postcode", key),
			Premises:        d.nonEmpty(f, "premises", key),
			UPRN:            d.str(f, "uprn", key),
		}
		if r.MPxN != "" {
			d.checkMPxN(f["mpxn"].val, join(key, "mpxn"), r.MPxN)
			if line, dup := seen[r.MPxN]; dup {
				d.errorf(f["mpxn"].val, join(key, "mpxn"), "duplicate MPxN %s (first at line %d)", r.MPxN, line)
			} else {
				seen[r.MPxN] = f["mpxn"].val.Line
			}
		}
		if r.Fuel != "" {
			if _, ok := d.sp.Enrolment[r.Fuel]; !ok {
				d.errorf(f["fuel"].val, join(key, "fuel"), "unknown fuel %q; the spec knows %s", r.Fuel, strings.Join(sortedKeys(d.sp.Enrolment), ", "))
			}
		}
		if r.Postcode != "" && d.post != nil && !d.post.MatchString(r.Postcode) {
			d.errorf(f["postcode"].val, join(key, "postcode"), "%q is not a postcode (uppercase, like SW1H 0ET)", r.Postcode)
		}
		out = append(out, r)
	}
	return out
}

var inventoryKeys = []string{"device", "type", "status", "mpxn", "chf", "meter", "credentials"}

func (d *decoder) inventory(top fields) []InventoryItem {
	e, ok := top["inventory"]
	if !ok {
		return nil
	}
	var out []InventoryItem
	seen := map[string]int{}
	for i, n := range d.sequence(e.val, "inventory") {
		key := index("inventory", i)
		f := d.mapping(n, key, inventoryKeys, "device", "type", "status")
		if f == nil {
			continue
		}
		it := InventoryItem{
			Device:      d.id(f, "device", key, true),
			Type:        d.deviceType(f, "type", key),
			Status:      d.nonEmpty(f, "status", key),
			MPxN:        d.str(f, "mpxn", key),
			CHF:         d.id(f, "chf", key, false),
			Meter:       d.id(f, "meter", key, false),
			Credentials: d.id(f, "credentials", key, false),
		}
		if it.Status != "" {
			d.status(f["status"].val, join(key, "status"), it.Status)
		}
		if it.MPxN != "" {
			d.checkMPxN(f["mpxn"].val, join(key, "mpxn"), it.MPxN)
		}
		if it.Device != "" {
			if line, dup := seen[it.Device]; dup {
				d.errorf(f["device"].val, join(key, "device"), "duplicate device %s (first at line %d)", it.Device, line)
			} else {
				seen[it.Device] = f["device"].val.Line
			}
		}
		out = append(out, it)
	}
	return out
}

func (d *decoder) deviceType(f fields, name, key string) string {
	s := d.nonEmpty(f, name, key)
	if s != "" && d.sp.DeviceType(s) == nil {
		var l []string
		for _, t := range d.sp.DeviceTypes {
			l = append(l, t.Code)
		}
		d.errorf(f[name].val, join(key, name), "unknown device type %q; the spec knows %s", s, strings.Join(l, ", "))
	}
	return s
}

var anomalyKeys = []string{"service", "role", "max", "per"}

func (d *decoder) anomaly(top fields) []AnomalyRule {
	e, ok := top["anomaly"]
	if !ok {
		return nil
	}
	var out []AnomalyRule
	for i, n := range d.sequence(e.val, "anomaly") {
		key := index("anomaly", i)
		f := d.mapping(n, key, anomalyKeys, anomalyKeys...)
		if f == nil {
			continue
		}
		r := AnomalyRule{Service: d.nonEmpty(f, "service", key), Role: d.role(f, "role", key)}
		if r.Service != "" && len(d.sp.ServicesByRef(r.Service)) == 0 {
			d.errorf(f["service"].val, join(key, "service"), "unknown service reference %q", r.Service)
		}
		if e, ok := f["max"]; ok {
			// 0 is a threshold: the first such request exceeds it and is
			// quarantined, as is every one after it.
			r.Max = d.integer(e.val, join(key, "max"))
		}
		if v, ok := d.duration(f, "per", key); ok {
			if v <= 0 {
				d.errorf(f["per"].val, join(key, "per"), "must be a positive duration")
			}
			r.Per = v
		}
		out = append(out, r)
	}
	return out
}

var stepKeys = []string{"id", "as", "request", "advance", "event", "expect"}

// requestRefs gives the fields of a request's body that may name an
// earlier request (the spec's request_ref) by a step id rather than a
// Request ID. One that names a step of the file is put in r.Refs and
// checked as after is (an earlier request step); another is sent as it
// is (the gateway refuses what is no Request ID: MALFORMED).
func (d *decoder) requestRefs(r *Request, n *yaml.Node, key string, step int) []ref {
	if r.row == nil {
		return nil
	}
	var out []ref
	for _, f := range r.row.Fields {
		v, ok := r.Body[f.Name].(string)
		if f.RequestRef == "" || !ok || requestIDPattern.MatchString(v) {
			continue
		}
		node := n
		if b := valueOf(n, "body"); b != nil {
			node = b
			if v := valueOf(b, f.Name); v != nil {
				node = v
			}
		}
		out = append(out, ref{id: v, node: node, key: join(key, f.Name), step: step, after: true, req: r, field: f.Name})
	}
	return out
}

// valueOf is the value of key in mapping n, nil if it has none.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	n = resolved(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolved(n.Content[i]); k != nil && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// requestIDPattern is a Request ID (originatorID:targetID:counter), which
// a request_ref field may give as it is.
var requestIDPattern = regexp.MustCompile(`^([0-9A-F]{2}-){7}[0-9A-F]{2}:([0-9A-F]{2}-){7}[0-9A-F]{2}:[0-9]{1,20}$`)

// ref is a mention of a step id, checked once every step is known.
type ref struct {
	id    string
	node  *yaml.Node
	key   string
	step  int  // index of the step that mentions it
	after bool // after (must be earlier) rather than outcomes (earlier or this one)
	// req and field, for a body field that may name a step (requestRefs):
	// a value naming no step is the field's text, not a reference.
	req   *Request
	field string
}

func (d *decoder) steps(n *yaml.Node) []*Step {
	var (
		out  []*Step
		ids  = map[string]*Step{}
		refs []ref
	)
	for i, sn := range d.sequence(n, "steps") {
		key := index("steps", i)
		f := d.mapping(sn, key, stepKeys)
		if f == nil {
			continue
		}
		st := &Step{Index: i + 1, Line: resolved(sn).Line}
		st.ID = d.str(f, "id", key)
		if st.ID != "" {
			if prev, dup := ids[st.ID]; dup {
				d.errorf(f["id"].val, join(key, "id"), "duplicate step id %q (first at line %d)", st.ID, prev.Line)
			} else {
				ids[st.ID] = st
			}
		} else if e, ok := f["id"]; ok {
			d.errorf(e.val, join(key, "id"), "must not be empty")
		}
		var kinds []string
		for _, k := range []string{"request", "advance", "event"} {
			if f.has(k) {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) != 1 {
			got := "none"
			if len(kinds) > 0 {
				got = strings.Join(kinds, ", ")
			}
			d.errorf(sn, key, "a step is exactly one of request, advance, event; got %s", got)
		}
		// Every kind present is decoded, so its errors show too; the first
		// decides the step's kind.
		if f.has("request") {
			st.Kind = StepRequest
			st.As = d.id(f, "as", key, true)
			if !f.has("as") {
				d.errorf(resolved(sn), join(key, "as"), "missing required key: a request is sent as a User ID")
			}
			var after *yaml.Node
			st.Request, after = d.request(f["request"].val, join(key, "request"))
			if r := st.Request; r != nil && r.After != "" {
				refs = append(refs, ref{id: r.After, node: after, key: join(key, "request.after"), step: i, after: true})
			}
			if r := st.Request; r != nil {
				refs = append(refs, d.requestRefs(r, f["request"].val, join(key, "request.body"), i)...)
			}
		}
		if f.has("advance") {
			if st.Kind == 0 {
				st.Kind = StepAdvance
			}
			if v, ok := d.duration(f, "advance", key); ok {
				if v < 0 {
					d.errorf(f["advance"].val, join(key, "advance"), "the clock only moves forward")
				}
				st.Advance = v
			}
		}
		if f.has("event") {
			if st.Kind == 0 {
				st.Kind = StepEvent
			}
			st.Event = d.event(f["event"].val, join(key, "event"))
		}
		if st.Kind != StepRequest && st.Kind != 0 {
			if e, ok := f["as"]; ok {
				d.errorf(e.key, join(key, "as"), "only a request is sent as a user")
			}
		}
		if e, ok := f["expect"]; ok {
			var outs []ref
			st.Expect, outs = d.expect(e.val, join(key, "expect"), st)
			for _, r := range outs {
				r.step = i
				refs = append(refs, r)
			}
		}
		out = append(out, st)
	}
	for _, r := range refs {
		target, ok := ids[r.id]
		if r.req != nil {
			if !ok {
				continue
			}
			if r.req.Refs == nil {
				r.req.Refs = map[string]string{}
			}
			r.req.Refs[r.field] = r.id
		}
		switch {
		case !ok:
			d.errorf(r.node, r.key, "no step has id %q", r.id)
		case r.after && target.Index-1 == r.step && strings.HasSuffix(r.key, ".after"):
			d.errorf(r.node, r.key, "a request cannot be sequenced after itself")
		case r.after && target.Index-1 == r.step:
			d.errorf(r.node, r.key, "a request cannot name itself")
		case target.Index-1 > r.step:
			d.errorf(r.node, r.key, "step %q comes later (step %d); only an earlier step can be named", r.id, target.Index)
		case target.Kind != StepRequest:
			d.errorf(r.node, r.key, "step %q is not a request", r.id)
		}
	}
	return out
}

var requestKeys = []string{"service", "variant", "device", "mpxn", "postcode", "premises", "uprn", "when", "delivery", "after", "body", "sign", "counter"}

// request decodes a request; it also returns the node of after, where an
// error about the step it names belongs.
func (d *decoder) request(n *yaml.Node, key string) (*Request, *yaml.Node) {
	f := d.mapping(n, key, requestKeys, "service")
	if f == nil {
		return nil, nil
	}
	r := &Request{Delivery: "wan"}
	r.Service = d.nonEmpty(f, "service", key)
	r.Variant = d.str(f, "variant", key)
	r.row, r.spec = d.service(f, key, r.Service, r.Variant), d.sp
	r.Device = d.id(f, "device", key, false)
	r.MPxN = d.str(f, "mpxn", key)
	r.Postcode = d.str(f, "postcode", key)
	r.Premises = d.str(f, "premises", key)
	r.UPRN = d.str(f, "uprn", key)
	if row := r.row; row != nil {
		switch row.Target {
		case "device", "new_device":
			if r.Device == "" && !f.has("device") {
				d.errorf(resolved(n), join(key, "device"), "missing required key: %s is aimed at a device", row)
			}
		}
		if row.Target != "inventory_query" {
			for _, k := range []string{"mpxn", "postcode", "premises", "uprn"} {
				if e, ok := f[k]; ok {
					d.errorf(e.key, join(key, k), "only an inventory query (%s) names its target by %s; %s takes device", strings.Join(d.targets("inventory_query"), ", "), k, row.Key())
				}
			}
		}
	}
	if f.has("postcode") != f.has("premises") {
		for _, k := range []string{"postcode", "premises"} {
			if e, ok := f[k]; ok {
				d.errorf(e.key, join(key, k), "postcode and premises go together")
			}
		}
	}
	if e, ok := f["when"]; ok {
		r.When = d.when(e.val, join(key, "when"))
		// The format gives schedule only to 5.1 Create Schedule; on any
		// other request it would be dropped and the request run on demand.
		if r.When.Kind == Scheduled && r.row != nil && !r.row.CreatesSchedule {
			at := keyNode(e.val, "schedule")
			d.errorf(at, join(key, "when.schedule"), "only %s takes a schedule; %s is on_demand or {future: TIME}", strings.Join(d.creators(), ", "), r.row)
		}
	}
	if e, ok := f["delivery"]; ok {
		r.Delivery = d.str(f, "delivery", key)
		if !slices.ContainsFunc(d.sp.Deliveries, func(c *spec.Category) bool { return c.Code == r.Delivery }) {
			var l []string
			for _, c := range d.sp.Deliveries {
				l = append(l, c.Code)
			}
			d.errorf(e.val, join(key, "delivery"), "unknown delivery %q; the spec knows %s", r.Delivery, strings.Join(l, ", "))
		}
	}
	r.After = d.nonEmpty(f, "after", key)
	if e, ok := f["body"]; ok {
		r.Body = d.body(e.val, join(key, "body"), r.row)
	}
	if e, ok := f["counter"]; ok {
		// The Request ID's counter, for the interface's replay protection
		// (REPLAY): zero is never a counter the client gives.
		if r.Counter = uint64(d.integer(e.val, join(key, "counter"))); r.Counter == 0 && d.node(e.val) != nil && d.node(e.val).Tag == "!!int" {
			d.errorf(e.val, join(key, "counter"), "a Request ID counter starts at 1")
		}
	}
	if e, ok := f["sign"]; ok {
		r.Sign = d.sign(e.val, join(key, "sign"))
		if r.row != nil && !r.row.Critical {
			d.errorf(e.key, join(key, "sign"), "%s is not critical: only critical requests are signed", r.row)
		}
	}
	return r, f["after"].val
}

// creators lists the references of the services that create a schedule
// (5.1 Create Schedule).
func (d *decoder) creators() []string {
	var l []string
	for _, s := range d.sp.Services {
		if s.CreatesSchedule && !slices.Contains(l, s.Ref) {
			l = append(l, s.Ref)
		}
	}
	return l
}

// keyNode is the node of key name in the mapping n, or n itself, for an
// error's position.
func keyNode(n *yaml.Node, name string) *yaml.Node {
	m := resolved(n)
	if m != nil && m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if k := resolved(m.Content[i]); k != nil && k.Value == name {
				return k
			}
		}
	}
	return n
}

// targets lists the references of services whose target is t.
func (d *decoder) targets(t string) []string {
	var l []string
	for _, s := range d.sp.Services {
		if s.Target == t && !slices.Contains(l, s.Ref) {
			l = append(l, s.Ref)
		}
	}
	return l
}

// service resolves a reference and variant to the spec's row, or reports
// why it cannot: unknown reference, a variant the reference lacks, or a
// missing variant where the reference has several rows.
func (d *decoder) service(f fields, key, ref, variant string) *spec.Service {
	if ref == "" {
		return nil
	}
	rows := d.sp.ServicesByRef(ref)
	if len(rows) == 0 {
		d.errorf(f["service"].val, join(key, "service"), "unknown service reference %q", ref)
		return nil
	}
	if rows[0].Alert {
		// A1 and A2 are rows of the schedule, but the DCC sends them to
		// users (para 129); no user sends one.
		d.errorf(f["service"].val, join(key, "service"), "%s is an alert the DCC sends to users, not a Service Request a user sends", rows[0])
		return nil
	}
	var variants []string
	for _, r := range rows {
		if r.Variant != "" {
			variants = append(variants, r.Variant)
		}
	}
	if variant == "" {
		if len(variants) > 0 {
			d.errorf(f["service"].val, join(key, "variant"), "missing: %s has several rows; say variant: %s", ref, strings.Join(variants, " or "))
			return nil
		}
		return rows[0]
	}
	row := d.sp.Service(ref, variant)
	if row == nil {
		if len(variants) == 0 {
			d.errorf(f["variant"].val, join(key, "variant"), "%s has no variants", ref)
		} else {
			d.errorf(f["variant"].val, join(key, "variant"), "%s has no variant %q; the spec has %s", ref, variant, strings.Join(variants, ", "))
		}
	}
	return row
}

var (
	whenKeys     = []string{"future", "schedule"}
	scheduleKeys = []string{"service", "variant", "every", "first"}
)

func (d *decoder) when(n *yaml.Node, key string) When {
	n = d.node(n)
	if n == nil {
		return When{}
	}
	if n.Kind == yaml.ScalarNode {
		if n.Value != "on_demand" {
			d.errorf(n, key, "expected on_demand, {future: TIME} or {schedule: {service, every, first}}, got %s", describe(n))
		}
		return When{Kind: OnDemand}
	}
	f := d.mapping(n, key, whenKeys)
	if f == nil {
		return When{}
	}
	if len(f) != 1 {
		d.errorf(n, key, "expected exactly one of future, schedule")
		return When{}
	}
	if f.has("future") {
		t, _ := d.timestamp(f, "future", key)
		return When{Kind: Future, At: t}
	}
	skey := join(key, "schedule")
	sf := d.mapping(f["schedule"].val, skey, scheduleKeys, "service", "every", "first")
	if sf == nil {
		return When{Kind: Scheduled}
	}
	s := &Schedule{Service: d.nonEmpty(sf, "service", skey), Variant: d.str(sf, "variant", skey)}
	d.service(sf, skey, s.Service, s.Variant)
	if v, ok := d.duration(sf, "every", skey); ok {
		if v <= 0 {
			d.errorf(sf["every"].val, join(skey, "every"), "must be a positive duration")
		}
		s.Every = v
	}
	s.First, _ = d.timestamp(sf, "first", skey)
	return When{Kind: Scheduled, Schedule: s}
}

func (d *decoder) sign(n *yaml.Node, key string) Sign {
	n = d.node(n)
	if n == nil {
		return Sign{}
	}
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "own":
			return Sign{Mode: SignOwn}
		case "none":
			return Sign{Mode: SignNone}
		}
		d.errorf(n, key, "expected own, none or {with: USER_ID}, got %s", describe(n))
		return Sign{}
	}
	f := d.mapping(n, key, []string{"with"}, "with")
	if f == nil {
		return Sign{}
	}
	return Sign{Mode: SignWith, With: d.id(f, "with", key, true)}
}

func (d *decoder) body(n *yaml.Node, key string, row *spec.Service) map[string]any {
	n = d.node(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "expected a mapping of service fields, got %s", describe(n))
		return nil
	}
	var known []string
	if row != nil {
		for _, fl := range row.Fields {
			known = append(known, fl.Name)
		}
	}
	out := map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.node(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, key, "a field name must be a plain word, got %s", describe(k))
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, join(key, k.Value), "duplicate key")
			continue
		}
		// A misspelt field would silently take the spec's example value,
		// so a field the spec does not give the service is an error.
		if row != nil && !slices.Contains(known, k.Value) {
			if len(known) == 0 {
				d.errorf(k, join(key, k.Value), "unknown field: %s takes no body fields", row)
			} else {
				d.errorf(k, join(key, k.Value), "unknown field of %s; the spec gives %s", row, strings.Join(known, ", "))
			}
			continue
		}
		v := d.value(n.Content[i+1], join(key, k.Value), 0)
		if row != nil {
			if fi := slices.IndexFunc(row.Fields, func(f spec.Field) bool { return f.Name == k.Value }); fi >= 0 {
				v = asText(n.Content[i+1], row.Fields[fi], v)
				d.fieldValue(n.Content[i+1], join(key, k.Value), row.Fields[fi], v)
			}
		}
		out[k.Value] = v
	}
	return out
}

// asText is v with the numbers written unquoted where the field holds text
// (an MPxN, a register's name) taken as the text written: YAML reads
// `mpxn: 1900000000011` as a number, which its writer meant as the MPxN.
func asText(n *yaml.Node, f spec.Field, v any) any {
	num := func(n *yaml.Node) (string, bool) {
		n = resolved(n)
		if n != nil && n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			return n.Value, true
		}
		return "", false
	}
	switch f.Type {
	case "string":
		if s, ok := num(n); ok {
			return s
		}
	case "strings":
		l, ok := v.([]any)
		if m := resolved(n); ok && m != nil && m.Kind == yaml.SequenceNode && len(m.Content) == len(l) {
			out := slices.Clone(l)
			for i := range out {
				if s, ok := num(m.Content[i]); ok {
					out[i] = s
				}
			}
			return out
		}
	}
	return v
}

// fieldValue checks that v, decoded from n, is of the type of the field,
// as the request message carries it: a value the runner could not put in
// the message is a mistake in the file, not something for the gateway to
// refuse. Ranges and patterns are the gateway's to check (MALFORMED).
func (d *decoder) fieldValue(n *yaml.Node, key string, f spec.Field, v any) {
	n = resolved(n)
	bad := func(want string) {
		d.errorf(n, key, "expected %s (the field's type is %s), got %s", want, f.Type, describe(n))
	}
	switch f.Type {
	case "string":
		if _, ok := v.(string); !ok {
			bad("text (quote it)")
		}
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			bad("a time in RFC 3339, like 2026-01-05T09:00:00Z")
			return
		}
		if _, err := time.Parse(time.RFC3339, s); err != nil && s != "" {
			bad("a time in RFC 3339, like 2026-01-05T09:00:00Z")
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			bad("true or false")
		}
	case "int64":
		switch x := v.(type) {
		case int, int64:
		case uint64:
			if x > math.MaxInt64 {
				bad("a whole number that fits in 64 bits")
			}
		case float64:
			if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
				bad("a whole number")
			}
		default:
			bad("a whole number")
		}
	case "double":
		switch v.(type) {
		case int, int64, uint64, float64:
		default:
			bad("a number")
		}
	case "strings":
		l, ok := v.([]any)
		if !ok {
			bad("a list of text values")
			return
		}
		items := n.Content
		for i, x := range l {
			if _, ok := x.(string); !ok && i < len(items) {
				in := resolved(items[i])
				d.errorf(in, index(key, i), "expected text (the field's type is %s, a list of text values), got %s", f.Type, describe(in))
			}
		}
	}
}

// value turns a free-form YAML value into plain Go values.
func (d *decoder) value(n *yaml.Node, key string, depth int) any {
	n = d.node(n)
	if n == nil {
		return nil
	}
	if depth > maxDepth {
		d.errorf(n, key, "nested deeper than %d levels", maxDepth)
		return nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float", "!!bool", "!!null":
			var v any
			if err := n.Decode(&v); err != nil {
				d.errorf(n, key, "%v", err)
			}
			return v
		}
		// Strings, and times kept as written: the body travels as JSON.
		return n.Value
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			l = append(l, d.value(c, index(key, i), depth+1))
		}
		return l
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.node(n.Content[i])
			if k == nil {
				continue
			}
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, key, "a key must be a plain word, got %s", describe(k))
				continue
			}
			if _, dup := m[k.Value]; dup {
				d.errorf(k, join(key, k.Value), "duplicate key")
				continue
			}
			m[k.Value] = d.value(n.Content[i+1], join(key, k.Value), depth+1)
		}
		return m
	}
	d.errorf(n, key, "unsupported YAML value")
	return nil
}

var eventKeys = []string{"device", "kind"}

var eventKind = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (d *decoder) event(n *yaml.Node, key string) *Event {
	f := d.mapping(n, key, eventKeys, eventKeys...)
	if f == nil {
		return nil
	}
	ev := &Event{Device: d.id(f, "device", key, true), Kind: d.nonEmpty(f, "kind", key)}
	// Kinds are the devices' business (the project documents them); the
	// format only fixes their shape.
	if ev.Kind != "" && !eventKind.MatchString(ev.Kind) {
		d.errorf(f["kind"].val, join(key, "kind"), "%q is not an event kind (lower case words joined by _, like wan_connected)", ev.Kind)
	}
	return ev
}

var (
	expectKeys = []string{"outcome", "reason", "status", "enrolled", "outcomes", "alerts", "schedules"}
	alertKeys  = []string{"to", "code"}
)

// expect decodes the expectations of step st; it returns the step ids that
// outcomes names, to check once all steps are known.
func (d *decoder) expect(n *yaml.Node, key string, st *Step) (*Expect, []ref) {
	f := d.mapping(n, key, expectKeys)
	if f == nil {
		return nil, nil
	}
	x := &Expect{}
	var refs []ref
	for _, k := range []string{"outcome", "reason"} {
		if e, ok := f[k]; ok && st.Kind != StepRequest && st.Kind != 0 {
			d.errorf(e.key, join(key, k), "only a request step has its own %s; use outcomes to check an earlier request", k)
		}
	}
	if e, ok := f["outcome"]; ok {
		x.Outcome = d.nonEmpty(f, "outcome", key)
		if x.Outcome != "" {
			d.outcome(e.val, join(key, "outcome"), x.Outcome)
		}
	}
	if e, ok := f["reason"]; ok {
		x.Reason = d.nonEmpty(f, "reason", key)
		if x.Reason != "" && d.sp.Reason(x.Reason) == nil {
			var l []string
			for _, r := range d.sp.Reasons {
				l = append(l, r.Code)
			}
			d.errorf(e.val, join(key, "reason"), "unknown reason %q; the spec knows %s", x.Reason, strings.Join(l, ", "))
		}
		switch x.Outcome {
		case OutcomeAccepted, OutcomePending, OutcomeHeld:
			d.errorf(e.key, join(key, "reason"), "a request that is %s has no reason", x.Outcome)
		}
	}
	if e, ok := f["status"]; ok {
		v := d.node(e.val)
		switch {
		case v == nil:
		case v.Kind == yaml.MappingNode:
			x.Statuses = map[string]string{}
			d.each(v, join(key, "status"), func(k, val *yaml.Node, vkey string) {
				if !d.checkID(k, vkey, k.Value) {
					return
				}
				s := d.scalar(val, vkey)
				if s != "" {
					d.status(val, vkey, s)
				}
				x.Statuses[k.Value] = s
			})
		default:
			x.Status = d.nonEmpty(f, "status", key)
			if x.Status != "" {
				d.status(e.val, join(key, "status"), x.Status)
			}
			if st.TargetDevice() == "" && st.Kind != 0 {
				d.errorf(e.key, join(key, "status"), "the step has no target device; write status: {DEVICE_ID: STATUS}")
			}
		}
	}
	if e, ok := f["enrolled"]; ok {
		x.Enrolled = map[string]bool{}
		d.each(e.val, join(key, "enrolled"), func(k, val *yaml.Node, vkey string) {
			d.checkMPxN(k, vkey, k.Value)
			if d.mpxn.MatchString(k.Value) {
				d.enrolled = append(d.enrolled, mpxnRef{node: k, key: vkey})
			}
			x.Enrolled[k.Value] = d.boolNode(val, vkey)
		})
	}
	if e, ok := f["outcomes"]; ok {
		x.Outcomes = map[string]string{}
		d.each(e.val, join(key, "outcomes"), func(k, val *yaml.Node, vkey string) {
			s := d.scalar(val, vkey)
			if s != "" {
				d.outcome(val, vkey, s)
			}
			x.Outcomes[k.Value] = s
			refs = append(refs, ref{id: k.Value, node: k, key: vkey})
		})
	}
	if e, ok := f["alerts"]; ok {
		akey := join(key, "alerts")
		for i, an := range d.sequence(e.val, akey) {
			ikey := index(akey, i)
			af := d.mapping(an, ikey, alertKeys, "to")
			if af == nil {
				continue
			}
			x.Alerts = append(x.Alerts, ExpectedAlert{To: d.id(af, "to", ikey, true), Code: d.str(af, "code", ikey)})
		}
	}
	if e, ok := f["schedules"]; ok {
		x.Schedules = map[string]int{}
		d.each(e.val, join(key, "schedules"), func(k, val *yaml.Node, vkey string) {
			d.checkID(k, vkey, k.Value)
			x.Schedules[k.Value] = d.integer(val, vkey)
		})
		if st.TargetDevice() == "" && st.Kind != 0 {
			d.errorf(e.key, join(key, "schedules"), "the step has no target device to count schedules on")
		}
	}
	return x, refs
}

// each calls fn for every key of a mapping whose keys are data (Device
// IDs, MPxNs, step ids), rejecting duplicates and non-scalar keys.
func (d *decoder) each(n *yaml.Node, key string, fn func(k, v *yaml.Node, vkey string)) {
	n = d.node(n)
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "expected a mapping, got %s", describe(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := d.node(n.Content[i])
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, key, "a key must be a single value, got %s", describe(k))
			continue
		}
		vkey := join(key, k.Value)
		if seen[k.Value] {
			d.errorf(k, vkey, "duplicate key")
			continue
		}
		seen[k.Value] = true
		fn(k, n.Content[i+1], vkey)
	}
}

// scalar is str for a bare node.
func (d *decoder) scalar(n *yaml.Node, key string) string {
	n = d.node(n)
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, key, "expected a single value, got %s", describe(n))
		return ""
	}
	return n.Value
}

func sortedKeys[V any](m map[string]V) []string {
	l := make([]string, 0, len(m))
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}
