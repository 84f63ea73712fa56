// Package storetest is the one test suite every store.Store backend
// passes. A backend's test calls Run with a function that opens it:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// Run runs the suite. open must return a Store over storage that is empty
// when first opened for a t and belongs to that t alone (subtests run in
// parallel). Calling open again with the same t must return another Store
// over the same storage, as a second process would open it (same file,
// same schema): the suite uses that to check durability across Close and
// races between two stores. open closes what it opened when t ends; the
// suite may have closed it already.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"Ping", testPing},
		{"Version", testVersion},
		{"Users", testUsers},
		{"Registrations", testRegistrations},
		{"RegistrationsAt", testRegistrationsAt},
		{"Devices", testDevices},
		{"DeviceFilter", testDeviceFilter},
		{"ReadForChecks", testReadForChecks},
		{"BulkLoad", testBulkLoad},
		{"Walk", testWalk},
		{"SetDeviceStatus", testSetDeviceStatus},
		{"SetDeviceStatusRace", testSetDeviceStatusRace},
		{"InsertRequest", testInsertRequest},
		{"InsertRequestRace", testInsertRequestRace},
		{"UpdateRequest", testUpdateRequest},
		{"UpdateRequestRace", testUpdateRequestRace},
		{"UpdateRequests", testUpdateRequests},
		{"UpdateRequestsHeld", testUpdateRequestsHeld},
		{"UpdateRequestsRace", testUpdateRequestsRace},
		{"PurgeBefore", testPurgeBefore},
		{"ListRequests", testListRequests},
		{"CountRequests", testCountRequests},
		{"Schedules", testSchedules},
		{"AdvanceScheduleRace", testAdvanceScheduleRace},
		{"Deliveries", testDeliveries},
		{"DeliveriesResume", testDeliveriesResume},
		{"AppendCursorsRace", testAppendCursorsRace},
		{"Times", testTimes},
		{"Reset", testReset},
		{"Durability", testDurability},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open)
		})
	}
}

// workers is how many goroutines race in the concurrency tests.
func workers() int {
	if testing.Short() {
		return 8
	}
	return 24
}

var (
	t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	t2 = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
)

func hours(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func putUser(t *testing.T, s store.Store, id string) {
	t.Helper()
	must(t, s.PutUser(t.Context(), store.User{ID: id, Role: "IS", Entered: true}))
}

func request(id, user string, counter int) store.Request {
	return store.Request{
		ID: id, UserID: user, Service: "4.1", DeviceID: "dev-1", Category: "on_demand",
		Delivery: "wan", State: "acknowledged", ReceivedAt: hours(counter),
		Body: []byte(`{"n":` + fmt.Sprint(counter) + `}`),
	}
}

func testPing(t *testing.T, open func(*testing.T) store.Store) {
	must(t, open(t).Ping(t.Context()))
}

func testVersion(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	v, err := store.CheckVersion(t.Context(), s)
	must(t, err)
	if _, ok := s.(store.Versioner); ok && v < 1 {
		t.Fatalf("schema version %d after open, want >= 1", v)
	}
}

func testUsers(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	_, err := s.GetUser(ctx, "nobody")
	wantErr(t, "GetUser unknown", err, store.ErrNotFound)
	users, err := s.ListUsers(ctx)
	must(t, err)
	same(t, "ListUsers empty", len(users), 0)

	b := store.User{ID: "00-00-00-00-00-00-00-0B", Role: "ED", Party: "DNO 1", CertPEM: "-----BEGIN CERTIFICATE-----\n"}
	a := store.User{ID: "00-00-00-00-00-00-00-0A", Role: "IS", Party: "Supplier A", Entered: true, LastCounter: math.MaxUint64 - 1}
	must(t, s.PutUser(ctx, b))
	must(t, s.PutUser(ctx, a))
	got, err := s.GetUser(ctx, a.ID)
	must(t, err)
	same(t, "GetUser", got, a)
	users, err = s.ListUsers(ctx)
	must(t, err)
	same(t, "ListUsers (by ID)", users, []store.User{a, b})

	// Replace: every field changes but the counter, which never goes down.
	a2 := store.User{ID: a.ID, Role: "ED", Party: "Renamed", Suspended: true, CertPEM: "pem", LastCounter: 3}
	must(t, s.PutUser(ctx, a2))
	got, err = s.GetUser(ctx, a.ID)
	must(t, err)
	a2.LastCounter = a.LastCounter
	same(t, "GetUser after replace (LastCounter kept)", got, a2)
	b.LastCounter = 7
	must(t, s.PutUser(ctx, b))
	got, err = s.GetUser(ctx, b.ID)
	must(t, err)
	same(t, "GetUser after raising LastCounter", got, b)
}

func testRegistrations(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	old := store.Registration{MPxN: "1000000000001", Fuel: "electricity", ImportSupplier: "SUP-A",
		NetworkOperator: "DNO-1", Postcode: "AB1 2CD", Premises: "1", UPRN: "100"}
	changed := old
	changed.ImportSupplier, changed.EffectiveFrom = "SUP-B", t1
	gas := store.Registration{MPxN: "2000000001", Fuel: "gas", ImportSupplier: "SUP-G", EffectiveFrom: t0,
		Postcode: "AB1 2CD", Premises: "1", UPRN: "100"}
	for _, r := range []store.Registration{changed, old, gas} {
		must(t, s.PutRegistration(ctx, r))
	}

	tests := []struct {
		note  string
		mpxns []string
		at    time.Time
		want  []store.Registration
	}{
		{"before the change", []string{old.MPxN}, t1.Add(-time.Nanosecond), []store.Registration{old}},
		{"at the change", []string{old.MPxN}, t1, []store.Registration{changed}},
		{"after the change", []string{old.MPxN}, t2, []store.Registration{changed}},
		{"before gas exists", []string{gas.MPxN, old.MPxN}, t0.Add(-time.Hour), []store.Registration{old}},
		{"order of the arguments", []string{gas.MPxN, old.MPxN}, t2, []store.Registration{gas, changed}},
		{"unknown left out", []string{"nope", old.MPxN, old.MPxN}, t0, []store.Registration{old}},
		{"none asked", nil, t2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.Registrations(t.Context(), tc.mpxns, tc.at)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "Registrations", got, tc.want)
		})
	}

	// Replacing the record of (MPxN, EffectiveFrom) replaces just that one.
	changed.ExportSupplier = "SUP-X"
	must(t, s.PutRegistration(ctx, changed))
	got, err := s.Registrations(ctx, []string{old.MPxN}, t2)
	must(t, err)
	same(t, "Registrations after replace", got, []store.Registration{changed})
	got, err = s.Registrations(ctx, []string{old.MPxN}, t0)
	must(t, err)
	same(t, "older record untouched", got, []store.Registration{old})

	// Many MPxNs at once (more than one IN list).
	var many []string
	for i := range 1200 {
		many = append(many, fmt.Sprintf("m%05d", i))
	}
	many = append(many, old.MPxN)
	got, err = s.Registrations(ctx, many, t2)
	must(t, err)
	same(t, "Registrations of many", got, []store.Registration{changed})
}

func testRegistrationsAt(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	elec := store.Registration{MPxN: "1000000000001", Fuel: "electricity", Postcode: "AB1 2CD", Premises: "1", UPRN: "100"}
	gas := store.Registration{MPxN: "2000000001", Fuel: "gas", Postcode: "AB1 2CD", Premises: "1", UPRN: "100"}
	// From t1 the electricity meter's address is corrected to another one.
	moved := elec
	moved.Postcode, moved.Premises, moved.UPRN, moved.EffectiveFrom = "ZZ9 9ZZ", "7", "200", t1
	other := store.Registration{MPxN: "1000000000002", Fuel: "electricity", Postcode: "AB1 2CD", Premises: "2", UPRN: "101"}
	for _, r := range []store.Registration{elec, gas, moved, other} {
		must(t, s.PutRegistration(ctx, r))
	}
	tests := []struct {
		note                     string
		postcode, premises, uprn string
		at                       time.Time
		want                     []store.Registration
	}{
		{"postcode and premises", "AB1 2CD", "1", "", t0, []store.Registration{elec, gas}},
		{"a postcode without its space, in lower case", "ab12cd", "1", "", t0, []store.Registration{elec, gas}},
		{"UPRN", "", "", "100", t0, []store.Registration{elec, gas}},
		{"either matches", "AB1 2CD", "2", "100", t0, []store.Registration{elec, other, gas}},
		{"after the address changed", "AB1 2CD", "1", "", t2, []store.Registration{gas}},
		{"new address after", "ZZ9 9ZZ", "7", "", t2, []store.Registration{moved}},
		{"new address before", "ZZ9 9ZZ", "7", "", t0, nil},
		{"new UPRN", "", "", "200", t1, []store.Registration{moved}},
		{"postcode alone does not match", "AB1 2CD", "", "", t0, nil},
		{"premises alone does not match", "", "1", "", t0, nil},
		{"nothing matches nothing", "", "", "", t0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.RegistrationsAt(t.Context(), tc.postcode, tc.premises, tc.uprn, tc.at)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "RegistrationsAt", got, tc.want)
		})
	}
}

// inventory is a small Smart Metering Inventory: two premises.
func inventory() []store.Device {
	return []store.Device{
		{ID: "chf-1", Type: "CHF", Status: "commissioned", UpdatedAt: t0},
		{ID: "esme-1", Type: "ESME", Status: "commissioned", MPxN: "1000000000001", CHF: "chf-1", UpdatedAt: t0},
		{ID: "gsme-1", Type: "GSME", Status: "installed_not_commissioned", MPxN: "2000000001", CHF: "chf-1", UpdatedAt: t0},
		{ID: "ihd-1", Type: "IHD", Status: "pending", CHF: "chf-1", Meter: "esme-1", UpdatedAt: t0},
		{ID: "ppmid-1", Type: "PPMID", Status: "pending", CHF: "chf-1", Meter: "esme-1", Credentials: "00-0A", UpdatedAt: t0},
		{ID: "chf-2", Type: "CHF", Status: "commissioned", UpdatedAt: t1},
		{ID: "esme-2", Type: "ESME", Status: "withdrawn", MPxN: "1000000000002", CHF: "chf-2", UpdatedAt: t1},
	}
}

func byIDs(all []store.Device, ids ...string) []store.Device {
	var out []store.Device
	for _, d := range all {
		if slices.Contains(ids, d.ID) {
			out = append(out, d)
		}
	}
	return out
}

func testDevices(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	_, err := s.GetDevice(ctx, "none")
	wantErr(t, "GetDevice unknown", err, store.ErrNotFound)
	inv := inventory()
	for _, d := range inv {
		must(t, s.PutDevice(ctx, d))
	}
	got, err := s.GetDevice(ctx, "ppmid-1")
	must(t, err)
	same(t, "GetDevice", got, inv[4])
	d := inv[4]
	d.Credentials, d.Status, d.UpdatedAt = "", "commissioned", t2
	must(t, s.PutDevice(ctx, d))
	got, err = s.GetDevice(ctx, d.ID)
	must(t, err)
	same(t, "GetDevice after replace", got, d)
}

func testDeviceFilter(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	inv := inventory()
	for _, d := range inv {
		must(t, s.PutDevice(ctx, d))
	}
	sorted := slices.Clone(inv)
	slices.SortFunc(sorted, func(a, b store.Device) int {
		return cmp.Compare(a.ID, b.ID)
	})
	tests := []struct {
		note string
		f    store.DeviceFilter
		want []store.Device
	}{
		{"no filter: all, by ID", store.DeviceFilter{}, sorted},
		{"CHF", store.DeviceFilter{CHF: "chf-1"}, byIDs(sorted, "esme-1", "gsme-1", "ihd-1", "ppmid-1")},
		{"Meter", store.DeviceFilter{Meter: "esme-1"}, byIDs(sorted, "ihd-1", "ppmid-1")},
		{"MPxN", store.DeviceFilter{MPxN: "2000000001"}, byIDs(sorted, "gsme-1")},
		{"Type", store.DeviceFilter{Type: "CHF"}, byIDs(sorted, "chf-1", "chf-2")},
		{"IDs", store.DeviceFilter{IDs: []string{"esme-2", "chf-1", "none"}}, byIDs(sorted, "chf-1", "esme-2")},
		{"CHF and Type", store.DeviceFilter{CHF: "chf-1", Type: "ESME"}, byIDs(sorted, "esme-1")},
		{"IDs and Type", store.DeviceFilter{IDs: []string{"esme-2", "chf-1"}, Type: "ESME"}, byIDs(sorted, "esme-2")},
		{"no match", store.DeviceFilter{CHF: "chf-9"}, nil},
		{"Limit: the first by ID", store.DeviceFilter{Limit: 2}, sorted[:2]},
		{"CHF and Limit", store.DeviceFilter{CHF: "chf-1", Limit: 1}, byIDs(sorted, "esme-1")},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.Devices(t.Context(), tc.f)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "Devices", got, tc.want)
		})
	}
	// More IDs than fit one IN list.
	ids := []string{"ppmid-1"}
	for i := range 1100 {
		ids = append(ids, fmt.Sprintf("x%05d", i))
	}
	ids = append(ids, "chf-2", "chf-1")
	got, err := s.Devices(ctx, store.DeviceFilter{IDs: ids})
	must(t, err)
	same(t, "Devices of many IDs", got, byIDs(sorted, "chf-1", "chf-2", "ppmid-1"))
}

// testReadForChecks: the one read of a submission's checks finds what
// GetUser, GetDevice and Registrations of the device's MPxN find, for users
// and devices known and not, devices with an MPxN of their own and
// without, and times either side of a change of registration.
func testReadForChecks(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	cr, ok := store.As[store.CheckReader](s)
	if !ok {
		t.Skip("the store does not implement store.CheckReader")
	}
	for _, d := range inventory() {
		must(t, s.PutDevice(ctx, d))
	}
	old := store.Registration{MPxN: "1000000000001", Fuel: "electricity", ImportSupplier: "SUP-A",
		NetworkOperator: "DNO-1", Postcode: "AB1 2CD", Premises: "1", UPRN: "100"}
	changed := old
	changed.ImportSupplier, changed.EffectiveFrom = "SUP-B", t1
	gas := store.Registration{MPxN: "2000000001", Fuel: "gas", ImportSupplier: "SUP-G", EffectiveFrom: t0}
	for _, r := range []store.Registration{changed, old, gas} {
		must(t, s.PutRegistration(ctx, r))
	}
	user := store.User{ID: "00-00-00-00-00-00-00-0A", Role: "IS", Party: "Supplier A", Entered: true,
		CertPEM: "pem", LastCounter: math.MaxUint64 - 1}
	suspended := store.User{ID: "00-00-00-00-00-00-00-0B", Role: "GS", Suspended: true, LastCounter: 7}
	must(t, s.PutUser(ctx, user))
	must(t, s.PutUser(ctx, suspended))
	for _, d := range []store.Device{
		{ID: "chf-3", Type: "CHF", Status: "decommissioned", UpdatedAt: t1},
		{ID: "esme-3", Type: "ESME", Status: "commissioned", CHF: "chf-3", UpdatedAt: t1},
		{ID: "esme-4", Type: "ESME", Status: "commissioned", CHF: "chf-9", UpdatedAt: t1},
	} {
		must(t, s.PutDevice(ctx, d))
	}

	tests := []struct {
		note, user, device string
		at                 time.Time
		regs               int // records expected (the reads apart must agree)
	}{
		{"meter before a change of supplier", user.ID, "esme-1", t1.Add(-time.Nanosecond), 1},
		{"meter at the change", user.ID, "esme-1", t1, 1},
		{"gas meter before its record", user.ID, "gsme-1", t0.Add(-time.Hour), 0},
		{"gas meter after", user.ID, "gsme-1", t2, 1},
		{"meter with no record", user.ID, "esme-2", t2, 0},
		{"device with no MPxN of its own", user.ID, "ihd-1", t2, 0},
		{"hub", user.ID, "chf-1", t2, 0},
		{"unknown device", user.ID, "nope", t2, 0},
		{"no device", user.ID, "", t2, 0},
		{"unknown user", "00-00-00-00-00-00-00-0F", "esme-1", t2, 1},
		{"neither", "00-00-00-00-00-00-00-0F", "nope", t2, 0},
		{"a suspended user not entered", suspended.ID, "ppmid-1", t2, 0},
		{"meter on a decommissioned hub", user.ID, "esme-3", t2, 0},
		{"meter naming a hub not on the inventory", user.ID, "esme-4", t2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := cr.ReadForChecks(t.Context(), tc.user, tc.device, tc.at)
			must(t, err)
			var want store.CheckRead
			switch u, err := s.GetUser(t.Context(), tc.user); {
			case err == nil:
				want.User, want.UserFound = u, true
			case !errors.Is(err, store.ErrNotFound):
				t.Fatal(err)
			}
			switch d, err := s.GetDevice(t.Context(), tc.device); {
			case err == nil:
				want.Device, want.DeviceFound = d, true
				switch c, err := s.GetDevice(t.Context(), d.CHF); {
				case err == nil && d.CHF != "":
					want.CHFStatus = c.Status
				case err != nil && !errors.Is(err, store.ErrNotFound):
					t.Fatal(err)
				}
				if d.MPxN != "" {
					want.Registrations, err = s.Registrations(t.Context(), []string{d.MPxN}, tc.at)
					must(t, err)
				}
			case !errors.Is(err, store.ErrNotFound):
				t.Fatal(err)
			}
			if len(want.Registrations) == 0 {
				want.Registrations = nil
			}
			same(t, "ReadForChecks against the reads apart", got, want)
			same(t, "records found", len(got.Registrations), tc.regs)
		})
	}
	for dev, want := range map[string]string{"esme-1": "commissioned", "esme-3": "decommissioned", "esme-4": "", "chf-1": ""} {
		got, err := cr.ReadForChecks(ctx, user.ID, dev, t2)
		must(t, err)
		same(t, "the hub's status of "+dev, got.CHFStatus, want)
	}
	// A time the store cannot hold: read them one by one (Registrations
	// fails for it).
	_, err := cr.ReadForChecks(ctx, user.ID, "esme-1", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	wantErr(t, "ReadForChecks in the year 3000", err, errors.ErrUnsupported)
}

func testSetDeviceStatus(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	d := inventory()[3] // pending
	must(t, s.PutDevice(ctx, d))
	must(t, s.SetDeviceStatus(ctx, d.ID, "pending", "commissioned", t1))
	got, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	d.Status, d.UpdatedAt = "commissioned", t1
	same(t, "after SetDeviceStatus", got, d)
	wantErr(t, "SetDeviceStatus from a status it left", s.SetDeviceStatus(ctx, d.ID, "pending", "withdrawn", t2), store.ErrStale)
	got, err = s.GetDevice(ctx, d.ID)
	must(t, err)
	same(t, "unchanged by a stale SetDeviceStatus", got, d)
	wantErr(t, "SetDeviceStatus unknown", s.SetDeviceStatus(ctx, "none", "pending", "withdrawn", t2), store.ErrNotFound)
}

// Race runs fn on n goroutines started together and returns their errors.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Go(func() {
			start.Wait()
			errs[i] = fn(i)
		})
	}
	start.Done()
	wg.Wait()
	return errs
}

// oneWins checks that exactly one error is nil and every other is want,
// and returns the winner's index.
func oneWins(t *testing.T, what string, errs []error, want error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("%s: %d and %d both won", what, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Fatalf("%s: loser %d: error %v, want %v", what, i, err, want)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: nobody won", what)
	}
	return winner
}

// two opens the storage of t twice: two stores, as two processes.
func two(t *testing.T, open func(*testing.T) store.Store) [2]store.Store {
	return [2]store.Store{open(t), open(t)}
}

func testSetDeviceStatusRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	must(t, ss[0].PutDevice(ctx, store.Device{ID: "esme-1", Type: "ESME", Status: "pending"}))
	errs := Race(workers(), func(i int) error {
		return ss[i%2].SetDeviceStatus(ctx, "esme-1", "pending", fmt.Sprintf("s%d", i), hours(i))
	})
	w := oneWins(t, "SetDeviceStatus race", errs, store.ErrStale)
	got, err := ss[1].GetDevice(ctx, "esme-1")
	must(t, err)
	same(t, "status of the winner", got.Status, fmt.Sprintf("s%d", w))
}

func testInsertRequest(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	const u = "00-0A"
	putUser(t, s, u)

	_, err := s.GetRequest(ctx, "none")
	wantErr(t, "GetRequest unknown", err, store.ErrNotFound)
	wantErr(t, "InsertRequest of an unknown user", s.InsertRequest(ctx, request("x:1", "00-0F", 1), 1), store.ErrNotFound)

	full := store.Request{
		ID: u + ":dev-1:2", UserID: u, Service: "1.1/credit", DeviceID: "dev-1", Category: "future_dated",
		Delivery: "both", ExecuteAt: t1, After: u + ":dev-1:1", Body: []byte(`{"a":1}`),
		Schedule: []byte(`{"every":"24h"}`), State: "acknowledged", Reason: "r", Clause: "para 134",
		Message: "m", ReceivedAt: t0, DueAt: t2, CompletedAt: t2.Add(time.Nanosecond),
		Response: []byte(`{}`), PreCommand: []byte{0, 1, 2}, Signed: []byte{0xff}, ScheduleID: "sch-1", Attempts: 3,
	}
	must(t, s.InsertRequest(ctx, full, 2))
	got, err := s.GetRequest(ctx, full.ID)
	must(t, err)
	same(t, "GetRequest: every field round-trips", got, full)
	user, err := s.GetUser(ctx, u)
	must(t, err)
	same(t, "LastCounter raised", user.LastCounter, uint64(2))

	tests := []struct {
		note    string
		id      string
		counter uint64
		want    error
	}{
		{"same counter again (replay)", "a", 2, store.ErrStale},
		{"lower counter", "b", 1, store.ErrStale},
		{"same ID, higher counter", full.ID, 10, store.ErrDuplicate},
		{"same ID, stale counter: duplicate wins", full.ID, 1, store.ErrDuplicate},
	}
	for _, tc := range tests {
		wantErr(t, tc.note, s.InsertRequest(ctx, request(tc.id, u, int(tc.counter)), tc.counter), tc.want)
	}
	// Counter 0: a request the gateway made (a schedule's run). No replay
	// check, LastCounter untouched, the ID alone guards it.
	run := request("run-1", u, 9)
	run.ScheduleID = "sch-1"
	must(t, s.InsertRequest(ctx, run, 0))
	wantErr(t, "the same run again", s.InsertRequest(ctx, run, 0), store.ErrDuplicate)
	got, err = s.GetRequest(ctx, run.ID)
	must(t, err)
	same(t, "run stored", got, run)
	// The duplicate with counter 10 raised nothing, nor did the run: 3 is
	// still above.
	user, err = s.GetUser(ctx, u)
	must(t, err)
	same(t, "LastCounter after rejected inserts", user.LastCounter, uint64(2))
	must(t, s.InsertRequest(ctx, request("d", u, 3), 3))
	// The whole uint64 range orders correctly.
	must(t, s.InsertRequest(ctx, request("e", u, 4), 1<<63))
	wantErr(t, "below 2^63 after 2^63", s.InsertRequest(ctx, request("f", u, 5), 1<<63-1), store.ErrStale)
	must(t, s.InsertRequest(ctx, request("g", u, 6), math.MaxUint64))
	wantErr(t, "nothing above MaxUint64", s.InsertRequest(ctx, request("h", u, 7), math.MaxUint64), store.ErrStale)
	user, err = s.GetUser(ctx, u)
	must(t, err)
	same(t, "LastCounter at the top", user.LastCounter, uint64(math.MaxUint64))
}

func testInsertRequestRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	n := workers()
	// Distinct IDs, one counter: exactly one is accepted, the rest replays.
	errs := Race(n, func(i int) error {
		return ss[i%2].InsertRequest(ctx, request(fmt.Sprintf("r%d", i), "00-0A", 1), 1)
	})
	oneWins(t, "InsertRequest, same counter", errs, store.ErrStale)
	// One ID, distinct counters: exactly one is stored.
	errs = Race(n, func(i int) error {
		return ss[i%2].InsertRequest(ctx, request("same", "00-0A", 1), uint64(100+i))
	})
	w := oneWins(t, "InsertRequest, same ID", errs, store.ErrDuplicate)
	// A refused insert raised nothing, even when its counter was higher.
	u, err := ss[1].GetUser(ctx, "00-0A")
	must(t, err)
	same(t, "LastCounter after the same-ID race", u.LastCounter, uint64(100+w))
	// A schedule's run (counter 0) made by several workers: stored once.
	errs = Race(n, func(i int) error {
		return ss[i%2].InsertRequest(ctx, request("run", "00-0A", 1), 0)
	})
	oneWins(t, "InsertRequest, same run", errs, store.ErrDuplicate)
	// Distinct IDs and counters from many goroutines: each stored exactly
	// once, or refused as stale when a higher counter got there first.
	errs = Race(n, func(i int) error {
		return ss[i%2].InsertRequest(ctx, request(fmt.Sprintf("q%d", i), "00-0A", 1), uint64(1000+i))
	})
	reqs, err := ss[1].ListRequests(ctx, store.RequestFilter{UserID: "00-0A"})
	must(t, err)
	stored := map[string]bool{}
	for _, r := range reqs {
		stored[r.ID] = true
	}
	for i, err := range errs {
		id := fmt.Sprintf("q%d", i)
		switch {
		case err == nil && !stored[id]:
			t.Fatalf("%s accepted but not stored", id)
		case err != nil && stored[id]:
			t.Fatalf("%s refused (%v) but stored", id, err)
		case err != nil && !errors.Is(err, store.ErrStale):
			t.Fatalf("%s: %v", id, err)
		}
	}
	u, err = ss[0].GetUser(ctx, "00-0A")
	must(t, err)
	if !stored[fmt.Sprintf("q%d", u.LastCounter-1000)] {
		t.Fatalf("LastCounter %d is not the counter of a stored request", u.LastCounter)
	}
}

func testUpdateRequest(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	putUser(t, s, "00-0A")
	r := request("r1", "00-0A", 1)
	must(t, s.InsertRequest(ctx, r, 1))

	r.State, r.Response, r.CompletedAt, r.Attempts = "accepted", []byte(`{"ok":true}`), t1, 1
	ds := []store.Delivery{
		{UserID: "00-0A", Kind: "response", RequestID: "r1", DeviceID: "dev-1", Payload: []byte(`{"ok":true}`), CreatedAt: t1},
		{UserID: "00-0B", Kind: "alert", Code: "A7", DeviceID: "dev-1", CreatedAt: t1, DueAt: t2},
	}
	cursors, err := s.UpdateRequest(ctx, r, "acknowledged", ds)
	must(t, err)
	if len(cursors) != 2 || cursors[1] <= cursors[0] {
		t.Fatalf("cursors %v, want two increasing", cursors)
	}
	got, err := s.GetRequest(ctx, "r1")
	must(t, err)
	same(t, "request after UpdateRequest", got, r)
	all, err := s.Deliveries(ctx, "", 0, 0)
	must(t, err)
	for i := range ds {
		ds[i].Cursor = cursors[i]
	}
	same(t, "deliveries appended with the update", all, ds)

	// A stale update changes nothing and appends nothing.
	stale := r
	stale.State = "rejected"
	_, err = s.UpdateRequest(ctx, stale, "acknowledged", ds[:1])
	wantErr(t, "UpdateRequest from a state it left", err, store.ErrStale)
	got, err = s.GetRequest(ctx, "r1")
	must(t, err)
	same(t, "request after a stale update", got, r)
	all, err = s.Deliveries(ctx, "", 0, 0)
	must(t, err)
	same(t, "no delivery from a stale update", len(all), 2)

	_, err = s.UpdateRequest(ctx, request("none", "00-0A", 1), "acknowledged", ds[:1])
	wantErr(t, "UpdateRequest unknown", err, store.ErrNotFound)

	// No deliveries: no cursors.
	r2 := r
	r2.State = "expired"
	cursors, err = s.UpdateRequest(ctx, r2, "accepted", nil)
	must(t, err)
	same(t, "cursors of no deliveries", len(cursors), 0)

	// What identifies a request stays as inserted; the rest is replaced.
	moved := r2
	moved.UserID, moved.Service, moved.DeviceID, moved.Category, moved.After = "00-0B", "9.9", "other", "scheduled", "r0"
	moved.ReceivedAt, moved.Schedule, moved.ScheduleID = t2, []byte(`{"every":"P1D"}`), "sch-x"
	moved.State, moved.Message, moved.ExecuteAt, moved.Delivery = "cancelled", "changed", t2, "local"
	_, err = s.UpdateRequest(ctx, moved, "expired", nil)
	must(t, err)
	want := r2
	want.State, want.Message, want.ExecuteAt, want.Delivery = "cancelled", "changed", t2, "local"
	got, err = s.GetRequest(ctx, "r1")
	must(t, err)
	same(t, "identity after UpdateRequest", got, want)
}

func testUpdateRequestRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	putUser(t, ss[0], "00-0A")
	r := request("r1", "00-0A", 1)
	must(t, ss[0].InsertRequest(ctx, r, 1))
	n := workers()
	errs := Race(n, func(i int) error {
		mine := r
		mine.State, mine.Message = "executing", fmt.Sprintf("worker %d", i)
		_, err := ss[i%2].UpdateRequest(ctx, mine, "acknowledged", []store.Delivery{
			{UserID: "00-0A", Kind: "response", RequestID: "r1", Payload: []byte(mine.Message)},
		})
		return err
	})
	w := oneWins(t, "UpdateRequest race", errs, store.ErrStale)
	got, err := ss[1].GetRequest(ctx, "r1")
	must(t, err)
	same(t, "winner's update stored", got.Message, fmt.Sprintf("worker %d", w))
	ds, err := ss[0].Deliveries(ctx, "00-0A", 0, 0)
	must(t, err)
	if len(ds) != 1 || string(ds[0].Payload) != got.Message {
		t.Fatalf("deliveries %+v, want the winner's one", ds)
	}
}

func testListRequests(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	putUser(t, s, "A")
	putUser(t, s, "B")
	mk := func(id, user, dev, state, after string, received, execute int) store.Request {
		r := request(id, user, received)
		r.DeviceID, r.State, r.After = dev, state, after
		if execute >= 0 {
			r.ExecuteAt = hours(execute)
		}
		return r
	}
	rs := []store.Request{
		mk("a1", "A", "d1", "pending", "", 1, 30),
		mk("a2", "A", "d2", "held", "a1", 2, 10),
		mk("b1", "B", "d1", "pending", "", 3, -1), // zero ExecuteAt: due at once
		mk("b2", "B", "d2", "accepted", "", 4, 20),
		mk("a3", "A", "d1", "held", "a1", 5, 40),
		mk("b3", "B", "d1", "pending", "", 6, 20),
	}
	rs[1].DueAt, rs[4].DueAt, rs[5].DueAt = hours(12), hours(50), hours(12).Add(time.Nanosecond)
	counters := map[string]uint64{}
	for _, r := range rs {
		counters[r.UserID]++
		must(t, s.InsertRequest(ctx, r, counters[r.UserID]))
	}
	ids := func(rs []store.Request) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		note string
		f    store.RequestFilter
		want []string
	}{
		{"all, by ReceivedAt", store.RequestFilter{}, []string{"a1", "a2", "b1", "b2", "a3", "b3"}},
		{"UserID", store.RequestFilter{UserID: "A"}, []string{"a1", "a2", "a3"}},
		{"DeviceID", store.RequestFilter{DeviceID: "d2"}, []string{"a2", "b2"}},
		{"one state", store.RequestFilter{States: []string{"held"}}, []string{"a2", "a3"}},
		{"states", store.RequestFilter{States: []string{"held", "accepted"}}, []string{"a2", "b2", "a3"}},
		{"After", store.RequestFilter{After: "a1"}, []string{"a2", "a3"}},
		{"DueBefore: by ExecuteAt", store.RequestFilter{DueBefore: hours(30)}, []string{"b1", "a2", "b2", "b3", "a1"}},
		{"DueBefore, pending", store.RequestFilter{DueBefore: hours(25), States: []string{"pending"}}, []string{"b1", "b3"}},
		{"Limit", store.RequestFilter{Limit: 2}, []string{"a1", "a2"}},
		{"DueBefore and Limit: most urgent", store.RequestFilter{DueBefore: hours(100), Limit: 2}, []string{"b1", "a2"}},
		{"everything together", store.RequestFilter{UserID: "A", DeviceID: "d1", States: []string{"held"}, After: "a1", DueBefore: hours(40), Limit: 5}, []string{"a3"}},
		{"no match", store.RequestFilter{UserID: "C"}, []string{}},
		{"received in [2h, 5h)", store.RequestFilter{ReceivedFrom: hours(2), ReceivedBefore: hours(5)}, []string{"a2", "b1", "b2"}},
		{"received from 5h", store.RequestFilter{ReceivedFrom: hours(5)}, []string{"a3", "b3"}},
		{"Newest", store.RequestFilter{UserID: "A", Newest: true}, []string{"a3", "a2", "a1"}},
		{"a page: Newest, Offset, Limit", store.RequestFilter{Newest: true, Offset: 1, Limit: 2}, []string{"a3", "b2"}},
		{"Offset alone", store.RequestFilter{Offset: 4}, []string{"a3", "b3"}},
		{"OverdueBy: inclusive, none without a DueAt", store.RequestFilter{OverdueBy: hours(12)}, []string{"a2"}},
		{"OverdueBy and a state", store.RequestFilter{OverdueBy: hours(60), States: []string{"held"}}, []string{"a2", "a3"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.ListRequests(t.Context(), tc.f)
			must(t, err)
			same(t, "ListRequests", ids(got), tc.want)
		})
	}
	got, err := s.ListRequests(ctx, store.RequestFilter{UserID: "B", States: []string{"accepted"}})
	must(t, err)
	same(t, "ListRequests returns whole requests", got, []store.Request{rs[3]})

	// Held on a final predecessor (b2, accepted) or on one stored no more:
	// their release is due; a2 and a3 wait on a1, pending.
	must(t, s.InsertRequest(ctx, mk("b4", "B", "d1", "held", "b2", 7, -1), 4))
	must(t, s.InsertRequest(ctx, mk("b5", "B", "d1", "held", "gone", 8, -1), 5))
	got, err = s.ListRequests(ctx, store.RequestFilter{States: []string{"held"}, PredecessorDone: true})
	must(t, err)
	same(t, "held, predecessor done", ids(got), []string{"b4", "b5"})
	got, err = s.ListRequests(ctx, store.RequestFilter{States: []string{"held"}, PredecessorDone: true, UserID: "A"})
	must(t, err)
	same(t, "A's held, predecessor done", ids(got), []string{})
}

func testCountRequests(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	putUser(t, s, "A")
	putUser(t, s, "B")
	var c uint64
	add := func(id, user, service, state string, received int) {
		t.Helper()
		r := request(id, user, received)
		r.Service, r.State = service, state
		c++
		if user == "B" {
			must(t, s.InsertRequest(ctx, r, c+1000))
			return
		}
		must(t, s.InsertRequest(ctx, r, c))
	}
	add("1", "A", "4.1", "accepted", 10)
	add("2", "A", "4.1", "rejected", 11)
	add("3", "A", "4.1", "accepted", 12)
	add("4", "A", "4.2", "accepted", 11)
	add("5", "B", "4.1", "accepted", 11)
	add("6", "A", "4.1", "pending", 13)
	run := request("7", "A", 12) // a run of A's schedule, the DCC's
	run.State, run.ScheduleID = "accepted", "SCH-1"
	must(t, s.InsertRequest(ctx, run, 0))
	add("9", "A", "1.1/credit", "accepted", 15)
	add("10", "A", "1.1/prepayment", "accepted", 15)
	executed := request("8", "A", 15) // refused when it ran, by the device
	executed.Service, executed.State, executed.Attempts = "4.1", "rejected", 1
	must(t, s.InsertRequest(ctx, executed, 100))
	tests := []struct {
		note         string
		user         string
		svcs         []string
		since, until time.Time
		states       []string
		executed     bool // the rejections of executed requests too
		want         int
		withRuns     int // counting the runs of schedules too
	}{
		{"window: its start out, its end in", "A", []string{"4.1"}, hours(10), hours(12), nil, false, 2, 3},
		{"window of the start alone", "A", []string{"4.1"}, hours(10), hours(10), nil, false, 0, 0},
		{"window inside", "A", []string{"4.1"}, hours(10), hours(11), nil, false, 1, 1},
		{"states", "A", []string{"4.1"}, hours(0), hours(14), []string{"accepted", "pending"}, false, 3, 4},
		{"states and executed rejections", "A", []string{"4.1"}, hours(0), hours(20), []string{"accepted", "pending"}, true, 4, 5},
		{"states without executed rejections", "A", []string{"4.1"}, hours(0), hours(20), []string{"accepted", "pending"}, false, 3, 4},
		{"executed rejections alone", "A", []string{"4.1"}, hours(0), hours(20), []string{"quarantined"}, true, 1, 1},
		{"other service", "A", []string{"4.2"}, hours(0), hours(20), nil, false, 1, 1},
		{"services: the rows of one reference", "A", []string{"1.1/credit", "1.1/prepayment"}, hours(0), hours(20), nil, false, 2, 2},
		{"other user", "B", []string{"4.1"}, hours(0), hours(20), nil, false, 1, 1},
		{"empty window", "A", []string{"4.1"}, hours(16), hours(20), nil, false, 0, 0},
		{"zero since", "A", []string{"4.1"}, time.Time{}, hours(11), nil, false, 2, 2},
		{"zero until: no upper bound", "A", []string{"4.1"}, hours(11), time.Time{}, nil, false, 3, 4},
		{"empty user: every user", "", []string{"4.1"}, hours(10), hours(11), nil, false, 2, 2},
		{"no services: every service", "A", nil, hours(10), hours(11), nil, false, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			f := store.CountFilter{UserID: tc.user, Services: tc.svcs, Since: tc.since, Until: tc.until, States: tc.states, ExecutedRejections: tc.executed}
			n, err := s.CountRequests(t.Context(), f)
			must(t, err)
			same(t, "CountRequests", n, tc.want)
			f.ScheduleRuns = true
			n, err = s.CountRequests(t.Context(), f)
			must(t, err)
			same(t, "CountRequests with the schedule's runs", n, tc.withRuns)
		})
	}
}

func testSchedules(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	a := store.Schedule{ID: "s-a", UserID: "A", DeviceID: "d1", Service: "4.8", Every: 24 * time.Hour,
		Next: hours(24), First: hours(0), Body: []byte(`{"x":1}`), CreatedBy: "A:d1:1"}
	b := store.Schedule{ID: "s-b", UserID: "B", DeviceID: "d2", Service: "4.8", Every: time.Hour, Next: hours(2)}
	c := store.Schedule{ID: "s-c", UserID: "A", DeviceID: "d2", Service: "4.6", Every: 7 * 24 * time.Hour, Next: hours(2)}
	for _, sc := range []store.Schedule{a, b, c} {
		must(t, s.PutSchedule(ctx, sc))
	}
	b.First, c.First = b.Next, c.Next // a schedule put without its first run: its next is
	tests := []struct {
		note string
		f    store.ScheduleFilter
		want []store.Schedule
	}{
		{"all, by Next then ID", store.ScheduleFilter{}, []store.Schedule{b, c, a}},
		{"UserID", store.ScheduleFilter{UserID: "A"}, []store.Schedule{c, a}},
		{"DeviceID", store.ScheduleFilter{DeviceID: "d2"}, []store.Schedule{b, c}},
		{"DueBefore inclusive", store.ScheduleFilter{DueBefore: hours(2)}, []store.Schedule{b, c}},
		{"DueBefore, none due", store.ScheduleFilter{DueBefore: hours(1)}, nil},
		{"together", store.ScheduleFilter{UserID: "A", DeviceID: "d1", DueBefore: hours(24)}, []store.Schedule{a}},
		{"Limit: the soonest", store.ScheduleFilter{DueBefore: hours(24), Limit: 1}, []store.Schedule{b}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.ListSchedules(t.Context(), tc.f)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "ListSchedules", got, tc.want)
		})
	}

	must(t, s.AdvanceSchedule(ctx, "s-b", hours(2), hours(3)))
	wantErr(t, "AdvanceSchedule from a Next it left", s.AdvanceSchedule(ctx, "s-b", hours(2), hours(3)), store.ErrStale)
	wantErr(t, "AdvanceSchedule unknown", s.AdvanceSchedule(ctx, "none", hours(2), hours(3)), store.ErrNotFound)
	b.Next = hours(3) // its first run stays
	got, err := s.ListSchedules(ctx, store.ScheduleFilter{UserID: "B"})
	must(t, err)
	same(t, "after AdvanceSchedule", got, []store.Schedule{b})

	a.Every, a.Body = time.Minute, nil
	must(t, s.PutSchedule(ctx, a))
	must(t, s.DeleteSchedule(ctx, "s-c"))
	wantErr(t, "DeleteSchedule twice", s.DeleteSchedule(ctx, "s-c"), store.ErrNotFound)
	got, err = s.ListSchedules(ctx, store.ScheduleFilter{})
	must(t, err)
	same(t, "after replace and delete", got, []store.Schedule{b, a})
}

func testAdvanceScheduleRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	must(t, ss[0].PutSchedule(ctx, store.Schedule{ID: "s", UserID: "A", Every: time.Hour, Next: hours(1)}))
	// Every worker sees the same due run; it must happen once, and then
	// once again for the next run.
	for run := 1; run <= 3; run++ {
		errs := Race(workers(), func(i int) error {
			return ss[i%2].AdvanceSchedule(ctx, "s", hours(run), hours(run+1))
		})
		oneWins(t, fmt.Sprintf("AdvanceSchedule run %d", run), errs, store.ErrStale)
	}
	got, err := ss[1].ListSchedules(ctx, store.ScheduleFilter{})
	must(t, err)
	same(t, "Next after three runs", got[0].Next, hours(4))
}

func testDeliveries(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	none, err := s.AppendDeliveries(ctx, nil)
	must(t, err)
	same(t, "cursors of nothing", len(none), 0)
	ds := []store.Delivery{
		{UserID: "A", Kind: "response", RequestID: "r1", DeviceID: "d1", Payload: []byte(`{"n":1}`), CreatedAt: t0},
		{UserID: "B", Kind: "alert", Code: "A12", DeviceID: "d1", CreatedAt: t0, DueAt: t1},
		{UserID: "A", Kind: "alert", Code: "A3", CreatedAt: t1},
	}
	cursors, err := s.AppendDeliveries(ctx, ds)
	must(t, err)
	more, err := s.AppendDeliveries(ctx, []store.Delivery{{UserID: "A", Kind: "response", RequestID: "r2"}})
	must(t, err)
	cursors = append(cursors, more...)
	ds = append(ds, store.Delivery{UserID: "A", Kind: "response", RequestID: "r2"})
	for i := range ds {
		if i > 0 && cursors[i] <= cursors[i-1] {
			t.Fatalf("cursors %v not increasing", cursors)
		}
		ds[i].Cursor = cursors[i]
	}
	tests := []struct {
		note  string
		user  string
		after int64
		limit int
		want  []store.Delivery
	}{
		{"one user", "A", 0, 0, []store.Delivery{ds[0], ds[2], ds[3]}},
		{"other user", "B", 0, 0, []store.Delivery{ds[1]}},
		{"every user", "", 0, 0, ds},
		{"resume after a cursor", "A", cursors[0], 0, []store.Delivery{ds[2], ds[3]}},
		{"resume, every user", "", cursors[1], 0, ds[2:]},
		{"limit", "A", 0, 2, []store.Delivery{ds[0], ds[2]}},
		{"resume and limit", "", cursors[0], 1, []store.Delivery{ds[1]}},
		{"nothing after the last", "A", cursors[3], 0, nil},
		{"unknown user", "C", 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := s.Deliveries(t.Context(), tc.user, tc.after, tc.limit)
			must(t, err)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			same(t, "Deliveries", got, tc.want)
		})
	}
	for user, want := range map[string]int64{"A": cursors[3], "B": cursors[1], "C": 0} {
		end, err := s.StreamEnd(ctx, user)
		must(t, err)
		same(t, "StreamEnd of "+user, end, want)
		after, err := s.Deliveries(ctx, user, end, 0)
		must(t, err)
		same(t, "deliveries after the end of "+user, len(after), 0)
	}
}

// testDeliveriesResume appends from many goroutines (and two stores), to
// two users and to both at once, while readers follow a user's stream and
// everyone's by cursor: each must see every message of its own once, in
// increasing cursor order, never skipping one that commits late.
func testDeliveriesResume(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	n, per := workers(), 10
	done := make(chan struct{})
	var writeErr error
	go func() {
		defer close(done)
		errs := Race(n, func(i int) error {
			for j := range per {
				p := fmt.Appendf(nil, "%d/%d", i, j)
				a := store.Delivery{UserID: "A", Kind: "alert", Payload: p}
				b := store.Delivery{UserID: "B", Kind: "alert", Payload: p}
				ds := [][]store.Delivery{{a, a}, {b, b}, {b, a}}[(i+j)%3]
				if _, err := ss[i%2].AppendDeliveries(ctx, ds); err != nil {
					return err
				}
			}
			return nil
		})
		writeErr = errors.Join(errs...)
	}()
	type reader struct {
		user string
		last int64
		seen map[string]int
	}
	readers := []*reader{{user: "A", seen: map[string]int{}}, {user: "", seen: map[string]int{}}}
	for finished := false; ; {
		select {
		case <-done:
			finished = true
		default:
		}
		got := 0
		for _, r := range readers {
			ds, err := ss[1].Deliveries(ctx, r.user, r.last, 7)
			must(t, err)
			for _, d := range ds {
				if d.Cursor <= r.last {
					t.Fatalf("reader %q: cursor %d after %d", r.user, d.Cursor, r.last)
				}
				r.last = d.Cursor
				r.seen[d.UserID+" "+string(d.Payload)]++
			}
			got += len(ds)
		}
		if finished && got == 0 {
			break
		}
	}
	must(t, writeErr)
	want := []map[string]int{{}, {}} // by reader
	for i := range n {
		for j := range per {
			p := fmt.Sprintf("%d/%d", i, j)
			switch (i + j) % 3 {
			case 0:
				want[0]["A "+p], want[1]["A "+p] = 2, 2
			case 1:
				want[1]["B "+p] = 2
			case 2:
				want[0]["A "+p], want[1]["A "+p], want[1]["B "+p] = 1, 1, 1
			}
		}
	}
	for k, r := range readers {
		if !maps.Equal(r.seen, want[k]) {
			t.Fatalf("reader %q saw %d messages (%d expected): a late commit was skipped or one seen twice", r.user, len(r.seen), len(want[k]))
		}
	}
}

// testAppendCursorsRace: appends made at once (which a store may commit
// together) each get the cursors of their own messages, in their order.
func testAppendCursorsRace(t *testing.T, open func(*testing.T) store.Store) {
	ss := two(t, open)
	ctx := t.Context()
	users := []string{"A", "B", "C"}
	want := make([]map[int64]string, workers()) // by worker: payload by cursor
	errs := Race(workers(), func(i int) error {
		want[i] = map[int64]string{}
		for j := range 5 {
			var ds []store.Delivery
			for k := range 1 + (i+j)%3 { // to one, two or three users
				ds = append(ds, store.Delivery{UserID: users[(i+k)%3], Kind: "alert", Payload: fmt.Appendf(nil, "%d/%d/%d", i, j, k)})
			}
			cursors, err := ss[i%2].AppendDeliveries(ctx, ds)
			if err != nil {
				return err
			}
			if len(cursors) != len(ds) {
				return fmt.Errorf("%d cursors for %d messages", len(cursors), len(ds))
			}
			for k, c := range cursors {
				if k > 0 && c <= cursors[k-1] {
					return fmt.Errorf("cursors %v not increasing", cursors)
				}
				want[i][c] = ds[k].UserID + " " + string(ds[k].Payload)
			}
		}
		return nil
	})
	must(t, errors.Join(errs...))
	all, err := ss[0].Deliveries(ctx, "", 0, 0)
	must(t, err)
	got := map[int64]string{}
	for _, d := range all {
		got[d.Cursor] = d.UserID + " " + string(d.Payload)
	}
	n := 0
	for i := range want {
		for c, w := range want[i] {
			if got[c] != w {
				t.Fatalf("cursor %d returned for %q holds %q", c, w, got[c])
			}
			n++
		}
	}
	same(t, "messages stored", len(got), n)
}

func testTimes(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.FixedZone("BST", 3600)
	}
	local := time.Date(2026, 7, 1, 12, 30, 0, 123456789, london)
	must(t, s.PutDevice(ctx, store.Device{ID: "d", UpdatedAt: local}))
	got, err := s.GetDevice(ctx, "d")
	must(t, err)
	if !got.UpdatedAt.Equal(local) || got.UpdatedAt.Location() != time.UTC {
		t.Fatalf("UpdatedAt %v, want %v in UTC to the nanosecond", got.UpdatedAt, local)
	}
	must(t, s.PutDevice(ctx, store.Device{ID: "z"}))
	got, err = s.GetDevice(ctx, "z")
	must(t, err)
	if !got.UpdatedAt.IsZero() {
		t.Fatalf("zero time read back as %v", got.UpdatedAt)
	}
	// The zero time sorts before every other: in effect since always.
	must(t, s.PutRegistration(ctx, store.Registration{MPxN: "m", Fuel: "gas"}))
	regs, err := s.Registrations(ctx, []string{"m"}, time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	same(t, "zero EffectiveFrom in effect at any time", len(regs), 1)
	if err := s.PutDevice(ctx, store.Device{ID: "far", UpdatedAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("a time out of range was stored")
	}
	// Empty byte slices read back nil.
	putUser(t, s, "A")
	r := request("r", "A", 1)
	r.Body, r.Response = []byte{}, nil
	must(t, s.InsertRequest(ctx, r, 1))
	gr, err := s.GetRequest(ctx, "r")
	must(t, err)
	if gr.Body != nil || gr.Response != nil {
		t.Fatalf("empty bytes read back %q %q, want nil", gr.Body, gr.Response)
	}
}

// populate writes one of everything and returns the delivery's cursor.
func populate(t *testing.T, s store.Store) int64 {
	t.Helper()
	ctx := t.Context()
	putUser(t, s, "A")
	must(t, s.PutRegistration(ctx, store.Registration{MPxN: "m1", Fuel: "gas", UPRN: "1"}))
	must(t, s.PutDevice(ctx, store.Device{ID: "d1", Type: "GSME", Status: "commissioned"}))
	must(t, s.InsertRequest(ctx, request("r1", "A", 1), 1))
	must(t, s.PutSchedule(ctx, store.Schedule{ID: "s1", UserID: "A", Every: time.Hour, Next: t1}))
	c, err := s.AppendDeliveries(ctx, []store.Delivery{{UserID: "A", Kind: "alert", Code: "A1"}})
	must(t, err)
	return c[0]
}

func testReset(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	last := populate(t, s)
	must(t, s.Reset(ctx))
	users, err := s.ListUsers(ctx)
	must(t, err)
	regs, err := s.Registrations(ctx, []string{"m1"}, t2)
	must(t, err)
	devs, err := s.Devices(ctx, store.DeviceFilter{})
	must(t, err)
	reqs, err := s.ListRequests(ctx, store.RequestFilter{})
	must(t, err)
	scheds, err := s.ListSchedules(ctx, store.ScheduleFilter{})
	must(t, err)
	ds, err := s.Deliveries(ctx, "", 0, 0)
	must(t, err)
	same(t, "rows left after Reset", []int{len(users), len(regs), len(devs), len(reqs), len(scheds), len(ds)},
		[]int{0, 0, 0, 0, 0, 0})
	// The world works again, and a cursor from before Reset is not reused.
	next := populate(t, s)
	if next <= last {
		t.Fatalf("cursor %d after Reset, had %d before: a stale reader would skip it", next, last)
	}
}

func testDurability(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	cursor := populate(t, s)
	r := request("r1", "A", 1)
	r.State = "executing"
	_, err := s.UpdateRequest(ctx, r, "acknowledged", []store.Delivery{{UserID: "A", Kind: "response", RequestID: "r1"}})
	must(t, err)
	must(t, s.Close())
	must(t, s.Close()) // twice is fine

	s = open(t)
	u, err := s.GetUser(ctx, "A")
	must(t, err)
	same(t, "LastCounter after reopen", u.LastCounter, uint64(1))
	wantErr(t, "replay after reopen", s.InsertRequest(ctx, request("r9", "A", 1), 1), store.ErrStale)
	got, err := s.GetRequest(ctx, "r1")
	must(t, err)
	same(t, "request after reopen", got, r)
	if _, err := s.GetDevice(ctx, "d1"); err != nil {
		t.Fatalf("device after reopen: %v", err)
	}
	regs, err := s.Registrations(ctx, []string{"m1"}, t2)
	must(t, err)
	same(t, "registrations after reopen", len(regs), 1)
	sc, err := s.ListSchedules(ctx, store.ScheduleFilter{})
	must(t, err)
	same(t, "schedules after reopen", len(sc), 1)
	ds, err := s.Deliveries(ctx, "A", 0, 0)
	must(t, err)
	if len(ds) != 2 || ds[0].Cursor != cursor {
		t.Fatalf("deliveries after reopen: %+v", ds)
	}
	c, err := s.AppendDeliveries(ctx, []store.Delivery{{UserID: "A", Kind: "alert"}})
	must(t, err)
	if c[0] <= ds[1].Cursor {
		t.Fatalf("cursor %d after reopen, had %d", c[0], ds[1].Cursor)
	}
	_, err = store.CheckVersion(ctx, s)
	must(t, err)
}

func testClosed(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	must(t, s.Close())
	ctx := context.WithoutCancel(t.Context())
	if err := s.PutUser(ctx, store.User{ID: "A"}); err == nil {
		t.Fatal("PutUser on a closed store succeeded")
	}
	if _, err := s.GetUser(ctx, "A"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser on a closed store: %v", err)
	}
}

// testBulkLoad seeds more rows than one multi-row statement carries (and a
// last statement of another size), replaces rows it loads again, and reads
// them back as the single-row writes would have left them.
func testBulkLoad(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	bl, ok := s.(store.BulkLoader)
	if !ok {
		t.Skip("this backend does not bulk load")
	}
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	var regs []store.Registration
	var devs []store.Device
	for i := range 1234 {
		mpxn := fmt.Sprintf("19%011d", i)
		regs = append(regs, store.Registration{MPxN: mpxn, Fuel: "electricity", ImportSupplier: "eis", Postcode: "PC", Premises: fmt.Sprint(i)})
		devs = append(devs, store.Device{ID: fmt.Sprintf("esme-%04d", i), Type: "ESME", Status: "pending", MPxN: mpxn, CHF: "chf", UpdatedAt: at})
	}
	if err := bl.BulkLoad(ctx, regs, devs); err != nil {
		t.Fatal(err)
	}
	// Loaded again, each twice in one call: the last wins.
	first, last := devs[7], devs[7]
	first.Status, last.Status = "installed_not_commissioned", "commissioned"
	r1, r2 := regs[7], regs[7]
	r1.ImportSupplier, r2.ImportSupplier = "first", "other"
	if err := bl.BulkLoad(ctx, []store.Registration{r1, r2}, []store.Device{first, last}); err != nil {
		t.Fatal(err)
	}
	devs[7], regs[7] = last, r2
	got, err := s.Devices(ctx, store.DeviceFilter{CHF: "chf"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(devs) {
		t.Fatalf("%d devices, want %d", len(got), len(devs))
	}
	for i, d := range got {
		if d != devs[i] {
			t.Fatalf("device %d: %+v, want %+v", i, d, devs[i])
		}
	}
	r, err := s.Registrations(ctx, []string{regs[7].MPxN, regs[1233].MPxN}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(r) != 2 || r[0] != regs[7] || r[1] != regs[1233] {
		t.Fatalf("registrations %+v, want %+v and %+v", r, regs[7], regs[1233])
	}
}

// testWalk streams the inventory hub by hub (a hub first, then its devices
// by ID; a device on no hub alone; one whose hub is not held grouped under
// that hub's ID) and the Registration Data in effect.
func testWalk(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	w, ok := s.(store.Walker)
	if !ok {
		t.Skip("this backend does not stream")
	}
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	for _, d := range []store.Device{
		{ID: "ihd-1", Type: "IHD", Status: "commissioned", CHF: "chf-1"},
		{ID: "esme-9", Type: "ESME", Status: "pending"},
		{ID: "chf-2", Type: "CHF", Status: "commissioned"},
		{ID: "esme-1", Type: "ESME", Status: "commissioned", CHF: "chf-1"},
		{ID: "x-1", Type: "IHD", Status: "pending", CHF: "chf-9"},
		{ID: "gsme-2", Type: "GSME", Status: "commissioned", CHF: "chf-2"},
		{ID: "chf-1", Type: "CHF", Status: "commissioned"},
	} {
		if err := s.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	var got [][]string
	if err := w.WalkDevicesByHub(ctx, func(group []store.Device) error {
		var ids []string
		for _, d := range group {
			ids = append(ids, d.ID)
		}
		got = append(got, ids)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"chf-1", "esme-1", "ihd-1"}, {"chf-2", "gsme-2"}, {"x-1"}, {"esme-9"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
	for _, r := range []store.Registration{
		{MPxN: "1", Fuel: "electricity", ImportSupplier: "old", EffectiveFrom: at.Add(-48 * time.Hour)},
		{MPxN: "1", Fuel: "electricity", ImportSupplier: "new", EffectiveFrom: at.Add(24 * time.Hour)},
		{MPxN: "2", Fuel: "gas", ImportSupplier: "gas", EffectiveFrom: at.Add(-time.Hour)},
		{MPxN: "3", Fuel: "gas", ImportSupplier: "later", EffectiveFrom: at.Add(time.Hour)},
	} {
		if err := s.PutRegistration(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var regs []string
	if err := w.WalkRegistrationsInEffect(ctx, at, func(r store.Registration) error {
		regs = append(regs, r.MPxN+":"+r.ImportSupplier)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(regs) != "[1:old 2:gas]" {
		t.Fatalf("registrations in effect %v", regs)
	}
}

// testPurgeBefore: history older than the cut goes, final requests with
// their deliveries and old deliveries of no request; a request still to
// run stays however old, and so does everything newer; limit bounds a call.
func testPurgeBefore(t *testing.T, open func(*testing.T) store.Store) {
	ctx, s := t.Context(), open(t)
	p, ok := store.As[store.Purger](s)
	if !ok {
		t.Skip("the store does not purge")
	}
	putUser(t, s, "U")
	for i, st := range []string{"accepted", "rejected", "pending", "accepted", "cancelled"} {
		r := request(fmt.Sprintf("U:D:%d", i+1), "U", i+1) // received hours(i+1)
		r.State = st
		must(t, s.InsertRequest(ctx, r, uint64(i+1)))
	}
	_, err := s.AppendDeliveries(ctx, []store.Delivery{
		{UserID: "U", Kind: "response", RequestID: "U:D:1", CreatedAt: hours(10)}, // of an old request, made later
		{UserID: "U", Kind: "response", RequestID: "U:D:4", CreatedAt: hours(10)},
		{UserID: "U", Kind: "alert", Code: "A1", CreatedAt: hours(2)}, // old, of no request
		{UserID: "U", Kind: "alert", Code: "A1", CreatedAt: hours(20)},
	})
	must(t, err)
	ids := func() []string {
		t.Helper()
		rs, err := s.ListRequests(ctx, store.RequestFilter{UserID: "U"})
		must(t, err)
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	// The cut after the third: the first two are final and go, one a
	// call; old deliveries among the first (limit) by sequence go too.
	n, err := p.PurgeBefore(ctx, hours(3).Add(time.Minute), 1)
	must(t, err)
	same(t, "purged by the first call (a request)", n, 1)
	n, err = p.PurgeBefore(ctx, hours(3).Add(time.Minute), 10)
	must(t, err)
	same(t, "purged by the second call (a request, the old alert)", n, 2)
	same(t, "requests left", ids(), []string{"U:D:3", "U:D:4", "U:D:5"})
	ds, err := s.Deliveries(ctx, "U", 0, 0)
	must(t, err)
	var left []string
	for _, d := range ds {
		left = append(left, d.Kind+":"+d.RequestID+d.CreatedAt.Format("15"))
	}
	same(t, "deliveries left", left, []string{"response:U:D:410", "alert:20"})
	n, err = p.PurgeBefore(ctx, hours(3).Add(time.Minute), 10)
	must(t, err)
	same(t, "purged again", n, 0)
}
