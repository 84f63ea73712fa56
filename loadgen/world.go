// Package loadgen generates load for a gateway through its public API: a
// world of many users in every role and N enrolled Smart Metering Systems
// (seeded straight into a store with bulk inserts), and a driver that sends
// a mix of Service Requests at a target rate (open loop) or concurrency
// (closed loop), completes critical ones with real signatures, and measures
// each request from submission until its Service Response arrives on the
// user's stream.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// World is a load world: Systems enrolled Smart Metering Systems on dual
// fuel premises (an electricity and a gas system on one Communications Hub:
// CHF, GPF, ESME, GSME, an IHD, and a PPMID at every other premises), with
// Suppliers supplier companies, each an Electricity Import Supplier and a
// Gas Import Supplier, sharing the premises round robin; and Others users
// of each other role (Export Supplier, Supplier Nominated Agent, the two
// Network Operators, Other User), sharing them the same way, so that each
// premises' Registration Data names one Export Supplier and one Network
// Operator of each fuel.
type World struct {
	Systems   int
	Suppliers int
	// Others is the number of users of each other role (0: one).
	Others int
}

// Premises is the number of premises: two systems each.
func (w World) Premises() int { return (w.Systems + 1) / 2 }

// Users of the world, in a fixed order.
func (w World) Users() []store.User {
	var us []store.User
	for k := range w.suppliers() {
		us = append(us,
			store.User{ID: eisID(k), Role: "EIS", Party: fmt.Sprintf("Load Supplier %d", k)},
			store.User{ID: gisID(k), Role: "GIS", Party: fmt.Sprintf("Load Supplier %d", k)})
	}
	for _, o := range otherRoles {
		for k := range w.others() {
			us = append(us, store.User{ID: otherID(o.kind, k), Role: o.role, Party: fmt.Sprintf("Load %s %d", o.role, k)})
		}
	}
	return us
}

// otherRoles are the roles other than the Import Suppliers', with the
// party-kind byte of their users' IDs.
var otherRoles = []struct{ role, kind string }{
	{"EES", "1C"},
	{"SNA", "1D"},
	{"ENO", "1E"},
	{"GNO", "16"},
	{"OU", "1F"},
}

// otherID is the ID of the k-th user (from 0) of the role whose IDs carry
// kind.
func otherID(kind string, k int) string {
	return fmt.Sprintf("00-00-00-00-00-%s-%02X-%02X", kind, (k+1)>>8&0xff, (k+1)&0xff)
}

// OtherUser is the ID of premises i's user of role, one of the roles other
// than the Import Suppliers' ("" for any other role).
func (w World) OtherUser(role string, i int) string {
	for _, o := range otherRoles {
		if o.role == role {
			return otherID(o.kind, i%w.others())
		}
	}
	return ""
}

// userOf is the ID of premises i's user of role: its Import Supplier of a
// fuel (EIS, GIS: Premise's) or OtherUser's ("" for a role the world has
// no user of).
func (w World) userOf(role string, i int) string {
	switch role {
	case "EIS":
		return eisID(i % w.suppliers())
	case "GIS":
		return gisID(i % w.suppliers())
	}
	return w.OtherUser(role, i)
}

func (w World) suppliers() int { return max(1, w.Suppliers) }
func (w World) others() int    { return max(1, w.Others) }

func eisID(k int) string { return fmt.Sprintf("00-00-00-00-00-1A-%02X-%02X", k>>8&0xff, k&0xff) }
func gisID(k int) string { return fmt.Sprintf("00-00-00-00-00-1B-%02X-%02X", k>>8&0xff, k&0xff) }

// DeviceID is the ID of premises i's device of a kind ("C0" CHF, "6F" GPF,
// "E0" ESME, "6A" GSME, "1D" IHD, "9D" PPMID), numbered as the demo world
// numbers its premises (the same IDs below 65536 premises).
func DeviceID(i int, kind string) string {
	return fmt.Sprintf("00-DB-00-00-%02X-%02X-%s-%02X", i>>16&0xff, i>>8&0xff, kind, i&0xff)
}

// Premise is what one premises holds, for the driver.
type Premise struct {
	ESME, GSME, CHF string
	EIS, GIS        string
}

// Premise returns premises i (1-based).
func (w World) Premise(i int) Premise {
	return Premise{ESME: DeviceID(i, "E0"), GSME: DeviceID(i, "6A"), CHF: DeviceID(i, "C0"), EIS: w.userOf("EIS", i), GIS: w.userOf("GIS", i)}
}

// Validate checks the world fits its ID scheme.
func (w World) Validate() error {
	switch {
	case w.Systems < 1:
		return errors.New("loadgen: the fleet needs at least one system")
	case w.Premises() >= 1<<24:
		return fmt.Errorf("loadgen: at most %d systems", 2*(1<<24-1))
	case w.suppliers() > 1<<16:
		return errors.New("loadgen: at most 65536 suppliers")
	case w.others() >= 1<<16:
		return errors.New("loadgen: at most 65535 users of each other role")
	}
	return nil
}

// premise returns the registration and inventory of premises i.
func (w World) premise(i int, at time.Time, regs []store.Registration, devs []store.Device) ([]store.Registration, []store.Device) {
	p := w.Premise(i)
	gpf := DeviceID(i, "6F")
	mpan, mprn := fmt.Sprintf("19%011d", i), fmt.Sprintf("7%06d", i)
	pc, prem, uprn := fmt.Sprintf("LD%d %dAA", i%100, i/100%10), fmt.Sprint(i), fmt.Sprint(1_000_000+i)
	regs = append(regs,
		store.Registration{MPxN: mpan, Fuel: "electricity", ImportSupplier: p.EIS, ExportSupplier: w.OtherUser("EES", i), NetworkOperator: w.OtherUser("ENO", i), Postcode: pc, Premises: prem, UPRN: uprn},
		store.Registration{MPxN: mprn, Fuel: "gas", ImportSupplier: p.GIS, NetworkOperator: w.OtherUser("GNO", i), Postcode: pc, Premises: prem, UPRN: uprn},
	)
	devs = append(devs,
		store.Device{ID: p.CHF, Type: "CHF", Status: "commissioned", UpdatedAt: at},
		store.Device{ID: gpf, Type: "GPF", Status: "commissioned", CHF: p.CHF, Meter: p.GSME, UpdatedAt: at},
		store.Device{ID: p.ESME, Type: "ESME", Status: "commissioned", MPxN: mpan, CHF: p.CHF, UpdatedAt: at},
		store.Device{ID: p.GSME, Type: "GSME", Status: "commissioned", MPxN: mprn, CHF: p.CHF, UpdatedAt: at},
		store.Device{ID: DeviceID(i, "1D"), Type: "IHD", Status: "commissioned", CHF: p.CHF, Meter: p.ESME, UpdatedAt: at},
	)
	if i%2 == 1 {
		devs = append(devs, store.Device{ID: DeviceID(i, "9D"), Type: "PPMID", Status: "commissioned", CHF: p.CHF, Meter: p.ESME, UpdatedAt: at})
	}
	return regs, devs
}

// SeedStats is what Seed did.
type SeedStats struct {
	Premises, Registrations, Devices int
	Took                             time.Duration
}

// Seed writes the world's registration data and inventory into st with
// bulk inserts (st must be a store.BulkLoader), in chunks so memory stays
// flat, and the users with put (which records their certificates). The
// inventory is stamped at; Registration Data takes effect from the zero
// time (always).
func (w World) Seed(ctx context.Context, st store.Store, users []store.User, at time.Time) (SeedStats, error) {
	start := time.Now()
	if err := w.Validate(); err != nil {
		return SeedStats{}, err
	}
	bl, ok := st.(store.BulkLoader)
	if !ok {
		return SeedStats{}, errors.New("loadgen: the store cannot bulk load")
	}
	for _, u := range users {
		u.Entered = true
		if err := st.PutUser(ctx, u); err != nil {
			return SeedStats{}, err
		}
	}
	var stats SeedStats
	const chunk = 20_000
	regs := make([]store.Registration, 0, 2*chunk)
	devs := make([]store.Device, 0, 6*chunk)
	for lo := 1; lo <= w.Premises(); lo += chunk {
		regs, devs = regs[:0], devs[:0]
		for i := lo; i < lo+chunk && i <= w.Premises(); i++ {
			regs, devs = w.premise(i, at, regs, devs)
		}
		if err := bl.BulkLoad(ctx, regs, devs); err != nil {
			return stats, err
		}
		stats.Premises = min(lo+chunk-1, w.Premises())
		stats.Registrations += len(regs)
		stats.Devices += len(devs)
	}
	stats.Took = time.Since(start)
	return stats, nil
}
