package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/spec/dcc"
)

// send carries a Command over the emulated SMWAN: each try is bounded by
// CommandTimeout, and a try that fails on the SMWAN (lost, timed out, hub
// not answering) is made again up to CommandRetries times, so a request
// ends, in at most (CommandRetries+1) x CommandTimeout plus the pauses,
// with the device's answer or SMWAN_UNAVAILABLE: never stuck. A try that
// failed at once (lost, hub down) is made again after a pause of a quarter
// of CommandTimeout, giving a hub that comes back the time to answer.
//
// Trying again is safe: a Command lost on its way never reached the
// device, and one whose answer was lost (SetSMWANAnswerLoss) ran there and
// is sent again whole, the same Request ID and bytes, which the device
// recognises and answers as it did without running it twice. It returns
// the number of tries made.
func (g *Gateway) send(ctx context.Context, cmd devices.Command) (devices.Response, int, error) {
	for try := 1; ; try++ {
		cctx, cancel := context.WithTimeout(ctx, g.cfg.CommandTimeout)
		resp, err := g.em().wan.Send(cctx, cmd)
		cancel()
		if err == nil {
			return resp, try, nil
		}
		kind := "timeout"
		switch {
		case errors.Is(err, devices.ErrHubDead):
			kind = "hub_dead"
		case errors.Is(err, devices.ErrLost):
			kind = "lost"
		}
		g.observer().SMWANFault(kind)
		if try > g.cfg.CommandRetries || ctx.Err() != nil {
			return resp, try, err
		}
		if kind != "timeout" {
			select {
			case <-ctx.Done():
				return resp, try, err
			case <-g.wall.After(g.cfg.CommandTimeout / 4):
			}
		}
	}
}

// SMWANBudget is the longest a Command can take over the SMWAN with every
// try failing: CommandRetries+1 timeouts and the pauses between them.
func (g *Gateway) SMWANBudget() time.Duration {
	return SMWANBudget(g.cfg.CommandTimeout, g.cfg.CommandRetries)
}

// SMWANBudget is Gateway.SMWANBudget for a timeout and a number of retries.
func SMWANBudget(timeout time.Duration, retries int) time.Duration {
	return time.Duration(retries+1)*timeout + time.Duration(retries)*(timeout/4)
}

// reasonSMWANUnavailable ends a request whose Command the SMWAN did not
// deliver within its tries (a code of the gateway's own beside the
// scenario format's).
const reasonSMWANUnavailable dcc.Reason = "SMWAN_UNAVAILABLE"
