package telemetry

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/dccgate/dccgate/runtime/store"
)

var (
	_ store.Leaser          = (*Store)(nil)
	_ store.ClaimObserver   = (*Store)(nil)
	_ store.DeliveryWatcher = (*Store)(nil)
)

func (s *Store) leaser() (store.Leaser, error) {
	if l, ok := store.As[store.Leaser](s.inner); ok {
		return l, nil
	}
	return nil, errors.ErrUnsupported
}

// ClaimRequest implements store.Leaser (errors.ErrUnsupported if the
// wrapped store does not). As UpdateRequest's move to executing, it opens
// the execution span of a followed request.
func (s *Store) ClaimRequest(ctx context.Context, id, owner string, until time.Time) (out store.Request, role string, err error) {
	l, err := s.leaser()
	if err != nil {
		return out, "", err
	}
	var rt *requestTrace
	if !trace.SpanContextFromContext(ctx).IsValid() {
		s.mu.Lock()
		rt = s.trace[id]
		s.mu.Unlock()
	}
	cctx := ctx
	if rt != nil {
		cctx = trace.ContextWithRemoteSpanContext(ctx, rt.parent)
	}
	err = s.call(cctx, "ClaimRequest", 1, func(ctx context.Context) (err error) { out, role, err = l.ClaimRequest(ctx, id, owner, until); return }, reqAttr(id))
	if err != nil || rt == nil {
		return out, role, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt.exec == nil {
		rt.execCtx, rt.exec = s.tracer.Start(trace.ContextWithRemoteSpanContext(context.WithoutCancel(ctx), rt.parent), "gateway.execute",
			trace.WithAttributes(reqAttr(id), attribute.String("dccgate.service", out.Service), attribute.String("dccgate.device_id", out.DeviceID)))
	}
	rt.runFrom = s.wall.Now()
	return out, role, nil
}

// Claimed implements store.ClaimObserver: as ClaimRequest, it opens the
// execution span of a followed request.
func (s *Store) Claimed(ctx context.Context, r store.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt := s.trace[r.ID]
	if rt == nil {
		return
	}
	if rt.exec == nil {
		rt.execCtx, rt.exec = s.tracer.Start(trace.ContextWithRemoteSpanContext(context.WithoutCancel(ctx), rt.parent), "gateway.execute",
			trace.WithAttributes(reqAttr(r.ID), attribute.String("dccgate.service", r.Service), attribute.String("dccgate.device_id", r.DeviceID)))
	}
	rt.runFrom = s.wall.Now()
}

// RenewLeases implements store.Leaser.
func (s *Store) RenewLeases(ctx context.Context, owner string, until time.Time) (n int, err error) {
	l, err := s.leaser()
	if err != nil {
		return 0, err
	}
	err = s.call(ctx, "RenewLeases", 1, func(ctx context.Context) (err error) { n, err = l.RenewLeases(ctx, owner, until); return })
	return n, err
}

// ReclaimRequests implements store.Leaser.
func (s *Store) ReclaimRequests(ctx context.Context, owner string, expired, until time.Time) (ids []string, err error) {
	l, err := s.leaser()
	if err != nil {
		return nil, err
	}
	err = s.call(ctx, "ReclaimRequests", 1, func(ctx context.Context) (err error) {
		ids, err = l.ReclaimRequests(ctx, owner, expired, until)
		return
	})
	return ids, err
}

// WatchDeliveries implements store.DeliveryWatcher (errors.ErrUnsupported
// if the wrapped store does not).
func (s *Store) WatchDeliveries(ctx context.Context, wake func(users []string)) error {
	if w, ok := store.As[store.DeliveryWatcher](s.inner); ok {
		return w.WatchDeliveries(ctx, wake)
	}
	return errors.ErrUnsupported
}
