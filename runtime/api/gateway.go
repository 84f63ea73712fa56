// Package api serves the gateway over Connect RPC (Connect, gRPC and
// gRPC-Web on one port): the GatewayService users call, and the
// AdminService of a virtual-clock gateway. It is the only place where
// gateway errors become transport codes.
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec/dcc"
)

// GatewayServer implements GatewayService.
type GatewayServer struct {
	G *gateway.Gateway
	// Draining, closed when a shutdown begins, ends SubmitStreams (nil:
	// never).
	Draining <-chan struct{}
}

var _ dccgatev1connect.GatewayServiceHandler = (*GatewayServer)(nil)

func user(ctx context.Context) (string, error) {
	c, ok := CallerFrom(ctx)
	if !ok || c.UserID == "" {
		return "", connect.NewError(connect.CodeUnauthenticated, errors.New("a client certificate naming a User ID is required"))
	}
	return c.UserID, nil
}

// Submit implements GatewayService.Submit.
func (s *GatewayServer) Submit(ctx context.Context, req *connect.Request[dccgatev1.SubmitRequest]) (*connect.Response[dccgatev1.SubmitResponse], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	answer, err := s.submit(ctx, caller, req.Msg.GetRequest())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(answer), nil
}

// submit is a Submit's work, on its own call or on a SubmitStream.
func (s *GatewayServer) submit(ctx context.Context, caller string, in *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
	if in == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("no request"))
	}
	ereq, err := toEngine(s.G.Spec(), in)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	if ereq.UserID == "" {
		ereq.UserID = caller
	}
	rec, err := s.G.Submit(ctx, caller, ereq)
	if err != nil {
		return nil, toConnect(err)
	}
	return &dccgatev1.SubmitResponse{RequestId: rec.ID, State: toState(rec)}, nil
}

// StreamWindow is how many requests of one SubmitStream are worked on at
// once. Beyond it the stream is not read: HTTP/2's flow control holds the
// caller back rather than goroutines piling up here (the gateway's own
// admission bound, max_in_flight, still decides what is taken on).
const StreamWindow = 1024

// SubmitStream implements GatewayService.SubmitStream: each request is
// worked on as a Submit of its own, side by side, and answered when ready.
func (s *GatewayServer) SubmitStream(ctx context.Context, stream *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]) error {
	caller, err := user(ctx)
	if err != nil {
		return err
	}
	return serveSubmitStream(ctx, s.Draining, stream, func(ctx context.Context, in *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error) {
		return s.submit(ctx, caller, in)
	})
}

// serveSubmitStream answers a SubmitStream's requests with submit's
// answers or errors, tag for tag. Once draining is closed it takes no more:
// it answers those taken and ends the stream (a request sent after is never
// read, nor taken, and the caller sends it again elsewhere).
func serveSubmitStream(ctx context.Context, draining <-chan struct{}, stream *connect.BidiStream[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse],
	submit func(context.Context, *dccgatev1.ServiceRequest) (*dccgatev1.SubmitResponse, error)) error {
	// One writer: a stream's Send is not safe from several goroutines.
	answers := make(chan *dccgatev1.SubmitStreamResponse, StreamWindow)
	sendErr := make(chan error, 1)
	go func() {
		var err error
		for a := range answers {
			if err == nil {
				err = stream.Send(a)
			}
		}
		sendErr <- err
	}()
	// Receive blocks until a request comes: on a goroutine of its own, so
	// that a shutdown need not wait for one. It is handed one request at a
	// time, and only while the window has room.
	type received struct {
		msg *dccgatev1.SubmitStreamRequest
		err error
	}
	// One request at most is in flight between the two (one token in more
	// at a time), so next's room of one lets the goroutine end when the
	// stream does, read or not.
	next, more := make(chan received, 1), make(chan struct{}, 1)
	go func() {
		for range more {
			msg, err := stream.Receive()
			next <- received{msg, err}
			if err != nil {
				return
			}
		}
	}()
	window := make(chan struct{}, StreamWindow)
	var wg sync.WaitGroup
	var recvErr error
receive:
	for {
		select {
		case <-draining:
			break receive
		default:
		}
		window <- struct{}{}
		more <- struct{}{}
		var in received
		select {
		case in = <-next:
		case <-draining:
			<-window
			break receive
		}
		if in.err != nil {
			<-window
			if !errors.Is(in.err, io.EOF) {
				recvErr = in.err
			}
			break
		}
		msg := in.msg
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := &dccgatev1.SubmitStreamResponse{Tag: msg.GetTag()}
			if answer, err := submit(ctx, msg.GetRequest()); err != nil {
				out.Error = toSubmitError(err)
			} else {
				out.Answer = answer
			}
			answers <- out
			<-window
		}()
	}
	close(more)
	wg.Wait()
	close(answers)
	if err := <-sendErr; err != nil {
		return err
	}
	return recvErr
}

// toSubmitError is the error Submit would have returned, as a message.
func toSubmitError(err error) *dccgatev1.SubmitError {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		ce = connect.NewError(connect.CodeUnknown, err)
	}
	return &dccgatev1.SubmitError{Code: ce.Code().String(), Message: ce.Message(),
		Reason: ce.Meta().Get(client.ReasonHeader), Clause: ce.Meta().Get(client.ClauseHeader)}
}

// GetRequest implements GatewayService.GetRequest.
func (s *GatewayServer) GetRequest(ctx context.Context, req *connect.Request[dccgatev1.GetRequestRequest]) (*connect.Response[dccgatev1.RequestState], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetRequestId()
	if id == "" {
		return nil, noRequestID()
	}
	r, err := s.G.Store().GetRequest(ctx, id)
	if err == nil && r.UserID != caller {
		err = store.ErrNotFound // another user's request is not to be seen, nor its existence
	}
	if err != nil {
		return nil, requestErr(id, err)
	}
	return connect.NewResponse(toState(r)), nil
}

// SubmitSignedPreCommand implements GatewayService.SubmitSignedPreCommand.
func (s *GatewayServer) SubmitSignedPreCommand(ctx context.Context, req *connect.Request[dccgatev1.SubmitSignedPreCommandRequest]) (*connect.Response[dccgatev1.RequestState], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetRequestId() == "" {
		return nil, noRequestID()
	}
	r, err := s.G.SubmitSigned(ctx, caller, req.Msg.GetRequestId(), req.Msg.GetSignedPreCommand(), req.Msg.GetSignature())
	if err != nil {
		return nil, requestErr(req.Msg.GetRequestId(), err)
	}
	return connect.NewResponse(toState(r)), nil
}

// ListRequests implements GatewayService.ListRequests: the caller's own
// requests only.
func (s *GatewayServer) ListRequests(ctx context.Context, req *connect.Request[dccgatev1.ListRequestsRequest]) (*connect.Response[dccgatev1.ListRequestsResponse], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	limit := int(req.Msg.GetLimit())
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	for _, st := range req.Msg.GetStates() {
		if !slices.Contains(gateway.States, st) {
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("unknown state %q: the states are %s", st, strings.Join(gateway.States, ", ")))
		}
	}
	rs, err := s.G.Store().ListRequests(ctx, store.RequestFilter{UserID: caller, States: req.Msg.GetStates()})
	if err != nil {
		return nil, toConnect(err)
	}
	out := &dccgatev1.ListRequestsResponse{}
	for i := len(rs) - 1; i >= 0 && len(out.Requests) < limit; i-- {
		out.Requests = append(out.Requests, toState(rs[i]))
	}
	return connect.NewResponse(out), nil
}

// CancelRequest implements GatewayService.CancelRequest.
func (s *GatewayServer) CancelRequest(ctx context.Context, req *connect.Request[dccgatev1.CancelRequestRequest]) (*connect.Response[dccgatev1.RequestState], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	if req.Msg.GetRequestId() == "" {
		return nil, noRequestID()
	}
	r, err := s.G.Cancel(ctx, caller, req.Msg.GetRequestId())
	if errors.Is(err, gateway.ErrNotCancellable) {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	if err != nil {
		return nil, requestErr(req.Msg.GetRequestId(), err)
	}
	return connect.NewResponse(toState(r)), nil
}

// Subscribe implements GatewayService.Subscribe: the caller's deliveries
// after the cursor, then new ones as they come, until the client leaves.
func (s *GatewayServer) Subscribe(ctx context.Context, req *connect.Request[dccgatev1.SubscribeRequest], stream *connect.ServerStream[dccgatev1.StreamMessage]) error {
	caller, err := user(ctx)
	if err != nil {
		return err
	}
	cursor := req.Msg.GetCursor()
	for {
		changed := s.G.DeliveriesChangedFor(caller)
		ds, err := s.G.Store().Deliveries(ctx, caller, cursor, 256)
		if err != nil {
			return toConnect(err)
		}
		for _, d := range ds {
			if err := stream.Send(toMessage(d)); err != nil {
				return err
			}
			cursor = d.Cursor
		}
		if len(ds) == 256 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// GetStreamCursor implements GatewayService.GetStreamCursor: where the
// caller's stream ends now, for a Subscribe that skips its history.
func (s *GatewayServer) GetStreamCursor(ctx context.Context, _ *connect.Request[dccgatev1.GetStreamCursorRequest]) (*connect.Response[dccgatev1.GetStreamCursorResponse], error) {
	caller, err := user(ctx)
	if err != nil {
		return nil, err
	}
	end, err := s.G.Store().StreamEnd(ctx, caller)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&dccgatev1.GetStreamCursorResponse{Cursor: end}), nil
}

// toMessage is a stored delivery as the stream sends it. The payload is
// read into the fields it has (the Connect API's own), and the answer or
// alert data, a JSON object, straight into a Struct.
func toMessage(d store.Delivery) *dccgatev1.StreamMessage {
	m := &dccgatev1.StreamMessage{Cursor: d.Cursor}
	if d.Kind == "alert" {
		a := &dccgatev1.Alert{Code: d.Code, DeviceId: d.DeviceID}
		readAlert(d.Payload, a)
		if !d.CreatedAt.IsZero() {
			a.RaisedAt = timestamppb.New(d.CreatedAt)
		}
		if !d.DueAt.IsZero() {
			a.DueAt = timestamppb.New(d.DueAt)
		}
		m.Kind = &dccgatev1.StreamMessage_Alert{Alert: a}
		return m
	}
	// The stream's user is the requester: a response goes to no one else.
	rs := &dccgatev1.RequestState{RequestId: d.RequestID, DeviceId: d.DeviceID, UserId: d.UserID}
	readResponse(d.Payload, rs)
	// A Command for Local Delivery is also given on its own, as GetRequest
	// gives it (the device's answers have no such key).
	if lc, ok := rs.GetResponse().GetFields()["local_command"]; ok {
		rs.LocalCommand, _ = json.Marshal(lc.AsInterface())
	}
	if !d.DueAt.IsZero() {
		rs.DueAt = timestamppb.New(d.DueAt)
	}
	if !d.CreatedAt.IsZero() && d.Kind != "pre_command" { // a Pre-Command completes nothing
		rs.CompletedAt = timestamppb.New(d.CreatedAt)
	}
	m.Kind = &dccgatev1.StreamMessage_Response{Response: rs}
	return m
}

// readAlert sets an alert's service, name and data from its payload, and
// says whether the fast path read it.
func readAlert(payload []byte, a *dccgatev1.Alert) (fast bool) {
	data, ok := fastPayload(payload, []payloadField{{"service", &a.Service}, {"name", &a.Name}}, "data")
	if !ok {
		decodeAlert(payload, a)
		return false
	}
	a.Data = data
	return true
}

// decodeAlert is readAlert through encoding/json: the reference, and the
// way for a payload the fast path declines.
func decodeAlert(payload []byte, a *dccgatev1.Alert) {
	var p alertPayload
	_ = json.Unmarshal(payload, &p)
	a.Service, a.Name, a.Data = p.Service, p.Name, toStruct(p.Data)
}

// readResponse sets a response's state, reason, clause, message, service
// and answer from its payload, and says whether the fast path read it.
func readResponse(payload []byte, rs *dccgatev1.RequestState) (fast bool) {
	var pc string // a released request's Pre-Command, base64 as encoding/json writes []byte
	answer, ok := fastPayload(payload, []payloadField{{"state", &rs.State}, {"reason", &rs.Reason}, {"clause", &rs.Clause},
		{"message", &rs.Message}, {"service", &rs.Service}, {"pre_command", &pc}}, "response")
	if ok && pc != "" {
		rs.PreCommand, ok = decodeBase64(pc)
	}
	if !ok {
		decodeResponse(payload, rs)
		return false
	}
	rs.Response = answer
	return true
}

func decodeBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// decodeResponse is readResponse through encoding/json (see decodeAlert).
func decodeResponse(payload []byte, rs *dccgatev1.RequestState) {
	var p store.ResponsePayload
	_ = json.Unmarshal(payload, &p)
	rs.State, rs.Reason, rs.Clause, rs.Message, rs.Service = p.State, p.Reason, p.Clause, p.Message, p.Service
	rs.PreCommand = p.PreCommand
	rs.Response = toStruct(p.Response)
}

// alertPayload is what the stream takes of an alert delivery's payload
// (the gateway writes it as a map; some alerts carry more keys).
type alertPayload struct {
	Service string          `json:"service"`
	Name    string          `json:"name"`
	Data    json.RawMessage `json:"data"`
}

// toStruct is a JSON object as a Struct; nil for anything else (null, a
// list, a value, malformed JSON).
func toStruct(raw json.RawMessage) *structpb.Struct {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil
	}
	st, err := structpb.NewStruct(m)
	if err != nil {
		return nil
	}
	return st
}

// toConnect maps gateway and store errors to transport codes.
// noRequestID refuses a call about a request that names none.
func noRequestID() error {
	return connect.NewError(connect.CodeInvalidArgument, errors.New("request_id is required"))
}

// requestErr is toConnect for a call about the request id: not found says
// which request, not the store's words.
func requestErr(id string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("no request %s", id))
	}
	return toConnect(err)
}

func toConnect(err error) error {
	switch {
	case errors.Is(err, gateway.ErrPermission):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, store.ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, gateway.ErrBusy):
		// "Unavailable": what clients' retry policies retry; the
		// metadata names the reason (client.Refusal).
		ce := connect.NewError(connect.CodeUnavailable, err)
		ce.Meta().Set(client.ReasonHeader, string(dcc.ReasonGatewayBusy))
		ce.Meta().Set(client.ClauseHeader, dcc.ReasonClauses[dcc.ReasonGatewayBusy])
		return ce
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	if store.Transient(err) {
		// The store failing for a while: clients retry Unavailable (a
		// Submit's caller asks for its request by ID first, in case the
		// store took it before the failure).
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewError(connect.CodeFailedPrecondition, err)
}
