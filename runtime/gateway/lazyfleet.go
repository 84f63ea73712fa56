package gateway

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/devices/parking"
	"github.com/dccgate/dccgate/runtime/store"
)

// An inventory too large to emulate whole (above Config.EagerFleet) is
// emulated lazily: a premises (a Communications Hub and its devices) joins
// the emulated fleet when a Command first reaches one of its devices, with
// the state the inventory gives it. At most Config.LiveHubs premises are
// in memory; the least recently used beyond that are parked (Fleet.Park)
// in a temporary file and come back, as they were, at their next Command.
// So the gateway's memory is bounded however many premises requests reach.

type emu struct {
	fleet *devices.Fleet
	wan   *devices.SMWAN
	// lazy is set when the inventory was too large to emulate whole:
	// devices are added on first contact.
	lazy bool
	// live is the most premises kept in memory; parkDir is where the lot
	// of the others goes.
	live    int
	parkDir string

	// matMu guards what follows. premises maps each device of a live
	// premises, and the premises' key, to it; lru orders the live
	// premises, the most recently used first; lot holds the parked ones
	// (nil until the first is parked).
	matMu    sync.Mutex
	premises map[string]*premises
	lru      list.List
	lot      *parking.Lot
	closed   bool
}

// premises is one live premises of a lazy fleet.
type premises struct {
	// key is its hub's Device ID, or for a device with no hub its own.
	key string
	// ids are its entries in emu.premises: its devices and its key (which
	// Park passes over if no device has it).
	ids []string
	// pins counts the operations using its devices now: a pinned premises
	// is not parked.
	pins int
	at   *list.Element
}

// DefaultLiveHubs is Config.LiveHubs' default: at about 5 KB a premises,
// some 50 MB of emulated devices.
const DefaultLiveHubs = 10_000

func noRelease() {}

// materialise makes sure, in a lazy fleet, that device id's Communications
// Hub and every device on it are emulated: back from the lot if parked,
// else with the state the inventory gives them. A device the inventory
// does not hold is left out, as in an eager fleet. The premises stays in
// memory until release is called, which the caller must do once it has
// done with the devices.
func (g *Gateway) materialise(ctx context.Context, id string) (release func(), err error) {
	e := g.em()
	if !e.lazy || id == "" {
		return noRelease, nil
	}
	e.matMu.Lock()
	defer e.matMu.Unlock()
	if e.closed {
		return noRelease, errors.New("the emulated fleet was replaced")
	}
	if p := e.premises[id]; p != nil {
		return e.pin(p), nil
	}
	d, err := g.st.GetDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return noRelease, nil
	}
	if err != nil {
		return nil, err
	}
	key := d.CHF
	if d.Type == "CHF" || key == "" {
		key = d.ID
	}
	p := e.premises[key]
	if p == nil {
		if p, err = g.bringIn(ctx, e, key, d); err != nil {
			return nil, err
		}
		p.at = e.lru.PushFront(p)
		e.name(p, key)
		for _, m := range p.ids {
			e.name(p, m)
		}
	} else if _, ok := e.fleet.Get(d.ID); !ok {
		// Added to the inventory since its hub came in.
		if err := g.addToFleet(ctx, d); err != nil {
			return nil, err
		}
	}
	e.name(p, id)
	release = e.pin(p)
	if err := e.parkOver(); err != nil {
		g.log.Warn("parking emulated premises", "err", err)
	}
	return release, nil
}

// bringIn emulates premises key of e, which d is part of (under matMu):
// the parked devices, then those of the inventory not among them.
func (g *Gateway) bringIn(ctx context.Context, e *emu, key string, d store.Device) (*premises, error) {
	p := &premises{key: key}
	if e.lot != nil {
		b, ok, err := e.lot.Get(key)
		if err != nil {
			return nil, err
		}
		if ok {
			if p.ids, err = e.fleet.Unpark(b); err != nil {
				return nil, err
			}
			// Out of the lot once back in the fleet, not before: a copy
			// that failed to come back is not lost.
			if err := e.lot.Delete(key); err != nil {
				return nil, err
			}
		}
	}
	devs := []store.Device{d}
	if key != d.ID || d.Type == "CHF" {
		var err error
		if devs, err = g.st.Devices(ctx, store.DeviceFilter{CHF: key}); err != nil {
			return nil, err
		}
		if h, err := g.st.GetDevice(ctx, key); err == nil {
			devs = append([]store.Device{h}, devs...)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	var add []store.Device
	for _, m := range devs {
		if slices.Contains(p.ids, m.ID) || e.premises[m.ID] != nil {
			continue
		}
		if _, ok := e.fleet.Get(m.ID); !ok {
			add = append(add, m)
		}
		p.ids = append(p.ids, m.ID)
	}
	regs := g.premisesRegistration(ctx, add, devs)
	for i, m := range add {
		if err := addToFleetWith(e.fleet, m, regs[i]); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// premisesRegistration is registrationFor for each of add, devices of the
// premises group (its hub and the devices on it), with one read of the
// Registration Data for them all: a device's own, its meter's or its hub's
// meters' MPxNs are found in group. A read that fails leaves them without
// (as addToFleet does).
func (g *Gateway) premisesRegistration(ctx context.Context, add, group []store.Device) [][]store.Registration {
	device := func(id string) (store.Device, error) {
		for _, d := range group {
			if d.ID == id {
				return d, nil
			}
		}
		return g.st.GetDevice(ctx, id)
	}
	onHub := func(chf string) ([]store.Device, error) {
		var out []store.Device
		for _, d := range group {
			if d.CHF == chf {
				out = append(out, d)
			}
		}
		// In the store's order (by ID): the first registration found
		// gives a credential.
		slices.SortFunc(out, func(a, b store.Device) int { return strings.Compare(a.ID, b.ID) })
		return out, nil
	}
	related := make([][]string, len(add))
	var all []string
	for i, d := range add {
		related[i], _ = relatedMPxNs(d, device, onHub)
		all = append(all, related[i]...)
	}
	out := make([][]store.Registration, len(add))
	if len(all) == 0 {
		return out
	}
	regs, err := g.st.Registrations(ctx, all, g.clk.Now())
	if err != nil {
		return out
	}
	byMPxN := make(map[string]store.Registration, len(regs))
	for _, r := range regs {
		byMPxN[r.MPxN] = r
	}
	for i, ms := range related {
		for _, m := range ms {
			if r, ok := byMPxN[m]; ok {
				out[i] = append(out[i], r)
			}
		}
	}
	return out
}

// pin keeps p in memory until the returned func is called (under matMu).
func (e *emu) pin(p *premises) func() {
	p.pins++
	e.lru.MoveToFront(p.at)
	var once sync.Once
	return func() {
		once.Do(func() {
			e.matMu.Lock()
			defer e.matMu.Unlock()
			p.pins--
			if p.pins == 0 && e.lru.Len() > e.live && !e.closed {
				_ = e.parkOver() // kept over the limit while in use
			}
		})
	}
}

// parkOver parks the least recently used premises not in use until no
// more than live are in memory (under matMu).
func (e *emu) parkOver() error {
	for el := e.lru.Back(); el != nil && e.lru.Len() > e.live; {
		prev := el.Prev()
		if p := el.Value.(*premises); p.pins == 0 {
			if err := e.park(p); err != nil {
				return err
			}
		}
		el = prev
	}
	return nil
}

func (e *emu) park(p *premises) error {
	if e.lot == nil {
		lot, err := parking.Open(e.parkDir)
		if err != nil {
			return err
		}
		e.lot = lot
	}
	b, err := e.fleet.Park(p.ids)
	if err != nil {
		return err
	}
	if err := e.lot.Put(p.key, b); err != nil {
		if _, uerr := e.fleet.Unpark(b); uerr != nil {
			return fmt.Errorf("%w; and putting the premises back: %w", err, uerr)
		}
		return err
	}
	e.lru.Remove(p.at)
	for _, id := range p.ids {
		if e.premises[id] == p {
			delete(e.premises, id)
		}
	}
	return nil
}

// name enters p in premises under id (under matMu).
func (e *emu) name(p *premises, id string) {
	e.premises[id] = p
	if !slices.Contains(p.ids, id) {
		p.ids = append(p.ids, id)
	}
}

// refile puts inventory device d in the emulated fleet afresh (addToFleet)
// where its inventory entry changed (a new device, a device moved to
// another hub by 8.12): in a lazy fleet it is first taken out of the
// premises it was filed under, so that it goes with its hub from now on
// (its next Command files it there again).
func (g *Gateway) refile(ctx context.Context, d store.Device) error {
	e := g.em()
	if e.lazy {
		e.matMu.Lock()
		if p := e.premises[d.ID]; p != nil && p.key != d.ID { // a hub keys its own premises
			p.ids = slices.DeleteFunc(p.ids, func(id string) bool { return id == d.ID })
			delete(e.premises, d.ID)
		}
		e.matMu.Unlock()
	}
	return g.addToFleet(ctx, d)
}

// close removes the lot; the fleet was replaced or the gateway closed.
func (e *emu) close() {
	e.matMu.Lock()
	defer e.matMu.Unlock()
	e.closed = true
	if e.lot != nil {
		_ = e.lot.Close()
		e.lot = nil
	}
}
