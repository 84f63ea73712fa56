package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// Several gateway processes on one database (Config.Shared) share the work
// this way:
//
//   - Any process takes any request: it stores it acknowledged and queues
//     it; the worker that runs it claims it first (store.Leaser's
//     ClaimRequest: acknowledged -> executing, one conditional UPDATE, so
//     one claimant wins), leased to this process for Config.Lease.
//   - The process renews the leases of what it executes every Lease/3. A
//     request whose lease expired (its process died, or lost the database
//     for longer than a lease) is reclaimed by whichever process looks
//     next, and run again; the process that lost it cannot complete it
//     any more (UpdateRequest from executing checks the attempt the claim
//     counted), so it completes once. Its Command may have reached the
//     device before the first process died: a takeover runs it again, as
//     a real gateway retrying a Command would.
//   - Future dated work and schedules are moved by conditional updates
//     (pending -> acknowledged; AdvanceSchedule from -> to) and a
//     schedule's run has an ID made of the schedule's device and due time,
//     unique in the database: whichever process is first runs it, once.
//   - Deliveries are appended to the database; the store notifies the
//     other processes (PostgreSQL NOTIFY) and their stream readers look
//     again, with a poll every DeliveryPoll in case one was missed.
//
// The emulated devices live in each process's memory: a Command runs on the
// executing process's copy of the device. The inventory (statuses,
// credentials) is in the database and read by every process, but state
// inside an emulated device (credit, tariffs, logs) is per process.

// sharedDefaults fills the defaults of the fields about sharing a store.
func sharedDefaults(cfg *Config) error {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease(cfg.Spec)
	}
	if cfg.DeliveryPoll <= 0 {
		cfg.DeliveryPoll = 2 * time.Second
	}
	if cfg.Wall == nil {
		cfg.Wall = clock.Real{}
	}
	if cfg.Node == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		cfg.Node = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	return nil
}

// Node is the name of this process in the leases it holds.
func (g *Gateway) Node() string { return g.node }

// Shared reports whether the store is shared with other gateway processes
// (work is claimed with leases, and taken over from a process that stops).
func (g *Gateway) Shared() bool { return g.leaser != nil }

// claim moves an acknowledged request to executing for this process and
// returns it with the state its final update is conditional on; ok is
// false when it is not acknowledged any more (another worker or process
// has it, or it is done). On a shared store it also returns the user's
// role, read with the claim ("": run looks it up).
//
// Without leases the store is this process's alone (SQLite), and the claim
// is kept in memory: the request stays acknowledged in the store until its
// final update, conditional on that. A stop in between leaves it
// acknowledged, and the restart runs it again, as it did one left
// executing; the write the claim saves is one of three per request.
func (g *Gateway) claim(ctx context.Context, id string) (r store.Request, role, from string, ok bool, err error) {
	if g.leaser != nil {
		r, role, err = g.leaser.ClaimRequest(ctx, id, g.node, g.wall.Now().Add(g.cfg.Lease))
		if errors.Is(err, store.ErrStale) {
			return r, "", "", false, nil
		}
		return r, role, StateExecuting, err == nil, err
	}
	if _, busy := g.claimed.LoadOrStore(id, struct{}{}); busy {
		return r, "", "", false, nil // another worker has it
	}
	if v, ok := g.fresh.LoadAndDelete(id); ok {
		// As this process stored it, acknowledged, just before queueing
		// it; only a worker moves an acknowledged request (Cancel takes
		// only pending, held or awaiting ones), and g.claimed keeps
		// workers apart, so it is still acknowledged. The final update
		// checks it all the same.
		r = v.(store.Request)
	} else if r, err = g.st.GetRequest(ctx, id); err != nil || r.State != StateAcknowledged {
		g.claimed.Delete(id)
		return r, "", "", false, err
	}
	r.State = StateExecuting
	r.Attempts++
	if o, ok := g.st.(store.ClaimObserver); ok {
		o.Claimed(ctx, r)
	}
	return r, "", StateAcknowledged, true, nil
}

// startShared resumes work on a shared store: what other processes left
// without a live lease is taken over now, the rest when its lease expires
// (leaseLoop); streams follow other processes' deliveries.
func (g *Gateway) startShared(ctx context.Context) error {
	if err := g.reclaim(ctx); err != nil {
		return err
	}
	g.wg.Add(3)
	go func() {
		defer g.wg.Done()
		g.leaseLoop(ctx)
	}()
	go func() {
		defer g.wg.Done()
		if w, ok := store.As[store.DeliveryWatcher](g.st); ok {
			if err := w.WatchDeliveries(ctx, g.notifyUsers); err != nil && !errors.Is(err, errors.ErrUnsupported) && ctx.Err() == nil {
				g.log.Error("watching other processes' deliveries", "err", err)
			}
		}
	}()
	go func() {
		defer g.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-g.wall.After(g.cfg.DeliveryPoll):
				g.notifyDeliveries()
			}
		}
	}()
	return nil
}

// leaseLoop renews this process's leases and takes over expired ones.
func (g *Gateway) leaseLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.wall.After(g.cfg.Lease / 3):
		}
		g.leaseRound(ctx)
	}
}

// leaseRound is one round of leaseLoop: leases renewed, expired ones
// taken over, and held requests whose predecessor is done released. A
// successor's release is made by its predecessor's end, or by the
// successor's recheck after its insert; one lost between the two (the
// process stopped, the recheck failed) would otherwise wait for a start.
func (g *Gateway) leaseRound(ctx context.Context) {
	if _, err := g.leaser.RenewLeases(ctx, g.node, g.wall.Now().Add(g.cfg.Lease)); err != nil && ctx.Err() == nil {
		g.log.Error("renewing leases", "err", err)
	}
	if err := g.reclaim(ctx); err != nil && ctx.Err() == nil {
		g.log.Error("reclaiming expired leases", "err", err)
	}
	if err := g.releaseHeld(ctx); err != nil && ctx.Err() == nil {
		g.log.Error("releasing held requests", "err", err)
	}
}

// reclaim takes over the requests whose leases expired and queues them.
func (g *Gateway) reclaim(ctx context.Context) error {
	now := g.wall.Now()
	ids, err := g.leaser.ReclaimRequests(ctx, g.node, now, now.Add(g.cfg.Lease))
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		g.log.Info("took over requests whose lease expired", "count", len(ids))
	}
	for _, id := range ids {
		g.enqueue(id)
	}
	return nil
}

// releaseLeases gives up the leases of the work this process stopped in
// the middle (Close), so that another process takes it over at once.
func (g *Gateway) releaseLeases() {
	if g.leaser == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := g.leaser.RenewLeases(ctx, g.node, time.Time{}); err != nil {
		g.log.Warn("handing over leases", "err", err)
	}
}

// submitNumbered runs submit, and when the gateway numbered the request
// (the user sent no Request ID) and the number it took turns out used,
// numbers it again and retries: the per-user lock that orders numbering
// is per process, so a process sharing the store may take the same
// counter at the same moment, and the user did not choose it. Of two
// processes numbering one user's requests at once, each try loses about
// half the time: 64 tries make a refusal as good as impossible.
func (g *Gateway) submitNumbered(ctx context.Context, caller string, req *engine.Request,
	submit func(context.Context, string, *engine.Request) (store.Request, error)) (store.Request, error) {
	numbered := req.RequestID == ""
	for try := 1; ; try++ {
		r, err := submit(ctx, caller, req)
		if err != nil || !numbered || try == 64 || r.State != StateRejected || r.Reason != string(dcc.ReasonReplay) {
			return r, err
		}
		req.RequestID = ""
	}
}

// DefaultLease is Config.Lease's default: a third of the shortest on-demand
// Target Response Time of the spec (10 s of 30 s). The work of a process
// that dies is taken over once its lease, renewed every third of one, has
// run out and another's next round (a third) comes: within two thirds of
// the target at worst, leaving a third to run it again.
func DefaultLease(sp *spec.Spec) time.Duration {
	shortest := time.Duration(0)
	if sp != nil {
		for _, s := range sp.Services {
			if s.OnDemand != nil && s.OnDemand.Std() > 0 && (shortest == 0 || s.OnDemand.Std() < shortest) {
				shortest = s.OnDemand.Std()
			}
		}
	}
	if shortest == 0 {
		return 10 * time.Second // no on-demand target to go by
	}
	return shortest / 3
}
