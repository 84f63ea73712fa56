package sqlstore

import (
	"sync"

	"github.com/dccgate/dccgate/runtime/store"
)

// devCacheMax bounds the cached entries (about 300 bytes each): past it the
// cache starts again. A national fleet does not fit; the devices in use do.
const devCacheMax = 1 << 16

// devCache keeps inventory entries read by ID (Config.CacheDevices). Every
// submission and execution reads its device, often more than once, and an
// entry changes rarely (commissioning, a change of status or supplier).
//
// Every write of this store that changes devices drops the whole cache
// once it has committed (dropDevices), and moves gen, so that a read that
// overlapped a write is not kept: the copy is always what the store held
// at some moment within the read. Rejections (ErrNotFound) are not kept.
type devCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]store.Device
}

// get returns a cached entry, or the generation a read starting now must
// still see to keep what it read.
func (c *devCache) get(id string) (store.Device, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[id]
	return d, c.gen, ok
}

// put keeps d if no write of devices committed since gen.
func (c *devCache) put(d store.Device, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if c.m == nil || len(c.m) >= devCacheMax {
		c.m = make(map[string]store.Device)
	}
	c.m[d.ID] = d
}

// drop forgets every entry.
func (c *devCache) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}

// dropDevices is called after every write that may change devices (with
// or without error: a failed commit changed nothing, and dropping is
// always safe).
func (s *Store) dropDevices() {
	if s.devs != nil {
		s.devs.drop()
	}
}
