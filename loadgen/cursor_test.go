package loadgen

import (
	"context"
	"errors"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
)

// subscribeFrom is a gateway whose user's stream holds the deliveries of
// cursors 1 to last. Its first Subscribe sends those after its cursor and
// ends the stream; the next sends them and holds the stream open until
// the call ends.
type subscribeFrom struct {
	dccgatev1connect.UnimplementedGatewayServiceHandler
	last  int64
	from  chan int64 // each Subscribe's cursor
	calls atomic.Int64
}

func (s *subscribeFrom) Subscribe(ctx context.Context, req *connect.Request[dccgatev1.SubscribeRequest], st *connect.ServerStream[dccgatev1.StreamMessage]) error {
	first := s.calls.Add(1) == 1
	select {
	case s.from <- req.Msg.GetCursor():
	case <-ctx.Done():
		return nil
	}
	for c := req.Msg.GetCursor() + 1; c <= s.last; c++ {
		if err := st.Send(&dccgatev1.StreamMessage{Cursor: c}); err != nil {
			return err
		}
	}
	if !first {
		<-ctx.Done()
	}
	return nil
}

// streamEnd is subscribeFrom answering GetStreamCursor with end, or, with
// end negative, not knowing the call (a gateway without it).
type streamEnd struct {
	*subscribeFrom
	end int64
}

func (s streamEnd) GetStreamCursor(context.Context, *connect.Request[dccgatev1.GetStreamCursorRequest]) (*connect.Response[dccgatev1.GetStreamCursorResponse], error) {
	if s.end < 0 {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("no GetStreamCursor here"))
	}
	return connect.NewResponse(&dccgatev1.GetStreamCursorResponse{Cursor: s.end}), nil
}

// TestSubscribeStartsAtTheStreamEnd: a user's stream starts where
// GetStreamCursor says it ends when the run begins, not at the first
// delivery (from 0 with a gateway that lacks the call), resumes from the
// last cursor read when it breaks, and subscribe returns that cursor.
func TestSubscribeStartsAtTheStreamEnd(t *testing.T) {
	tests := []struct {
		note     string
		end      int64
		wantFrom [2]int64 // the first Subscribe's cursor, and the next's
	}{
		{"an empty stream: from 0", 0, [2]int64{0, 3}},
		{"from its end", 2, [2]int64{2, 3}},
		{"at the end: nothing read again", 3, [2]int64{3, 3}},
		{"no GetStreamCursor: from the first delivery", -1, [2]int64{0, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			d, _ := fakeDriver(t, readElectricity, nil)
			h := &subscribeFrom{last: 3, from: make(chan int64, 2)}
			_, hh := dccgatev1connect.NewGatewayServiceHandler(streamEnd{h, tc.end})
			srv := httptest.NewServer(hh)
			defer srv.Close()
			u := &user{id: "u", api: dccgatev1connect.NewGatewayServiceClient(srv.Client(), srv.URL)}
			d.users = map[string]*user{u.id: u}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			d.streamEnds(ctx)
			last := make(chan int64, 1)
			go func() { last <- d.subscribe(ctx, u) }()
			var from [2]int64
			for i := range from {
				from[i] = receiveWithin(t, h.from)
			}
			cancel()
			if got := receiveWithin(t, last); from != tc.wantFrom || got != 3 {
				t.Errorf("Subscribes from %v, want %v; returned cursor %d, want 3", from, tc.wantFrom, got)
			}
		})
	}
}

// receiveWithin is the next value on ch, failing the test if none comes
// in 10 s (a bound on a hang, not a wait: it comes at once).
func receiveWithin[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came in 10 s")
		panic("unreachable")
	}
}
