package sqlstore

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// Changes is a signal the processes sharing one database file share:
// every write of the inventory (devices, registration data) marks it
// before it begins (Begin: an odd token) and bumps it once committed
// (Bump: a new even token). A cache reading a token it has not seen keeps
// nothing it held, and while the token is odd it keeps nothing it reads:
// so a writer that dies between its commit and its bump leaves the other
// processes reading the database, not a cache of what it changed. SQLite:
// a small file beside the database (see package sqlite).
type Changes interface {
	Token() (uint64, error)
	Begin() error
	Bump() error
}

// invCacheMax bounds each map of the cache (entries of a few hundred
// bytes): past it that map starts again. A national fleet does not fit;
// the part in use does.
const invCacheMax = 1 << 16

// invCache keeps inventory entries read by ID and each MPxN's registration
// records (Config.CacheInventory). Every submission reads its device and
// the registration of its MPxNs, often more than once, and both change
// rarely (commissioning, a change of status, a registration file).
//
// Every write of this store that changes them drops the whole cache once
// it has committed (writeInventory's done) and moves gen, so that a read that
// overlapped a write is not kept; it also bumps changes, and every read
// first compares the shared token with the one the cache was filled under,
// so a write by another process (dccgate registration) is seen by the
// next read after it. A read whose token cannot be read keeps nothing.
type invCache struct {
	changes Changes // nil: no other process opens the database

	mu    sync.Mutex
	gen   uint64
	token uint64
	devs  map[string]store.Device
	regs  map[string][]store.Registration // by effective_from; empty: none
	// lists keeps the answers of Devices to narrow filters (a hub's
	// devices, an MPxN's meters): every alert asks them to know whether
	// its system is Enrolled (para 138).
	lists map[listKey][]store.Device
	// writing counts this store's writes of the inventory under way: the
	// shared token goes even only when the last ends, so one write's end
	// does not clear another's mark.
	writing int
}

// check compares the shared token with the cache's, dropping everything on
// a change, and returns the generation a read starting now must still see
// to keep what it read; keep is false when nothing may be kept.
func (c *invCache) check() (gen uint64, keep bool) {
	var tok uint64
	keep = true
	if c.changes != nil {
		var err error
		tok, err = c.changes.Token()
		keep = err == nil && tok&1 == 0 // odd: a write is under way
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !keep || tok != c.token {
		c.token = tok
		c.dropLocked()
	}
	return c.gen, keep
}

// readThrough is a read through the cache of one answer: the token is
// checked before the cache is looked in (cached), and what read gets from
// the database is kept (put) only if no write of the inventory overlapped
// it (gen unchanged, the token even).
func readThrough[V any](c *invCache, cached func() (V, bool), read func() (V, error), put func(V, uint64)) (V, error) {
	gen, keep := c.check()
	if v, ok := cached(); ok {
		return v, nil
	}
	v, err := read()
	if err == nil && keep {
		put(v, gen)
	}
	return v, err
}

func (c *invCache) dropLocked() {
	c.gen++
	clear(c.devs)
	clear(c.regs)
	clear(c.lists)
}

// listKey is a DeviceFilter the cache keeps the answer to.
type listKey struct{ chf, meter, mpxn, typ string }

// listKeyOf returns f's key, if its answer may be kept: a filter by hub,
// meter or MPxN (not a list of IDs, a limit, or every device of a type).
func listKeyOf(f store.DeviceFilter) (listKey, bool) {
	if len(f.IDs) > 0 || f.Limit > 0 || (f.CHF == "" && f.Meter == "" && f.MPxN == "") {
		return listKey{}, false
	}
	return listKey{chf: f.CHF, meter: f.Meter, mpxn: f.MPxN, typ: f.Type}, true
}

// list returns a copy of the devices kept for k.
func (c *invCache) list(k listKey) ([]store.Device, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ds, ok := c.lists[k]
	return slices.Clone(ds), ok
}

func (c *invCache) putList(k listKey, ds []store.Device, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.lists == nil || len(c.lists) >= invCacheMax {
		c.lists = make(map[listKey][]store.Device)
	}
	kept := make([]store.Device, len(ds))
	for i, d := range ds {
		kept[i] = compact(d)
	}
	c.lists[k] = kept
}

func (c *invCache) device(id string) (store.Device, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.devs[id]
	return d, ok
}

func (c *invCache) putDevice(d store.Device, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.devs == nil || len(c.devs) >= invCacheMax {
		c.devs = make(map[string]store.Device)
	}
	c.devs[d.ID] = compact(d)
}

// compact is d with its strings in one allocation. The driver gives each
// column a string of its own: seven objects a cached device that the
// collector marks at every cycle, and the time its marking takes is what
// the slowest requests wait on.
func compact(d store.Device) store.Device {
	all := d.ID + d.Type + d.Status + d.MPxN + d.CHF + d.Meter + d.Credentials
	cut := func(s string) string {
		v := all[:len(s)]
		all = all[len(s):]
		return v
	}
	d.ID = cut(d.ID)
	d.Type = cut(d.Type)
	d.Status = cut(d.Status)
	d.MPxN = cut(d.MPxN)
	d.CHF = cut(d.CHF)
	d.Meter = cut(d.Meter)
	d.Credentials = cut(d.Credentials)
	return d
}

// histories returns the cached records of mpxns and the MPxNs not cached.
func (c *invCache) histories(mpxns []string) (map[string][]store.Registration, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	found := make(map[string][]store.Registration, len(mpxns))
	var missing []string
	for _, m := range mpxns {
		if _, done := found[m]; done || slices.Contains(missing, m) {
			continue
		}
		if h, ok := c.regs[m]; ok {
			found[m] = h
		} else {
			missing = append(missing, m)
		}
	}
	return found, missing
}

// putHistories keeps the records read for mpxns (none for an MPxN absent
// from read).
func (c *invCache) putHistories(mpxns []string, read map[string][]store.Registration, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.regs == nil || len(c.regs)+len(mpxns) > invCacheMax {
		c.regs = make(map[string][]store.Registration)
	}
	for _, m := range mpxns {
		h := read[m]
		if h == nil {
			h = []store.Registration{}
		}
		c.regs[m] = h
	}
}

// pickInEffect picks from each MPxN's records (by effective_from) the one in
// effect at `at`, in the order of mpxns, each MPxN once: what the query
// with inEffect answers.
func pickInEffect(mpxns []string, hist map[string][]store.Registration, at time.Time) []store.Registration {
	out := make([]store.Registration, 0, len(mpxns))
	seen := make(map[string]bool, len(mpxns))
	for _, m := range mpxns {
		if seen[m] {
			continue
		}
		seen[m] = true
		h := hist[m]
		for i := len(h) - 1; i >= 0; i-- {
			if !h[i].EffectiveFrom.After(at) {
				out = append(out, h[i])
				break
			}
		}
	}
	return out
}

// writeInventory is called before every write that may change devices or
// registration data, and what it returns after it, with or without error
// (a failed commit changed nothing, and dropping is always safe).
func (s *Store) writeInventory() (done func()) {
	c := s.inv
	if c == nil {
		return func() {}
	}
	c.mu.Lock()
	c.writing++
	if c.changes != nil {
		_ = c.changes.Begin() // best effort, as Bump
	}
	c.mu.Unlock()
	return func() {
		// Under mu, so that the token's writes follow the count's order.
		c.mu.Lock()
		defer c.mu.Unlock()
		c.dropLocked()
		c.writing--
		if c.changes == nil {
			return
		}
		if c.writing > 0 {
			_ = c.changes.Begin() // moved (this write is seen), still marked
			return
		}
		_ = c.changes.Bump() // best effort: a lost bump leaves other processes' caches stale
	}
}

// registrationHistories reads every record of mpxns, by effective_from.
func (s *Store) registrationHistories(ctx context.Context, mpxns []string) (map[string][]store.Registration, error) {
	recs, err := s.RegistrationHistory(ctx, mpxns)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]store.Registration, len(mpxns))
	for _, r := range recs {
		out[r.MPxN] = append(out[r.MPxN], r.Registration)
	}
	return out, nil
}
