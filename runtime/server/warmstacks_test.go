package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWarmStacksKeepsGoroutines checks calls in turn run on one kept
// goroutine, concurrent ones on up to max and past it on their own, each
// call's answer reaching its caller.
func TestWarmStacksKeepsGoroutines(t *testing.T) {
	p := newWarmStacks(64)
	defer p.stop()
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			started <- struct{}{}
			<-release
		}
		w.Write([]byte(r.URL.Path))
	}))
	call := func(path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, h2(httptest.NewRequest(http.MethodGet, path, nil)))
		return rec.Body.String()
	}

	for i := range 50 {
		if got := call("/seq"); got != "/seq" {
			t.Fatalf("call %d answered %q", i, got)
		}
	}
	// One, or a few: a call may come before the goroutine that served the
	// last is back waiting, and start another.
	if n := p.workers.Load(); n < 1 || n > 5 {
		t.Fatalf("%d goroutines kept after 50 calls in turn, want 1 to 5", n)
	}
	kept := p.workers.Load()

	// At the bound, one call more than the goroutines kept runs on its
	// own.
	p.max = kept
	var wg sync.WaitGroup
	for range kept + 1 {
		wg.Go(func() {
			if got := call("/hold"); got != "/hold" {
				t.Errorf("a held call answered %q", got)
			}
		})
	}
	for range kept + 1 {
		<-started
	}
	if n := p.workers.Load(); n != kept {
		t.Errorf("%d goroutines kept with %d calls at once, want the bound, %d", n, kept+1, kept)
	}
	close(release)
	wg.Wait()
}

// h2 marks r as an HTTP/2 call (httptest makes HTTP/1.1 ones).
func h2(r *http.Request) *http.Request {
	r.ProtoMajor, r.ProtoMinor, r.Proto = 2, 0, "HTTP/2.0"
	return r
}

// TestWarmStacksHTTP1 checks an HTTP/1 call stays on its own goroutine
// (its connection's, kept by net/http already).
func TestWarmStacksHTTP1(t *testing.T) {
	p := newWarmStacks(4)
	defer p.stop()
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNoContent || p.workers.Load() != 0 {
		t.Errorf("an HTTP/1.1 call: %d with %d goroutines kept, want 204 with none", rec.Code, p.workers.Load())
	}
}

// TestWarmStacksGoexit checks a handler's runtime.Goexit ends the call's
// own goroutine too, rather than leave it waiting.
func TestWarmStacksGoexit(t *testing.T) {
	p := newWarmStacks(4)
	defer p.stop()
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runtime.Goexit() }))
	ended := make(chan bool)
	go func() {
		returned := false
		defer func() { ended <- returned }()
		h.ServeHTTP(httptest.NewRecorder(), h2(httptest.NewRequest(http.MethodGet, "/", nil)))
		returned = true
	}()
	select {
	case returned := <-ended:
		if returned {
			t.Error("the call returned, want it to end as its handler did (Goexit)")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call still waits 10s after its handler called Goexit")
	}
}

// TestWarmStacksPanics checks a handler's panic is raised again on the
// call's own goroutine (where net/http recovers it), and the kept
// goroutine goes on serving.
func TestWarmStacksPanics(t *testing.T) {
	p := newWarmStacks(4)
	defer p.stop()
	boom := errors.New("boom")
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			panic(boom)
		case "/abort":
			panic(http.ErrAbortHandler)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	for _, tc := range []struct {
		path string
		want any
	}{{"/panic", boom}, {"/abort", http.ErrAbortHandler}} {
		func() {
			defer func() {
				got := recover()
				hp, ok := got.(*handlerPanic)
				if ok != (tc.want != http.ErrAbortHandler) {
					t.Errorf("%s: the caller recovered %T, want the panic with its stack only for one not ErrAbortHandler", tc.path, got)
				}
				if ok {
					// Raised with the stack where it happened, which
					// net/http logs.
					if !strings.Contains(hp.String(), "boom") || !strings.Contains(hp.String(), "TestWarmStacksPanics") {
						t.Errorf("%s: the panic logged reads %q, want its value and its stack", tc.path, hp)
					}
					got = hp.v
				}
				if got != tc.want {
					t.Errorf("%s: the caller recovered %v, want %v", tc.path, got, tc.want)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), h2(httptest.NewRequest(http.MethodGet, tc.path, nil)))
		}()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, h2(httptest.NewRequest(http.MethodGet, "/", nil)))
	if rec.Code != http.StatusNoContent {
		t.Errorf("after the panics: %d, want 204", rec.Code)
	}
	if n := p.workers.Load(); n < 1 {
		t.Errorf("%d goroutines kept, want the panics not to end them", n)
	}
}

// TestWarmStacksStop checks stop ends the kept goroutines, and calls made
// after it are still served.
func TestWarmStacksStop(t *testing.T) {
	p := newWarmStacks(4)
	h := p.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	h.ServeHTTP(httptest.NewRecorder(), h2(httptest.NewRequest(http.MethodGet, "/", nil)))
	p.stop()
	deadline := time.Now().Add(10 * time.Second)
	for p.workers.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still kept after stop", p.workers.Load())
		}
		runtime.Gosched()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, h2(httptest.NewRequest(http.MethodGet, "/", nil)))
	if rec.Code != http.StatusNoContent {
		t.Errorf("a call after stop: %d, want 204", rec.Code)
	}
}
