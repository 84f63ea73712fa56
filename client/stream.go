package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
)

// Submitter sends a user's Service Requests on one SubmitStream, for many
// goroutines at once, each waiting for its own answer: a Submit without a
// call of its own. A stream that fails fails the requests waiting on it
// (whether the gateway took them is then unknown, as when a Submit's call
// fails) and the next Submit opens another.
type Submitter struct {
	api dccgatev1connect.GatewayServiceClient
	ctx context.Context // the streams'

	mu     sync.Mutex
	cur    *submitStream
	tag    uint64
	closed bool
}

type submitStream struct {
	st      *connect.BidiStreamForClient[dccgatev1.SubmitStreamRequest, dccgatev1.SubmitStreamResponse]
	cancel  context.CancelFunc
	out     chan *dccgatev1.SubmitStreamRequest
	mu      sync.Mutex
	waiting map[uint64]chan *dccgatev1.SubmitStreamResponse
	err     error // once set, the stream is done
	done    chan struct{}
}

// NewSubmitter sends on api's SubmitStream until ctx ends or Close.
func NewSubmitter(ctx context.Context, api dccgatev1connect.GatewayServiceClient) *Submitter {
	return &Submitter{api: api, ctx: ctx}
}

// Submit sends one request and returns its answer, or the error Submit
// would have returned (client.Refusal reads a GATEWAY_BUSY from it).
func (s *Submitter) Submit(ctx context.Context, req *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
	st, tag, err := s.stream()
	if err != nil {
		return nil, err
	}
	ch := make(chan *dccgatev1.SubmitStreamResponse, 1)
	st.mu.Lock()
	if st.err != nil {
		st.mu.Unlock()
		return nil, st.err
	}
	st.waiting[tag] = ch
	st.mu.Unlock()
	forget := func() {
		st.mu.Lock()
		delete(st.waiting, tag)
		st.mu.Unlock()
	}
	select {
	case st.out <- &dccgatev1.SubmitStreamRequest{Tag: tag, Request: req.GetRequest()}:
	case <-st.done:
		forget()
		return nil, st.failure()
	case <-ctx.Done():
		forget()
		return nil, ctxError(ctx)
	}
	select {
	case a := <-ch:
		if e := a.GetError(); e != nil {
			return nil, fromSubmitError(e)
		}
		return a.GetAnswer(), nil
	case <-st.done:
		forget()
		return nil, st.failure()
	case <-ctx.Done():
		// Sent: the gateway may take it, and its answer is dropped.
		forget()
		return nil, ctxError(ctx)
	}
}

// Close ends the stream; requests still waiting fail.
func (s *Submitter) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.cur != nil {
		s.cur.cancel()
	}
}

// stream is the open stream, opened if need be, and the next tag.
func (s *Submitter) stream() (*submitStream, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, connect.NewError(connect.CodeCanceled, errors.New("submitter closed"))
	}
	if s.cur != nil {
		select {
		case <-s.cur.done:
			s.cur = nil
		default:
		}
	}
	if s.cur == nil {
		ctx, cancel := context.WithCancel(s.ctx)
		st := &submitStream{st: s.api.SubmitStream(ctx), cancel: cancel, out: make(chan *dccgatev1.SubmitStreamRequest, 256),
			waiting: map[uint64]chan *dccgatev1.SubmitStreamResponse{}, done: make(chan struct{})}
		go st.send(ctx)
		go st.receive()
		s.cur = st
	}
	s.tag++
	return s.cur, s.tag, nil
}

// send is the stream's one sender (a stream's Send is not safe from
// several goroutines), and the one to close its side: the HTTP/2 transport
// notices a cancelled call only once the request's body ends.
func (st *submitStream) send(ctx context.Context) {
	defer func() { _ = st.st.CloseRequest() }()
	for {
		select {
		case m := <-st.out:
			if err := st.st.Send(m); err != nil {
				st.fail(err)
				return
			}
		case <-ctx.Done():
			st.fail(ctxError(ctx))
			return
		case <-st.done:
			return
		}
	}
}

func (st *submitStream) receive() {
	for {
		a, err := st.st.Receive()
		if err != nil {
			st.fail(err)
			_ = st.st.CloseResponse()
			return
		}
		st.mu.Lock()
		ch := st.waiting[a.GetTag()]
		delete(st.waiting, a.GetTag())
		st.mu.Unlock()
		if ch != nil {
			ch <- a
		}
	}
}

// fail ends the stream with its first error.
func (st *submitStream) fail(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err != nil {
		return
	}
	var ce *connect.Error
	switch {
	case errors.Is(err, io.EOF):
		// The gateway ended the stream (a shutdown): what it had not
		// answered it had not read, and may be sent again.
		err = connect.NewError(connect.CodeUnavailable, errors.New("submit stream: the gateway ended the stream before answering"))
	case !errors.As(err, &ce):
		err = connect.NewError(connect.CodeUnavailable, fmt.Errorf("submit stream: %w", err))
	}
	// Every request waiting on the stream gets this one error, and reading
	// its metadata (Refusal) makes the map on first use: made here, once,
	// before anyone can see the error, readers only read it.
	if errors.As(err, &ce) {
		ce.Meta()
	}
	st.err = err
	close(st.done)
	st.cancel() // ends the call: the sender's Send and the receiver's Receive return
}

func (st *submitStream) failure() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// fromSubmitError is the *connect.Error a Submit's call would have failed
// with, metadata included.
func fromSubmitError(e *dccgatev1.SubmitError) error {
	var code connect.Code
	if err := code.UnmarshalText([]byte(e.GetCode())); err != nil {
		code = connect.CodeUnknown
	}
	ce := connect.NewError(code, errors.New(e.GetMessage()))
	if e.GetReason() != "" {
		ce.Meta().Set(ReasonHeader, e.GetReason())
		ce.Meta().Set(ClauseHeader, e.GetClause())
	}
	return ce
}

// ctxError is a call's error for a context that ended.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
	}
	return connect.NewError(connect.CodeCanceled, ctx.Err())
}
