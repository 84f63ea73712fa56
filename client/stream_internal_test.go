package client

import (
	"errors"
	"sync"
	"testing"

	"connectrpc.com/connect"
)

// TestFailedStreamErrorIsReadOnly: every request waiting on a stream that
// broke gets the same error; reading its refusal from many goroutines at
// once only reads (go test -race checks it), and a refusal's metadata
// survives.
func TestFailedStreamErrorIsReadOnly(t *testing.T) {
	for _, cause := range []error{
		connect.NewError(connect.CodeUnavailable, errors.New("gone")), // no metadata made yet
		errors.New("connection reset"),
	} {
		st := &submitStream{done: make(chan struct{}), cancel: func() {}}
		st.fail(cause)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-st.done
				if _, _, ok := Refusal(st.failure()); ok {
					t.Errorf("a broken stream read as a refusal")
				}
			}()
		}
		wg.Wait()
	}
}
