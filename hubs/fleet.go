package hubs

import (
	"context"
	"fmt"
	"sync"

	"github.com/dccgate/dccgate/clock"
)

// Fleet records a hub world as it happens on a clock: each event is dated
// by the clock, and a month's charges are given only once it has ended. It
// is what the gateway will feed; tests drive it on a virtual clock. It is
// safe for concurrent use.
type Fleet struct {
	clock clock.Clock
	mu    sync.Mutex
	w     World
}

// NewFleet returns an empty fleet on c.
func NewFleet(c clock.Clock) *Fleet { return &Fleet{clock: c} }

func (f *Fleet) today() string { return f.clock.Now().Format(dateLayout) }

// Forecast records a Supplier's forecast for a month.
func (f *Fleet) Forecast(fc Forecast) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.w.Forecasts = append(f.w.Forecasts, fc)
}

// Order records an order placed today.
func (f *Fleet) Order(o Order) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o.OrderedOn = f.today()
	o.Delivery, o.Deliveries = nil, nil
	f.w.Orders = append(f.w.Orders, o)
}

// Deliver records today's delivery of an order's hubs: all of them, or a
// part. Parts are taken until the order is delivered (all the hubs it
// orders are), and none takes a variant past the quantity ordered.
func (f *Fleet) Deliver(order string, hubs ...DeliveredHub) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.w.Orders {
		o := &f.w.Orders[i]
		if o.ID != order {
			continue
		}
		if len(hubs) == 0 {
			return fmt.Errorf("a delivery of order %s needs at least one hub", order)
		}
		ordered, total := map[string]int{}, 0
		for _, l := range o.Lines {
			var err error
			if total, err = AddQuantity(total, l.Quantity); err != nil {
				return fmt.Errorf("order %s: %w", order, err)
			}
			ordered[l.Variant] += l.Quantity
		}
		got := map[string]int{}
		before := o.DeliveredHubs()
		for _, h := range before {
			got[h.Variant]++
		}
		if len(before) >= total {
			return fmt.Errorf("order %s is delivered: all its %d hubs", order, total)
		}
		for _, h := range hubs {
			if got[h.Variant]++; got[h.Variant] > ordered[h.Variant] {
				return fmt.Errorf("order %s: more hubs of variant %q than the %d ordered", order, h.Variant, ordered[h.Variant])
			}
		}
		d := Delivery{Date: f.today(), Hubs: append([]DeliveredHub(nil), hubs...)}
		switch {
		case len(before) == 0:
			o.Delivery = &d
		default: // a further part: the parts are listed in Deliveries
			o.Deliveries = append(o.Delivered(), d)
			o.Delivery = nil
		}
		return nil
	}
	return fmt.Errorf("no order %s", order)
}

// Install records today's installation of a hub, its CHF commissioned at
// once if commissioned is set.
func (f *Fleet) Install(hub, supplier, premises string, commissioned bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := Install{Hub: hub, Supplier: supplier, InstalledOn: f.today(), Premises: premises}
	if commissioned {
		in.CommissionedOn = in.InstalledOn
	}
	f.w.Installs = append(f.w.Installs, in)
}

// Commission records today's commissioning of an installed hub's CHF.
func (f *Fleet) Commission(hub string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.w.Installs {
		if f.w.Installs[i].Hub == hub {
			f.w.Installs[i].CommissionedOn = f.today()
			return nil
		}
	}
	return fmt.Errorf("hub %s is not installed", hub)
}

// Remove records today's removal of a hub.
func (f *Fleet) Remove(r Removal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Date = f.today()
	f.w.Removals = append(f.w.Removals, r)
}

// Market records a month's market data.
func (f *Fleet) Market(m Market) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.w.Market = append(f.w.Market, m)
}

// Unpaid records that a party did not pay its invoice of a month.
func (f *Fleet) Unpaid(party string, m Month, invoice string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.w.Defaults = append(f.w.Defaults, Default{Party: party, Month: m.String(), Invoice: invoice})
}

// World returns a copy of what has been recorded.
func (f *Fleet) World() *World {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.w
	w.Orders = append([]Order(nil), f.w.Orders...)
	for i := range w.Orders {
		w.Orders[i].Deliveries = append([]Delivery(nil), w.Orders[i].Deliveries...)
	}
	w.Forecasts = append([]Forecast(nil), f.w.Forecasts...)
	w.Installs = append([]Install(nil), f.w.Installs...)
	w.Removals = append([]Removal(nil), f.w.Removals...)
	w.Market = append([]Market(nil), f.w.Market...)
	w.Defaults = append([]Default(nil), f.w.Defaults...)
	return &w
}

// Charges returns the statement of m, refused with ErrMonthOpen until m has
// ended on the fleet's clock.
func (f *Fleet) Charges(ctx context.Context, e *Engine, m Month) (*Statement, error) {
	b, err := e.Open(ctx, f.World())
	if err != nil {
		return nil, err
	}
	return b.Charges(m, f.clock.Now())
}
