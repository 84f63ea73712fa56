//go:build unix

package gateway_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/procstat"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// BenchmarkRequest is the gateway's own work for a request, without the
// API in front of it: a register read submitted, checked, stored
// (durably, before Submit returns), executed on the emulated meter, and
// its Service Response stored with its delivery, from 64 callers of 16
// suppliers over 256 meters on the embedded store, the gateway's default
// 64 workers. The time and cpu-us/op (the process's CPU) run until the
// last response is stored; beside BenchmarkProtocolFloor (runtime/api) it
// splits a request's cost in `dccgate load` between the API and the rest.
// write-B/op is what the process wrote (the WAL's frames and the
// checkpoints' copies of them into the database file).
func BenchmarkRequest(b *testing.B) {
	const suppliers, meters = 16, 16 // meters a supplier
	w := newWorldConfig(b, func(c *gateway.Config) { c.Workers = 64 }, nil)
	var world gateway.World
	users := make([]string, suppliers)
	devices := make([][]string, suppliers)
	for u := range suppliers {
		users[u] = fmt.Sprintf("00-00-00-00-00-00-0A-%02X", u+0x10)
		world.Users = append(world.Users, store.User{ID: users[u], Role: "EIS", Party: users[u]})
		for m := range meters {
			n := u*meters + m
			hub, meter, mpxn := fmt.Sprintf("00-DB-00-00-02-%02X-C0-00", n), fmt.Sprintf("00-DB-00-00-02-%02X-E0-00", n), fmt.Sprintf("1900000002%03d", n)
			world.Registration = append(world.Registration, store.Registration{MPxN: mpxn, Fuel: "electricity", ImportSupplier: users[u],
				NetworkOperator: networkOperator, Postcode: "LS1 1AA", Premises: fmt.Sprint(n)})
			world.Inventory = append(world.Inventory, store.Device{ID: hub, Type: "CHF", Status: "commissioned"},
				store.Device{ID: meter, Type: "ESME", Status: "commissioned", MPxN: mpxn, CHF: hub})
			devices[u] = append(devices[u], meter)
		}
	}
	ctx := b.Context()
	if err := w.g.Reset(ctx, world); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(32) // 64 callers on two cores
	cpu0 := procstat.CPU()
	w0 := procstat.Written()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			u := i % suppliers
			req := engine.Request{UserID: users[u], DeviceID: devices[u][i/suppliers%meters], Service: "4.1",
				Body: map[string]any{"register": "total"}}
			r, err := w.g.Submit(ctx, users[u], &req)
			if err != nil {
				b.Error(err)
				return
			}
			if r.State != gateway.StateAcknowledged {
				b.Errorf("%s: %s %s %s", r.ID, r.State, r.Reason, r.Message)
				return
			}
		}
	})
	w.g.WaitIdle(ctx)
	b.StopTimer()
	b.ReportMetric(float64((procstat.CPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	b.ReportMetric(float64(procstat.Written()-w0)/float64(b.N), "write-B/op")
	done, err := w.g.Store().CountRequests(ctx, store.CountFilter{States: []string{gateway.StateAccepted}, ScheduleRuns: true})
	if err != nil {
		b.Fatal(err)
	}
	if done < b.N {
		b.Fatalf("%d of %d requests completed", done, b.N)
	}
}
