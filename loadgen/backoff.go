package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// backoff is the wait after failures in a row: base, doubling, at most max.
type backoff struct{ base, max time.Duration }

var (
	// requestBackoff holds a user's requests off a failing connection
	// (gate), and spaces the setup's retries.
	requestBackoff = backoff{base: 10 * time.Millisecond, max: time.Second}
	// subscribeBackoff spaces the reopenings of a user's stream that ends
	// before its first message (driver.subscribe).
	subscribeBackoff = backoff{base: 100 * time.Millisecond, max: time.Second}
)

// delay is the wait after n failures in a row (n from 0).
func (b backoff) delay(n int) time.Duration {
	d := b.base
	for ; n > 0; n-- {
		if d > b.max/2 { // doubled, past max (or overflowing)
			return b.max
		}
		d *= 2
	}
	return min(d, b.max)
}

// gate holds a user's requests off the network while its connection to the
// gateway fails (a refused dial, a stream the gateway's end broke): each
// failure shuts it for requestBackoff's delay of the failures in a row,
// and an answer from the gateway opens it. A closed loop waits for it; an
// open loop counts a request due while it is shut as failed, unsent.
// Without it, a closed loop at a gateway that was down spun (some 20,000
// failed Submits in 16 s, each opening a connection, its garbage taking
// the load process from 130 to 503 MiB), and an open loop opened a
// connection for each request due.
//
// The hot path, a request to a gateway that answers, costs two atomic
// loads: one in wait, one in ok.
type gate struct {
	until atomic.Int64 // UnixNano before which nothing is sent; 0: open

	mu    sync.Mutex
	fails int   // failures in a row
	last  int64 // UnixNano when the last of them was seen
}

// wait is how long, from now, the gate stays shut; 0 if it is open.
func (g *gate) wait(now func() time.Time) time.Duration {
	u := g.until.Load()
	if u == 0 {
		return 0
	}
	return max(0, time.Duration(u-now().UnixNano()))
}

// failed notes that a request sent at sent could not reach the gateway
// (seen at now), and shuts the gate. A request sent before the last failure
// was seen failed with it (a connection that breaks fails every request on
// it at once) and does not lengthen the delay.
func (g *gate) failed(sent, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fails > 0 && sent.UnixNano() < g.last {
		return
	}
	g.last = now.UnixNano()
	g.until.Store(now.Add(requestBackoff.delay(g.fails)).UnixNano())
	g.fails++
}

// ok notes the gateway's answer to a request sent at sent, which opens the
// gate; an answer to one sent before the last failure was seen does not.
func (g *gate) ok(sent time.Time) {
	if g.until.Load() == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if sent.UnixNano() >= g.last {
		g.fails = 0
		g.until.Store(0)
	}
}

// sleepCtx waits d, or until ctx ends (false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
