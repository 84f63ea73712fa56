package telemetry

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
)

// StoreObserver is told of every store call: its name, how long it took
// (wall time), how many rows it wrote in one transaction (a request with
// its deliveries; 0 for reads) and its error.
type StoreObserver func(op string, took time.Duration, rows int, err error)

// Store wraps a store.Store: every call is timed for StoreObserver, and
// traced when the caller's context carries a span. Calls about a request
// that a traced submission stored (the worker that executes it has no span
// of its own) join that submission's trace, so one trace runs from the
// handler to the Service Response: the execution span, the run on the
// device over the SMWAN, and the final update.
//
// A write whose context has already ended is not attempted: a worker
// stopped by a shutdown leaves its request as it was, to resume after a
// restart, rather than record the cancellation as its outcome.
type Store struct {
	inner   store.Store
	tracer  trace.Tracer
	observe StoreObserver
	wall    clock.Clock

	mu    sync.Mutex
	trace map[string]*requestTrace // request ID -> its trace
}

type requestTrace struct {
	parent  trace.SpanContext // the submission
	exec    trace.Span        // the execution, while it runs
	execCtx context.Context
	runFrom time.Time // when the run on the device started
}

// maxTraced bounds the requests whose traces are followed at once.
const maxTraced = 1 << 16

var _ store.Store = (*Store)(nil)
var _ store.Versioner = (*Store)(nil)
var _ store.CommitStatser = (*Store)(nil)

// WrapStore wraps st; tr may be nil (no traces), observe may be nil.
func WrapStore(st store.Store, tr *Tracing, observe StoreObserver) *Store {
	if tr == nil {
		tr = NoTracing()
	}
	if observe == nil {
		observe = func(string, time.Duration, int, error) {}
	}
	return &Store{inner: st, tracer: tr.Tracer(), observe: observe, wall: clock.Real{}, trace: map[string]*requestTrace{}}
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() store.Store { return s.inner }

// spanCtx returns the context a call about request id runs in: the
// caller's if it has a span, else the request's execution or submission.
func (s *Store) spanCtx(ctx context.Context, id string) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() || id == "" {
		return ctx
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.trace[id]
	switch {
	case rt == nil:
		return ctx
	case rt.exec != nil:
		return trace.ContextWithSpan(ctx, rt.exec)
	default:
		return trace.ContextWithRemoteSpanContext(ctx, rt.parent)
	}
}

// call runs f in a span (if ctx has one) and times it.
func (s *Store) call(ctx context.Context, op string, rows int, f func(context.Context) error, attrs ...attribute.KeyValue) error {
	if ctx.Err() != nil && rows > 0 {
		return ctx.Err()
	}
	var span trace.Span
	if trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = s.tracer.Start(ctx, "store."+op, trace.WithAttributes(attrs...))
	}
	start := s.wall.Now()
	err := f(ctx)
	s.observe(op, s.wall.Now().Sub(start), rows, err)
	if span != nil {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
	return err
}

func reqAttr(id string) attribute.KeyValue { return attribute.String("dccgate.request_id", id) }

// CommitStats implements store.CommitStatser (zero if the wrapped store
// does not group commits).
func (s *Store) CommitStats() store.CommitStats {
	if c, ok := s.inner.(store.CommitStatser); ok {
		return c.CommitStats()
	}
	return store.CommitStats{}
}

// Close implements store.Store.
func (s *Store) Close() error { return s.inner.Close() }

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	return s.call(ctx, "Ping", 0, s.inner.Ping)
}

// Version implements store.Versioner (0 for a store without migrations).
func (s *Store) Version(ctx context.Context) (int64, error) {
	if v, ok := s.inner.(store.Versioner); ok {
		return v.Version(ctx)
	}
	return 0, nil
}

// TargetVersion implements store.Versioner.
func (s *Store) TargetVersion() int64 {
	if v, ok := s.inner.(store.Versioner); ok {
		return v.TargetVersion()
	}
	return 0
}

// PutUser implements store.Store.
func (s *Store) PutUser(ctx context.Context, u store.User) error {
	return s.call(ctx, "PutUser", 1, func(ctx context.Context) error { return s.inner.PutUser(ctx, u) })
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (out store.User, err error) {
	err = s.call(ctx, "GetUser", 0, func(ctx context.Context) (err error) { out, err = s.inner.GetUser(ctx, id); return })
	return
}

// ListUsers implements store.Store.
func (s *Store) ListUsers(ctx context.Context) (out []store.User, err error) {
	err = s.call(ctx, "ListUsers", 0, func(ctx context.Context) (err error) { out, err = s.inner.ListUsers(ctx); return })
	return
}

// PutRegistration implements store.Store.
func (s *Store) PutRegistration(ctx context.Context, r store.Registration) error {
	return s.call(ctx, "PutRegistration", 1, func(ctx context.Context) error { return s.inner.PutRegistration(ctx, r) })
}

// Registrations implements store.Store.
func (s *Store) Registrations(ctx context.Context, mpxns []string, at time.Time) (out []store.Registration, err error) {
	err = s.call(ctx, "Registrations", 0, func(ctx context.Context) (err error) { out, err = s.inner.Registrations(ctx, mpxns, at); return })
	return
}

// RegistrationsAt implements store.Store.
func (s *Store) RegistrationsAt(ctx context.Context, postcode, premises, uprn string, at time.Time) (out []store.Registration, err error) {
	err = s.call(ctx, "RegistrationsAt", 0, func(ctx context.Context) (err error) {
		out, err = s.inner.RegistrationsAt(ctx, postcode, premises, uprn, at)
		return
	})
	return
}

// PutDevice implements store.Store.
func (s *Store) PutDevice(ctx context.Context, d store.Device) error {
	return s.call(ctx, "PutDevice", 1, func(ctx context.Context) error { return s.inner.PutDevice(ctx, d) })
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (out store.Device, err error) {
	err = s.call(ctx, "GetDevice", 0, func(ctx context.Context) (err error) { out, err = s.inner.GetDevice(ctx, id); return })
	return
}

var _ store.CheckReader = (*Store)(nil)

// ReadForChecks implements store.CheckReader (errors.ErrUnsupported if the
// wrapped store does not).
func (s *Store) ReadForChecks(ctx context.Context, userID, deviceID string, at time.Time) (out store.CheckRead, err error) {
	cr, ok := store.As[store.CheckReader](s.inner)
	if !ok {
		return out, errors.ErrUnsupported
	}
	err = s.call(ctx, "ReadForChecks", 0, func(ctx context.Context) (err error) { out, err = cr.ReadForChecks(ctx, userID, deviceID, at); return })
	return
}

// Devices implements store.Store.
func (s *Store) Devices(ctx context.Context, f store.DeviceFilter) (out []store.Device, err error) {
	err = s.call(ctx, "Devices", 0, func(ctx context.Context) (err error) { out, err = s.inner.Devices(ctx, f); return })
	return
}

// SetDeviceStatus implements store.Store.
func (s *Store) SetDeviceStatus(ctx context.Context, id, from, to string, at time.Time) error {
	return s.call(ctx, "SetDeviceStatus", 1, func(ctx context.Context) error { return s.inner.SetDeviceStatus(ctx, id, from, to, at) })
}

// InsertRequest implements store.Store; a traced submission's request is
// followed to its completion.
func (s *Store) InsertRequest(ctx context.Context, r store.Request, counter uint64) error {
	err := s.call(ctx, "InsertRequest", 1, func(ctx context.Context) error { return s.inner.InsertRequest(ctx, r, counter) }, reqAttr(r.ID))
	s.inserted(ctx, r, err)
	return err
}

// InsertRequestAsync implements store.AsyncInserter where the store does
// (else it inserts before returning); the wait is what is timed.
func (s *Store) InsertRequestAsync(ctx context.Context, r store.Request, counter uint64) func() error {
	ai, ok := s.inner.(store.AsyncInserter)
	if !ok {
		err := s.InsertRequest(ctx, r, counter)
		return func() error { return err }
	}
	wait := ai.InsertRequestAsync(ctx, r, counter)
	return func() error {
		err := s.call(ctx, "InsertRequest", 1, func(context.Context) error { return wait() }, reqAttr(r.ID))
		s.inserted(ctx, r, err)
		return err
	}
}

// inserted follows a traced submission's request to its completion.
func (s *Store) inserted(ctx context.Context, r store.Request, err error) {
	if sc := trace.SpanContextFromContext(ctx); err == nil && sc.IsValid() && sc.IsSampled() && !r.Final() {
		s.mu.Lock()
		if len(s.trace) >= maxTraced {
			for k := range s.trace {
				if s.trace[k].exec == nil {
					delete(s.trace, k)
					break
				}
			}
		}
		s.trace[r.ID] = &requestTrace{parent: sc}
		s.mu.Unlock()
	}
}

// GetRequest implements store.Store.
func (s *Store) GetRequest(ctx context.Context, id string) (out store.Request, err error) {
	err = s.call(s.spanCtx(ctx, id), "GetRequest", 0, func(ctx context.Context) (err error) { out, err = s.inner.GetRequest(ctx, id); return }, reqAttr(id))
	return
}

// ListRequests implements store.Store.
func (s *Store) ListRequests(ctx context.Context, f store.RequestFilter) (out []store.Request, err error) {
	err = s.call(ctx, "ListRequests", 0, func(ctx context.Context) (err error) { out, err = s.inner.ListRequests(ctx, f); return })
	return
}

// UpdateRequest implements store.Store. For a followed request, the move
// to executing opens the execution span, and the final update closes it
// after a span for the run on the device.
func (s *Store) UpdateRequest(ctx context.Context, r store.Request, fromState string, deliveries []store.Delivery) (out []int64, err error) {
	err = s.update(ctx, "UpdateRequest", r, 1+len(deliveries), func(ctx context.Context) (err error) {
		out, err = s.inner.UpdateRequest(ctx, r, fromState, deliveries)
		return
	})
	return out, err
}

// UpdateRequests implements store.Store, with UpdateRequest's spans for
// the first update (a request ending, with the moves of those held
// behind it): the others' traces go on when they run, or end with them.
func (s *Store) UpdateRequests(ctx context.Context, updates []store.RequestUpdate) (out [][]int64, err error) {
	if len(updates) == 0 {
		return s.inner.UpdateRequests(ctx, updates)
	}
	rows := 0
	for _, u := range updates {
		rows += 1 + len(u.Deliveries)
	}
	err = s.update(ctx, "UpdateRequests", updates[0].Request, rows, func(ctx context.Context) (err error) {
		out, err = s.inner.UpdateRequests(ctx, updates)
		return
	})
	if err != nil {
		return out, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range updates[1:] {
		if rt := s.trace[u.Request.ID]; rt != nil {
			s.updated(rt, u.Request)
		}
	}
	return out, nil
}

// update makes a request's update, do, under the name op, writing rows,
// with the spans of UpdateRequest (which UpdateRequests shares).
func (s *Store) update(ctx context.Context, op string, r store.Request, rows int, do func(ctx context.Context) error) (err error) {
	own := trace.SpanContextFromContext(ctx).IsValid()
	var rt *requestTrace
	if !own {
		s.mu.Lock()
		rt = s.trace[r.ID]
		s.mu.Unlock()
	}
	if rt == nil {
		return s.call(ctx, op, rows, do, reqAttr(r.ID), attribute.String("dccgate.state", r.State))
	}
	s.mu.Lock()
	now := s.wall.Now()
	if r.State == "executing" && rt.exec == nil {
		rt.execCtx, rt.exec = s.tracer.Start(trace.ContextWithRemoteSpanContext(context.WithoutCancel(ctx), rt.parent), "gateway.execute",
			trace.WithAttributes(reqAttr(r.ID), attribute.String("dccgate.service", r.Service), attribute.String("dccgate.device_id", r.DeviceID)))
	} else if rt.exec != nil && !rt.runFrom.IsZero() {
		_, run := s.tracer.Start(rt.execCtx, "devices.run", trace.WithTimestamp(rt.runFrom),
			trace.WithAttributes(attribute.String("dccgate.device_id", r.DeviceID), attribute.String("dccgate.state", r.State), attribute.String("dccgate.reason", r.Reason)))
		if r.Reason == "SMWAN_UNAVAILABLE" {
			run.SetStatus(codes.Error, r.Message)
		}
		run.End(trace.WithTimestamp(now))
		rt.runFrom = time.Time{}
	}
	cctx := ctx
	if rt.exec != nil {
		cctx = trace.ContextWithSpan(ctx, rt.exec)
	} else {
		cctx = trace.ContextWithRemoteSpanContext(ctx, rt.parent)
	}
	s.mu.Unlock()
	err = s.call(cctx, op, rows, do, reqAttr(r.ID), attribute.String("dccgate.state", r.State))
	if err != nil {
		return err // the request stays as it was; its trace goes on when it runs again
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updated(rt, r)
	return nil
}

// updated follows a request's update in its trace rt: a run started, an
// execution ended (done, or put back), the trace ended with the request.
// s.mu is held.
func (s *Store) updated(rt *requestTrace, r store.Request) {
	switch {
	case r.State == "executing":
		rt.runFrom = s.wall.Now()
	case r.Final() || r.State == "acknowledged" && rt.exec != nil:
		if rt.exec != nil {
			rt.exec.SetAttributes(attribute.String("dccgate.state", r.State), attribute.String("dccgate.reason", r.Reason))
			rt.exec.End()
			rt.exec, rt.execCtx = nil, nil
		}
		if r.Final() {
			delete(s.trace, r.ID)
		}
	}
}

// CountRequests implements store.Store.
func (s *Store) CountRequests(ctx context.Context, f store.CountFilter) (n int, err error) {
	err = s.call(ctx, "CountRequests", 0, func(ctx context.Context) (err error) {
		n, err = s.inner.CountRequests(ctx, f)
		return
	})
	return
}

// PutSchedule implements store.Store.
func (s *Store) PutSchedule(ctx context.Context, sc store.Schedule) error {
	return s.call(ctx, "PutSchedule", 1, func(ctx context.Context) error { return s.inner.PutSchedule(ctx, sc) })
}

// DeleteSchedule implements store.Store.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	return s.call(ctx, "DeleteSchedule", 1, func(ctx context.Context) error { return s.inner.DeleteSchedule(ctx, id) })
}

// ListSchedules implements store.Store.
func (s *Store) ListSchedules(ctx context.Context, f store.ScheduleFilter) (out []store.Schedule, err error) {
	err = s.call(ctx, "ListSchedules", 0, func(ctx context.Context) (err error) { out, err = s.inner.ListSchedules(ctx, f); return })
	return
}

// AdvanceSchedule implements store.Store.
func (s *Store) AdvanceSchedule(ctx context.Context, id string, from, to time.Time) error {
	return s.call(ctx, "AdvanceSchedule", 1, func(ctx context.Context) error { return s.inner.AdvanceSchedule(ctx, id, from, to) })
}

// AppendDeliveries implements store.Store.
func (s *Store) AppendDeliveries(ctx context.Context, ds []store.Delivery) (out []int64, err error) {
	err = s.call(ctx, "AppendDeliveries", len(ds), func(ctx context.Context) (err error) { out, err = s.inner.AppendDeliveries(ctx, ds); return })
	return
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, userID string, after int64, limit int) (out []store.Delivery, err error) {
	err = s.call(ctx, "Deliveries", 0, func(ctx context.Context) (err error) {
		out, err = s.inner.Deliveries(ctx, userID, after, limit)
		return
	})
	return
}

// StreamEnd implements store.Store.
func (s *Store) StreamEnd(ctx context.Context, userID string) (end int64, err error) {
	err = s.call(ctx, "StreamEnd", 0, func(ctx context.Context) (err error) { end, err = s.inner.StreamEnd(ctx, userID); return })
	return
}

// Reset implements store.Store.
func (s *Store) Reset(ctx context.Context) error {
	s.mu.Lock()
	for id, rt := range s.trace {
		if rt.exec != nil {
			rt.exec.End()
		}
		delete(s.trace, id)
	}
	s.mu.Unlock()
	return s.call(ctx, "Reset", 1, s.inner.Reset)
}
