package server

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// HTTP/2 serves each call on a goroutine of its own, which starts with a
// small stack. A call's way down (the server, Connect, the interceptors,
// the gateway; for some, SQLite's transpiled C, whose frames are large)
// is deeper than that, so the stack was grown, by copying, three times or
// so a call: 4 to 5% of a loaded gateway's CPU (a profile at 1,000
// non-critical requests a second in process: runtime.newstack, most of it
// from gateway.admit; critical requests: from SQLite's read of the
// request signed). warmStacks runs the calls on goroutines kept from one
// call to the next instead, whose stacks have grown once: the call's
// goroutine hands it to an idle one, or starts one that then stays, and
// waits for it. The runtime shrinks an idle goroutine's stack at a
// collection, so those kept cost little between bursts.
type warmStacks struct {
	calls   chan *warmCall
	quit    chan struct{}
	workers atomic.Int32
	max     int32
}

// warmCall is one call handed to a kept goroutine; done carries what its
// handler panicked with (nil: it returned), to be raised again on the
// call's own goroutine, where net/http recovers it as it would have
// (errGoexit: the handler called runtime.Goexit, which the call's
// goroutine then calls too).
type warmCall struct {
	h    http.Handler
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

var warmCalls = sync.Pool{New: func() any { return &warmCall{done: make(chan any, 1)} }}

// newWarmStacks keeps up to max goroutines; a call that finds them all
// busy runs on its own goroutine, as without them (its panic is raised
// again all the same, with its stack).
func newWarmStacks(max int) *warmStacks {
	return &warmStacks{calls: make(chan *warmCall), quit: make(chan struct{}), max: int32(max)}
}

// wrap returns h served on the kept goroutines.
func (p *warmStacks) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			// HTTP/1 serves a connection's calls on one goroutine
			// already.
			h.ServeHTTP(w, r)
			return
		}
		c := warmCalls.Get().(*warmCall)
		c.h, c.w, c.r = h, w, r
		select {
		case p.calls <- c: // an idle goroutine took it
		default:
			if p.workers.Add(1) <= p.max {
				go p.work(c)
				break
			}
			p.workers.Add(-1)
			serve(c) // at the bound: on the call's own goroutine
		}
		v := <-c.done
		c.h, c.w, c.r = nil, nil, nil
		warmCalls.Put(c)
		switch v {
		case nil:
		case errGoexit:
			runtime.Goexit()
		default:
			panic(v)
		}
	})
}

// work serves calls until stop.
func (p *warmStacks) work(c *warmCall) {
	defer p.workers.Add(-1)
	for {
		serve(c) // c is the caller's again from here
		select {
		case c = <-p.calls:
		case <-p.quit:
			return
		}
	}
}

// serve runs c's handler and sends how it ended on c.done.
func serve(c *warmCall) {
	returned := false
	defer func() {
		v := recover()
		switch {
		case v == nil && !returned:
			v = errGoexit
		case v == nil, v == http.ErrAbortHandler: // the latter net/http ends the call on, unlogged
		default:
			v = &handlerPanic{v: v, stack: debug.Stack()}
		}
		c.done <- v
	}()
	c.h.ServeHTTP(c.w, c.r)
	returned = true
}

// errGoexit says a handler called runtime.Goexit.
var errGoexit = errors.New("runtime.Goexit")

// handlerPanic is a handler's panic raised again on the call's goroutine:
// net/http logs it with that goroutine's stack, so it carries the stack
// where it happened.
type handlerPanic struct {
	v     any
	stack []byte
}

func (p *handlerPanic) String() string { return fmt.Sprintf("%v\n\n%s", p.v, p.stack) }

// stop ends the idle goroutines, and each busy one after its call.
func (p *warmStacks) stop() { close(p.quit) }

// warmMax bounds the goroutines kept: the requests a process holds
// (gateway.DefaultMaxInFlight) and the users' streams, several times over.
const warmMax = 4096
