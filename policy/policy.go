// Package policy compiles the rules that decide: the Rego modules of
// policy/rego over the spec, and the CEL rules the spec carries. Everything
// is compiled once; a *Policy is immutable and safe to share.
package policy

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/dccgate/dccgate/spec"
)

//go:embed rego/*.rego
var embedded embed.FS

// Modules returns the embedded Rego sources (without tests).
func Modules() fs.FS {
	sub, _ := fs.Sub(embedded, "rego")
	return sub
}

// Policy is the compiled policy over one spec.
type Policy struct {
	spec      *spec.Spec
	tables    *Tables
	decision  rego.PreparedEvalQuery
	rules     *Rules
	moduleSrc map[string]string
}

// Option configures Compile.
type Option func(*options)

type options struct {
	modules fs.FS
	prefix  string
}

// WithModules compiles the .rego files of fsys (tests excluded) instead of
// the embedded ones; prefix is how their names are shown in errors.
func WithModules(fsys fs.FS, prefix string) Option {
	return func(o *options) { o.modules, o.prefix = fsys, prefix }
}

// Error is a policy error with a stable code and the position at fault.
type Error struct {
	Code     string // "rego_compile_error", "cel_compile_error", "eval_error"
	Message  string
	Location string // file:line:col (of a CEL rule, with the rule it is), or the spec path of a rule whose position is not known
}

func (e *Error) Error() string {
	if e.Location != "" {
		return fmt.Sprintf("%s: %s: %s", e.Location, e.Code, e.Message)
	}
	return e.Code + ": " + e.Message
}

// Is matches errors by code, so errors.Is(err, &Error{Code: X}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorSet collects the errors of one compilation, sorted by location.
type ErrorSet []*Error

func (es ErrorSet) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// ErrOrNil returns nil for an empty set.
func (es ErrorSet) ErrOrNil() error {
	if len(es) == 0 {
		return nil
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Location < es[j].Location })
	return es
}

// Compile parses and compiles the Rego modules with the spec as data.spec,
// evaluates the tables, prepares the reference decision query and compiles
// every CEL rule of the spec.
func Compile(ctx context.Context, s *spec.Spec, opts ...Option) (*Policy, error) {
	o := options{modules: Modules(), prefix: "policy/rego"}
	for _, opt := range opts {
		opt(&o)
	}
	mods, err := readModules(o.modules, o.prefix)
	if err != nil {
		return nil, err
	}
	compiler, err := compileModules(mods)
	if err != nil {
		return nil, err
	}
	store := inmem.NewFromObject(map[string]any{"spec": s.Data()})
	p := &Policy{spec: s, moduleSrc: mods}

	tablesQ, err := rego.New(rego.Query("data.dccgate.gateway.tables"), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, &Error{Code: "rego_compile_error", Message: err.Error()}
	}
	rs, err := tablesQ.Eval(ctx)
	if err != nil {
		return nil, &Error{Code: "eval_error", Message: err.Error()}
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, &Error{Code: "eval_error", Message: "data.dccgate.gateway.tables is undefined"}
	}
	if p.tables, err = decodeTables(rs[0].Expressions[0].Value); err != nil {
		return nil, err
	}
	p.decision, err = rego.New(rego.Query("data.dccgate.gateway.decision"), rego.Compiler(compiler), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, &Error{Code: "rego_compile_error", Message: err.Error()}
	}
	if p.rules, err = CompileRules(s); err != nil {
		return nil, err
	}
	return p, nil
}

func readModules(fsys fs.FS, prefix string) (map[string]string, error) {
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return nil, err
	}
	mods := map[string]string{}
	for _, n := range names {
		if strings.HasSuffix(n, "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		mods[path.Join(prefix, n)] = string(b)
	}
	if len(mods) == 0 {
		return nil, &Error{Code: "rego_compile_error", Message: "no .rego modules in " + prefix}
	}
	return mods, nil
}

// CompileModule compiles the one Rego module name of fsys (named
// policy/rego/<name> in errors, with file:line:col) for a component that
// queries its own module over the spec alone (hubs, traffic, incidents),
// and returns the compiler with a store whose data.spec is sp's.
func CompileModule(fsys fs.FS, name string, sp *spec.Spec) (*ast.Compiler, storage.Store, error) {
	src, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, nil, err
	}
	c, err := compileModules(map[string]string{"policy/rego/" + name: string(src)})
	if err != nil {
		return nil, nil, err
	}
	return c, inmem.NewFromObject(map[string]any{"spec": sp.Data()}), nil
}

// compileModules parses and compiles Rego v1 modules, reporting every error
// with file:line:col.
func compileModules(mods map[string]string) (*ast.Compiler, error) {
	parsed := map[string]*ast.Module{}
	var errs ErrorSet
	for name, src := range mods {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			errs = append(errs, fromAST(err)...)
			continue
		}
		parsed[name] = m
	}
	if err := errs.ErrOrNil(); err != nil {
		return nil, err
	}
	c := ast.NewCompiler().WithEnablePrintStatements(false)
	c.Compile(parsed)
	if c.Failed() {
		return nil, ErrorSet(fromAST(c.Errors)).ErrOrNil()
	}
	return c, nil
}

func fromAST(err error) []*Error {
	var aerrs ast.Errors
	if !errors.As(err, &aerrs) {
		return []*Error{{Code: "rego_compile_error", Message: err.Error()}}
	}
	out := make([]*Error, 0, len(aerrs))
	for _, e := range aerrs {
		pe := &Error{Code: "rego_compile_error", Message: e.Message}
		if e.Location != nil {
			pe.Location = fmt.Sprintf("%s:%d:%d", e.Location.File, e.Location.Row, e.Location.Col)
		}
		out = append(out, pe)
	}
	return out
}

// Spec returns the spec the policy was compiled over.
func (p *Policy) Spec() *spec.Spec { return p.spec }

// Tables returns what the policy decided from the spec alone.
func (p *Policy) Tables() *Tables { return p.tables }

// Rules returns the compiled CEL rules of the spec.
func (p *Policy) Rules() *Rules { return p.rules }

// Decision is the answer of the reference query.
type Decision struct {
	Outcome string `json:"outcome"`
	Code    string `json:"code"`
	Clause  string `json:"clause"`
	Detail  string `json:"detail"`
}

// Reference evaluates data.dccgate.gateway.decision for one input
// ({"request": ..., "facts": ...}, JSON-shaped). It is the slow, readable
// path the engine's fast path is tested against.
func (p *Policy) Reference(ctx context.Context, input map[string]any) (Decision, error) {
	rs, err := p.decision.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return Decision{}, &Error{Code: "eval_error", Message: err.Error()}
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, &Error{Code: "eval_error", Message: "decision is undefined for this input"}
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	if err := json.Unmarshal(b, &d); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// Tables is what the policy derives from the spec alone, indexed for lookups.
type Tables struct {
	Services      map[string]*ServiceRow       `json:"services"`
	LocalStatuses map[string][]string          `json:"local_statuses"`
	Registration  map[string]spec.Registration `json:"registration"`
	Checks        []Check                      `json:"checks"`
	Moves         []Move                       `json:"moves"`
	MoveEvents    map[string]string            `json:"move_events"`
	// InventoryChanging are the services whose requests change the Smart
	// Metering Inventory; DeferredWhenHeld the checks a request held behind
	// one of them is put to when released, not when it arrives.
	InventoryChanging []string `json:"inventory_changing"`
	DeferredWhenHeld  []string `json:"deferred_when_held"`
}

// ServiceRow is the policy's view of one schedule row.
type ServiceRow struct {
	Key             string          `json:"key"`
	Ref             string          `json:"ref"`
	Critical        bool            `json:"critical"`
	DeviceService   bool            `json:"device_service"`
	Alert           bool            `json:"alert"`
	Categories      map[string]bool `json:"categories"`
	Local           bool            `json:"local"`
	Roles           []string        `json:"roles"`
	Target          string          `json:"target"`
	Targets         []string        `json:"targets"`
	Statuses        []string        `json:"statuses"`
	Type2           bool            `json:"type2"`
	Registration    string          `json:"registration"`
	Commissions     bool            `json:"commissions"`
	CreatesSchedule bool            `json:"creates_schedule"`
	// DeviceLog names, for "add" and "remove", the fields listing the
	// devices the request adds to or removes from its hub's Device Log.
	DeviceLog map[string][]string `json:"device_log"`
	Clause    string              `json:"clause"`
}

// Check is one check in the order they run, with its reason's clause.
type Check struct {
	Code    string `json:"code"`
	Clause  string `json:"clause"`
	Outcome string `json:"outcome"`
}

func decodeTables(v any) (*Tables, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var t Tables
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, &Error{Code: "eval_error", Message: "tables: " + err.Error()}
	}
	for key, row := range t.Services {
		if row == nil {
			return nil, &Error{Code: "eval_error", Message: "tables: no row for " + key}
		}
		// Rego rules with a false body are undefined rather than false;
		// the policy writes them as absent.
		if row.Registration == "" {
			return nil, &Error{Code: "eval_error", Message: "tables: no registration rule for " + key}
		}
	}
	return &t, nil
}

// Move is one allowed status transition of the inventory policy.
type Move struct {
	Event     string `json:"event"`
	Service   string `json:"service"`
	Subject   string `json:"subject"`
	From      string `json:"from"`
	Class     string `json:"class"`
	RoleKind  string `json:"role_kind"`
	To        string `json:"to"`
	Requested bool   `json:"requested"`
	Clause    string `json:"clause"`
}
