package engine

import (
	"context"
	"time"

	"github.com/dccgate/dccgate/spec/dcc"
)

// DecideReference decides with a full evaluation of the Rego decision rule
// (data.dccgate.gateway.decision) instead of the indexed fast path. It is
// slower and exists to check the fast path and to trace a rule by hand
// (`dccgate decide --reference`).
func (e *Engine) DecideReference(ctx context.Context, req *Request, f *Facts) (Decision, error) {
	pd, err := e.pol.Reference(ctx, ReferenceInput(req, f, e.Validate(req)))
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Outcome: pd.Outcome, Reason: dcc.Reason(pd.Code), Clause: pd.Clause, Detail: pd.Detail}
	if svc := e.spec.Service(req.Service, req.Variant); svc != nil {
		d.Service = svc
		d.PreCommand = d.Outcome == Accepted && svc.Critical
	}
	return d, nil
}

// ReferenceInput is the policy's input for a request: the request and the
// facts as JSON-shaped values, with the structure errors found by the CEL
// rules as facts.field_errors.
func ReferenceInput(req *Request, f *Facts, fieldErrors []string) map[string]any {
	cat, del := req.Category, req.Delivery
	if cat == "" {
		cat = "on_demand"
	}
	if del == "" {
		del = "wan"
	}
	r := map[string]any{
		"service":    req.Service,
		"variant":    req.Variant,
		"category":   cat,
		"delivery":   del,
		"request_id": req.RequestID,
		"user_id":    req.UserID,
		"device_id":  req.DeviceID,
	}
	if !req.ExecuteAt.IsZero() {
		r["execute_at"] = req.ExecuteAt.UTC().Format(time.RFC3339Nano)
	}
	if req.Schedule != nil {
		r["schedule"] = map[string]any{"service": req.Schedule.Service}
	}
	if req.Body != nil {
		r["body"] = jsonShaped(req.Body)
	}
	listed := make(map[string]any, len(f.Listed))
	for id, l := range f.Listed {
		listed[id] = map[string]any{"type": l.Type, "status": l.Status, "registration": registrations(l.Registration)}
	}
	errs := make([]any, len(fieldErrors))
	for i, s := range fieldErrors {
		errs[i] = s
	}
	facts := map[string]any{
		"now":          f.Now.UTC().Format(time.RFC3339Nano),
		"user":         map[string]any{"known": f.User.Known, "role": f.User.Role, "suspended": f.User.Suspended},
		"device":       map[string]any{"known": f.Device.Known, "type": f.Device.Type, "status": f.Device.Status, "chf_status": f.Device.CHFStatus, "meter_status": f.Device.MeterStatus, "mpxn_has_meter": f.Device.MPxNHasMeter, "unbound": f.Device.Unbound, "no_hub": f.Device.NoHub},
		"registration": registrations(f.Registration),
		"listed":       listed,
		"credentials":  map[string]any{"certificate_valid": !f.Credentials.CertificateInvalid, "signature_valid": !f.Credentials.SignatureInvalid},
		"anomaly":      map[string]any{"count": f.Anomaly.Count, "max": f.Anomaly.Max},
		"field_errors": errs,
		"held_behind":  f.HeldBehind,
	}
	return map[string]any{"request": r, "facts": facts}
}

// registrations are records as the policy reads them.
func registrations(rs []Registration) []any {
	out := make([]any, 0, len(rs))
	for _, g := range rs {
		out = append(out, map[string]any{
			"mpxn": g.MPxN, "fuel": g.Fuel, "import_supplier": g.ImportSupplier,
			"export_supplier": g.ExportSupplier, "network_operator": g.NetworkOperator,
			"postcode": g.Postcode, "premises": g.Premises, "uprn": g.UPRN,
		})
	}
	return out
}

// jsonShaped copies a body into values Rego takes ([]string becomes []any).
func jsonShaped(body map[string]any) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		switch x := v.(type) {
		case []string:
			l := make([]any, len(x))
			for i, s := range x {
				l[i] = s
			}
			out[k] = l
		default:
			out[k] = v
		}
	}
	return out
}
