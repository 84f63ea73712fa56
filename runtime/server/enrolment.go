package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/reports"
)

// enrolmentSnapshot records the count of enrolled systems once a day
// (para 408), at the first pass of due work of the day. It walks the whole
// inventory, some 18 s of CPU for a million systems: on the wall clock it
// runs beside the due work rather than inside its pass, which it held up
// (future dated requests, schedules, the devices' tick); with a virtual
// clock it runs inside, so that Advance returns with it done.
type enrolmentSnapshot struct {
	rp         *reports.Reports
	clk        clock.Clock
	log        *slog.Logger
	background bool

	mu      sync.Mutex
	last    string // the day recorded
	running bool
	wg      sync.WaitGroup
}

// due records today's snapshot if no earlier pass did.
func (e *enrolmentSnapshot) due(ctx context.Context) {
	day := e.clk.Now().UTC().Format(time.DateOnly)
	e.mu.Lock()
	if day == e.last || e.running {
		e.mu.Unlock()
		return
	}
	e.running = true
	e.mu.Unlock()
	run := func() {
		err := e.rp.EnsureEnrolment(ctx)
		e.mu.Lock()
		e.running = false
		if err == nil {
			e.last = day
		}
		e.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			e.log.Error("recording enrolment", "err", err)
		}
	}
	if !e.background {
		run()
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		run()
	}()
}

// wait waits for a snapshot running in the background (its ctx ended).
func (e *enrolmentSnapshot) wait() {
	if e != nil {
		e.wg.Wait()
	}
}
