//go:build unix

package api

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/procstat"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// floorGateway answers a Submit as the gateway would, and puts a Service
// Response on the caller's stream at once, but does nothing in between:
// no check, no store, no device.
type floorGateway struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	streams map[string]chan *dccgatev1.StreamMessage // user ID -> its stream
	reply   *dccgatev1.RequestState                  // a Service Response, whose ID each reply sets
}

func (f *floorGateway) Submit(ctx context.Context, req *connect.Request[dccgatev1.SubmitRequest]) (*connect.Response[dccgatev1.SubmitResponse], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(f.submit(caller, req.Msg.GetRequest())), nil
}

// SubmitStream answers each request as Submit does, through the stream's
// machinery the gateway's SubmitStream uses (serveSubmitStream).
func (f *floorGateway) SubmitStream(ctx context.Context, st *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]) error {
	caller, err := user(ctx)
	if err != nil {
		return err
	}
	return serveSubmitStream(ctx, nil, st, func(_ context.Context, in *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
		return f.submit(caller, in), nil
	})
}

func (f *floorGateway) submit(caller string, in *dccgatev1.ServiceRequest) *dccgatev1.SubmitResponse {
	env := in.GetEnvelope()
	now := time.Now()
	rec := store.Request{ID: env.GetRequestId(), UserID: caller, DeviceID: env.GetDeviceId(), Service: "4.1", State: "received",
		ReceivedAt: now, ExecuteAt: now, DueAt: now.Add(30 * time.Second)}
	// The response's parts are shared, read only, by every message.
	r := f.reply
	f.streams[caller] <- &dccgatev1.StreamMessage{Kind: &dccgatev1.StreamMessage_Response{Response: &dccgatev1.RequestState{
		RequestId: rec.ID, DeviceId: rec.DeviceID, State: r.State, Service: r.Service, Response: r.Response, DueAt: r.DueAt, CompletedAt: r.CompletedAt}}}
	return &dccgatev1.SubmitResponse{RequestId: rec.ID, State: toState(rec)}
}

func (f *floorGateway) Subscribe(ctx context.Context, _ *connect.Request[dccgatev1.SubscribeRequest], st *connect.ServerStream[dccgatev1.StreamMessage]) error {
	caller, err := user(ctx)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-f.streams[caller]:
			if err := st.Send(m); err != nil {
				return err
			}
		}
	}
}

// BenchmarkProtocolFloor is what the public API costs before the gateway
// does any work: a Submit over mutual TLS and HTTP/2, with its Service
// Response back on the user's stream, from 128 callers over 69 users'
// connections (as `dccgate load` drives a gateway), both ends in this
// process, the handlers doing nothing but answer. cpu-us/op is the CPU of
// client and server together, the figure to set beside `dccgate load`'s
// "us a completed request".
func BenchmarkProtocolFloor(b *testing.B) { benchmarkFloor(b, false) }

// BenchmarkProtocolFloorStream is the same with the requests sent on each
// user's SubmitStream (client.Submitter) instead of a call each.
func BenchmarkProtocolFloorStream(b *testing.B) { benchmarkFloor(b, true) }

func benchmarkFloor(b *testing.B, stream bool) {
	const users = 69
	ca, err := pki.NewCA("floor")
	if err != nil {
		b.Fatal(err)
	}
	server, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	tlsConfig, err := pki.ServerTLS(ca, server)
	if err != nil {
		b.Fatal(err)
	}
	f := &floorGateway{streams: map[string]chan *dccgatev1.StreamMessage{}, reply: toMessage(responseDeli).GetResponse()}
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("00-00-00-00-00-00-0A-%02X", i)
		f.streams[ids[i]] = make(chan *dccgatev1.StreamMessage, 1024)
	}
	_, h := dccgatev1connect.NewGatewayServiceHandler(f, connect.WithCompressMinBytes(CompressMinBytes))
	srv := httptest.NewUnstartedServer(Authenticate(h))
	srv.EnableHTTP2 = true
	srv.TLS = tlsConfig
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut short by Close
	srv.StartTLS()
	defer srv.Close()

	// The final responses, by request ID, to the caller waiting for it.
	var waiting sync.Map
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	clients := make([]dccgatev1connect.GatewayServiceClient, users)
	submitters := make([]*client.Submitter, users)
	for i, id := range ids {
		cred, err := ca.IssueUser(id, "EIS")
		if err != nil {
			b.Fatal(err)
		}
		hc, err := pki.ClientHTTP(ca.CertPEM, cred, 4)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = dccgatev1connect.NewGatewayServiceClient(hc, srv.URL)
		submitters[i] = client.NewSubmitter(ctx, clients[i])
		go func() {
			st, err := clients[i].Subscribe(ctx, connect.NewRequest(&dccgatev1.SubscribeRequest{}))
			if err != nil {
				return
			}
			for st.Receive() {
				if w, ok := waiting.LoadAndDelete(st.Msg().GetResponse().GetRequestId()); ok {
					close(w.(chan struct{}))
				}
			}
		}()
	}

	var next atomic.Int64
	b.SetParallelism(64) // 128 callers on two cores
	cpu0 := procstat.CPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := next.Add(1)
			c, uid := clients[n%users], ids[n%users]
			id := fmt.Sprintf("%s:00-DB-00-00-00-08-E0-1F:%d", uid, n)
			done := make(chan struct{})
			waiting.Store(id, done)
			msg := &dccgatev1.ServiceRequest{
				Envelope: &dccgatev1.Envelope{RequestId: id, UserId: uid, DeviceId: "00-DB-00-00-00-08-E0-1F",
					Category: dccgatev1.Category_CATEGORY_ON_DEMAND, Delivery: dccgatev1.Delivery_DELIVERY_WAN},
				Body: &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
			}
			var err error
			if stream {
				_, err = submitters[n%users].Submit(ctx, &dccgatev1.SubmitRequest{Request: msg})
			} else {
				_, err = c.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: msg}))
			}
			if err != nil {
				b.Error(err)
				return
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Error("no response on the stream in 30 s")
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((procstat.CPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
