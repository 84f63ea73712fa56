// Package traffic is para 273's traffic management at times of system
// stress: policy/rego/traffic.rego, compiled once over the spec, decides
// whether a Service Request is allowed, deferred or refused given the
// gateway's load. It is off unless the spec (traffic.enabled) or the
// caller (Enabled) turns it on; off, or below the load the policy names as
// quiet, Decide answers allow without evaluating anything.
//
// The gateway calls it after the engine accepted a request and before it
// persists it:
//
//	d, err := tm.Decide(ctx, traffic.Request{Service: key, Category: cat}, traffic.Load{InFlight: g.Stats().InFlight})
//	switch d.Action {
//	case traffic.Refuse: // reject with d.Reason (TRAFFIC_REFUSED) and d.Clause
//	case traffic.Defer:  // keep it pending, executed at now + d.DeferFor
//	}
package traffic

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
)

// Actions of a decision.
const (
	Allow  = "allow"
	Defer  = "defer"
	Refuse = "refuse"
)

// Request is what the policy knows of a request.
type Request struct {
	Service  string // row key, "4.1"
	Category string // on_demand (default), future_dated, scheduled
}

// Load is the gateway's load.
type Load struct {
	// InFlight is the requests queued and executing (gateway.Stats).
	InFlight int
}

// Decision is the policy's answer.
type Decision struct {
	Action   string        `json:"action"`
	Reason   string        `json:"reason,omitempty"` // TRAFFIC_REFUSED, TRAFFIC_DEFERRED
	Clause   string        `json:"clause,omitempty"`
	Detail   string        `json:"detail,omitempty"`
	DeferFor time.Duration `json:"defer_for,omitempty"`
}

// Manager is the compiled traffic policy. It is immutable and safe to
// share.
type Manager struct {
	sp      *spec.Spec
	enabled bool
	quiet   int
	q       rego.PreparedEvalQuery
}

// Option configures New.
type Option func(*options)

type options struct {
	enabled *bool
	fsys    fs.FS
	name    string
}

// Enabled turns traffic management on or off whatever the spec says (a
// deployment's setting).
func Enabled(on bool) Option { return func(o *options) { o.enabled = &on } }

// WithPolicyFile compiles the policy from the file name of fsys (an edited
// copy) instead of the embedded policy/rego/traffic.rego.
func WithPolicyFile(fsys fs.FS, name string) Option {
	return func(o *options) { o.fsys, o.name = fsys, name }
}

// New compiles the policy with the spec as data.spec.
func New(ctx context.Context, sp *spec.Spec, opts ...Option) (*Manager, error) {
	o := options{fsys: policy.Modules(), name: "traffic.rego"}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Manager{sp: sp, enabled: sp.Traffic.Enabled}
	if o.enabled != nil {
		m.enabled = *o.enabled
	}
	c, st, err := policy.CompileModule(o.fsys, o.name, sp)
	if err != nil {
		return nil, err
	}
	quiet, err := rego.New(rego.Query("data.dccgate.traffic.quiet_below"), rego.Compiler(c), rego.Store(st)).Eval(ctx)
	if err != nil {
		return nil, &policy.Error{Code: "eval_error", Message: err.Error()}
	}
	if len(quiet) == 1 && len(quiet[0].Expressions) == 1 {
		if n, ok := quiet[0].Expressions[0].Value.(json.Number); ok {
			q, _ := n.Int64()
			m.quiet = int(q)
		}
	}
	m.q, err = rego.New(rego.Query("data.dccgate.traffic.decision"), rego.Compiler(c), rego.Store(st)).PrepareForEval(ctx)
	if err != nil {
		return nil, &policy.Error{Code: "rego_compile_error", Message: err.Error()}
	}
	return m, nil
}

// On reports whether traffic management is on.
func (m *Manager) On() bool { return m.enabled }

// ActsFrom is the load (requests in flight) below which the policy allows
// every request: it first defers or refuses at this load.
func (m *Manager) ActsFrom() int { return m.quiet }

// Decide decides one request at a load.
func (m *Manager) Decide(ctx context.Context, r Request, l Load) (Decision, error) {
	if !m.enabled || l.InFlight < m.quiet {
		return Decision{Action: Allow}, nil
	}
	cat := r.Category
	if cat == "" {
		cat = "on_demand"
	}
	svc := m.sp.ServiceByKey(r.Service)
	critical, ref := false, r.Service
	if svc != nil {
		critical, ref = svc.Critical, svc.Ref
	}
	rs, err := m.q.Eval(ctx, rego.EvalInput(map[string]any{
		"request": map[string]any{"service": r.Service, "ref": ref, "critical": critical, "category": cat},
		"load":    map[string]any{"in_flight": l.InFlight},
		"enabled": m.enabled,
	}))
	if err != nil {
		return Decision{}, &policy.Error{Code: "eval_error", Message: err.Error()}
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return Decision{}, &policy.Error{Code: "eval_error", Message: "data.dccgate.traffic.decision is undefined"}
	}
	var raw struct {
		Action, Reason, Clause, Detail string
		DeferFor                       string `json:"defer_for"`
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err == nil {
		err = json.Unmarshal(b, &raw)
	}
	if err != nil {
		return Decision{}, &policy.Error{Code: "eval_error", Message: err.Error()}
	}
	d := Decision{Action: raw.Action, Reason: raw.Reason, Clause: raw.Clause, Detail: raw.Detail}
	switch d.Action {
	case Allow, Refuse:
	case Defer:
		if d.DeferFor, err = time.ParseDuration(raw.DeferFor); err != nil || d.DeferFor <= 0 {
			return Decision{}, &policy.Error{Code: "eval_error", Message: fmt.Sprintf("a deferral by %q", raw.DeferFor)}
		}
	default:
		return Decision{}, &policy.Error{Code: "eval_error", Message: fmt.Sprintf("unknown action %q", d.Action)}
	}
	return d, nil
}
