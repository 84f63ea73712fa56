package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dccgate/dccgate/spec/dcc"
)

// Admission bounds the work a process holds: new Service Requests being
// checked, plus acknowledged ones queued or executing (Stats.InFlight).
//
// Without a bound, a gateway offered more than it can do took every
// request in: at 5,000 requests a second against a capacity of about
// 3,900 it held 50,000 goroutines and 2.4 to 4.1 GiB within 15 seconds,
// requests waited 15 to 22 seconds, and it completed fewer a second
// (2,100 to 2,600) than it does at its capacity, its time going to the
// queues (the Submits convoyed on the users' locks) and the collector. With
// one, a request that finds the process full waits, first come first
// served, for up to AdmissionWait, and is then refused with
// GATEWAY_BUSY: nothing is stored and no counter is taken, so the user
// sends it again later. The process keeps completing what it can, at
// latencies bounded by the limit.

// DefaultMaxInFlight is Config.MaxInFlight's default: several times the
// work in flight a process needs for its full throughput (64 to 128 on
// two cores), while the time a request spends queued at that throughput
// stays near a tenth of a second. 1024 did no more a second under
// overload and doubled the p99.
const DefaultMaxInFlight = 512

// DefaultAdmissionWait is Config.AdmissionWait's default.
const DefaultAdmissionWait = 250 * time.Millisecond

// A queue of waiting Submits that has not emptied for standingAfter is
// not a burst the process will absorb but more than it can do: a Submit
// that joins it then waits at most standingWait. Waiting the full
// AdmissionWait there would only add it to the latency of every request
// admitted (the queue's head always waits nearly all of it), without
// admitting more (CoDel's "standing queue", as servers' adaptive
// admission uses it).
const (
	standingAfter = 100 * time.Millisecond
	standingWait  = 10 * time.Millisecond
)

// ErrBusy is the error of a Submit refused because the process was full
// (GATEWAY_BUSY): the request was not received and may be sent again.
var ErrBusy = errors.New("gateway: busy")

// BusyError is the detail of an ErrBusy.
type BusyError struct {
	InFlight, Limit int
	Waited          time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("gateway: busy (%s, %s): %d requests in flight, the limit is %d, and no room came for this one within %s; the request was not received, send it again",
		dcc.ReasonGatewayBusy, dcc.ReasonClauses[dcc.ReasonGatewayBusy], e.InFlight, e.Limit, e.Waited)
}

func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// admitWaiter is a Submit waiting for room; granted (under idleMu) when
// it was given a place, which ready then signals.
type admitWaiter struct {
	ready   chan struct{}
	granted bool
}

// admit waits for room for one more request and returns its release. A
// critical request takes a place without waiting, over the limit if need
// be: like para 273's traffic management, admission does not hold up the
// commands that, for one, restore a supply (and each must be signed, and
// counts against the anomaly thresholds of para 135).
func (g *Gateway) admit(ctx context.Context, critical bool) (release func(), err error) {
	limit := g.cfg.MaxInFlight
	if limit < 0 {
		return func() {}, nil
	}
	g.idleMu.Lock()
	if critical || (len(g.admitQ) == 0 && g.inflight+g.submitting < limit) {
		g.submitting++
		g.idleMu.Unlock()
		return g.leave, nil
	}
	w := &admitWaiter{ready: make(chan struct{})}
	now := g.wall.Now()
	if len(g.admitQ) == 0 {
		g.queuedSince = now
	}
	g.admitQ = append(g.admitQ, w)
	wait := g.cfg.AdmissionWait
	if now.Sub(g.queuedSince) > standingAfter {
		wait = min(wait, standingWait)
	}
	// Timed from when the waiter is queued (a virtual wall moved as soon
	// as it is seen waiting must still reach its timer).
	timeout := g.wall.After(wait)
	g.idleMu.Unlock()

	select {
	case <-w.ready:
		return g.leave, nil
	case <-ctx.Done():
	case <-timeout:
	}
	g.idleMu.Lock()
	defer g.idleMu.Unlock()
	if w.granted {
		// Room came as the wait ended: the place is this request's.
		return g.leave, nil
	}
	for i, q := range g.admitQ {
		if q == w {
			g.admitQ = append(g.admitQ[:i], g.admitQ[i+1:]...)
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.busy.Add(1)
	return nil, &BusyError{InFlight: g.inflight + g.submitting, Limit: limit, Waited: wait}
}

// leave ends an admitted Submit's place. An acknowledged request was
// counted in inflight by enqueue before this, so it keeps a place until
// it has run.
func (g *Gateway) leave() {
	g.idleMu.Lock()
	g.submitting--
	g.grantLocked()
	g.idleMu.Unlock()
}

// grantLocked gives the room there is to the first waiters (under
// idleMu).
func (g *Gateway) grantLocked() {
	for len(g.admitQ) > 0 && g.inflight+g.submitting < g.cfg.MaxInFlight {
		w := g.admitQ[0]
		g.admitQ[0] = nil
		g.admitQ = g.admitQ[1:]
		w.granted = true
		g.submitting++
		close(w.ready)
	}
}
