package client

import (
	"errors"

	"connectrpc.com/connect"
)

// ReasonHeader and ClauseHeader name, in a Connect error's metadata, the
// reason code and clause of a request refused before it was received
// (GATEWAY_BUSY: the gateway was full; nothing was stored, so the same
// request may be sent again). The DUIS endpoint uses the same names.
const (
	ReasonHeader = "X-DCCGate-Reason"
	ClauseHeader = "X-DCCGate-Clause"
)

// Refusal is the reason code and clause an error from Submit carries when
// the gateway refused the request before receiving it; ok is false for
// any other error.
func Refusal(err error) (reason, clause string, ok bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return "", "", false
	}
	reason = ce.Meta().Get(ReasonHeader)
	return reason, ce.Meta().Get(ClauseHeader), reason != ""
}
