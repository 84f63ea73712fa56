package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/api"
)

// RPCObserver is told of every call served: its procedure, its Connect
// code ("ok" when it succeeded) and how long it took.
type RPCObserver func(procedure, code string, took time.Duration)

// Interceptor is the Connect handler interceptor of a gateway: a span per
// call (continuing the caller's W3C trace context), a log line per call
// with the caller's User ID, the Request ID and the state and reason code
// of the answer, and the call's timing for metrics. Message bodies are
// never logged: they may carry signed Pre-Commands and signatures.
type Interceptor struct {
	log     *slog.Logger
	tracer  trace.Tracer
	observe RPCObserver
	wall    clock.Clock
}

var _ connect.Interceptor = (*Interceptor)(nil)

// NewInterceptor returns the interceptor; any argument may be nil.
func NewInterceptor(log *slog.Logger, tr *Tracing, observe RPCObserver) *Interceptor {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if tr == nil {
		tr = NoTracing()
	}
	if observe == nil {
		observe = func(string, string, time.Duration) {}
	}
	return &Interceptor{log: log, tracer: tr.Tracer(), observe: observe, wall: clock.Real{}}
}

// WrapUnary implements connect.Interceptor.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		proc := req.Spec().Procedure
		ctx = Propagator.Extract(ctx, propagation.HeaderCarrier(req.Header()))
		ctx, span := i.tracer.Start(ctx, proc, trace.WithSpanKind(trace.SpanKindServer))
		start := i.wall.Now()
		resp, err := next(ctx, req)
		took := i.wall.Now().Sub(start)

		f := fieldsOf(ctx, req.Any(), resp, err)
		i.observe(proc, f.code, took)
		level := slog.LevelInfo
		reason, _, refused := client.Refusal(err)
		if err != nil && !refused {
			level = slog.LevelWarn
		}
		// Built only when kept: with the log at warn and no tracing they
		// were half a KiB a request, thrown away.
		if i.log.Enabled(ctx, level) {
			attrs := []slog.Attr{slog.String("rpc", proc), slog.String("user", f.user), slog.Duration("took", took)}
			if f.requestID != "" {
				attrs = append(attrs, slog.String("request_id", f.requestID))
			}
			if f.state != "" {
				attrs = append(attrs, slog.String("state", f.state))
			}
			if f.reason != "" {
				attrs = append(attrs, slog.String("reason", f.reason))
			}
			if err != nil {
				attrs = append(attrs, slog.String("code", f.code), slog.String("err", err.Error()))
				if refused {
					// A refusal the gateway meant (GATEWAY_BUSY), as common
					// as the load it sheds: logged as a refused request is.
					attrs = append(attrs, slog.String("reason", reason))
				}
			}
			i.log.LogAttrs(ctx, level, "rpc", attrs...)
		}
		if span.IsRecording() {
			span.SetAttributes(attribute.String("rpc.system", "connect_rpc"), attribute.String("enduser.id", f.user),
				attribute.String("dccgate.request_id", f.requestID), attribute.String("dccgate.state", f.state),
				attribute.String("dccgate.reason", f.reason), attribute.String("rpc.connect_rpc.error_code", f.code))
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		return resp, err
	}
}

// WrapStreamingClient implements connect.Interceptor.
func (i *Interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor.
func (i *Interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		proc := conn.Spec().Procedure
		ctx = Propagator.Extract(ctx, propagation.HeaderCarrier(conn.RequestHeader()))
		ctx, span := i.tracer.Start(ctx, proc, trace.WithSpanKind(trace.SpanKindServer))
		start := i.wall.Now()
		err := next(ctx, conn)
		took := i.wall.Now().Sub(start)
		f := fieldsOf(ctx, nil, nil, err)
		i.observe(proc, f.code, took)
		i.log.LogAttrs(ctx, slog.LevelDebug, "stream ended", slog.String("rpc", proc), slog.String("user", f.user),
			slog.Duration("took", took), slog.String("code", f.code))
		if err != nil && !errors.Is(err, context.Canceled) {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		return err
	}
}

type callFields struct {
	user, requestID, state, reason, code string
}

// fieldsOf reads what a log line about a call says: who called, which
// request, and how it stands.
func fieldsOf(ctx context.Context, req any, resp connect.AnyResponse, err error) callFields {
	var f callFields
	if c, ok := api.CallerFrom(ctx); ok {
		f.user = c.UserID
		if c.Admin {
			f.user = api.AdminCommonName
		}
	}
	f.code = "ok"
	if err != nil {
		f.code = connect.CodeOf(err).String()
	}
	switch m := req.(type) {
	case *dccgatev1.SubmitRequest:
		f.requestID = m.GetRequest().GetEnvelope().GetRequestId()
	case interface{ GetRequestId() string }:
		f.requestID = m.GetRequestId()
	}
	if resp == nil {
		return f
	}
	var st *dccgatev1.RequestState
	switch m := resp.Any().(type) {
	case *dccgatev1.SubmitResponse:
		f.requestID = m.GetRequestId()
		st = m.GetState()
	case *dccgatev1.RequestState:
		st = m
	}
	if st != nil {
		if st.GetRequestId() != "" {
			f.requestID = st.GetRequestId()
		}
		f.state, f.reason = st.GetState(), st.GetReason()
	}
	return f
}
