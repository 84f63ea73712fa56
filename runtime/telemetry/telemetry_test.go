package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestOTLPExport sends spans to an OTLP/HTTP collector.
func TestOTLPExport(t *testing.T) {
	var posts atomic.Int32
	var ctype atomic.Value
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
			ctype.Store(r.Header.Get("Content-Type"))
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tr, err := NewTracing(t.Context(), TracingConfig{Endpoint: collector.URL, Headers: map[string]string{"x-api-key": "k"}})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer().Start(t.Context(), "test")
	span.End()
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 || ctype.Load() != "application/x-protobuf" {
		t.Fatalf("collector got %d exports (%v)", posts.Load(), ctype.Load())
	}
}

func TestTracingOffByDefault(t *testing.T) {
	tr, err := NewTracing(t.Context(), TracingConfig{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer().Start(t.Context(), "x")
	if span.SpanContext().IsValid() {
		t.Fatal("a span was recorded with tracing off")
	}
	if _, err := NewTracing(t.Context(), TracingConfig{Endpoint: "127.0.0.1:4318"}); err == nil {
		t.Fatal("an endpoint without a scheme was accepted")
	}
}

// TestStoreRefusesWritesOfAStoppedCaller: a worker stopped by a shutdown
// does not record the cancellation as its request's outcome.
func TestStoreRefusesWritesOfAStoppedCaller(t *testing.T) {
	var calls []string
	st := WrapStore(fakeStore{}, nil, func(op string, _ time.Duration, rows int, err error) { calls = append(calls, op) })
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := st.UpdateRequest(ctx, store.Request{ID: "a", State: "rejected"}, "executing", nil); err != context.Canceled {
		t.Fatalf("write with an ended context: %v", err)
	}
	if len(calls) != 0 {
		t.Fatalf("the write reached the store: %v", calls)
	}
	if _, err := st.GetRequest(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != "GetRequest" {
		t.Fatalf("calls observed: %v", calls)
	}
}

type fakeStore struct{ store.Store }

func (fakeStore) GetRequest(context.Context, string) (store.Request, error) {
	return store.Request{}, nil
}
func (fakeStore) UpdateRequest(context.Context, store.Request, string, []store.Delivery) ([]int64, error) {
	return nil, nil
}

// checkReader is a fakeStore that reads for checks.
type checkReader struct{ fakeStore }

func (checkReader) ReadForChecks(_ context.Context, userID, deviceID string, _ time.Time) (store.CheckRead, error) {
	return store.CheckRead{User: store.User{ID: userID}, UserFound: true, Device: store.Device{ID: deviceID}, DeviceFound: true}, nil
}

// TestStoreForwardsReadForChecks: the wrapper reads for checks through the
// store it wraps, observed as ReadForChecks, and says ErrUnsupported over
// a store that cannot, so that the gateway reads one by one.
func TestStoreForwardsReadForChecks(t *testing.T) {
	var calls []string
	observe := func(op string, _ time.Duration, _ int, _ error) { calls = append(calls, op) }
	got, err := WrapStore(checkReader{}, nil, observe).ReadForChecks(t.Context(), "u", "d", time.Time{})
	if err != nil || got.User.ID != "u" || got.Device.ID != "d" {
		t.Fatalf("ReadForChecks: %+v, %v", got, err)
	}
	if len(calls) != 1 || calls[0] != "ReadForChecks" {
		t.Fatalf("calls observed: %v", calls)
	}
	if _, err := WrapStore(fakeStore{}, nil, observe).ReadForChecks(t.Context(), "u", "d", time.Time{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("over a store that cannot: %v, want ErrUnsupported", err)
	}
}
