// Package telemetry is what a running gateway tells its operators beyond
// metrics: OpenTelemetry traces (one per Service Request, from the Connect
// handler through the engine and the store to the execution on the device),
// and the request log lines. Tracing is off unless an OTLP endpoint is
// configured; the wrappers cost a branch then.
package telemetry

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of dccgate's spans.
const ScopeName = "github.com/dccgate/dccgate/runtime"

// TracingConfig configures the OTLP exporter.
type TracingConfig struct {
	// Endpoint is the OTLP/HTTP collector URL, e.g.
	// http://127.0.0.1:4318 (the path /v1/traces is added when absent).
	// Empty: tracing is off.
	Endpoint string
	// Headers are sent with every export (an API key, for instance).
	Headers map[string]string
	// SampleRatio is the share of traces kept (0 to 1); a trace whose
	// caller sampled it is always kept.
	SampleRatio float64
	// ServiceVersion is reported as service.version.
	ServiceVersion string
}

// Tracing is a tracer provider and how to flush it.
type Tracing struct {
	Provider trace.TracerProvider
	shutdown func(context.Context) error
}

// Tracer returns dccgate's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.Provider.Tracer(ScopeName) }

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// Propagator reads and writes the W3C trace context of a call.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// NoTracing is tracing switched off.
func NoTracing() *Tracing { return &Tracing{Provider: noop.NewTracerProvider()} }

// NewTracing starts tracing as cfg says (off for an empty endpoint).
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return NoTracing(), nil
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing endpoint %q: want an http:// or https:// URL", cfg.Endpoint)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.Endpoint)}
	if u.Path == "" || u.Path == "/" {
		opts = append(opts, otlptracehttp.WithURLPath("/v1/traces"))
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return NewTracingWith(sdktrace.WithBatcher(exp), cfg), nil
}

// NewTracingWith builds tracing over any span processor (tests use an
// in-memory exporter).
func NewTracingWith(processor sdktrace.TracerProviderOption, cfg TracingConfig) *Tracing {
	ratio := cfg.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", "dccgate"),
		attribute.String("service.version", cfg.ServiceVersion),
	)
	tp := sdktrace.NewTracerProvider(processor, sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	return &Tracing{Provider: tp, shutdown: tp.Shutdown}
}
