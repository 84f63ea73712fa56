package api

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"connectrpc.com/connect"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestToConnect: the gateway's and the store's errors reach clients with
// the codes they act on; a store failing for a while is Unavailable, which
// clients retry, not FailedPrecondition.
func TestToConnect(t *testing.T) {
	tests := []struct {
		err  error
		want connect.Code
	}{
		{fmt.Errorf("submit: %w", io.ErrUnexpectedEOF), connect.CodeUnavailable},
		{&store.UpdateError{Index: 0, Err: io.ErrUnexpectedEOF}, connect.CodeUnavailable},
		{gateway.ErrBusy, connect.CodeUnavailable},
		{gateway.ErrPermission, connect.CodePermissionDenied},
		{store.ErrNotFound, connect.CodeNotFound},
		{errors.New("some refusal of the work"), connect.CodeFailedPrecondition},
	}
	for _, tc := range tests {
		if got := connect.CodeOf(toConnect(tc.err)); got != tc.want {
			t.Errorf("toConnect(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
