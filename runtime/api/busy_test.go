package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// busyGateway answers every Submit with err, as the gateway's would be
// mapped.
type busyGateway struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	err error
}

func (b busyGateway) Submit(context.Context, *connect.Request[dccgatev1.SubmitRequest]) (*connect.Response[dccgatev1.SubmitResponse], error) {
	return nil, toConnect(b.err)
}

func (b busyGateway) SubmitStream(ctx context.Context, st *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]) error {
	return serveSubmitStream(ctx, nil, st, func(context.Context, *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
		return nil, toConnect(b.err)
	})
}

// TestBusyIsUnavailable: a Submit refused because the gateway is full
// reaches the caller as "unavailable" (what retry policies retry), with
// the reason code and clause in the error's metadata (trailers on gRPC and
// gRPC-Web), over each protocol the gateway serves; other errors carry
// none.
func TestBusyIsUnavailable(t *testing.T) {
	protocols := []struct {
		name string
		opts []connect.ClientOption
	}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}, {"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}}
	for _, tc := range []struct {
		name           string
		err            error
		code           connect.Code
		reason, clause string
	}{
		{"busy", fmt.Errorf("submit: %w", &gateway.BusyError{InFlight: 3, Limit: 3, Waited: time.Second}), connect.CodeUnavailable, "GATEWAY_BUSY", "para 273"},
		{"not found", store.ErrNotFound, connect.CodeNotFound, "", ""},
		{"permission", gateway.ErrPermission, connect.CodePermissionDenied, "", ""},
	} {
		_, h := dccgatev1connect.NewGatewayServiceHandler(busyGateway{err: tc.err})
		srv := httptest.NewUnstartedServer(h)
		srv.EnableHTTP2 = true
		srv.StartTLS()
		for _, p := range protocols {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				c := dccgatev1connect.NewGatewayServiceClient(srv.Client(), srv.URL+"/", p.opts...)
				_, err := c.Submit(t.Context(), connect.NewRequest(&dccgatev1.SubmitRequest{}))
				check := func(err error) {
					t.Helper()
					if connect.CodeOf(err) != tc.code {
						t.Fatalf("code %s (%v), want %s", connect.CodeOf(err), err, tc.code)
					}
					reason, clause, ok := client.Refusal(err)
					if ok != (tc.reason != "") || reason != tc.reason || clause != tc.clause {
						t.Errorf("refusal %q %q %v, want %q %q", reason, clause, ok, tc.reason, tc.clause)
					}
				}
				check(err)
				if p.name == "grpc-web" {
					return // no bidirectional streams
				}
				// The same, on a SubmitStream: the error as Submit's
				// would be, and the stream goes on to the next request.
				sub := client.NewSubmitter(t.Context(), c)
				defer sub.Close()
				for range 2 {
					_, err = sub.Submit(t.Context(), &dccgatev1.SubmitRequest{})
					check(err)
				}
			})
		}
		srv.Close()
	}
}
