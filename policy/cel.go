package policy

import (
	"fmt"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/interpreter"

	"github.com/dccgate/dccgate/spec"
)

// Rules holds the compiled CEL rules of the spec: the field rules (over
// `value`), the body checks (over `body`) and the envelope rules.
type Rules struct {
	// Fields maps a service key to its fields' programs, in field order.
	Fields map[string][]FieldRule
	// Checks maps a service key to its body checks.
	Checks map[string][]BodyCheck
	// Envelope are the envelope rules.
	Envelope []EnvelopeRule
}

// FieldRule is a compiled field rule.
type FieldRule struct {
	Field   spec.Field
	Program cel.Program // nil where the field has no rule
}

// BodyCheck is a compiled rule over the whole body.
type BodyCheck struct {
	Message string
	Program cel.Program
}

// EnvelopeRule is a compiled envelope rule.
type EnvelopeRule struct {
	Field   string
	Message string
	Program cel.Program
}

var (
	envOnce                        sync.Once
	valueEnv, bodyEnv, envelopeEnv *cel.Env
	envErr                         error
)

func envs() (*cel.Env, *cel.Env, *cel.Env, error) {
	envOnce.Do(func() {
		valueEnv, envErr = cel.NewEnv(cel.Variable("value", cel.DynType))
		if envErr != nil {
			return
		}
		bodyEnv, envErr = cel.NewEnv(cel.Variable("body", cel.MapType(cel.StringType, cel.DynType)))
		if envErr != nil {
			return
		}
		envelopeEnv, envErr = cel.NewEnv(
			cel.Variable("request_id", cel.StringType),
			cel.Variable("user_id", cel.StringType),
			cel.Variable("device_id", cel.StringType),
		)
	})
	return valueEnv, bodyEnv, envelopeEnv, envErr
}

// programCache shares one program between the rules with the same source and
// environment (many rows use the same field rule).
type programCache map[string]cel.Program

func (c programCache) compile(env *cel.Env, kind, src string) (cel.Program, error) {
	key := kind + "\x00" + src
	if p, ok := c[key]; ok {
		return p, nil
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType && ast.OutputType() != cel.DynType {
		return nil, fmt.Errorf("rule must be a bool expression, is %s", ast.OutputType())
	}
	p, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, err
	}
	c[key] = p
	return p, nil
}

// ruleAt is the Location of an error of the CEL rule at path of s, which
// is what: the file, line and column where the spec writes it, when the
// loaded spec knows them ("services.cue:57:128: service 4.1 field
// register rule"), else "spec: " and what.
func ruleAt(s *spec.Spec, path, what string) string {
	if pos := s.Pos(path); pos != "" {
		return pos + ": " + what
	}
	return "spec: " + what
}

// CompileRules compiles every CEL rule of the spec once, naming the rule at
// fault in errors.
func CompileRules(s *spec.Spec) (*Rules, error) {
	ve, be, ee, err := envs()
	if err != nil {
		return nil, &Error{Code: "cel_compile_error", Message: err.Error()}
	}
	cache := programCache{}
	r := &Rules{Fields: map[string][]FieldRule{}, Checks: map[string][]BodyCheck{}}
	var errs ErrorSet
	for si, svc := range s.Services {
		for fi, f := range svc.Fields {
			fr := FieldRule{Field: f}
			if f.Rule != "" {
				p, err := cache.compile(ve, "value", f.Rule)
				if err != nil {
					errs = append(errs, &Error{Code: "cel_compile_error", Location: ruleAt(s, spec.FieldRulePath(si, fi), fmt.Sprintf("service %s field %s rule", svc.Key(), f.Name)), Message: err.Error()})
					continue
				}
				fr.Program = p
			}
			r.Fields[svc.Key()] = append(r.Fields[svc.Key()], fr)
		}
		for i, c := range svc.Checks {
			p, err := cache.compile(be, "body", c.Rule)
			if err != nil {
				errs = append(errs, &Error{Code: "cel_compile_error", Location: ruleAt(s, spec.CheckPath(si, i), fmt.Sprintf("service %s check %d", svc.Key(), i)), Message: err.Error()})
				continue
			}
			r.Checks[svc.Key()] = append(r.Checks[svc.Key()], BodyCheck{Message: c.Message, Program: p})
		}
	}
	for i, e := range s.EnvelopeRules {
		p, err := cache.compile(ee, "envelope", e.Rule)
		if err != nil {
			errs = append(errs, &Error{Code: "cel_compile_error", Location: ruleAt(s, spec.EnvelopeRulePath(i), fmt.Sprintf("envelope_rules[%d]", i)), Message: err.Error()})
			continue
		}
		r.Envelope = append(r.Envelope, EnvelopeRule{Field: e.Field, Message: e.Message, Program: p})
	}
	if err := errs.ErrOrNil(); err != nil {
		return nil, err
	}
	return r, nil
}

// ValueActivation binds `value` without allocating a map.
type ValueActivation struct{ Value any }

// ResolveName implements interpreter.Activation.
func (a *ValueActivation) ResolveName(name string) (any, bool) {
	if name == "value" {
		return a.Value, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *ValueActivation) Parent() interpreter.Activation { return nil }

// Passes evaluates a bool rule; an evaluation error (a type mismatch, a bad
// timestamp) counts as failing, with the error as the reason.
func Passes(p cel.Program, act any) (bool, error) {
	out, _, err := p.Eval(act)
	if err != nil {
		return false, err
	}
	return out == types.True, nil
}
