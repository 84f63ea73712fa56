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
	p := newWarmStacks(2)
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
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
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

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if got := call("/hold"); got != "/hold" {
				t.Errorf("a held call answered %q", got)
			}
		})
	}
	for range 3 {
		<-started // two on kept goroutines, the third on its own
	}
	if n := p.workers.Load(); n != 2 {
		t.Errorf("%d goroutines kept with 3 calls at once (%d before), want the bound, 2", n, kept)
	}
	close(release)
	wg.Wait()
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
				if hp, ok := got.(handlerPanic); ok {
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
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, tc.path, nil))
		}()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
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
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	p.stop()
	deadline := time.Now().Add(10 * time.Second)
	for p.workers.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still kept after stop", p.workers.Load())
		}
		runtime.Gosched()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("a call after stop: %d, want 204", rec.Code)
	}
}
