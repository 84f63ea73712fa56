package devices

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dccgate/dccgate/clock"
)

// Errors of SMWAN.Send.
var (
	// ErrHubDead: the device's Communications Hub Function does not answer
	// (killed, without power, or not joined to the SMWAN).
	ErrHubDead = errors.New("devices: communications hub not answering")
	// ErrLost: the command was lost on the SMWAN and never reached the
	// device.
	ErrLost = errors.New("devices: command lost on the SMWAN")
	// ErrNoRoute: the device is not in the fleet or belongs to no hub.
	ErrNoRoute = errors.New("devices: no route to device")
)

// SMWAN is the emulated Smart Metering Wide Area Network between the
// gateway and the fleet. It is safe for concurrent use.
type SMWAN struct {
	f   *Fleet
	clk clock.Clock

	mu      sync.Mutex
	latency time.Duration
	loss    float64
	// answerLoss is the share of Commands that run on the device and
	// whose answer is lost on its way back.
	answerLoss float64
	rng        *rand.Rand
	dead       map[string]bool
	inFlight   int
}

// SMWANOption configures NewSMWAN.
type SMWANOption func(*SMWAN)

// WithSeed seeds the SMWAN's loss, so a run loses the same commands again.
func WithSeed(seed uint64) SMWANOption {
	return func(w *SMWAN) { w.rng = newRand(seed) }
}

// WithLatency sets the initial round-trip latency.
func WithLatency(d time.Duration) SMWANOption {
	return func(w *SMWAN) { w.latency = max(d, 0) }
}

// WithLoss sets the initial probability of losing a command.
func WithLoss(p float64) SMWANOption {
	return func(w *SMWAN) { w.loss = clampProb(p) }
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// NewSMWAN returns an SMWAN to the devices of f, timing latency on clk. By
// default it has no latency, loses nothing, and is seeded with 1.
func NewSMWAN(f *Fleet, clk clock.Clock, opts ...SMWANOption) *SMWAN {
	w := &SMWAN{f: f, clk: clk, rng: newRand(1), dead: map[string]bool{}}
	for _, o := range opts {
		o(w)
	}
	return w
}

// SetLatency sets the round-trip time of a command, waited on the clock
// before the command reaches the device. Zero (the default) delivers at
// once.
func (w *SMWAN) SetLatency(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latency = max(d, 0)
}

// SetLoss sets the probability (0 to 1) that a command is lost.
func (w *SMWAN) SetLoss(p float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.loss = clampProb(p)
}

// SetAnswerLoss sets the probability (0 to 1) that a command reaches its
// device and runs, and the device's answer is lost on its way back: the
// sender hears nothing until its own timeout (Send waits for ctx's end),
// and sends the Command again. The device recognises a Command it has
// answered (its Request ID and bytes) and answers it again as it did,
// without running it twice.
func (w *SMWAN) SetAnswerLoss(p float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answerLoss = clampProb(p)
}

func clampProb(p float64) float64 {
	if math.IsNaN(p) || p < 0 {
		return 0
	}
	return min(p, 1)
}

// SetSeed reseeds the loss: the same seed, loss and sequence of commands
// lose the same commands.
func (w *SMWAN) SetSeed(seed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.rng = newRand(seed)
}

// KillHub makes a CHF stop answering, as a hub that failed does.
func (w *SMWAN) KillHub(chf string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dead[chf] = true
}

// HubDead reports whether a CHF has stopped answering (KillHub), as the
// SMWAN provider's monitoring sees it.
func (w *SMWAN) HubDead(chf string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dead[chf]
}

// ReviveHub makes a killed CHF answer again.
func (w *SMWAN) ReviveHub(chf string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.dead, chf)
}

// InFlight is the number of commands waiting on the SMWAN's latency.
func (w *SMWAN) InFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inFlight
}

// Send carries cmd to its device through the device's CHF and returns the
// device's response. It waits the latency on the clock; then the command is
// lost (ErrLost), or finds the hub dead (ErrHubDead), or runs on the device;
// and then the device's answer may be lost (SetAnswerLoss): Send waits for
// ctx to end and returns its error, as a sender waiting for an answer
// times out. A lost command never reaches the device. Send returns ctx's
// error if ctx ends first.
func (w *SMWAN) Send(ctx context.Context, cmd Command) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	w.mu.Lock()
	latency := w.latency
	// The draw happens at send time, so the sequence of outcomes depends
	// only on the seed and the order of sends.
	lost := w.loss > 0 && w.rng.Float64() < w.loss
	answerLost := w.answerLoss > 0 && w.rng.Float64() < w.answerLoss
	w.mu.Unlock()
	if latency > 0 {
		timer := w.clk.After(latency)
		// Counted once the timer is set, so whoever sees the count can
		// advance the clock past it.
		w.mu.Lock()
		w.inFlight++
		w.mu.Unlock()
		var err error
		select {
		case <-timer:
		case <-ctx.Done():
			err = ctx.Err()
		}
		w.mu.Lock()
		w.inFlight--
		w.mu.Unlock()
		if err != nil {
			return Response{}, err
		}
	}
	hub, err := w.f.route(cmd.Device)
	if err != nil {
		return Response{}, err
	}
	w.mu.Lock()
	dead := w.dead[hub]
	w.mu.Unlock()
	if dead {
		return Response{}, fmt.Errorf("%w: %s", ErrHubDead, hub)
	}
	if lost {
		return Response{}, fmt.Errorf("%w: %s to %s", ErrLost, cmd.Service, cmd.Device)
	}
	resp := w.f.Execute(cmd)
	if answerLost {
		<-ctx.Done()
		return Response{}, ctx.Err()
	}
	return resp, nil
}

// route returns the CHF a command to device travels through, or why it
// cannot.
func (f *Fleet) route(device string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.devices[device]
	if d == nil {
		return "", fmt.Errorf("%w: %s is not in the fleet", ErrNoRoute, device)
	}
	hubID := d.hubID()
	if hubID == "" {
		return "", fmt.Errorf("%w: %s belongs to no Communications Hub", ErrNoRoute, device)
	}
	hub := f.devices[hubID]
	switch {
	case hub == nil:
		return hubID, fmt.Errorf("%w: %s is not in the fleet", ErrHubDead, hubID)
	case !hub.Powered:
		return hubID, fmt.Errorf("%w: %s has no power", ErrHubDead, hubID)
	case !hub.WANConnected:
		return hubID, fmt.Errorf("%w: %s has not joined the SMWAN", ErrHubDead, hubID)
	}
	return hubID, nil
}
