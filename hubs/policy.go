package hubs

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
)

// The parties a rule may name and the bases a smear may use: the
// vocabulary of policy/rego/hubs.rego that this package executes.
const (
	partyReceiving = "receiving_supplier"
	partyInstaller = "installing_supplier"
	partyRemoving  = "removing_supplier"
	partyAffected  = "affected_suppliers"
	partyCSP       = "csp"
	partySmear     = "smear"

	basisEnrolled     = "enrolled"
	basisNonDomestic  = "enrolled_non_domestic"
	basisCommissioned = "commissioned_chf"
	basisFaultRate    = "fault_rate"
	basisFaultCount   = "fault_count"
	basisFinance      = "finance_charges"
	basisService      = "service_charges"

	// The invoices of spec hubs.invoices these bases and the float speak of.
	invoiceFinance = "finance"
	invoiceService = "service"
	invoiceCSP     = "csp"
)

// Rule is who a kind of charge falls on, as the policy decides.
type Rule struct {
	Kind   string `json:"kind"`
	Party  string `json:"party"`
	Basis  string `json:"basis,omitempty"`
	Clause string `json:"clause"`
}

// Text says the rule as a line shows it: "receiving_supplier", "smear by
// enrolled".
func (r Rule) Text() string {
	if r.Basis != "" {
		return r.Party + " by " + r.Basis
	}
	return r.Party
}

// Decision is the policy's answer for one removal.
type Decision struct {
	Responsibility string `json:"responsibility"`
	Category       string `json:"category"`
	Claimed        string `json:"claimed"`
	Remaining      struct {
		Party      string `json:"party"`
		Basis      string `json:"basis,omitempty"`
		Kind       string `json:"kind,omitempty"`
		RecoveryBP int64  `json:"recovery_bp"`
	} `json:"remaining"`
	SiteVisit  string `json:"site_visit"`
	TypeFault  bool   `json:"type_fault"`
	BatchFault bool   `json:"batch_fault"`
	Clause     string `json:"clause"`
	Detail     string `json:"detail"`
	Error      string `json:"error,omitempty"`
}

// Policy is hubs.rego compiled once over a spec. It is immutable and safe
// to share.
type Policy struct {
	rules   map[string]Rule
	removal rego.PreparedEvalQuery
}

// PolicyOption configures NewPolicy.
type PolicyOption func(*policyOptions)

type policyOptions struct {
	fsys fs.FS
	name string
}

// WithPolicyFile compiles the hubs policy from the file name of fsys (an
// edited copy) instead of the embedded policy/rego/hubs.rego.
func WithPolicyFile(fsys fs.FS, name string) PolicyOption {
	return func(o *policyOptions) { o.fsys, o.name = fsys, name }
}

// NewPolicy compiles the hubs policy with the spec as data.spec, evaluates
// the charge rules and prepares the removal query.
func NewPolicy(ctx context.Context, s *spec.Spec, opts ...PolicyOption) (*Policy, error) {
	o := policyOptions{fsys: policy.Modules(), name: "hubs.rego"}
	for _, opt := range opts {
		opt(&o)
	}
	c, store, err := policy.CompileModule(o.fsys, o.name, s)
	if err != nil {
		return nil, err
	}
	rq, err := rego.New(rego.Query("data.dccgate.hubs.charge_rules"), rego.Compiler(c), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, &policy.Error{Code: "rego_compile_error", Message: err.Error()}
	}
	p := &Policy{}
	if err := evalInto(ctx, rq, nil, &p.rules); err != nil {
		return nil, err
	}
	for kind, r := range p.rules {
		if _, ok := s.Hubs.ChargeKinds[kind]; !ok {
			return nil, &policy.Error{Code: "eval_error", Message: fmt.Sprintf("charge_rules: %q is not a charge kind of the spec", kind)}
		}
		if r.Party == "" || (r.Party == partySmear && r.Basis == "") {
			return nil, &policy.Error{Code: "eval_error", Message: fmt.Sprintf("charge_rules: %s names no party or basis", kind)}
		}
	}
	p.removal, err = rego.New(rego.Query("data.dccgate.hubs.removal"), rego.Compiler(c), rego.Store(store)).PrepareForEval(ctx)
	if err != nil {
		return nil, &policy.Error{Code: "rego_compile_error", Message: err.Error()}
	}
	return p, nil
}

func evalInto(ctx context.Context, q rego.PreparedEvalQuery, input any, out any) error {
	var opts []rego.EvalOption
	if input != nil {
		opts = append(opts, rego.EvalInput(input))
	}
	rs, err := q.Eval(ctx, opts...)
	if err != nil {
		return &policy.Error{Code: "eval_error", Message: err.Error()}
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return &policy.Error{Code: "eval_error", Message: "undefined"}
	}
	b, err := json.Marshal(rs[0].Expressions[0].Value)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// Rule returns the rule of a kind of charge.
func (p *Policy) Rule(kind string) (Rule, error) {
	r, ok := p.rules[kind]
	if !ok {
		return Rule{}, &policy.Error{Code: "eval_error", Message: "the hubs policy has no rule for " + kind}
	}
	return r, nil
}

// Decide evaluates the removal of h.
func (p *Policy) Decide(ctx context.Context, h *hub) (Decision, error) {
	r := h.Removal
	hubIn := map[string]any{
		"id": h.ID, "variant": h.Variant, "receiving_supplier": h.Receiver,
		"installing_supplier": h.Installer, "premises": h.Premises,
	}
	if !h.Installed.IsZero() {
		hubIn["installed_on"] = h.Installed.Format(dateLayout)
	}
	input := map[string]any{
		"removal": map[string]any{
			"reason": r.Reason, "removing_supplier": r.Supplier, "date": r.Date,
			"replacement_variant": r.ReplacementVariant, "csp_requested": r.CSPRequested,
			"refresh_programme": r.RefreshProgramme,
		},
		"hub": hubIn,
	}
	var d Decision
	if err := evalInto(ctx, p.removal, input, &d); err != nil {
		return Decision{}, fmt.Errorf("removal of %s: %w", h.ID, err)
	}
	if d.Error != "" {
		return Decision{}, &policy.Error{Code: "eval_error", Message: fmt.Sprintf("removal of %s: %s", h.ID, d.Error)}
	}
	return d, nil
}
