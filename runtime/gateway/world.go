package gateway

import (
	"context"
	"slices"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// World is a whole small world: users, Registration Data, the inventory and
// the anomaly thresholds (a scenario's setup, or the demo world).
type World struct {
	Start        time.Time
	Users        []store.User
	Registration []store.Registration
	Inventory    []store.Device
	Anomaly      []AnomalyRule
}

// Load adds a world to the store and the fleet (users are marked as having
// completed User Entry).
func (g *Gateway) Load(ctx context.Context, w World) error {
	for _, u := range w.Users {
		u.Entered = true
		if err := g.putUser(ctx, u); err != nil {
			return err
		}
	}
	for _, r := range w.Registration {
		if err := g.st.PutRegistration(ctx, r); err != nil {
			return err
		}
	}
	w.Inventory = hubsViaMeters(w.Inventory)
	for _, d := range w.Inventory {
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = g.clk.Now()
		}
		if err := g.st.PutDevice(ctx, d); err != nil {
			return err
		}
	}
	// A device holds the credential of the supplier registered when it
	// was installed (para 140) and keeps it until a Change of Supplier
	// (para 143-146), whatever the Registration Data says later: recorded
	// now, with the whole inventory in (a hub's MPxNs are its meters'),
	// not derived again at each start.
	for _, d := range w.Inventory {
		if d.Credentials != "" {
			continue
		}
		regs, err := g.registrationFor(ctx, d, g.clk.Now())
		if err != nil {
			return err
		}
		if d.Credentials = supplierCredential(d, regs); d.Credentials == "" {
			continue
		}
		if d.UpdatedAt.IsZero() {
			d.UpdatedAt = g.clk.Now()
		}
		if err := g.st.PutDevice(ctx, d); err != nil {
			return err
		}
	}
	if w.Anomaly != nil {
		g.SetAnomaly(w.Anomaly)
	}
	return g.rebuildFleet(ctx)
}

// Reset replaces the world: the store is emptied, a virtual clock is set to
// the world's start, and the world is loaded.
func (g *Gateway) Reset(ctx context.Context, w World) error {
	g.runMu.Lock()
	defer g.runMu.Unlock()
	// Let the previous world's work finish before it is wiped.
	g.WaitIdle(ctx)
	if err := g.st.Reset(ctx); err != nil {
		return err
	}
	g.pending.Clear() // the users' counters start again
	g.roles.Clear()   // and a User ID may come back in another role
	g.forgetUser("")
	g.nextPurge = time.Time{} // the clock may have gone back
	g.fresh.Clear()
	g.awaited.Clear()
	g.alertCounts.forget() // the new world's devices start uncounted
	if g.cfg.Virtual != nil && !w.Start.IsZero() {
		if w.Start.Before(g.cfg.Virtual.Now()) {
			// A virtual clock never goes back; a new one is set instead.
			g.cfg.Virtual.Reset(w.Start)
		} else {
			g.cfg.Virtual.Set(w.Start)
		}
	}
	g.SetAnomaly(w.Anomaly)
	return g.Load(ctx, w)
}

// hubsViaMeters gives a device that names its meter but no hub the
// meter's hub: it talks through the hub its meter is on (para 187, "the
// Communications Hub Function with which a Device is to be associated (via
// the meter)"). It returns a copy; inv is not changed.
func hubsViaMeters(inv []store.Device) []store.Device {
	hubOf := make(map[string]string, len(inv))
	for _, d := range inv {
		hubOf[d.ID] = d.CHF
	}
	out := slices.Clone(inv)
	for i, d := range out {
		if d.CHF == "" && d.Meter != "" && d.Type != "CHF" {
			out[i].CHF = hubOf[d.Meter]
		}
	}
	return out
}
