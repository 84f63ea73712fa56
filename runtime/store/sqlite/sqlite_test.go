package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

// opener returns storetest's open function: one temp file per test, opened
// anew on each call with the same test.
func opener() func(t *testing.T) store.Store {
	var mu sync.Mutex
	files := map[*testing.T]string{}
	return func(t *testing.T) store.Store {
		t.Helper()
		mu.Lock()
		path, ok := files[t]
		if !ok {
			path = filepath.Join(t.TempDir(), "gateway.db")
			files[t] = path
			t.Cleanup(func() {
				mu.Lock()
				delete(files, t)
				mu.Unlock()
			})
		}
		mu.Unlock()
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

func TestStore(t *testing.T) {
	storetest.Run(t, opener())
}

func TestRegistry(t *testing.T) {
	dir := t.TempDir()
	for _, u := range []string{
		"sqlite://" + filepath.Join(dir, "a.db"), // sqlite:///abs/a.db
		"sqlite:" + filepath.Join(dir, "b.db"),
		filepath.Join(dir, "c.db"),
		":memory:",
		"sqlite::memory:",
	} {
		s, err := store.Open(t.Context(), u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if _, err := store.CheckVersion(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.Open(t.Context(), "mysql://x"); err == nil {
		t.Fatal("opened an unregistered scheme")
	}
}

// TestMemory checks the in-memory database (one connection) takes
// concurrent reads and writes; it cannot be reopened, so the suite's
// durability tests do not apply to it.
func TestMemory(t *testing.T) {
	ctx := t.Context()
	s, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutUser(ctx, store.User{ID: "A"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			r := store.Request{ID: fmt.Sprint(i), UserID: "A"}
			if errs[i] = s.InsertRequest(ctx, r, uint64(i+1)); errors.Is(errs[i], store.ErrStale) {
				errs[i] = nil
			}
			if errs[i] == nil {
				_, errs[i] = s.ListRequests(ctx, store.RequestFilter{UserID: "A"})
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	u, err := s.GetUser(ctx, "A")
	if err != nil || u.LastCounter != 16 {
		t.Fatalf("user %+v, %v: want LastCounter 16", u, err)
	}
}

// TestConcurrentOpen opens one new file from several goroutines at once,
// as gateways starting together would: every open must succeed.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.db")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				_, err = store.CheckVersion(t.Context(), s)
				err = errors.Join(err, s.Close())
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyPath(t *testing.T) {
	if _, err := store.Open(t.Context(), ""); err == nil {
		t.Fatal("an empty store URL opened (a store that keeps nothing?)")
	}
}

// benchUsers runs body in b.RunParallel on a new store, each goroutine as
// a user of its own, parallelism goroutines a CPU; it returns the store.
func benchUsers(b *testing.B, parallelism int, body func(s *sqlstore.Store, user string, pb *testing.PB)) *sqlstore.Store {
	b.Helper()
	ctx := b.Context()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var mu sync.Mutex
	users := 0
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		users++
		u := fmt.Sprint("user-", users)
		mu.Unlock()
		if err := s.PutUser(ctx, store.User{ID: u}); err != nil {
			b.Error(err)
			return
		}
		body(s, u, pb)
	})
	return s
}

// BenchmarkInsertRequest measures durable inserts from concurrent callers
// (group commit turns their fsyncs into one per batch).
func BenchmarkInsertRequest(b *testing.B) {
	benchUsers(b, 16, func(s *sqlstore.Store, u string, pb *testing.PB) {
		for c := uint64(1); pb.Next(); c++ {
			r := store.Request{ID: fmt.Sprint(u, ":", c), UserID: u, State: "acknowledged", Body: []byte(`{"a":1}`)}
			if err := s.InsertRequest(b.Context(), r, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRequestLifecycle measures what the writer does for each
// request the gateway completes: the durable insert of its submission
// (with the user's counter), then its final update with the response
// delivered, from concurrent callers as the gateway's handlers and workers
// make them. Its b.N is requests; writes/op is what each costs the writer.
func BenchmarkRequestLifecycle(b *testing.B) {
	ctx := b.Context()
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	payload := []byte(`{"service":"4.1","response":{"import_kwh":1234.5,"register":"A"}}`)
	s := benchUsers(b, 32, func(s *sqlstore.Store, u string, pb *testing.PB) {
		for c := uint64(1); pb.Next(); c++ {
			at := now.Add(time.Duration(c) * time.Millisecond)
			r := store.Request{ID: fmt.Sprintf("%s:dev-%d:%d", u, c%5000, c), UserID: u, Service: "4.1", DeviceID: fmt.Sprint("dev-", c%5000),
				Category: "on_demand", State: "acknowledged", Body: []byte(`{"a":1}`), ReceivedAt: at, ExecuteAt: at, DueAt: at.Add(30 * time.Second)}
			if err := s.InsertRequest(ctx, r, c); err != nil {
				b.Error(err)
				return
			}
			from := r.State
			r.State, r.CompletedAt, r.Response = "completed", at.Add(time.Millisecond), payload
			d := store.Delivery{UserID: u, Kind: "response", RequestID: r.ID, DeviceID: r.DeviceID, Payload: payload, CreatedAt: r.CompletedAt, DueAt: r.DueAt}
			if _, err := s.UpdateRequest(ctx, r, from, []store.Delivery{d}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	st := s.CommitStats()
	b.ReportMetric(float64(st.Writes)/float64(max(st.Commits, 1)), "writes/commit")
	b.ReportMetric(float64(st.CommitTime.Microseconds())/float64(b.N), "writer-us/op")
}
