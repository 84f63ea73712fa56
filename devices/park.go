package devices

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// A fleet of millions of devices does not fit in memory, and most of it is
// idle at any moment. Park takes devices out of the fleet with their whole
// state, as bytes the caller keeps (on disk); Unpark puts them back as they
// were. Time does not stop while a device is parked: on its return it
// catches up (registers, credit, daily logs) at its first Command or Tick,
// as after a jump of a virtual clock, so what it raises on the way (A10,
// A11) is raised then.

// parked is a device as Park writes it: every field of device except the
// MAC key, which is derived again from the fleet's master key when needed.
// TestParkedHoldsEveryField fails when device gains a field this misses.
type parked struct {
	State            DeviceState
	Class            string
	Seed             uint64
	AccruedTo        time.Time
	WasFlowing       bool
	Off              []parkedPeriod `json:",omitempty"`
	LowAlerted       bool           `json:",omitempty"`
	DisabledByCredit bool           `json:",omitempty"`
	SlotIdx          int64
	SlotWh           float64
	PrevDaily        float64
	PrevBilling      float64
	UTRNs            []string `json:",omitempty"`
	CINs             int      `json:",omitempty"`
}

type parkedPeriod struct{ From, To time.Time }

func toParked(d *device) parked {
	p := parked{
		State: d.DeviceState, Class: d.class, Seed: d.seed, AccruedTo: d.accruedTo, WasFlowing: d.wasFlowing,
		LowAlerted: d.lowAlerted, DisabledByCredit: d.disabledByCredit, SlotIdx: d.slotIdx, SlotWh: d.slotWh,
		PrevDaily: d.prevDaily, PrevBilling: d.prevBilling, UTRNs: d.utrns, CINs: d.cins,
	}
	for _, o := range d.off {
		p.Off = append(p.Off, parkedPeriod{o.from, o.to})
	}
	return p
}

func (p parked) device() *device {
	d := &device{
		DeviceState: p.State, class: p.Class, seed: p.Seed, accruedTo: p.AccruedTo, wasFlowing: p.WasFlowing,
		lowAlerted: p.LowAlerted, disabledByCredit: p.DisabledByCredit, slotIdx: p.SlotIdx, slotWh: p.SlotWh,
		prevDaily: p.PrevDaily, prevBilling: p.PrevBilling, utrns: p.UTRNs, cins: p.CINs,
	}
	for _, o := range p.Off {
		d.off = append(d.off, period{o.From, o.To})
	}
	return d
}

// Park takes the devices ids (those of them in the fleet) out of the fleet
// and returns their state for Unpark. On an error the fleet is unchanged.
func (f *Fleet) Park(ids []string) ([]byte, error) {
	f.mu.Lock()
	var ps []parked
	for _, id := range ids {
		if d := f.devices[id]; d != nil {
			ps = append(ps, toParked(d))
			delete(f.devices, id)
		}
	}
	if len(ps) > 0 {
		f.order = nil
	}
	f.mu.Unlock()
	// Out of the fleet, the devices are this call's alone: encoding them
	// holds no Command up.
	b, err := encodeParked(ps)
	if err != nil {
		f.put(ps)
		return nil, fmt.Errorf("devices: parking %v: %w", ids, err)
	}
	return b, nil
}

// Unpark puts back the devices Park returned and says which it put back. A
// device the fleet has again meanwhile (added anew while parked) keeps its
// new state: the parked one is dropped.
func (f *Fleet) Unpark(b []byte) ([]string, error) {
	ps, err := decodeParked(b)
	if err != nil {
		return nil, fmt.Errorf("devices: unparking: %w", err)
	}
	return f.put(ps), nil
}

// put adds the devices of ps the fleet does not have and returns their IDs.
func (f *Fleet) put(ps []parked) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, p := range ps {
		if p.State.ID == "" || f.devices[p.State.ID] != nil {
			continue
		}
		f.devices[p.State.ID] = p.device()
		ids = append(ids, p.State.ID)
	}
	if len(ids) > 0 {
		f.order = nil
	}
	return ids
}

// A flate writer holds about a megabyte: made for every premises parked,
// they were a quarter of a large gateway's heap.
var (
	writers = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
	readers sync.Pool
)

func encodeParked(ps []parked) ([]byte, error) {
	var buf bytes.Buffer
	zw := writers.Get().(*flate.Writer)
	defer writers.Put(zw)
	zw.Reset(&buf)
	if err := json.NewEncoder(zw).Encode(ps); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeParked(b []byte) ([]parked, error) {
	var zr io.ReadCloser
	if r, ok := readers.Get().(io.ReadCloser); ok {
		if err := r.(flate.Resetter).Reset(bytes.NewReader(b), nil); err == nil {
			zr = r
		}
	}
	if zr == nil {
		zr = flate.NewReader(bytes.NewReader(b))
	}
	defer readers.Put(zr)
	var ps []parked
	if err := json.NewDecoder(zr).Decode(&ps); err != nil {
		return nil, err
	}
	return ps, nil
}
