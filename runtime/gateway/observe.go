package gateway

import (
	"time"

	"github.com/dccgate/dccgate/engine"
)

// Observer is told what the gateway does, for metrics and traces. Calls are
// made on the request's goroutine and must be quick.
type Observer interface {
	// Decided: a request was decided at submission (outcome accepted,
	// rejected or quarantined, with the reason code of a refusal).
	Decided(service, category, outcome, reason string)
	// Completed: a request reached a final state; took is from receipt (or
	// from the execution time of future dated and scheduled work) to
	// completion, target its Target Response Time (0 if none).
	Completed(service, category, state, reason string, took, target time.Duration)
	// AlertDelivered: an alert was put on a user's stream, lag after it was
	// raised.
	AlertDelivered(code string, lag time.Duration)
	// AlertQuarantined: anomaly detection stopped a device's alert (para
	// 136).
	AlertQuarantined(code string)
	// SMWANFault: a Command did not get an answer over the SMWAN.
	SMWANFault(kind string)
}

type nopObserver struct{}

func (nopObserver) Decided(string, string, string, string)                                 {}
func (nopObserver) Completed(string, string, string, string, time.Duration, time.Duration) {}
func (nopObserver) AlertDelivered(string, time.Duration)                                   {}
func (nopObserver) AlertQuarantined(string)                                                {}
func (nopObserver) SMWANFault(string)                                                      {}

// SetObserver sets the observer (nil: none).
func (g *Gateway) SetObserver(o Observer) {
	if o == nil {
		o = nopObserver{}
	}
	g.obs.Store(&o)
}

func (g *Gateway) observer() Observer {
	if p := g.obs.Load(); p != nil {
		return *p
	}
	return nopObserver{}
}

// SetEngine swaps the engine that decides new requests (a reloaded spec
// and policy); requests in flight keep their decision.
func (g *Gateway) SetEngine(e engine.Decider) { g.engPtr.Store(&e) }

func (g *Gateway) engine() engine.Decider { return *g.engPtr.Load() }
