package devices

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// FuzzExecute feeds random service keys, roles, signers and bodies to every
// device type: the device must answer, never panic, and a failure must carry
// one of the two reasons.
func FuzzExecute(f *testing.F) {
	sp := spec.MustDefault()
	for _, svc := range sp.Services {
		b, _ := json.Marshal(exampleBody(svc))
		f.Add(svc.Key(), uint8(0), "EIS", true, string(b), uint16(0))
	}
	f.Add("2.2", uint8(2), "GIS", false, `{"utrn":7,"amount_pence":-1e308}`, uint16(3))
	f.Add("4.8", uint8(2), "OU", false, `{"from":"0001-01-01T00:00:00Z","to":"9999-12-31T23:59:59Z"}`, uint16(9000))
	f.Add("8.11", uint8(0), "EIS", false, `{"add":[1,2,null],"remove":"x"}`, uint16(1))
	f.Add("1.1/credit", uint8(2), "EIS", false, `{"tou_blocks":1e300,"tariff_name":null}`, uint16(0))
	f.Add("", uint8(9), "", false, `null`, uint16(0))
	types := []string{TypeCHF, TypeESME, TypeGSME, TypeGPF, TypePPMID, TypeHCALCS, TypeIHD}
	f.Fuzz(func(t *testing.T, service string, typ uint8, role string, signed bool, body string, hours uint16) {
		e := newEnv(t)
		var b map[string]any
		_ = json.Unmarshal([]byte(body), &b)
		dev := byType[types[int(typ)%len(types)]]
		cmd := Command{Service: service, Device: dev, Sender: users[role], SenderRole: role, Critical: signed, Body: b}
		signer := ""
		if signed {
			signer = users[role]
		}
		r := e.f.Execute(seal(cmd, signer))
		if !r.OK && r.Reason != ReasonError && r.Reason != ReasonRejected {
			t.Fatalf("reason %q", r.Reason)
		}
		if r.OK {
			if msg := jsonFriendly(r.Data); msg != "" {
				t.Fatalf("data %s", msg)
			}
		}
		e.clk.Advance(time.Duration(hours) * time.Hour)
		for _, k := range EventKinds() {
			_ = e.f.Event(dev, k)
		}
		if _, ok := e.f.Get(dev); !ok {
			t.Fatal("device vanished")
		}
	})
}

// TestConcurrentUse runs commands, events, reads and clock advances from
// many goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk, WithLoss(0.1))
	sp := spec.MustDefault()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, svc := range sp.Services {
				if !svc.DeviceService || svc.Alert || len(svc.Targets) == 0 {
					continue
				}
				dev := byType[svc.Targets[(g+i)%len(svc.Targets)]]
				cmd := Command{Service: svc.Key(), Device: dev, Sender: users["EIS"], SenderRole: "EIS", Critical: svc.Critical, Body: exampleBody(svc)}
				cmd = seal(cmd, users["EIS"])
				if g%2 == 0 {
					e.f.Execute(cmd)
				} else {
					_, _ = w.Send(t.Context(), cmd)
				}
				_ = e.f.Event(dev, EventKinds()[(g+i)%len(EventKinds())])
				e.f.Get(dev)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 50 {
			e.clk.Advance(17 * time.Minute)
			e.f.Tick()
		}
	}()
	wg.Wait()
}
