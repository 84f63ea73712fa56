package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/google/cel-go/interpreter"

	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/spec"
)

// envelopeActivation binds the envelope's variables without a map.
type envelopeActivation struct{ r *Request }

func (a envelopeActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "request_id":
		return a.r.RequestID, true
	case "user_id":
		return a.r.UserID, true
	case "device_id":
		return a.r.DeviceID, true
	}
	return nil, false
}

func (a envelopeActivation) Parent() interpreter.Activation { return nil }

// bodyActivation binds `body`.
type bodyActivation struct{ body map[string]any }

func (a *bodyActivation) Parent() interpreter.Activation { return nil }

func (a *bodyActivation) ResolveName(name string) (any, bool) {
	if name == "body" {
		return a.body, true
	}
	return nil, false
}

// validateEnvelope runs the envelope rules of the spec; errs collects the
// failures in rule order.
func (e *Engine) validateEnvelope(req *Request, errs []string) []string {
	for _, r := range e.pol.Rules().Envelope {
		if ok, _ := policy.Passes(r.Program, envelopeActivation{req}); !ok {
			errs = append(errs, r.Message)
		}
	}
	return errs
}

// Validate returns the structure errors of a request (para 133-134: the
// envelope rules, then the body against the row's fields and checks), the
// same list Decide reports as MALFORMED.
func (e *Engine) Validate(req *Request) []string {
	r := e.rows[spec.Key(req.Service, req.Variant)]
	if r == nil {
		return e.validateEnvelope(req, nil)
	}
	errs, _ := e.validate(req, r)
	return errs
}

// validate checks the envelope and the body and returns the body with each
// value in its field's type (JSON numbers become int64 where the field is an
// integer). Omitted optional fields take their zero value.
func (e *Engine) validate(req *Request, r *row) ([]string, map[string]any) {
	errs := e.validateEnvelope(req, nil)
	bodyErrs, typed := validateBody(req.Body, r)
	errs = append(errs, bodyErrs...)
	// A 5.1's schedule may carry the body of the Service it schedules
	// (without one, each run takes the spec's examples): it is checked
	// now, as that Service's own request would be, not refused at every
	// run.
	if r.p.CreatesSchedule && req.Schedule != nil && req.Schedule.Body != nil {
		if inner := e.rows[req.Schedule.Service]; inner != nil {
			innerErrs, _ := validateBody(req.Schedule.Body, inner)
			for _, m := range innerErrs {
				errs = append(errs, "schedule of "+inner.p.Key+": "+m)
			}
		}
	}
	return errs, typed
}

// validateBody checks body against r's fields and checks and returns it
// typed.
func validateBody(body map[string]any, r *row) ([]string, map[string]any) {
	var errs []string
	typed := body
	copied := false
	set := func(k string, v any) {
		if !copied {
			typed = make(map[string]any, len(r.fields))
			for k2, v2 := range body {
				typed[k2] = v2
			}
			copied = true
		}
		typed[k] = v
	}
	for k := range body {
		if _, ok := r.fieldIndex[k]; !ok {
			errs = append(errs, fmt.Sprintf("unknown field %q for %s", k, r.p.Key))
		}
	}
	var act policy.ValueActivation
	for _, fr := range r.fields {
		f := fr.Field
		raw, present := body[f.Name]
		if !present {
			if f.Required {
				errs = append(errs, fmt.Sprintf("field %s is required", f.Name))
				continue
			}
			raw = zero(f.Type)
			set(f.Name, raw)
		}
		v, err := coerce(f.Type, raw)
		if err != nil && !f.Required && f.Type == "timestamp" && raw == "" {
			v, err = raw, nil // an optional time left out
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("field %s: %v", f.Name, err))
			continue
		}
		if f.Type == "strings" || v != raw {
			set(f.Name, v)
		}
		if fr.Program == nil {
			continue
		}
		act.Value = v
		if ok, err := policy.Passes(fr.Program, &act); !ok {
			msg := fmt.Sprintf("field %s does not satisfy %s", f.Name, f.Rule)
			if err != nil {
				msg += ": " + err.Error()
			}
			errs = append(errs, msg)
		}
	}
	if len(errs) == 0 {
		for _, c := range r.checks {
			if ok, _ := policy.Passes(c.Program, &bodyActivation{body: typed}); !ok {
				errs = append(errs, c.Message)
			}
		}
	}
	return errs, typed
}

func zero(t string) any {
	switch t {
	case "int64":
		return int64(0)
	case "double":
		return float64(0)
	case "bool":
		return false
	case "strings":
		return []string{}
	default:
		return ""
	}
}

// coerce returns v in the type t, or an error saying what was expected.
func coerce(t string, v any) (any, error) {
	switch t {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "timestamp":
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				return nil, fmt.Errorf("must be an RFC 3339 time")
			}
			return s, nil
		}
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "int64":
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case int32:
			return int64(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil
			}
			return nil, fmt.Errorf("must be a whole number")
		}
	case "double":
		switch n := v.(type) {
		case float64:
			return n, nil
		case int64:
			return float64(n), nil
		case int:
			return float64(n), nil
		}
	case "strings":
		switch l := v.(type) {
		case []string:
			return l, nil
		case []any:
			out := make([]string, len(l))
			for i, x := range l {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("must be a list of strings")
				}
				out[i] = s
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("must be of type %s, not %T", t, v)
}
