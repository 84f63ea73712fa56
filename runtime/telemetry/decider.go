package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dccgate/dccgate/engine"
)

// Decider wraps an engine.Decider with a span per decision (when the
// caller's context carries one).
type Decider struct {
	inner  engine.Decider
	tracer trace.Tracer
}

var _ engine.Decider = (*Decider)(nil)

// WrapDecider wraps d; tr may be nil (no traces).
func WrapDecider(d engine.Decider, tr *Tracing) *Decider {
	if tr == nil {
		tr = NoTracing()
	}
	return &Decider{inner: d, tracer: tr.Tracer()}
}

// Unwrap returns the wrapped decider.
func (d *Decider) Unwrap() engine.Decider { return d.inner }

// Decide implements engine.Decider.
func (d *Decider) Decide(ctx context.Context, req *engine.Request, facts *engine.Facts) engine.Decision {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return d.inner.Decide(ctx, req, facts)
	}
	ctx, span := d.tracer.Start(ctx, "engine.Decide", trace.WithAttributes(
		attribute.String("dccgate.service", req.Service), attribute.String("dccgate.request_id", req.RequestID)))
	dec := d.inner.Decide(ctx, req, facts)
	span.SetAttributes(attribute.String("dccgate.outcome", dec.Outcome), attribute.String("dccgate.reason", string(dec.Reason)))
	span.End()
	return dec
}
