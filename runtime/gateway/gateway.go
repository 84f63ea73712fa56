// Package gateway is the DCC User Gateway at run time: it takes Service
// Requests from authenticated users, has the engine decide them with facts
// loaded from the store, persists them before acknowledging, executes them
// by category (on demand, future dated, scheduled, sequenced, critical after
// signing) on emulated devices over the emulated SMWAN, and delivers Service
// Responses and Alerts to each user's stream.
package gateway

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// AnomalyRule is an anomaly-detection threshold (para 135, footnote 14): at
// most Max requests of a service by users of a role per window Per.
type AnomalyRule struct {
	Service string // row key or reference
	Role    string // "" for every role
	Max     int
	Per     time.Duration
}

// Config configures a Gateway.
// DefaultRetryLater is Config.RetryLater's default: a quarter of an hour
// spaces the tries of a request with a day to answer (96 at most).
const DefaultRetryLater = 15 * time.Minute

type Config struct {
	Store  store.Store
	Engine engine.Decider
	Spec   *spec.Spec
	// Clock is the gateway's time; Virtual is set when it is a virtual
	// clock that the admin API may move.
	Clock   clock.Clock
	Virtual *clock.Virtual
	Workers int
	// DueBatch is how many due requests, and due schedules, RunDue reads
	// at a time (default 1,000).
	DueBatch int
	Logger   *slog.Logger
	Anomaly  []AnomalyRule
	// AlertAnomaly is the thresholds on each device's alerts (para 136).
	AlertAnomaly []AlertAnomalyRule
	// Shared is set when other gateway processes may share the store
	// (PostgreSQL; see lease.go): work is claimed with leases the process
	// renews, a dead process's work is taken over once its leases expire,
	// and streams follow the deliveries other processes append. Unset,
	// the process is the store's only gateway and Start resumes at once
	// all the work a previous run left in progress.
	Shared bool
	// Lease is how long a claim on a request holds without renewal (wall
	// time, default 30s); a process renews its leases every Lease/3.
	Lease time.Duration
	// Node names this process in the leases it holds (default: host,
	// process ID and a random suffix).
	Node string
	// DeliveryPoll is how often, when Shared, stream readers look for
	// deliveries in case a notification was missed (default 2s).
	DeliveryPoll time.Duration
	// Wall is the wall clock leases are measured on (default clock.Real).
	Wall clock.Clock
	// CoSKey is the CoS Party's signing key (nil: a new one): processes
	// sharing a store, and a process after a restart, must share it, or a
	// Change of Supplier signed by one does not verify on another.
	CoSKey *ecdsa.PrivateKey
	// SignatureTTL is how long a Pre-Command waits for its signature
	// before the request expires.
	SignatureTTL time.Duration
	// CommandTimeout bounds one Command over the SMWAN (wall time).
	CommandTimeout time.Duration
	// CommandRetries is how many times a Command the SMWAN lost, or that
	// timed out or found its hub not answering, is sent again (smwan.go);
	// 0: never.
	CommandRetries int
	// RetryLater: a future dated request whose Command the
	// SMWAN still did not deliver after CommandRetries is pending again,
	// to be tried this much later on the gateway's clock, as long as that
	// is inside its target response time (24 hours from its execution
	// time: a hub off for an hour need not fail it). 0: DefaultRetryLater;
	// negative: never, it fails with SMWAN_UNAVAILABLE at once, as an on
	// demand request does.
	RetryLater time.Duration
	// Traffic, if set, is the traffic management policy of para 273 (off
	// unless enabled): it may defer or refuse requests while the gateway
	// is over its load.
	Traffic *traffic.Manager
	// OnDue, if set, runs at the end of each pass of RunDue (work of other
	// components that falls due on the gateway's clock).
	OnDue func(ctx context.Context)
	// EagerFleet is the largest inventory emulated whole at start (0:
	// DefaultEagerFleet; negative: always on first contact).
	EagerFleet int
	// LiveHubs is, above EagerFleet, the most premises (a Communications
	// Hub with its devices) emulated in memory at once; the least recently
	// used beyond it are parked in a temporary file under ParkDir (0:
	// DefaultLiveHubs; "": the system's temporary directory).
	LiveHubs int
	ParkDir  string
	// Maintenance, if set, refuses requests received during a planned
	// maintenance window (para 213, 246).
	Maintenance MaintenanceGate
	// MaxInFlight bounds the requests the process holds: Submits being
	// checked plus acknowledged requests queued or executing (admit.go;
	// 0: DefaultMaxInFlight; negative: no bound). A Submit that finds it
	// full waits up to AdmissionWait (wall time; 0:
	// DefaultAdmissionWait), then fails with ErrBusy.
	MaxInFlight   int
	AdmissionWait time.Duration
}

// Gateway is a running gateway.
type Gateway struct {
	cfg    Config
	st     store.Store
	engPtr atomic.Pointer[engine.Decider]
	obs    atomic.Pointer[Observer]
	// specPtr is the spec requests execute under; a reload swaps it with
	// the engine.
	specPtr atomic.Pointer[spec.Spec]
	clk     clock.Clock
	log     *slog.Logger
	// emu is the emulated fleet and SMWAN; a Reset swaps in a new one.
	emuPtr atomic.Pointer[emu]

	queue chan string
	wg    sync.WaitGroup
	stop  context.CancelFunc

	anomalyMu sync.RWMutex
	anomaly   []AnomalyRule
	// alertCounts counts devices' alerts against AlertAnomaly (para 136).
	alertCounts alertCounts

	// deliveries wakes stream readers when messages are appended.
	delMu  sync.Mutex
	delGen chan struct{}
	// delUser holds, per user with a reader waiting, the channel closed at
	// the next append to its stream.
	delUser map[string]chan struct{}

	// userMu serialises request-ID assignment per user.
	userMu sync.Map // user ID -> *sync.Mutex
	// pending is, per user, the counter of its latest request queued to
	// the store (see store): its successor is numbered above it.
	pending sync.Map // user ID -> uint64
	// roles caches each user's role for execution (roleOf); fresh holds
	// requests stored acknowledged until a worker claims them.
	roles sync.Map // user ID -> role
	fresh sync.Map // request ID -> store.Request
	// claimed holds the requests this process's workers are running, on
	// a store without leases (claim).
	claimed sync.Map // request ID -> struct{}
	users   userCache
	// awaited holds, on a store without leases, the requests that a held
	// request of this process names as its predecessor (markAwaited): a
	// request finishing with none looks for no successors.
	awaited sync.Map // request ID -> struct{}

	// runMu makes "run what is due" one pass at a time.
	runMu sync.Mutex
	// nextPurge is when the history is next purged (under runMu).
	nextPurge time.Time

	// cosKey is the CoS Party's signing key (para 142: a separate function
	// with its own key).
	cosKey *ecdsa.PrivateKey
	// macKey is the DCC's master key for the MACs of Commands; each
	// device's key derives from it (devicekeys.go).
	macKey []byte

	// leaser claims work with leases when the store is Shared (nil: this
	// process is the store's only gateway); node names this process in
	// them, on the wall clock.
	leaser store.Leaser
	node   string
	wall   clock.Clock
	// checks reads a submission's user, device and registration record
	// in one statement, on a shared store that can (nil: one by one).
	checks store.CheckReader

	smwanMu      sync.Mutex
	smwanLatency time.Duration
	smwanLoss    float64
	smwanAnswers float64 // SetSMWANAnswerLoss

	// inflight counts queued and running work, for WaitIdle; submitting
	// the Submits admitted and not yet done, and admitQ those waiting for
	// room, in a queue not empty since queuedSince (admit.go).
	idleMu      sync.Mutex
	idleCond    *sync.Cond
	inflight    int
	submitting  int
	admitQ      []*admitWaiter
	queuedSince time.Time
	busy        atomic.Uint64
}

// New builds a gateway over its store: the emulated fleet is made from the
// inventory the store holds.
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Store == nil || cfg.Engine == nil || cfg.Spec == nil || cfg.Clock == nil {
		return nil, errors.New("gateway: store, engine, spec and clock are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.DueBatch <= 0 {
		cfg.DueBatch = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SignatureTTL <= 0 {
		cfg.SignatureTTL = time.Hour
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = 10 * time.Second
	}
	if cfg.RetryLater == 0 {
		cfg.RetryLater = DefaultRetryLater
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.AdmissionWait <= 0 {
		cfg.AdmissionWait = DefaultAdmissionWait
	}
	if t := cfg.Traffic; t != nil && t.On() && cfg.MaxInFlight > 0 && cfg.MaxInFlight <= t.ActsFrom() {
		// Admission would keep the load below where the policy first
		// acts: turned on, it would never act.
		return nil, fmt.Errorf("gateway: traffic management is on, but max_in_flight %d keeps the requests in flight below %d, where its policy first acts: raise max_in_flight or lower the spec's traffic.defer_at_in_flight", cfg.MaxInFlight, t.ActsFrom())
	}
	if err := sharedDefaults(&cfg); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg: cfg, st: cfg.Store, clk: cfg.Clock, log: cfg.Logger,
		queue:   make(chan string, 4096),
		anomaly: cfg.Anomaly,
		delGen:  make(chan struct{}),
	}
	g.idleCond = sync.NewCond(&g.idleMu)
	g.alertCounts.set(cfg.AlertAnomaly)
	g.node, g.wall = cfg.Node, cfg.Wall
	if cfg.Shared {
		l, ok := store.As[store.Leaser](cfg.Store)
		if !ok {
			return nil, errors.New("gateway: a shared store must implement store.Leaser")
		}
		g.leaser = l
		g.checks, _ = store.As[store.CheckReader](cfg.Store)
	}
	g.SetSpec(cfg.Spec)
	key := cfg.CoSKey
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	}
	g.cosKey = key
	g.macKey = make([]byte, 32)
	if _, err := rand.Read(g.macKey); err != nil {
		return nil, err
	}
	g.SetEngine(cfg.Engine)
	if err := g.rebuildFleet(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// DefaultWorkers is how many requests a gateway executes at once. A worker
// spends most of its time waiting, for a durable commit or the SMWAN, so
// there are many more than cores: enough to keep group commits full.
const DefaultWorkers = 64

// DefaultEagerFleet is the largest inventory emulated whole from the start
// (Config.EagerFleet 0). Above it the emulated devices of a Communications
// Hub are made when a Command first reaches one of them, so an inventory
// of millions costs memory only for the devices in use.
const DefaultEagerFleet = 100_000

func (g *Gateway) em() *emu { return g.emuPtr.Load() }

// rebuildFleet makes a fresh emulated fleet from the inventory. The fleet
// is ticked by RunDue rather than hooked to the clock, so a replaced fleet
// raises nothing.
func (g *Gateway) rebuildFleet(ctx context.Context) error {
	f := devices.NewFleet(g.clk, g.sp(), devices.WithoutClockHook())
	// Every device trusts the CoS Party to change its supplier credential
	// (para 141-142).
	f.SetDefaultCredential(devices.CredCoSParty, g.sp().DCCIDs.CoSParty)
	// Devices verify Commands: the DCC's MAC and the signatures of the
	// parties they hold credentials for (devicekeys.go).
	f.SetKeyResolver(g.deviceKey)
	if err := f.SetMACKey(g.macKey); err != nil {
		return err
	}
	f.OnAlert(g.onAlert)
	f.OnWANConnected(g.onWANConnected)
	wan := devices.NewSMWAN(f, g.clk)
	g.smwanMu.Lock()
	wan.SetLatency(g.smwanLatency)
	wan.SetLoss(g.smwanLoss)
	wan.SetAnswerLoss(g.smwanAnswers)
	g.smwanMu.Unlock()
	live := g.cfg.LiveHubs
	if live <= 0 {
		live = DefaultLiveHubs
	}
	e := &emu{fleet: f, wan: wan, live: live, parkDir: g.cfg.ParkDir, premises: map[string]*premises{}}
	limit := g.cfg.EagerFleet
	if limit == 0 {
		limit = DefaultEagerFleet
	}
	devs, err := g.st.Devices(ctx, store.DeviceFilter{Limit: max(limit, 0) + 1})
	if err != nil {
		return err
	}
	// A large inventory: devices join the emulation when first reached
	// (materialise), a Communications Hub with its devices. So too on a
	// store shared with other processes, whose inventory they change: a
	// device another process enrolled (its demo world loaded as this one
	// started) is emulated here when a Command first reaches it. Set
	// before the emulation is published: materialise reads it without a
	// lock.
	e.lazy = limit < 0 || len(devs) > limit || g.leaser != nil
	if old := g.emuPtr.Swap(e); old != nil {
		old.close()
	}
	if e.lazy {
		return nil
	}
	// Hubs first, so devices can join them.
	for pass := 0; pass < 2; pass++ {
		for _, d := range devs {
			if (d.Type == "CHF") != (pass == 0) {
				continue
			}
			if err := g.addToFleet(ctx, d); err != nil {
				return err
			}
		}
	}
	return nil
}

// addToFleet adds (or replaces) an inventory device in the emulated fleet,
// with the credentials its Registration Data implies.
func (g *Gateway) addToFleet(ctx context.Context, d store.Device) error {
	regs, err := g.registrationFor(ctx, d, g.clk.Now())
	if err != nil {
		regs = nil // no credentials from it: as a device not registered
	}
	return addToFleetWith(g.em().fleet, d, regs)
}

// addToFleetWith is addToFleet, into fleet f, with the device's
// Registration Data (as registrationFor returns it) at hand.
func addToFleetWith(f *devices.Fleet, d store.Device, regs []store.Registration) error {
	f.Remove(d.ID)
	opts := devices.DeviceOptions{MPxN: d.MPxN, CHF: d.CHF, Meter: d.Meter, Credentials: map[string]string{}}
	if d.Type == "CHF" {
		opts.WANConnected = d.Status == "commissioned"
	}
	opts.Commissioned = d.Status == "commissioned"
	if s := supplierCredential(d, regs); s != "" {
		opts.Credentials[devices.CredSupplier] = s
	}
	for _, r := range leadFirst(regs) {
		if credentialOf(d, r) {
			if r.ExportSupplier != "" && opts.Credentials[devices.CredExportSupplier] == "" {
				opts.Credentials[devices.CredExportSupplier] = r.ExportSupplier
			}
			if r.NetworkOperator != "" && opts.Credentials[devices.CredNetworkOperator] == "" {
				opts.Credentials[devices.CredNetworkOperator] = r.NetworkOperator
			}
		}
	}
	return f.Add(d.ID, d.Type, opts)
}

// credentialOf says whether a record's users hold d's credentials: a
// meter's own MPxN's, a device's of its fuel, and any for a device of no
// fuel (a hub).
func credentialOf(d store.Device, r store.Registration) bool {
	return d.Type == "ESME" || d.Type == "GSME" || r.Fuel == fuelOf(d.Type) || fuelOf(d.Type) == ""
}

// supplierCredential is whose supplier credential d holds: the one the
// inventory records (a Change of Supplier, or an installation, wrote it),
// else the supplier its Registration Data names (the Lead Supplier's
// first).
func supplierCredential(d store.Device, regs []store.Registration) string {
	if d.Credentials != "" {
		return d.Credentials
	}
	for _, r := range leadFirst(regs) {
		if credentialOf(d, r) && r.ImportSupplier != "" {
			return r.ImportSupplier
		}
	}
	return ""
}

// leadFirst orders a premises' Registration Data with the Lead Supplier's
// first: electricity before gas (para 231). A device of no fuel (a
// Communications Hub Function) takes the first supplier it finds as the
// holder of its supplier credential, so at dual fuel premises the hub is
// the electricity import supplier's, who may restore its Device Log (para
// 190), whatever the order of the meters' IDs.
func leadFirst(regs []store.Registration) []store.Registration {
	if len(regs) < 2 {
		return regs
	}
	out := slices.Clone(regs)
	slices.SortStableFunc(out, func(a, b store.Registration) int {
		return cmp.Compare(fuelRank(a.Fuel), fuelRank(b.Fuel))
	})
	return out
}

func fuelRank(fuel string) int {
	if fuel == "electricity" {
		return 0
	}
	return 1
}

func fuelOf(deviceType string) string {
	switch deviceType {
	case "ESME":
		return "electricity"
	case "GSME", "GPF":
		return "gas"
	}
	return ""
}

// Start runs the workers and resumes the work a previous run left: requests
// acknowledged or executing are executed (their final update is conditional,
// so none completes twice), held ones whose predecessor ended are released,
// and the tick loop runs what falls due.
func (g *Gateway) Start(ctx context.Context) error {
	ctx, g.stop = context.WithCancel(ctx)
	for i := 0; i < g.cfg.Workers; i++ {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.worker(ctx)
		}()
	}
	resume := g.resumeLocal
	if g.leaser != nil {
		// Other processes may be working: take over only what their
		// leases no longer cover (lease.go).
		resume = g.startShared
	}
	if err := resume(ctx); err != nil {
		return err
	}
	// Either way, a stop may have come between a predecessor's end and
	// the release of its successors.
	if err := g.releaseHeld(ctx); err != nil {
		return err
	}
	if g.cfg.Virtual == nil {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.tickLoop(ctx)
		}()
	}
	return nil
}

// resumeLocal resumes the work a stopped process left on a store of its
// own: a request left executing is acknowledged again and re-run (its
// final update is conditional, so it completes once), and every
// acknowledged one is queued.
func (g *Gateway) resumeLocal(ctx context.Context) error {
	running, err := g.st.ListRequests(ctx, store.RequestFilter{States: []string{StateExecuting}})
	if err != nil {
		return err
	}
	for _, r := range running {
		r.State = StateAcknowledged
		if _, err := g.st.UpdateRequest(ctx, r, StateExecuting, nil); err != nil && !errors.Is(err, store.ErrStale) {
			return err
		}
	}
	pending, err := g.st.ListRequests(ctx, store.RequestFilter{States: []string{StateAcknowledged}})
	if err != nil {
		return err
	}
	for _, r := range pending {
		g.enqueue(r.ID)
	}
	if len(running)+len(pending) > 0 {
		g.log.Info("resuming the work the last run left unfinished", "executing_again", len(running), "acknowledged", len(pending)-len(running))
	}
	return nil
}

// Close stops the workers and waits for them. Work in flight stays in the
// store in a resumable state.
func (g *Gateway) Close() {
	if g.stop != nil {
		g.stop()
	}
	g.wg.Wait()
	g.releaseLeases()
	g.em().close()
}

// tickLoop runs due work each second on a real clock.
func (g *Gateway) tickLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.clk.After(time.Second):
			if err := g.RunDue(ctx); err != nil && ctx.Err() == nil {
				g.log.Error("running due work", "err", err)
			}
		}
	}
}

// enqueueFresh queues a request this process has just stored
// acknowledged, keeping the record so the worker need not read it back
// (single-process stores; a shared store's claim reads it anyway).
func (g *Gateway) enqueueFresh(r store.Request) {
	if g.leaser == nil {
		g.fresh.Store(r.ID, r)
	}
	g.enqueue(r.ID)
}

// roleOf is a user's role, as its last request here found it (a User ID
// keeps its role; a request is executed after its sender's submission
// read the user), else from the store.
func (g *Gateway) roleOf(ctx context.Context, user string) string {
	if g.leaser == nil {
		if v, ok := g.roles.Load(user); ok {
			return v.(string)
		}
	}
	u, _ := g.st.GetUser(ctx, user)
	return u.Role
}

func (g *Gateway) enqueue(id string) {
	g.idleMu.Lock()
	g.inflight++
	g.idleMu.Unlock()
	select {
	case g.queue <- id:
	default:
		// The queue is full: run it on a goroutine of its own rather than
		// block the caller; the store keeps it durable either way.
		go func() { g.queue <- id }()
	}
}

func (g *Gateway) worker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-g.queue:
			if err := g.execute(ctx, id); err != nil && ctx.Err() == nil {
				g.log.Error("executing request", "request_id", id, "err", err)
			}
			g.done()
		}
	}
}

func (g *Gateway) done() {
	g.idleMu.Lock()
	g.inflight--
	if g.inflight <= 0 {
		g.idleCond.Broadcast()
	}
	g.grantLocked()
	g.idleMu.Unlock()
}

// WaitIdle waits until no queued or running work is left (or ctx ends):
// a virtual clock's Advance returns with the work it started done.
func (g *Gateway) WaitIdle(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		g.idleMu.Lock()
		g.idleCond.Broadcast()
		g.idleMu.Unlock()
	})
	defer stop()
	g.idleMu.Lock()
	for g.inflight > 0 && ctx.Err() == nil {
		g.idleCond.Wait()
	}
	g.idleMu.Unlock()
}

// Stats is a snapshot of the work a gateway holds in memory.
type Stats struct {
	// InFlight counts requests queued or running in this process.
	InFlight int
	// Queued counts requests waiting for a worker.
	Queued int
	// Workers is the number of request workers.
	Workers int
	// Admitting counts Submits admitted and not yet answered, Waiting
	// those waiting for room, and Busy those refused GATEWAY_BUSY since
	// the start (admit.go).
	Admitting, Waiting int
	Busy               uint64
}

// Stats returns how much work is queued and running now.
func (g *Gateway) Stats() Stats {
	g.idleMu.Lock()
	st := Stats{InFlight: g.inflight, Admitting: g.submitting, Waiting: len(g.admitQ)}
	g.idleMu.Unlock()
	st.Queued, st.Workers, st.Busy = len(g.queue), g.cfg.Workers, g.busy.Load()
	return st
}

// Drain waits until the work in flight is done or ctx ends, whichever is
// first, and returns ctx's error in the second case. Call it after the
// listeners stopped taking requests and before Close: what is still running
// when ctx ends is left in the store in a resumable state by Close.
func (g *Gateway) Drain(ctx context.Context) error {
	g.WaitIdle(ctx)
	if g.Stats().InFlight > 0 {
		return ctx.Err()
	}
	return nil
}

// Now is the gateway's time.
func (g *Gateway) Now() time.Time { return g.clk.Now() }

// Spec is the gateway's spec.
func (g *Gateway) Spec() *spec.Spec { return g.sp() }

func (g *Gateway) sp() *spec.Spec { return g.specPtr.Load() }

// SetSpec swaps the spec that executing work, alert routing and due times
// follow (a reload, with SetEngine). The emulated devices read it when
// the fleet is next rebuilt.
func (g *Gateway) SetSpec(s *spec.Spec) { g.specPtr.Store(s) }

// Store is the gateway's store.
func (g *Gateway) Store() store.Store { return g.st }

// Fleet is the emulated fleet.
func (g *Gateway) Fleet() *devices.Fleet { return g.em().fleet }

// SMWAN is the emulated SMWAN.
func (g *Gateway) SMWAN() *devices.SMWAN { return g.em().wan }

// SetSMWANFaults sets the emulated SMWAN's latency (on the gateway's clock)
// and the share of Commands it loses; they outlive a Reset.
func (g *Gateway) SetSMWANFaults(latency time.Duration, loss float64) {
	g.smwanMu.Lock()
	g.smwanLatency, g.smwanLoss = latency, loss
	g.smwanMu.Unlock()
	g.em().wan.SetLatency(latency)
	g.em().wan.SetLoss(loss)
}

// SetSMWANAnswerLoss sets the share of Commands that run on their device
// and whose answer the emulated SMWAN loses (the gateway times out and
// sends the Command again; the device answers it again without running it
// twice); it outlives a Reset.
func (g *Gateway) SetSMWANAnswerLoss(p float64) {
	g.smwanMu.Lock()
	g.smwanAnswers = p
	g.smwanMu.Unlock()
	g.em().wan.SetAnswerLoss(p)
}

// SetAnomaly replaces the anomaly thresholds.
func (g *Gateway) SetAnomaly(rules []AnomalyRule) {
	g.anomalyMu.Lock()
	defer g.anomalyMu.Unlock()
	g.anomaly = rules
}

// notifyDeliveries wakes every stream reader: messages were appended for
// users this process cannot name (another process, or several users).
func (g *Gateway) notifyDeliveries() {
	g.delMu.Lock()
	defer g.delMu.Unlock()
	g.wakeAllLocked()
	for u := range g.delUser {
		g.wakeLocked(u)
	}
}

// notifyUser wakes the readers of one user's stream (and those of every
// stream, DeliveriesChanged), not the other users': with thousands of
// responses a second, waking every stream for each would have each reread
// the store for nothing.
func (g *Gateway) notifyUser(user string) {
	g.delMu.Lock()
	defer g.delMu.Unlock()
	g.wakeAllLocked()
	g.wakeLocked(user)
}

// notifyUsers wakes the readers of these users' streams, or (nil: they
// cannot be named) every stream: another process appended to them.
func (g *Gateway) notifyUsers(users []string) {
	if users == nil {
		g.notifyDeliveries()
		return
	}
	g.delMu.Lock()
	defer g.delMu.Unlock()
	g.wakeAllLocked()
	for _, u := range users {
		g.wakeLocked(u)
	}
}

// wakeAllLocked wakes the readers of every user's deliveries
// (DeliveriesChanged); delMu is held.
func (g *Gateway) wakeAllLocked() {
	close(g.delGen)
	g.delGen = make(chan struct{})
}

// wakeLocked wakes the readers of user's stream; delMu is held.
func (g *Gateway) wakeLocked(user string) {
	if ch, ok := g.delUser[user]; ok {
		close(ch)
		delete(g.delUser, user)
	}
}

// notifyFor wakes the readers of the streams ds were appended to.
func (g *Gateway) notifyFor(ds []store.Delivery) {
	if len(ds) == 0 {
		return
	}
	g.delMu.Lock()
	defer g.delMu.Unlock()
	g.wakeAllLocked()
	for _, d := range ds {
		g.wakeLocked(d.UserID)
	}
}

// DeliveriesChanged returns a channel closed at the next append for any
// user.
func (g *Gateway) DeliveriesChanged() <-chan struct{} {
	g.delMu.Lock()
	defer g.delMu.Unlock()
	return g.delGen
}

// DeliveriesChangedFor returns a channel closed at the next append to
// user's stream (or one for users this process cannot name).
func (g *Gateway) DeliveriesChangedFor(user string) <-chan struct{} {
	g.delMu.Lock()
	defer g.delMu.Unlock()
	ch, ok := g.delUser[user]
	if !ok {
		if g.delUser == nil {
			g.delUser = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		g.delUser[user] = ch
	}
	return ch
}

func (g *Gateway) lockUser(id string) func() {
	m, _ := g.userMu.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func errf(format string, args ...any) error { return fmt.Errorf("gateway: "+format, args...) }
