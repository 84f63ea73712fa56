package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/runtime/gateway"
)

// echoGateway answers a SubmitStream's requests through serveSubmitStream
// with submit.
type echoGateway struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	submit   func(context.Context, *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error)
	draining chan struct{}
	streams  atomic.Int64 // streams opened
}

func (e *echoGateway) SubmitStream(ctx context.Context, st *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]) error {
	e.streams.Add(1)
	return serveSubmitStream(ctx, e.draining, st, e.submit)
}

func startEcho(t *testing.T, e dccgatev1connect.GatewayServiceHandler) dccgatev1connect.GatewayServiceClient {
	t.Helper()
	_, h := dccgatev1connect.NewGatewayServiceHandler(e)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return dccgatev1connect.NewGatewayServiceClient(srv.Client(), srv.URL)
}

// TestSubmitStream: many goroutines share one stream, and each gets its
// own request's answer, or its own refusal as Submit would have returned
// it (code, reason, clause), while the others go on.
func TestSubmitStream(t *testing.T) {
	e := &echoGateway{submit: func(ctx context.Context, in *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
		id := in.GetEnvelope().GetRequestId()
		var n int
		fmt.Sscanf(id, "r%d", &n)
		switch n % 3 {
		case 1:
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("bad %s", id))
		case 2:
			return nil, toConnect(fmt.Errorf("%s: %w", id, &gateway.BusyError{InFlight: 3, Limit: 3}))
		}
		return &dccgatev1.SubmitResponse{RequestId: id, State: &dccgatev1.RequestState{RequestId: id, State: "acknowledged"}}, nil
	}}
	sub := client.NewSubmitter(t.Context(), startEcho(t, e))
	defer sub.Close()
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("r%d", i)
			resp, err := sub.Submit(t.Context(), &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: &dccgatev1.Envelope{RequestId: id}}})
			reason, clause, refused := client.Refusal(err)
			switch i % 3 {
			case 0:
				if err != nil || resp.GetRequestId() != id || resp.GetState().GetState() != "acknowledged" {
					t.Errorf("%s: answer %v, %v", id, resp, err)
				}
			case 1:
				if connect.CodeOf(err) != connect.CodeInvalidArgument || refused || err.(*connect.Error).Message() != "bad "+id {
					t.Errorf("%s: error %v, want invalid_argument %q", id, err, "bad "+id)
				}
			case 2:
				if connect.CodeOf(err) != connect.CodeUnavailable || reason != "GATEWAY_BUSY" || clause != "para 273" {
					t.Errorf("%s: error %v (refusal %q %q), want unavailable GATEWAY_BUSY para 273", id, err, reason, clause)
				}
			}
		})
	}
	wg.Wait()
	if got := e.streams.Load(); got != 1 {
		t.Errorf("%d streams opened, want 1", got)
	}
}

// TestSubmitStreamReopens: a stream that fails fails the requests waiting
// on it, and the next Submit opens another.
func TestSubmitStreamReopens(t *testing.T) {
	api := startEcho(t, closingGateway{})
	sub := client.NewSubmitter(t.Context(), api)
	defer sub.Close()
	send := func(id string) (*dccgatev1.SubmitResponse, error) {
		return sub.Submit(t.Context(), &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: &dccgatev1.Envelope{RequestId: id}}})
	}
	if resp, err := send("a"); err != nil || resp.GetRequestId() != "a" {
		t.Fatalf("first: %v, %v", resp, err)
	}
	// The stream ends, with an error, at the second request, unanswered:
	// it fails (by then the stream is seen to have ended).
	if _, err := send("b"); err == nil {
		t.Fatal("second: no error from a stream that ended")
	}
	if resp, err := send("c"); err != nil || resp.GetRequestId() != "c" {
		t.Fatalf("third, on a new stream: %v, %v", resp, err)
	}
}

// closingGateway answers a stream's first request, and ends the stream
// with an error when the second comes.
type closingGateway struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
}

func (closingGateway) SubmitStream(ctx context.Context, st *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]) error {
	m, err := st.Receive()
	if err != nil {
		return err
	}
	id := m.GetRequest().GetEnvelope().GetRequestId()
	if err := st.Send(&dccgatev1.SubmitStreamResponse{Tag: m.GetTag(), Answer: &dccgatev1.SubmitResponse{RequestId: id}}); err != nil {
		return err
	}
	if _, err := st.Receive(); err != nil {
		return err
	}
	return connect.NewError(connect.CodeUnavailable, errors.New("going away"))
}

// TestSubmitStreamDrains: when a shutdown begins, a stream answers the
// requests it has taken and ends; a request sent then is not taken, and
// fails unavailable, to be sent again.
func TestSubmitStreamDrains(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var taken atomic.Int64
	e := &echoGateway{draining: make(chan struct{}), submit: func(ctx context.Context, in *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
		taken.Add(1)
		close(started)
		<-release
		return &dccgatev1.SubmitResponse{RequestId: in.GetEnvelope().GetRequestId()}, nil
	}}
	sub := client.NewSubmitter(t.Context(), startEcho(t, e))
	defer sub.Close()
	send := func(id string) (*dccgatev1.SubmitResponse, error) {
		return sub.Submit(t.Context(), &dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{Envelope: &dccgatev1.Envelope{RequestId: id}}})
	}
	type result struct {
		resp *dccgatev1.SubmitResponse
		err  error
	}
	first := make(chan result, 1)
	go func() {
		resp, err := send("a")
		first <- result{resp, err}
	}()
	<-started
	close(e.draining) // the shutdown begins with "a" taken, not answered
	close(release)
	if r := <-first; r.err != nil || r.resp.GetRequestId() != "a" {
		t.Fatalf("the request taken before the shutdown: %v, %v; want its answer", r.resp, r.err)
	}
	if _, err := send("b"); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("a request sent once the shutdown began: %v, want unavailable", err)
	}
	if n := taken.Load(); n != 1 {
		t.Errorf("%d requests taken, want 1", n)
	}
}
