package devices

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

// TestParkedHoldsEveryField: a field added to device must be carried by
// parked too (or be derived again, as the MAC key is), or a parked device
// comes back without it.
func TestParkedHoldsEveryField(t *testing.T) {
	carried := []string{"DeviceState", "class", "seed", "accruedTo", "wasFlowing", "off", "lowAlerted",
		"disabledByCredit", "slotIdx", "slotWh", "prevDaily", "prevBilling", "utrns", "cins",
		"macKey", "sharedCreds", // derived again; a device put back owns its maps
		"answers", "nextAnswer"} // not carried: a premises is pinned, never parked, while a Command to it is tried again
	var fields []string
	for f := range reflect.TypeFor[device]().Fields() {
		fields = append(fields, f.Name)
	}
	if !slices.Equal(fields, carried) {
		t.Fatalf("device's fields are %v; park.go carries %v: carry the new ones in parked", fields, carried)
	}
}

// TestParkKeepsEverything: a premises parked and put back is as it was,
// and goes on as a premises never parked does: the same registers, credit
// and logs a week later, a UTRN used before parking still refused.
func TestParkKeepsEverything(t *testing.T) {
	parkedEnv, twin := newEnv(t), newEnv(t)
	premises := []string{chf1, esme, gsme, gpf, ppmid, hcalcs, ihd}
	for _, e := range []*env{parkedEnv, twin} {
		e.mustRun("2.2", gsme, map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(2000)})
		e.mustRun("6.22", esme, map[string]any{"alert_code": "A10", "action": "log"})
		e.mustRun("6.8", esme, map[string]any{"billing_day": int64(6)})
		e.clk.Advance(36 * time.Hour)
		e.mustRun("4.1", esme, nil)
		// The next billing, in the week the devices spend parked, is at a
		// time of day the parked state must carry.
		e.mustRun("6.8", esme, map[string]any{"billing_day": int64(8), "billing_time": "12:30:00"})
		e.rec.take("")
	}
	f := parkedEnv.f
	before := map[string]DeviceState{}
	for _, id := range premises {
		before[id] = parkedEnv.state(id)
	}
	b, err := f.Park(append(premises, "00-DB-00-00-00-00-99-99")) // one not in the fleet
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range premises {
		if _, ok := f.Get(id); ok {
			t.Fatalf("%s still emulated after parking", id)
		}
	}
	if _, ok := f.Get(chf2); !ok {
		t.Fatal("parking one premises took another's hub")
	}
	got, err := f.Unpark(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(premises))) {
		t.Fatalf("unparked %v, want %v", got, premises)
	}
	for _, id := range premises {
		if after := parkedEnv.state(id); !reflect.DeepEqual(after, before[id]) {
			t.Errorf("%s after parking:\n%+v\nbefore:\n%+v", id, after, before[id])
		}
	}
	for _, e := range []*env{parkedEnv, twin} {
		e.clk.Advance(7 * 24 * time.Hour)
		if r := e.run("2.2", gsme, map[string]any{"utrn": "73100000000000000001", "amount_pence": int64(2000)}); r.OK {
			t.Fatal("a UTRN used before parking is taken again after")
		}
	}
	for _, id := range premises {
		if a, b := parkedEnv.state(id), twin.state(id); !reflect.DeepEqual(a, b) {
			t.Errorf("%s a week after parking differs from a device never parked:\n%+v\n%+v", id, a, b)
		}
	}
	if a, b := parkedEnv.rec.take(""), twin.rec.take(""); !slices.Equal(a, b) {
		t.Errorf("alerts after parking %v, never parked %v", a, b)
	}
}

// TestUnparkKeepsADeviceAddedMeanwhile: a device added anew while its
// premises was parked (a new entry in the inventory) is not overwritten.
func TestUnparkKeepsADeviceAddedMeanwhile(t *testing.T) {
	e := newEnv(t)
	b, err := e.f.Park([]string{chf1, ihd})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.f.Add(ihd, TypeIHD, DeviceOptions{CHF: chf1, Firmware: "2.0.0"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.f.Unpark(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{chf1}) || e.state(ihd).Firmware.Version != "2.0.0" {
		t.Fatalf("unparked %v, IHD firmware %s", got, e.state(ihd).Firmware.Version)
	}
	if _, err := e.f.Unpark([]byte("not parked devices")); err == nil {
		t.Fatal("Unpark took bytes Park did not write")
	}
}
