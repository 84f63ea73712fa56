package devices

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/spec"
)

// Device type codes the emulator models. They are the codes of the spec's
// device_types; Add refuses a code the spec does not have.
const (
	TypeCHF    = "CHF"
	TypeGPF    = "GPF"
	TypeESME   = "ESME"
	TypeGSME   = "GSME"
	TypePPMID  = "PPMID"
	TypeHCALCS = "HCALCS"
	TypeIHD    = "IHD"
)

// Errors of the Fleet and the SMWAN.
var (
	// ErrUnknownDevice: no device with that ID is in the fleet.
	ErrUnknownDevice = errors.New("devices: unknown device")
	// ErrUnknownEvent: Event was given a kind it does not know.
	ErrUnknownEvent = errors.New("devices: unknown event kind")
	// ErrEventNotApplicable: the event cannot happen to that device (a
	// voltage excursion on a gas meter, a power cut that is already on).
	ErrEventNotApplicable = errors.New("devices: event not applicable")
)

// Response reasons of a failed Command.
const (
	// ReasonRejected: the device refused the command (para 132, 140-141):
	// its MAC does not verify, it is for another device or means another
	// command, or it is critical and not signed by the holder of the
	// credential (auth.go).
	ReasonRejected = "DEVICE_REJECTED"
	// ReasonError: the device could not carry the command out.
	ReasonError = "DEVICE_ERROR"
)

// Command is what the gateway sends to a device once a Service Request has
// passed its checks (and, for a critical one, been signed).
// Command is also what a Command for Local Delivery carries to the user
// (in JSON, by these field names).
type Command struct {
	RequestID string `json:"request_id"` // "originator:target:counter"
	Service   string `json:"service"`    // spec key: "4.1", "1.1/credit", "8.7/type1"
	Device    string `json:"device"`     // target Device ID, EUI-64 "00-DB-00-00-00-00-E0-01"
	Sender    string `json:"sender"`     // User ID (EUI-64) of the requester
	// SenderRole is the requester's role code: EIS EES GIS SNA ENO GNO OU.
	SenderRole string `json:"sender_role"`
	Critical   bool   `json:"critical"`
	// Body holds the service's request fields (names from spec
	// Service.Fields) as JSON-like values: string, float64, int64 or
	// json.Number, bool, []any. The device checks they are what
	// Authenticated carries, and acts on the latter.
	Body map[string]any `json:"body"`
	// Authenticated is the Command as the DCC sends it over the SMWAN (para
	// 132, docs/precommand.md): the Pre-Command of this command, or for a
	// critical one the Signed Pre-Command, followed by the DCC's Message
	// Authentication Code under the target device's key
	// (precommand.AddMAC with precommand.DeviceKey). Who signed is read
	// from the signature, never told: see auth.go.
	Authenticated []byte `json:"authenticated,omitempty"`
}

// Response is the device's answer to a Command.
type Response struct {
	OK bool
	// Data is the device's answer, JSON-friendly: only map[string]any, []any,
	// string, float64, int64 and bool (times as RFC 3339 strings).
	Data map[string]any
	// Reason is ReasonRejected or ReasonError when !OK.
	Reason string
	Detail string
}

// Alert is a Table 5.4 alert raised by a device (or, for the alerts Table
// 5.4 says are "Issued from CSP Solution", by the SMWAN provider on behalf of
// the hub).
type Alert struct {
	Device string
	// Code is "A1".."A35" of Table 5.4.
	Code string
	At   time.Time
	// Data carries the alert's name and service (A1 Device Alert or A2 DCC
	// Alert) from the spec, who issued it, and what caused it.
	Data map[string]any
}

// DeviceOptions describe a device being added to the fleet. Zero values give
// the emulator's defaults.
type DeviceOptions struct {
	// MPxN is the MPAN or MPRN of a meter.
	MPxN string
	// CHF is the Communications Hub Function the device communicates
	// through (empty for a CHF itself).
	CHF string
	// Meter is the meter a GPF, PPMID, HCALCS or IHD is associated with.
	Meter string
	// Credentials maps credential kinds (CredSupplier, CredNetworkOperator,
	// CredCoSParty...) to the User IDs the device trusts for them. Kinds not
	// given come from the fleet's defaults (SetDefaultCredential).
	Credentials map[string]string
	// PaymentMode is PaymentCredit (default) or PaymentPrepayment.
	PaymentMode string
	// CreditPence is the initial meter balance.
	CreditPence float64
	// DebtPence and DebtRecoveryPencePerDay are the initial debt.
	DebtPence               float64
	DebtRecoveryPencePerDay int64
	// Prepay is the prepayment configuration; nil gives a low credit
	// threshold of 200p, emergency credit of 500p and disablement at 0p.
	Prepay *PrepayConfig
	// Supply is the initial supply state; default SupplyEnabled.
	Supply string
	// ImportKWh is the initial import register reading.
	ImportKWh float64
	// RateWatts is the mean import; 0 derives one from the Device ID.
	RateWatts float64
	// Firmware is the running version; default "1.0.0".
	Firmware string
	// WANConnected starts a CHF already joined to the SMWAN, without the
	// wan_connected event and its callback.
	WANConnected bool
	// Commissioned starts the device commissioned.
	Commissioned bool
}

// PrepayConfig is a meter's prepayment configuration (2.1).
type PrepayConfig struct {
	LowCreditThresholdPence   int64
	EmergencyCreditLimitPence int64
	DisablementThresholdPence int64
}

// Fleet is every emulated device. It is safe for concurrent use; alert and
// WAN subscribers are called without the fleet's lock held, in the goroutine
// whose call caused them, so they may call back into the Fleet.
type Fleet struct {
	clk clock.Clock
	sp  *spec.Spec
	// eui64 is the spec's Device ID pattern; nil when the spec has none.
	eui64 *regexp.Regexp
	// longOutage is the outage length from which A25 is raised.
	longOutage time.Duration
	alerts     map[string]*spec.Alert
	// battery are the device types that run on batteries: those Table 5.4
	// says can report Low Battery Capacity.
	battery map[string]bool
	// hookClock: follow a virtual clock's advances (see NewFleet).
	hookClock bool

	mu      sync.Mutex
	devices map[string]*device
	// order is the devices' IDs sorted, for Tick; nil when a device came
	// or went since (a slice handed out is never changed).
	order    []string
	defaults map[string]string
	// interned are the sets of credentials devices share (intern).
	interned map[string]map[string]string
	// keys resolves the public keys of credential holders and master is
	// the DCC's MAC master key (auth.go).
	keys   KeyResolver
	master []byte

	subMu   sync.Mutex
	onAlert []func(Alert)
	onWAN   []func(string)
}

// FleetOption configures NewFleet.
type FleetOption func(*Fleet)

// WithoutClockHook stops NewFleet from hooking a virtual clock's advances,
// so registers and the alerts they cause (A10, A11, A13) move only when a
// device is looked at or Tick is called.
func WithoutClockHook() FleetOption { return func(f *Fleet) { f.hookClock = false } }

// advancer is the part of clock.Virtual the fleet uses to move with it.
type advancer interface {
	OnAdvance(func(time.Time))
}

// NewFleet returns an empty fleet on clock clk, following spec sp (nil means
// spec.Default()). When clk can report its advances (clock.Virtual), the
// fleet brings every device up to date on each advance, so alerts caused by
// consumption are raised as the clock moves.
func NewFleet(clk clock.Clock, sp *spec.Spec, opts ...FleetOption) *Fleet {
	if sp == nil {
		var err error
		if sp, err = spec.Default(); err != nil || sp == nil {
			sp = &spec.Spec{}
		}
	}
	f := &Fleet{
		clk:        clk,
		sp:         sp,
		alerts:     map[string]*spec.Alert{},
		battery:    map[string]bool{},
		devices:    map[string]*device{},
		defaults:   map[string]string{},
		longOutage: defaultLongOutage,
		hookClock:  true,
	}
	for _, o := range opts {
		o(f)
	}
	if p := sp.Patterns["eui64"]; p != "" {
		f.eui64, _ = regexp.Compile(p)
	}
	for _, a := range sp.Alerts {
		f.alerts[a.Code] = a
	}
	if a := f.alerts[alertLowBattery]; a != nil {
		for _, t := range a.IssuedBy {
			f.battery[t] = true
		}
	}
	if a := f.alerts[alertLongOutage]; a != nil {
		if d, ok := outageFromName(a.Name); ok {
			f.longOutage = d
		}
	}
	if v, ok := clk.(advancer); ok && f.hookClock {
		v.OnAdvance(func(time.Time) { f.Tick() })
	}
	return f
}

// defaultLongOutage is A25's threshold when its name in the spec does not
// state one: "Supply Outage Restored - Outage >= 3 minutes".
const defaultLongOutage = 3 * time.Minute

var outageRE = regexp.MustCompile(`(?:>=|≥|\\geq)\s*([0-9]+)\s*minute`)

// outageFromName reads A25's threshold from its Table 5.4 name, so the
// number lives in the spec only.
func outageFromName(name string) (time.Duration, bool) {
	m := outageRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, false
	}
	return time.Duration(n) * time.Minute, true
}

// Spec returns the spec the fleet follows.
func (f *Fleet) Spec() *spec.Spec { return f.sp }

// OnAlert subscribes fn to every alert raised from now on.
func (f *Fleet) OnAlert(fn func(Alert)) {
	if fn == nil {
		return
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.onAlert = append(f.onAlert, fn)
}

// OnWANConnected subscribes fn to CHFs joining the SMWAN (the gateway sets
// their SMI status).
func (f *Fleet) OnWANConnected(fn func(chf string)) {
	if fn == nil {
		return
	}
	f.subMu.Lock()
	defer f.subMu.Unlock()
	f.onWAN = append(f.onWAN, fn)
}

// SetDefaultCredential sets a credential that devices added from now on hold
// unless their DeviceOptions name another holder, typically the DCC's own
// (CredAccessControlBroker, CredCoSParty). An empty userID removes it.
func (f *Fleet) SetDefaultCredential(kind, userID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if userID == "" {
		delete(f.defaults, kind)
		return
	}
	f.defaults[kind] = userID
}

// maxInterned bounds the distinct sets of credentials the fleet shares.
const maxInterned = 4096

// intern returns the fleet's map equal to creds and true, for the device to
// share until it changes a credential (ownCredentials); or creds and false
// once maxInterned sets are held. A fleet's devices hold few distinct sets
// (a supplier and a network operator, the DCC's defaults): a map each was
// a tenth of the live heap of a fleet of 10,000 systems, which the
// collector marks at every cycle. f.mu is held.
func (f *Fleet) intern(creds map[string]string) (map[string]string, bool) {
	keys := slices.Sorted(maps.Keys(creds))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(creds[k])
		b.WriteByte(0)
	}
	key := b.String()
	if m, ok := f.interned[key]; ok {
		return m, true
	}
	if len(f.interned) >= maxInterned {
		return creds, false
	}
	if f.interned == nil {
		f.interned = map[string]map[string]string{}
	}
	f.interned[key] = creds
	return creds, true
}

// Add puts a new device of deviceType (a spec device type code) in the
// fleet.
func (f *Fleet) Add(id, deviceType string, opts DeviceOptions) error {
	if id == "" {
		return errors.New("devices: empty Device ID")
	}
	if f.eui64 != nil && !f.eui64.MatchString(id) {
		return fmt.Errorf("devices: Device ID %q is not an EUI-64 (%s)", id, f.eui64)
	}
	dt := f.sp.DeviceType(deviceType)
	if dt == nil {
		return fmt.Errorf("devices: unknown device type %q", deviceType)
	}
	mode := opts.PaymentMode
	if mode == "" {
		mode = PaymentCredit
	}
	if mode != PaymentCredit && mode != PaymentPrepayment {
		return fmt.Errorf("devices: unknown payment mode %q", opts.PaymentMode)
	}
	supply := opts.Supply
	if supply == "" {
		supply = SupplyEnabled
	}
	if supply != SupplyEnabled && supply != SupplyDisabled && supply != SupplyArmed {
		return fmt.Errorf("devices: unknown supply state %q", opts.Supply)
	}
	if opts.RateWatts < 0 || opts.ImportKWh < 0 || opts.DebtPence < 0 || opts.DebtRecoveryPencePerDay < 0 {
		return errors.New("devices: negative rate, register or debt")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.devices[id]; dup {
		return fmt.Errorf("devices: device %s already in the fleet", id)
	}
	now := f.clk.Now()
	d := &device{
		DeviceState: DeviceState{
			ID:              id,
			Type:            deviceType,
			MPxN:            opts.MPxN,
			CHF:             opts.CHF,
			AssociatedMeter: opts.Meter,
			AddedAt:         now,
			Commissioned:    opts.Commissioned,
			Powered:         true,
			WANConnected:    opts.WANConnected && deviceType == TypeCHF,
			// Certificates, KeyPairs, EventBehaviour and Aux are made at
			// their first write (put): most devices never have one.
		},
		class:     dt.Class,
		seed:      idHash(id),
		accruedTo: now,
	}
	if opts.Commissioned {
		d.CommissionedAt = now
		d.ClockSyncedAt = now
	}
	creds := maps.Clone(f.defaults)
	if creds == nil {
		creds = map[string]string{}
	}
	maps.Copy(creds, opts.Credentials)
	for k, v := range creds {
		if v == "" {
			delete(creds, k)
		}
	}
	d.Credentials, d.sharedCreds = f.intern(creds)
	version := opts.Firmware
	if version == "" {
		version = "1.0.0"
	}
	d.Firmware = Firmware{Version: version, Images: []FirmwareImage{{Version: version, SHA256: factoryImage(version)}}}
	if dt.Class == "meter" {
		d.Meter = newMeter(d, dt.Fuel, mode, supply, opts)
	}
	d.wasFlowing = d.flowing()
	if !d.wasFlowing {
		d.off = append(d.off, period{from: now})
	}
	if _, ok := f.devices[id]; !ok {
		f.order = nil
	}
	f.devices[id] = d
	return nil
}

// Remove takes a device out of the fleet. HAN Device Logs that list it keep
// it until an 8.11 removes it, as on a real hub.
func (f *Fleet) Remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.devices, id)
	f.order = nil
}

// IDs returns the Device IDs of the fleet, sorted.
func (f *Fleet) IDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sortedIDs())
}

// sortedIDs returns order, sorting it again if needed (under mu).
func (f *Fleet) sortedIDs() []string {
	if f.order == nil {
		f.order = slices.Sorted(maps.Keys(f.devices))
	}
	return f.order
}

// Get returns a copy of a device's state, brought up to the clock's time
// (which may raise the alerts consumption caused since it was last seen).
func (f *Fleet) Get(id string) (DeviceState, bool) {
	t := f.begin()
	d := f.devices[id]
	if d == nil {
		f.end(t)
		return DeviceState{}, false
	}
	d.accrue(t)
	s := d.clone()
	f.end(t)
	return s, true
}

// Credential is the holder of a device's credential kind ("" if none), read
// without copying the device's state (Get does) or bringing it up to the
// clock: the gateway asks it for each alert.
func (f *Fleet) Credential(id, kind string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.devices[id]
	if d == nil {
		return "", false
	}
	return d.Credentials[kind], true
}

// SetCredential makes userID the holder of a device's credential kind; an
// empty userID removes the credential.
func (f *Fleet) SetCredential(id, kind, userID string) error {
	if kind == "" {
		return errors.New("devices: empty credential kind")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.devices[id]
	if d == nil {
		return fmt.Errorf("%w: %s", ErrUnknownDevice, id)
	}
	d.ownCredentials()
	if userID == "" {
		delete(d.Credentials, kind)
	} else {
		d.Credentials[kind] = userID
	}
	return nil
}

// Tick brings every device up to the clock's time, raising the alerts that
// consumption caused on the way (A10, A11, A13). With a virtual clock the
// fleet does this on every advance; with the real clock the gateway calls it
// from its scheduler.
//
// It goes through the fleet tickStep devices at a time, in the order of
// their IDs, taking the fleet's lock for each step only: a Command waits
// for one step, not for the whole fleet (a sweep of 30,000 devices under
// one lock held Commands for over 10 ms every second).
func (f *Fleet) Tick() {
	f.mu.Lock()
	ids := f.sortedIDs()
	f.mu.Unlock()
	for len(ids) > 0 {
		n := min(tickStep, len(ids))
		t := f.begin()
		for _, id := range ids[:n] {
			if d := f.devices[id]; d != nil { // gone since
				d.accrue(t)
			}
		}
		f.end(t)
		ids = ids[n:]
	}
}

// tickStep is how many devices one step of Tick brings up to time.
const tickStep = 256

// Execute runs cmd on its target device and returns the device's answer.
// The device checks the command is one of its services (the spec's Targets),
// authenticates it (auth.go: the DCC's MAC, that it is addressed to this
// device and means cmd, and for a critical command the signature of the
// holder of the credential the sender's role needs), then carries out what
// was authenticated.
func (f *Fleet) Execute(cmd Command) Response {
	t := f.begin()
	resp := f.execute(t, cmd)
	f.end(t)
	return resp
}

func (f *Fleet) execute(t *tx, cmd Command) Response {
	d := f.devices[cmd.Device]
	if d == nil {
		return fail(ReasonError, "unknown device %s", cmd.Device)
	}
	// A Command sent again, the same Command (its Request ID and its
	// authenticated bytes), because its answer was lost on the SMWAN: the
	// device answers as it did, and does not run it twice (a top-up
	// credited twice, a valve closed again).
	if prev, ok := d.answered(cmd); ok {
		return prev
	}
	resp := f.run(t, d, cmd)
	d.remember(cmd, resp)
	return resp
}

// run executes cmd on d (execute, for a Command the device has not
// answered).
func (f *Fleet) run(t *tx, d *device, cmd Command) Response {
	ref, variant, _ := strings.Cut(cmd.Service, "/")
	svc := f.sp.Service(ref, variant)
	switch {
	case svc == nil:
		return fail(ReasonError, "unknown service %q", cmd.Service)
	case svc.Alert:
		return fail(ReasonError, "%s is an alert, not a command", cmd.Service)
	case !svc.DeviceService:
		return fail(ReasonError, "%s is not a Device service (Table %s)", cmd.Service, svc.Table)
	case !slices.Contains(svc.Targets, d.Type):
		return fail(ReasonError, "service %s not supported by %s", svc.Key(), d.Type)
	}
	d.accrue(t)
	if !d.Powered {
		return fail(ReasonError, "device %s has no power", d.ID)
	}
	c := &call{f: f, t: t, d: d, cmd: cmd, svc: svc}
	if err := c.authenticate(svc.Critical || cmd.Critical); err != nil {
		return failure(err)
	}
	h := handlers[svc.Key()]
	if h == nil {
		return fail(ReasonError, "service %s not implemented by the %s emulator", svc.Key(), d.Type)
	}
	data, err := h(c)
	if err != nil {
		return failure(err)
	}
	if data == nil {
		data = map[string]any{}
	}
	return Response{OK: true, Data: data}
}

// begin locks the fleet and opens a transaction that collects what must be
// told to subscribers once the lock is released.
func (f *Fleet) begin() *tx {
	f.mu.Lock()
	return &tx{f: f, now: f.clk.Now()}
}

// end unlocks the fleet and tells subscribers, in order, what happened.
func (f *Fleet) end(t *tx) {
	f.mu.Unlock()
	if len(t.alerts) == 0 && len(t.wan) == 0 {
		return
	}
	f.subMu.Lock()
	onAlert := slices.Clone(f.onAlert)
	onWAN := slices.Clone(f.onWAN)
	f.subMu.Unlock()
	for _, chf := range t.wan {
		for _, fn := range onWAN {
			fn(chf)
		}
	}
	for _, a := range t.alerts {
		for _, fn := range onAlert {
			fn(a)
		}
	}
}

// tx is one locked operation on the fleet.
type tx struct {
	f      *Fleet
	now    time.Time
	alerts []Alert
	wan    []string
}

// issuerCSP is the "issued by" of alerts the SMWAN provider raises.
const issuerCSP = "CSP"

// raise raises alert code about device d, issued by issuer (d's type, or
// issuerCSP), if Table 5.4 lets that issuer raise it. A device logs every
// event; whether it also alerts follows Table 5.4 and its event behaviour
// (6.22).
func (t *tx) raise(d *device, issuer, code string, at time.Time, data map[string]any) {
	a := t.f.alerts[code]
	if a == nil {
		return // the spec no longer has this alert
	}
	if issuer != issuerCSP {
		if len(a.IssuedBy) > 0 && !slices.Contains(a.IssuedBy, issuer) {
			d.logEvent(at, code, a.Name+" (logged only: Table 5.4 does not list "+issuer+" as an issuer)")
			return
		}
		switch d.EventBehaviour[code] {
		case "ignore":
			return
		case "log":
			d.logEvent(at, code, a.Name+" (logged only: event behaviour)")
			return
		}
		d.logEvent(at, code, a.Name)
	} else if len(a.IssuedBy) > 0 && !slices.Contains(a.IssuedBy, issuerCSP) {
		return
	}
	out := map[string]any{"name": a.Name, "alert_service": a.Service, "issued_by": issuer}
	for k, v := range data {
		out[k] = v
	}
	t.alerts = append(t.alerts, Alert{Device: d.ID, Code: code, At: at, Data: out})
}

func fail(reason, format string, args ...any) Response {
	return Response{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// deviceError is a handler's refusal or failure.
type deviceError struct {
	reason string
	detail string
}

func (e *deviceError) Error() string { return e.reason + ": " + e.detail }

func rejected(format string, args ...any) error {
	return &deviceError{reason: ReasonRejected, detail: fmt.Sprintf(format, args...)}
}

func devErr(format string, args ...any) error {
	return &deviceError{reason: ReasonError, detail: fmt.Sprintf(format, args...)}
}

func failure(err error) Response {
	var de *deviceError
	if errors.As(err, &de) {
		return Response{Reason: de.reason, Detail: de.detail}
	}
	return Response{Reason: ReasonError, Detail: err.Error()}
}
