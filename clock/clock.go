// Package clock is the only place dccgate reads the time. Everything else
// takes a Clock, so 24-hour, monthly and seven-year rules run on a virtual
// clock in tests and in `serve --virtual-clock`.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and wakes waiters.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed on
	// this clock.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns the wall-clock time in UTC.
func (Real) Now() time.Time { return time.Now().UTC() }

// After waits on the wall clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Virtual is a clock that moves only when told to. It is safe for
// concurrent use.
type Virtual struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	hooks   []func(time.Time)
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewVirtual returns a virtual clock set to start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start.UTC()} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// After returns a channel that fires when the clock has been advanced by d.
func (v *Virtual) After(d time.Duration) <-chan time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := v.now.Add(d)
	if d <= 0 {
		ch <- v.now
		return ch
	}
	v.waiters = append(v.waiters, waiter{at: at, ch: ch})
	return ch
}

// OnAdvance registers f to be called, outside the lock, with the new time
// after every Set or Advance.
func (v *Virtual) OnAdvance(f func(time.Time)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hooks = append(v.hooks, f)
}

// Advance moves the clock forward by d and wakes the waiters that are due.
func (v *Virtual) Advance(d time.Duration) time.Time {
	v.mu.Lock()
	t := v.now.Add(d)
	v.mu.Unlock()
	return v.Set(t)
}

// Set moves the clock to t (never backwards) and wakes the waiters that are
// due, in time order.
func (v *Virtual) Set(t time.Time) time.Time {
	v.mu.Lock()
	if t.After(v.now) {
		v.now = t.UTC()
	}
	now := v.now
	sort.SliceStable(v.waiters, func(i, j int) bool { return v.waiters[i].at.Before(v.waiters[j].at) })
	var due []waiter
	keep := v.waiters[:0]
	for _, w := range v.waiters {
		if !w.at.After(now) {
			due = append(due, w)
		} else {
			keep = append(keep, w)
		}
	}
	v.waiters = keep
	hooks := append([]func(time.Time){}, v.hooks...)
	v.mu.Unlock()
	for _, w := range due {
		w.ch <- now
	}
	for _, h := range hooks {
		h(now)
	}
	return now
}

// Reset sets the clock to t even if that is earlier, dropping every waiter:
// for starting a new world on the same clock (a scenario run).
func (v *Virtual) Reset(t time.Time) {
	v.mu.Lock()
	v.now = t.UTC()
	v.waiters = nil
	v.mu.Unlock()
}
