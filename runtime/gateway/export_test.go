package gateway

import (
	"context"
	"runtime"

	"github.com/dccgate/dccgate/runtime/store"
)

// CachedUser is user, for tests of the cache.
func (g *Gateway) CachedUser(ctx context.Context, id string) (store.User, error) {
	return g.user(ctx, id)
}

// Awaited is how many predecessors have a note of a held successor.
func (g *Gateway) Awaited() int {
	n := 0
	g.awaited.Range(func(any, any) bool { n++; return true })
	return n
}

// Materialise is materialise, for tests of the lazy fleet.
func (g *Gateway) Materialise(ctx context.Context, id string) (func(), error) {
	return g.materialise(ctx, id)
}

// PremisesRegistration and RegistrationFor, for the lazy fleet's test.
func (g *Gateway) PremisesRegistration(ctx context.Context, add, group []store.Device) [][]store.Registration {
	return g.premisesRegistration(ctx, add, group)
}

func (g *Gateway) RegistrationFor(ctx context.Context, d store.Device) ([]store.Registration, error) {
	return g.registrationFor(ctx, d, g.Now())
}

// AwaitAdmissionQueue returns once n Submits wait for room (admit.go).
func (g *Gateway) AwaitAdmissionQueue(n int) {
	for {
		g.idleMu.Lock()
		k := len(g.admitQ)
		g.idleMu.Unlock()
		if k >= n {
			return
		}
		runtime.Gosched()
	}
}

// LeaseRound is one round of the lease loop (a shared store's).
func (g *Gateway) LeaseRound(ctx context.Context) { g.leaseRound(ctx) }
