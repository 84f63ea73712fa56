package loadgen

import (
	"context"
	"crypto/ecdsa"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/conformance/connectgw"
	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/procstat"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/spec"
)

// Item is one kind of request in the mix: a service sent to a premises'
// meter of a fuel by its supplier or by the world's user of another role.
type Item struct {
	Name    string
	Service string // row key, e.g. "4.1" or "1.1/credit"
	Fuel    string // "electricity" (to the ESME) or "gas" (to the GSME)
	// Role sends it as the premises' user of that role (EES, ENO, GNO, SNA
	// or OU: World.OtherUser; the Registration Data names its EES, ENO and
	// GNO); "" as the premises' Import Supplier of the fuel.
	Role   string
	Weight float64
	// Body overrides the spec's examples.
	Body map[string]any
	// Prepayment items go to meters in prepayment mode only (the run puts
	// some in that mode first, with a signed 1.6 Update Payment Mode).
	Prepayment bool

	// body is the request body, made once for a mix's item (newDriver).
	body *body
}

// prepaymentPremises are the premises whose electricity meter a run puts
// in prepayment mode: every tenth, at most this many.
const prepaymentPremises = 1000

// DefaultMix is the field's mix: mostly suppliers' reads of registers and
// profile data (what scheduled reads fetch), prepayment top-ups, a few
// critical commands signed by the supplier, and the reads the other roles
// send: the network operators' (active power, gas registers), the export
// supplier's, an agent's and an other user's. Weights need not sum to 1.
// The network operators' items are not profile or network data reads:
// Annex 5, Table 5.3 holds those to under 1.5 and 0.03 a system a month.
var DefaultMix = []Item{
	{Name: "read-electricity", Service: "4.1", Fuel: "electricity", Weight: 45},
	{Name: "read-gas", Service: "4.1", Fuel: "gas", Weight: 20},
	{Name: "profile", Service: "4.8", Fuel: "electricity", Weight: 15},
	{Name: "config", Service: "6.2", Fuel: "electricity", Weight: 5},
	{Name: "topup", Service: "2.2", Fuel: "electricity", Weight: 10, Prepayment: true},
	{Name: "critical", Service: "6.11", Fuel: "electricity", Weight: 5},
	{Name: "network-electricity", Service: "4.16", Fuel: "electricity", Role: "ENO", Weight: 2},
	{Name: "network-gas", Service: "4.1", Fuel: "gas", Role: "GNO", Weight: 1},
	{Name: "export", Service: "4.2", Fuel: "electricity", Role: "EES", Weight: 1},
	{Name: "agent", Service: "11.2", Fuel: "gas", Role: "SNA", Weight: 1},
	{Name: "other-user", Service: "4.17", Fuel: "electricity", Role: "OU", Weight: 1},
}

// ParseMix reads "name=weight,..." over DefaultMix's items ("critical=0"
// turns one off); "*=weight" sets every item the list does not name
// ("*=0,critical=1": critical requests only). Names not in DefaultMix are
// refused.
func ParseMix(s string) ([]Item, error) {
	mix := slices.Clone(DefaultMix)
	if strings.TrimSpace(s) == "" {
		return mix, nil
	}
	named := map[string]float64{}
	rest, hasRest := 0.0, false
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		weight, err := strconv.ParseFloat(strings.TrimSpace(w), 64)
		if !ok || err != nil || !(weight >= 0) || math.IsInf(weight, 0) {
			return nil, fmt.Errorf("loadgen: mix entry %q: want name=weight", part)
		}
		switch {
		case name == "*":
			rest, hasRest = weight, true
		case slices.ContainsFunc(mix, func(it Item) bool { return it.Name == name }):
			named[name] = weight
		default:
			return nil, fmt.Errorf("loadgen: unknown mix item %q (items: %s)", name, strings.Join(MixNames(), ", "))
		}
	}
	for i, it := range mix {
		if w, ok := named[it.Name]; ok {
			mix[i].Weight = w
		} else if hasRest {
			mix[i].Weight = rest
		}
	}
	return mix, nil
}

// MixNames are the names of DefaultMix's items, in its order.
func MixNames() []string {
	names := make([]string, len(DefaultMix))
	for i, it := range DefaultMix {
		names[i] = it.Name
	}
	return names
}

// Config configures a run.
type Config struct {
	URL   string
	CAPEM []byte
	// Credentials are the users' certificates and keys, by User ID.
	Credentials map[string]pki.Issued
	World       World
	Spec        *spec.Spec
	Mix         []Item
	// Rate is the open-loop target in requests per second; 0 runs closed
	// loop with Concurrency requests in flight.
	Rate        float64
	Concurrency int
	// MaxOutstanding bounds an open loop's requests sent and not yet
	// answered (0: no bound). A request due while that many are
	// outstanding is not sent and counts as Dropped: past the gateway's
	// capacity an open loop would otherwise pile up goroutines and
	// streams without end, and in process their memory and collection
	// take the two cores from the gateway (as k6's maxVUs and vegeta's
	// -max-workers bound theirs).
	MaxOutstanding int
	// Calls sends each request on a Submit call of its own; otherwise
	// each user's requests share its SubmitStream (client.Submitter), as a
	// user sending many a second would send them.
	Calls    bool
	Duration time.Duration
	// Warmup is sent before Duration, at the same rate or concurrency,
	// and not counted: the run is measured from a gateway already under
	// the load (connections, caches, the heap's size) rather than from
	// its first requests.
	Warmup time.Duration
	// Timeout bounds the wait for one request's response (0:
	// DefaultTimeout).
	Timeout time.Duration
	// Progress, if set, gets a line each second.
	Progress io.Writer
	// Seed makes the choice of requests repeatable.
	Seed uint64
	// Events makes a device act as it would in a home (a tamper, a
	// voltage excursion: devices.Event kinds), raising a device alert that
	// reaches its users' streams: gateway.DeviceEvent in process, or the
	// AdminService of a gateway that serves one. Nil sends none.
	Events func(ctx context.Context, device, kind string) error
	// EventRate is device events per second, beside the requests (at
	// least one a second when Events is set and this is 0).
	EventRate float64
	// Settle is a pause between setup (when the mix has top-ups) and the
	// run, so that what setup leaves the gateway to do (the alerts of its
	// top-ups, the checkpoint of its writes, the collection of its garbage)
	// is not measured as the run's first requests.
	Settle time.Duration
	// Started, if set, is called once setup and the settle pause are over,
	// as the timed run begins: what watches the gateway from outside (its
	// CPU) starts there, as the run's own figures do.
	Started func()
}

// DefaultTimeout is Config.Timeout's default.
const DefaultTimeout = 30 * time.Second

// EventKinds are the device events the load sends to electricity meters in
// turn: each raises one device alert (devices.AlertOf) to the import
// supplier.
var EventKinds = []string{devices.EventTamper, devices.EventVoltageHigh, devices.EventVoltageLow}

// Alerts is what the run saw of device alerts.
type Alerts struct {
	// Events were sent (EventErrors failed, by error).
	Events      int            `json:"events"`
	EventErrors map[string]int `json:"event_errors,omitempty"`
	// Delivered alerts arrived on a user's stream during the run: raised
	// by the events, and by the devices themselves (a prepayment meter
	// whose credit runs low), by code.
	Delivered int            `json:"delivered"`
	ByCode    map[string]int `json:"by_code,omitempty"`
	// Latency is from an event sent to its first alert on a stream.
	Latency Latency `json:"latency"`
}

// Latency is a distribution of request latencies.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

// Result is a run's outcome.
type Result struct {
	Mode string `json:"mode"`
	// Submit is how requests were sent: "stream" (SubmitStream) or "calls"
	// (a Submit call each).
	Submit     string  `json:"submit"`
	TargetRate float64 `json:"target_rate,omitempty"`
	Duration   float64 `json:"duration_s"`
	// Sent requests were sent, or, in an open loop, fell due while their
	// user's connection was failing and count as failed, unsent, under
	// error/submit:unavailable (gate).
	Sent int `json:"sent"`
	// Completed requests were acknowledged, executed and their final
	// Service Response delivered on the stream.
	Completed  int     `json:"completed"`
	Throughput float64 `json:"throughput_per_s"`
	// Latency is from a request sent to its final Service Response on the
	// stream, by category: on_demand, critical, all; and, under
	// "acknowledged", of the same requests from sent to the Submit's
	// answer (the acknowledgement, or the Pre-Command to sign).
	Latency  map[string]Latency `json:"latency"`
	ByItem   map[string]Latency `json:"by_item"`
	Outcomes map[string]int     `json:"outcomes"` // accepted, rejected/REASON, error/...
	TimedOut int                `json:"timed_out"`
	// Dropped requests of an open loop fell due while MaxOutstanding
	// were outstanding and were not sent (not in Sent, nor in Outcomes).
	Dropped        int `json:"dropped,omitempty"`
	MaxOutstanding int `json:"max_outstanding,omitempty"`
	// Warmup is Config.Warmup in seconds: sent before the run, not
	// counted.
	Warmup float64 `json:"warmup_s,omitempty"`
	// Timeout is Config.Timeout in seconds: a request waits no longer for
	// its response.
	Timeout float64 `json:"timeout_s"`
	// StreamMessages were read on the users' streams, setup included:
	// this run's deliveries (each stream starts where it ended when the
	// run began), and every earlier one's too from a gateway without
	// GetStreamCursor.
	StreamMessages int `json:"stream_messages"`
	// Setup is what the setup before the run did, when the mix has
	// prepayment items.
	Setup   *Setup  `json:"setup,omitempty"`
	Alerts  Alerts  `json:"alerts"`
	Memory  Memory  `json:"memory"`
	CPU     CPU     `json:"cpu"`
	Runtime Runtime `json:"runtime"`

	started time.Time
	samples []sample // every request, completed or failed
}

// samplesHeader is the header of WriteSamples' CSV.
var samplesHeader = []string{"sent_s", "item", "outcome", "acknowledged_ms", "latency_ms", "request_id"}

// WriteSamples writes every request of the run as CSV, in the order they
// were sent: when (seconds from the run's start; in open loop, when it
// was due), its mix item, its outcome, the time to the Submit's answer
// and to its final Service Response, in milliseconds, and the Request ID
// the gateway gave it (originatorID:targetID:counter, as the store and
// the gateway's logs name it). For a request that failed, the
// acknowledgement is empty and the latency is the time to its failure;
// the Request ID is empty if it failed before the gateway answered its
// Submit. The percentiles hide when the slow requests came; these say,
// to set beside a gateway's logs or a collector's trace, and the IDs
// reconcile them with the store.
func (r *Result) WriteSamples(w io.Writer) error {
	all := slices.Clone(r.samples)
	slices.SortFunc(all, func(a, b sample) int { return a.sent.Compare(b.sent) })
	cw := csv.NewWriter(w)
	_ = cw.Write(samplesHeader)
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) }
	for _, s := range all {
		ack := ""
		if !s.failed {
			ack = ms(s.ack)
		}
		_ = cw.Write([]string{strconv.FormatFloat(s.sent.Sub(r.started).Seconds(), 'f', 4, 64), s.item, s.outcome, ack, ms(s.lat), s.id})
	}
	cw.Flush()
	return cw.Error()
}

// CPU is the CPU time this process used during the run: the gateway's
// too when it runs in process, the load generator's alone against
// --target.
type CPU struct {
	Seconds float64 `json:"seconds"`
	// PerRequestUS is Seconds over the completed requests, in
	// microseconds (alerts and streams included).
	PerRequestUS float64 `json:"per_request_us"`
}

// Memory is the process's memory during the run.
type Memory struct {
	HeapMiB float64 `json:"heap_mib"`
	// RSSMiB and PeakRSSMiB are of this process (which holds the gateway
	// too when it runs in process).
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

type user struct {
	id  string
	api dccgatev1connect.GatewayServiceClient
	sub *client.Submitter // nil: a Submit call each
	key *ecdsa.PrivateKey

	// gate holds the user's requests back while its connection fails.
	gate gate
	// epoch counts the breaks of the user's Subscribe stream (changed
	// under driver.mu): a request sent in one epoch and waiting for its
	// response in another has lost its stream (driver.broke).
	epoch atomic.Uint64
	// cursor is where the user's stream starts (its end when the run
	// began: streamEnds), and the last read on it once its subscribe has
	// returned.
	cursor int64
}

// submit sends one request as the run sends them.
func (u *user) submit(ctx context.Context, req *dccgatev1.SubmitRequest) (*dccgatev1.SubmitResponse, error) {
	if u.sub != nil {
		return u.sub.Submit(ctx, req)
	}
	resp, err := u.api.Submit(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// waiter is a request waiting for its final response on its user's
// stream; a nil on ch says the stream broke (driver.broke).
type waiter struct {
	ch chan *dccgatev1.RequestState
	u  *user
}

type driver struct {
	cfg   Config
	users map[string]*user
	mix   []Item
	total float64

	// prepaid are the premises (10, 20, ...) whose prepayment meter the
	// setup put in prepayment mode and topped up: the prepayment items go
	// to these.
	prepaid []int
	utrn    atomic.Uint64

	// now and sleep are the clock (time.Now and sleepCtx but in tests).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) bool

	rngMu sync.Mutex
	rng   *rand.Rand

	mu      sync.Mutex
	waiting map[string]*waiter
	// early holds responses that came before their Submit returned, with
	// when they came; those older than the timeout belong to no request
	// of this run (a stream replays a user's older messages) and go.
	early map[string]earlyResponse

	res    resultSink
	alerts alertSink
	// sent requests (Submits begun, and those an open loop counted failed
	// as their user's gate was shut); of them, ended have completed or
	// failed, and done have completed. In flight: sent - ended.
	sent    atomic.Int64
	ended   atomic.Int64
	done    atomic.Int64
	started time.Time
	// streamed counts the messages read on the users' streams.
	streamed atomic.Int64
}

// inFlight is the requests sent and not yet ended. (It was sent - done,
// which counted every failed request in flight for the rest of the run.)
func (d *driver) inFlight() int64 {
	e := d.ended.Load() // first: sent never falls below it
	return d.sent.Load() - e
}

type sample struct {
	item     string
	id       string // the Request ID; "" if the Submit failed
	critical bool
	sent     time.Time     // or, in open loop, due
	lat      time.Duration // to the final response, or to the failure
	ack      time.Duration // to the Submit's answer
	outcome  string
	failed   bool
}

type resultSink struct {
	mu       sync.Mutex
	samples  []sample // failed ones too
	outcomes map[string]int
	timedOut int
}

func (r *resultSink) add(s sample) {
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.outcomes[s.outcome]++
	r.mu.Unlock()
}

// alertSink follows device events to their alerts.
type alertSink struct {
	mu sync.Mutex
	// sent holds, by device and alert code, when its events not yet
	// alerted were sent.
	sent      map[string][]time.Time
	events    int
	errors    map[string]int
	delivered int
	byCode    map[string]int
	lat       []time.Duration
	on        bool // counting (the run has started)
}

// event notes an event sent to device at `at`, before it is sent (its
// alert may come before the call returns).
func (a *alertSink) event(key string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events++
	a.sent[key] = append(a.sent[key], at)
}

// failed takes back the event of `at` that failed.
func (a *alertSink) failed(key string, at time.Time, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errors[err.Error()]++
	if i := slices.Index(a.sent[key], at); i >= 0 {
		a.drop(key, i)
	}
}

// drop takes the i-th pending event of key off its queue (under mu).
func (a *alertSink) drop(key string, i int) {
	if q := slices.Delete(a.sent[key], i, i+1); len(q) > 0 {
		a.sent[key] = q
	} else {
		delete(a.sent, key)
	}
}

func (a *alertSink) alert(device, code string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.on {
		return
	}
	a.delivered++
	a.byCode[code]++
	// The first alert of an event is timed (another user may get it too).
	key := device + "/" + code
	if q := a.sent[key]; len(q) > 0 {
		a.lat = append(a.lat, at.Sub(q[0]))
		a.drop(key, 0)
	}
}

func (r *resultSink) fail(s sample, timeout bool) {
	s.failed = true
	r.mu.Lock()
	r.samples = append(r.samples, s)
	r.outcomes[s.outcome]++
	if timeout {
		r.timedOut++
	}
	r.mu.Unlock()
}

// Run drives the gateway at cfg.URL and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	d, err := newDriver(cfg)
	if err != nil {
		return nil, err
	}
	cfg = d.cfg
	// One HTTP/2 connection per user, as separate DCC Users would have.
	for _, u := range cfg.World.Users() {
		cred, ok := cfg.Credentials[u.ID]
		if !ok {
			continue
		}
		hc, err := pki.ClientHTTP(cfg.CAPEM, cred, 4)
		if err != nil {
			return nil, err
		}
		key, err := pki.ParseKey(cred.KeyPEM)
		if err != nil {
			return nil, err
		}
		usr := &user{id: u.ID, api: dccgatev1connect.NewGatewayServiceClient(hc, strings.TrimRight(cfg.URL, "/")), key: key}
		if !cfg.Calls {
			usr.sub = client.NewSubmitter(ctx, usr.api)
			defer usr.sub.Close()
		}
		d.users[u.ID] = usr
	}
	if len(d.users) == 0 {
		return nil, errors.New("loadgen: no credentials for the world's users")
	}
	return d.run(ctx)
}

// newDriver checks cfg and its mix; the users are Run's to add.
func newDriver(cfg Config) (*driver, error) {
	if cfg.Spec == nil || cfg.Duration <= 0 {
		return nil, errors.New("loadgen: a spec and a duration are required")
	}
	if cfg.Rate <= 0 && cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Mix == nil {
		cfg.Mix = DefaultMix
	}
	d := &driver{cfg: cfg, users: map[string]*user{}, waiting: map[string]*waiter{}, early: map[string]earlyResponse{},
		res: resultSink{outcomes: map[string]int{}}, now: time.Now, sleep: sleepCtx,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	for _, it := range cfg.Mix {
		if it.Weight <= 0 {
			continue
		}
		svc := cfg.Spec.ServiceByKey(it.Service)
		if svc == nil {
			return nil, fmt.Errorf("loadgen: mix item %s: no service %s in the spec", it.Name, it.Service)
		}
		role := it.sender()
		if cfg.World.userOf(role, 0) == "" {
			return nil, fmt.Errorf("loadgen: mix item %s: the world has no user of role %s", it.Name, role)
		}
		if !slices.Contains(svc.Roles, role) {
			return nil, fmt.Errorf("loadgen: mix item %s: role %s may not send service %s", it.Name, role, it.Service)
		}
		b, err := newBody(svc, it)
		if err != nil {
			return nil, fmt.Errorf("loadgen: mix item %s: %w", it.Name, err)
		}
		it.body = b
		d.mix = append(d.mix, it)
		d.total += it.Weight
	}
	if len(d.mix) == 0 {
		return nil, errors.New("loadgen: the mix is empty")
	}
	return d, nil
}

// run is Run with the users in place.
func (d *driver) run(ctx context.Context) (*Result, error) {
	cfg := d.cfg
	// Streams start from a cursor read before the user's first request
	// (GetStreamCursor), so a response that lands before its stream is
	// open is not missed (a server stream's call returns only with its
	// first message, so nothing waits for them here), and none of the
	// earlier runs' deliveries is read.
	d.streamEnds(ctx)
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	var streams sync.WaitGroup
	for _, u := range d.users {
		streams.Go(func() { u.cursor = d.subscribe(sctx, u) })
	}

	// Setup is not measured; the run starts after it, and only then the
	// progress line.
	setup, err := d.setup(ctx)
	if err != nil {
		return nil, err
	}
	if setup != nil && cfg.Settle > 0 {
		t := time.NewTimer(cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	d.res = resultSink{outcomes: map[string]int{}}
	d.sent.Store(0)
	d.ended.Store(0)
	d.done.Store(0)
	// The loops start now; what they send before d.started, the warm-up,
	// loads the gateway as the run does and is not counted (one).
	from := d.now()
	d.started = from.Add(cfg.Warmup)
	end := d.started.Add(cfg.Duration)
	seed := d.rng.Uint64() // the events', before pick uses rng
	mode, dropped := "closed", 0
	var loops sync.WaitGroup
	if cfg.Rate > 0 {
		mode = "open"
		loops.Go(func() { dropped = d.openLoop(ctx, from, end) })
	} else {
		loops.Go(func() { d.closedLoop(ctx, end) })
	}
	if w := d.started.Sub(d.now()); w > 0 {
		d.sleep(ctx, w)
	}
	d.alerts.mu.Lock()
	d.alerts.sent, d.alerts.errors, d.alerts.byCode, d.alerts.on = map[string][]time.Time{}, map[string]int{}, map[string]int{}, true
	d.alerts.mu.Unlock()
	if cfg.Started != nil {
		cfg.Started()
	}
	cpuStart := procstat.CPU()
	rtStart := readRuntime()

	var peak atomic.Uint64
	stopMem := make(chan struct{})
	memDone := make(chan struct{})
	go func() {
		defer close(memDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := int64(0)
		for {
			select {
			case <-stopMem:
				return
			case <-t.C:
				d.prune()
				rss := procstat.RSS()
				if rss > peak.Load() {
					peak.Store(rss)
				}
				if cfg.Progress != nil {
					n := d.done.Load()
					fmt.Fprintf(cfg.Progress, "load: %5.0fs sent %d, completed %d (%d/s), in flight %d, rss %.0f MiB\n",
						time.Since(d.started).Seconds(), d.sent.Load(), n, n-last, d.inFlight(), float64(rss)/(1<<20))
					last = n
				}
			}
		}
	}()

	var wg sync.WaitGroup
	if cfg.Events != nil {
		wg.Go(func() { d.events(ctx, end, seed) })
	}
	loops.Wait()
	wg.Wait()
	elapsed := time.Since(d.started)
	close(stopMem)
	<-memDone
	stopStreams()
	streams.Wait()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := procstat.RSS()
	submit := "stream"
	if cfg.Calls {
		submit = "calls"
	}
	res := &Result{Mode: mode, Submit: submit, TargetRate: cfg.Rate, Duration: elapsed.Seconds(), Sent: int(d.sent.Load()), Completed: int(d.done.Load()),
		Outcomes: d.res.outcomes, TimedOut: d.res.timedOut, Dropped: dropped, Setup: setup, started: d.started, samples: d.res.samples,
		Memory: Memory{HeapMiB: float64(ms.HeapAlloc) / (1 << 20), RSSMiB: float64(rss) / (1 << 20), PeakRSSMiB: float64(max(peak.Load(), rss)) / (1 << 20)}}
	res.Throughput = float64(res.Completed) / elapsed.Seconds()
	res.Timeout, res.Warmup = cfg.Timeout.Seconds(), cfg.Warmup.Seconds()
	res.StreamMessages = int(d.streamed.Load())
	if mode == "open" {
		res.MaxOutstanding = cfg.MaxOutstanding
	}
	res.CPU.Seconds = (procstat.CPU() - cpuStart).Seconds()
	res.Runtime = runtimeBetween(rtStart, readRuntime())
	if res.Completed > 0 {
		res.CPU.PerRequestUS = res.CPU.Seconds / float64(res.Completed) * 1e6
	}
	res.Latency, res.ByItem = summarise(d.res.samples)
	d.alerts.mu.Lock()
	res.Alerts = Alerts{Events: d.alerts.events, Delivered: d.alerts.delivered, ByCode: d.alerts.byCode, Latency: distribution(d.alerts.lat)}
	if len(d.alerts.errors) > 0 {
		res.Alerts.EventErrors = d.alerts.errors
	}
	d.alerts.on = false
	d.alerts.mu.Unlock()
	return res, nil
}

// pick chooses the next request: an item of the mix by weight, and a
// premises (one with a prepayment meter set up for a prepayment item).
func (d *driver) pick() (Item, int) {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	x := d.rng.Float64() * d.total
	it := d.mix[len(d.mix)-1]
	for _, m := range d.mix {
		if x < m.Weight {
			it = m
			break
		}
		x -= m.Weight
	}
	if it.Prepayment {
		return it, d.prepaid[d.rng.IntN(len(d.prepaid))]
	}
	return it, 1 + d.rng.IntN(d.cfg.World.Premises())
}

// closedLoop keeps cfg.Concurrency requests in flight until end: each
// worker sends its next request when its last has ended, so no more than
// that many are ever in flight. A worker whose next request's user cannot
// reach the gateway waits for its gate (gateWait) rather than spin.
func (d *driver) closedLoop(ctx context.Context, end time.Time) {
	var wg sync.WaitGroup
	for range d.cfg.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && d.now().Before(end) {
				it, p := d.pick()
				d.one(ctx, it, p, d.now(), gateWait, end)
			}
		})
	}
	wg.Wait()
}

// openLoop sends requests at cfg.Rate until end and returns how many it
// did not send, MaxOutstanding being outstanding. Request i is due at
// start + i/rate, whatever the gateway's speed; latency counts from that
// moment, so a slow gateway cannot hide its queueing (no coordinated
// omission). One due while its user's gate is shut fails at once (gateFail).
// It sends from `from`, the warm-up's start.
func (d *driver) openLoop(ctx context.Context, from, end time.Time) (dropped int) {
	var outstanding chan struct{}
	if d.cfg.MaxOutstanding > 0 {
		outstanding = make(chan struct{}, d.cfg.MaxOutstanding)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	pace(ctx, from, end, d.cfg.Rate, func(_ int, due time.Time) {
		it, p := d.pick()
		if outstanding != nil {
			select {
			case outstanding <- struct{}{}:
			default:
				dropped++ // on pace's goroutine alone
				return
			}
		}
		wg.Go(func() {
			if outstanding != nil {
				defer func() { <-outstanding }()
			}
			d.one(ctx, it, p, due, gateFail, time.Time{})
		})
	})
	return dropped
}

// events sends device events at cfg.EventRate until end, each to the
// electricity meter of a premises picked at random, in open loop.
func (d *driver) events(ctx context.Context, end time.Time, seed uint64) {
	rate := d.cfg.EventRate
	if rate <= 0 {
		rate = 1
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	var wg sync.WaitGroup
	defer wg.Wait()
	pace(ctx, d.started, end, rate, func(i int, _ time.Time) {
		device := d.cfg.World.Premise(1 + rng.IntN(d.cfg.World.Premises())).ESME
		kind := EventKinds[i%len(EventKinds)]
		key := device + "/" + devices.AlertOf(kind)
		wg.Add(1)
		go func() {
			defer wg.Done()
			ectx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
			defer cancel()
			at := time.Now()
			d.alerts.event(key, at)
			if err := d.cfg.Events(ectx, device, kind); err != nil {
				d.alerts.failed(key, at, err)
			}
		}()
	})
}

// pace calls fn for i = 0, 1, ... at start + i/rate until end, in open
// loop: each call is due at its time, whatever the ones before did.
func pace(ctx context.Context, start, end time.Time, rate float64, fn func(i int, due time.Time)) {
	interval := time.Duration(float64(time.Second) / rate)
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if !due.Before(end) {
			return
		}
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		fn(i, due)
	}
}

// setupRetries is how many times the setup sends a request again that was
// refused or failed for a reason that may pass (attempt.retry).
const setupRetries = 3

// Setup is what the setup before a run did: the meters it put in
// prepayment mode and topped up, for the mix's prepayment items.
type Setup struct {
	// Meters were to be set up; Ready were, and the prepayment items go
	// to these alone.
	Meters int `json:"meters"`
	Ready  int `json:"ready"`
	// Retries are the requests sent again (setupRetries at most each).
	Retries int `json:"retries"`
	// Failed are the outcomes that left the other meters out, by outcome:
	// the last of each meter's requests.
	Failed map[string]int `json:"failed,omitempty"`
}

// setup puts the meters the mix's prepayment items address into
// prepayment mode and tops each up once (not measured); nil if the mix
// has none. A meter switched with no credit would disable its supply at
// its next tick (A11) and arm it again at the run's first top-up (A28): a
// thousand alerts in the run's first seconds that the field, whose
// prepayment meters hold credit, does not send. A request refused for a
// reason that may pass (SMWAN_UNAVAILABLE, GATEWAY_BUSY, the connection)
// is sent again, up to setupRetries times; a meter that still fails is
// left out of the run, which fails only if none is left.
func (d *driver) setup(ctx context.Context) (*Setup, error) {
	var topup Item
	for _, it := range d.mix {
		if it.Prepayment {
			topup = it
		}
	}
	if !topup.Prepayment {
		return nil, nil
	}
	n := min(prepaymentPremises, d.cfg.World.Premises()/10)
	if n == 0 {
		return nil, errors.New("loadgen: top-ups need at least 20 systems (prepayment meters at every tenth premises)")
	}
	d.utrn.Store(uint64(d.now().UnixNano()) % 1e15)
	items := []Item{{Name: "setup", Service: "1.6", Fuel: "electricity", Body: map[string]any{"mode": "prepayment"}}, topup}
	s := &Setup{Meters: n, Failed: map[string]int{}}
	ready := make([]bool, n)
	var mu sync.Mutex
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ok, retries, outcome := d.setUp(ctx, items, 10*(i+1))
			ready[i] = ok
			mu.Lock()
			defer mu.Unlock()
			s.Retries += retries
			if !ok {
				s.Failed[outcome]++
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.prepaid = d.prepaid[:0]
	for i, ok := range ready {
		if ok {
			d.prepaid = append(d.prepaid, 10*(i+1))
		}
	}
	s.Ready = len(d.prepaid)
	if len(s.Failed) == 0 {
		s.Failed = nil
	}
	if s.Ready == 0 {
		return s, fmt.Errorf("loadgen: none of %d meters could be put in prepayment mode and topped up (%d requests sent again): %v", n, s.Retries, s.Failed)
	}
	return s, nil
}

// setUp sends a meter's setup requests in turn, each again while it fails
// for a reason that may pass, up to setupRetries times; it returns whether
// all were accepted, how many were sent again, and the outcome that
// failed.
func (d *driver) setUp(ctx context.Context, items []Item, premises int) (ok bool, retries int, outcome string) {
	for _, it := range items {
		for try := 0; ; try++ {
			a := d.one(ctx, it, premises, d.now(), gateWait, time.Time{})
			if a.outcome == "accepted" {
				break
			}
			if a.outcome == "" {
				a.outcome = "error/canceled" // the run ended while it waited
			}
			if !a.retry || try == setupRetries || !d.sleep(ctx, requestBackoff.delay(try)) {
				return false, retries, a.outcome
			}
			retries++
		}
	}
	return true, retries, ""
}

// gated is what one does with a request whose user's gate is shut.
type gated int

const (
	// gateFail counts it failed at once, unsent, as the Submit would have
	// failed: an open loop's request is due now.
	gateFail gated = iota
	// gateWait waits for the gate to open (a closed loop, the setup).
	gateWait
)

// attempt is what became of a request one was asked to send.
type attempt struct {
	// outcome as counted ("" if it was not sent: the run ended while it
	// waited for its user's gate).
	outcome string
	// retry: it failed for a reason that may pass: refused with
	// SMWAN_UNAVAILABLE or GATEWAY_BUSY, or its connection or stream failed.
	retry bool
}

// submitOutcomes are the outcomes of failed Submits by Connect code, made
// once rather than for each failure.
var submitOutcomes = func() (o [connect.CodeUnauthenticated + 1]string) {
	for c := range o {
		o[c] = "error/submit:" + connect.Code(c).String()
	}
	return o
}()

// refusal is client.Refusal's reason, from a Submit's error (failures
// alone come here). A client.Submitter fails every request waiting on a
// stream that broke with one error, whose metadata it makes before
// sharing it, so concurrent readers only read.
func refusal(err error) (reason string, ok bool) {
	reason, _, ok = client.Refusal(err)
	return reason, ok
}

// outcomeUnreachable is a Submit's that could not reach the gateway (and
// an open loop's request due while its user's gate is shut).
const outcomeUnreachable = "error/submit:unavailable"

// one sends one request, due at start, waits for its final response, and
// says what became of it; end, if set, is when a request waiting for its
// user's gate is no longer sent.
func (d *driver) one(ctx context.Context, it Item, premises int, start time.Time, g gated, end time.Time) attempt {
	id := "" // the Request ID, once the gateway gave it
	// counted: not a request of the warm-up (sent or due before the run's
	// start), which only loads the gateway.
	counted := func() bool { return !start.Before(d.started) }
	count := func(n *atomic.Int64) {
		if counted() {
			n.Add(1)
		}
	}
	fail := func(outcome string, timeout bool) {
		if counted() {
			d.res.fail(sample{item: it.Name, id: id, sent: start, lat: d.now().Sub(start), outcome: outcome}, timeout)
		}
	}
	p := d.cfg.World.Premise(premises)
	device := p.ESME
	if it.Fuel == "gas" {
		device = p.GSME
	}
	uid := d.cfg.World.userOf(it.sender(), premises)
	u := d.users[uid]
	if u == nil {
		fail("error/no-credentials", false)
		return attempt{outcome: "error/no-credentials"}
	}
	if wait := u.gate.wait(d.now); wait > 0 {
		// The user's connection is failing: not again before the gate opens.
		if g == gateFail {
			count(&d.sent)
			count(&d.ended)
			fail(outcomeUnreachable, false)
			return attempt{outcome: outcomeUnreachable, retry: true}
		}
		if !end.IsZero() {
			wait = min(wait, end.Sub(d.now()))
		}
		if !d.sleep(ctx, wait) || (!end.IsZero() && !d.now().Before(end)) {
			return attempt{}
		}
		start = d.now()
	}
	b := it.body
	if b == nil { // an item of the setup's, not of the mix
		var err error
		if b, err = newBody(d.cfg.Spec.ServiceByKey(it.Service), it); err != nil {
			fail("error/body", false)
			return attempt{outcome: "error/body"}
		}
	}
	msg := &dccgatev1.ServiceRequest{Envelope: &dccgatev1.Envelope{UserId: uid, DeviceId: device,
		Category: dccgatev1.Category_CATEGORY_ON_DEMAND, Delivery: dccgatev1.Delivery_DELIVERY_WAN}}
	m := b.msg
	if b.utrn {
		// A meter takes each UTRN once: every top-up has its own.
		m = proto.Clone(m.Interface()).ProtoReflect()
		if err := connectgw.SetField(m, "utrn", fmt.Sprintf("7310%016d", d.utrn.Add(1))); err != nil {
			fail("error/body", false)
			return attempt{outcome: "error/body"}
		}
	}
	msg.ProtoReflect().Set(b.field, protoreflect.ValueOfMessage(m))
	count(&d.sent)
	defer count(&d.ended)
	epoch := u.epoch.Load() // the stream its response will come on
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	sentAt := d.now()
	resp, err := u.submit(rctx, &dccgatev1.SubmitRequest{Request: msg})
	if err != nil {
		code := connect.CodeOf(err)
		outcome := outcomeUnreachable
		if int(code) < len(submitOutcomes) {
			outcome = submitOutcomes[code]
		}
		reason, refused := refusal(err)
		if refused {
			outcome += "/" + reason // refused before it was received (GATEWAY_BUSY)
		}
		// Unavailable and not refused: no connection, or the stream it was
		// sent on broke (canceled: reset, with the run still going).
		unreachable := !refused && rctx.Err() == nil && (code == connect.CodeUnavailable || code == connect.CodeCanceled)
		if unreachable {
			u.gate.failed(sentAt, d.now())
		} else if refused {
			u.gate.ok(sentAt)
		}
		fail(outcome, rctx.Err() != nil)
		return attempt{outcome: outcome, retry: unreachable || reason == "GATEWAY_BUSY"}
	}
	u.gate.ok(sentAt)
	acked := d.now().Sub(start)
	st := resp.GetState()
	id = resp.GetRequestId()
	var w *waiter
	if !final(st.GetState()) {
		w = &waiter{ch: make(chan *dccgatev1.RequestState, 1), u: u}
		early, broke := d.register(id, w, epoch)
		switch {
		case early != nil:
			st = early
		case broke:
			// Its stream broke since it was sent: its response may never come.
			fail("error/stream", false)
			return attempt{outcome: "error/stream", retry: true}
		default:
			defer d.unregister(id)
		}
	}
	if st.GetState() == "awaiting_signature" {
		creq, err := client.RequestFromProto(d.cfg.Spec, msg, id)
		if err != nil {
			fail("error/sign", false)
			return attempt{outcome: "error/sign"}
		}
		sig, err := client.SignPreCommand(d.cfg.Spec, creq, st.GetPreCommand(), u.key)
		if err != nil {
			fail("error/sign", false)
			return attempt{outcome: "error/sign"}
		}
		sresp, err := u.api.SubmitSignedPreCommand(rctx, connect.NewRequest(&dccgatev1.SubmitSignedPreCommandRequest{RequestId: id, SignedPreCommand: st.GetPreCommand(), Signature: sig}))
		if err != nil {
			// The signed Pre-Command's own call failed.
			outcome := "error/sign:" + connect.CodeOf(err).String()
			fail(outcome, rctx.Err() != nil)
			return attempt{outcome: outcome}
		}
		st = sresp.Msg
	}
	for !final(st.GetState()) {
		select {
		case st = <-w.ch:
			if st == nil {
				fail("error/stream", false)
				return attempt{outcome: "error/stream", retry: true}
			}
		case <-rctx.Done():
			fail("error/timeout", true)
			return attempt{outcome: "error/timeout"}
		}
	}
	outcome := st.GetState()
	if st.GetReason() != "" {
		outcome += "/" + st.GetReason()
	}
	if counted() {
		d.done.Add(1)
		d.res.add(sample{item: it.Name, id: id, critical: b.critical, sent: start, lat: d.now().Sub(start), ack: acked, outcome: outcome})
	}
	return attempt{outcome: outcome, retry: st.GetReason() == "SMWAN_UNAVAILABLE"}
}

// body is an item's request body, made once from the spec's examples and
// the item's own values (building it for each request was 7% of an
// in-process run's CPU): requests share it, read only, but for a top-up's
// UTRN, which each has its own.
type body struct {
	field    protoreflect.FieldDescriptor // ServiceRequest's oneof body field
	msg      protoreflect.Message
	utrn     bool // a copy with its own UTRN for each request
	critical bool
}

func newBody(svc *spec.Service, it Item) (*body, error) {
	if svc == nil {
		return nil, fmt.Errorf("no service %s in the spec", it.Service)
	}
	fields := map[string]any{}
	for _, f := range svc.Fields {
		if f.Example != nil {
			fields[f.Name] = f.Example
		}
	}
	maps.Copy(fields, it.Body)
	fd, err := connectgw.BodyField(it.Service)
	if err != nil {
		return nil, err
	}
	req := &dccgatev1.ServiceRequest{}
	if err := connectgw.SetBody(req, it.Service, fields); err != nil {
		return nil, err
	}
	_, utrn := fields["utrn"]
	return &body{field: fd, msg: req.ProtoReflect().Get(fd).Message(), utrn: utrn, critical: svc.Critical}, nil
}

// sender is the role the item is sent as (World.userOf gives the user):
// its own, or its fuel's Import Supplier.
func (it Item) sender() string {
	switch {
	case it.Role != "":
		return it.Role
	case it.Fuel == "gas":
		return "GIS"
	}
	return "EIS"
}

func final(state string) bool {
	switch state {
	case "accepted", "rejected", "quarantined", "cancelled", "expired":
		return true
	}
	return false
}

// register waits for id's final response; one that came before returns.
// broke says the user's stream broke since epoch, when the request was
// sent: its response may never come, and w is not registered.
func (d *driver) register(id string, w *waiter, epoch uint64) (early *dccgatev1.RequestState, broke bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.early[id]; ok {
		delete(d.early, id)
		return e.st, false
	}
	if w.u.epoch.Load() != epoch {
		return nil, true
	}
	d.waiting[id] = w
	return nil, false
}

// broke fails at once the requests waiting for their responses on u's
// stream, which broke, and those sent before it broke that are not yet
// waiting (register): they count as error/stream rather than wait for
// their timeout, as a gateway that was killed will not answer them. The
// stream, opened again, resumes from its cursor, and a response that
// comes later belongs to no request.
func (d *driver) broke(u *user) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u.epoch.Add(1)
	for id, w := range d.waiting {
		if w.u == u {
			delete(d.waiting, id)
			w.ch <- nil
		}
	}
}

type earlyResponse struct {
	st *dccgatev1.RequestState
	at time.Time
}

// prune drops early responses no Submit of this run can still claim.
func (d *driver) prune() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, e := range d.early {
		if time.Since(e.at) > d.cfg.Timeout {
			delete(d.early, id)
		}
	}
}

func (d *driver) unregister(id string) {
	d.mu.Lock()
	delete(d.waiting, id)
	d.mu.Unlock()
}

// streamEnds sets each user's cursor to where its stream ends now. A
// user whose GetStreamCursor fails (a gateway without it, or not
// answering yet) keeps 0: its stream is read from the first delivery, the
// earlier runs' too, which costs time but misses nothing.
func (d *driver) streamEnds(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, u := range d.users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if r, err := u.api.GetStreamCursor(ctx, connect.NewRequest(&dccgatev1.GetStreamCursorRequest{})); err == nil {
				u.cursor = r.Msg.GetCursor()
			}
		})
	}
	wg.Wait()
}

// subscribe reads a user's stream for the whole run, from u.cursor (where
// it ended when the run began), and from the last cursor read if it breaks; it
// hands final responses to their waiters, and when the stream breaks, the
// requests waiting on it fail (broke). It returns the last cursor read.
// A stream that ends before its first message is opened again after
// subscribeBackoff's delay: a Subscribe to a gateway that is down fails
// only at its first Receive, and the streams were opened again at once, a
// connection attempt each, as fast as they failed.
func (d *driver) subscribe(ctx context.Context, u *user) (cursor int64) {
	cursor = u.cursor
	for fails := 0; ctx.Err() == nil; {
		got := false
		if st, err := u.api.Subscribe(ctx, connect.NewRequest(&dccgatev1.SubscribeRequest{Cursor: cursor})); err == nil {
			got = d.receive(st, &cursor)
			st.Close()
		}
		if ctx.Err() != nil {
			return cursor
		}
		d.broke(u)
		if got {
			fails = 0
			continue
		}
		if !d.sleep(ctx, subscribeBackoff.delay(fails)) {
			return cursor
		}
		fails++
	}
	return cursor
}

// receive hands a stream's final responses to their waiters until it ends,
// and says whether it had a message.
func (d *driver) receive(st *connect.ServerStreamForClient[dccgatev1.StreamMessage], cursor *int64) (got bool) {
	for ; st.Receive(); got = true {
		d.streamed.Add(1)
		m := st.Msg()
		*cursor = m.GetCursor()
		if a := m.GetAlert(); a != nil {
			d.alerts.alert(a.GetDeviceId(), a.GetCode(), time.Now())
			continue
		}
		r := m.GetResponse()
		if r == nil || !final(r.GetState()) {
			continue
		}
		d.mu.Lock()
		if w, ok := d.waiting[r.GetRequestId()]; ok {
			delete(d.waiting, r.GetRequestId())
			w.ch <- r
		} else {
			// The response came before Submit returned its ID (or
			// belongs to an earlier run, read again from a gateway
			// without GetStreamCursor).
			d.early[r.GetRequestId()] = earlyResponse{st: r, at: time.Now()}
		}
		d.mu.Unlock()
	}
	return got
}

func summarise(samples []sample) (map[string]Latency, map[string]Latency) {
	byCat := map[string][]time.Duration{}
	byItem := map[string][]time.Duration{}
	for _, s := range samples {
		if s.failed {
			continue // no latency to count
		}
		cat := "on_demand"
		if s.critical {
			cat = "critical"
		}
		byCat[cat] = append(byCat[cat], s.lat)
		byCat["all"] = append(byCat["all"], s.lat)
		byCat["acknowledged"] = append(byCat["acknowledged"], s.ack)
		byItem[s.item] = append(byItem[s.item], s.lat)
	}
	conv := func(m map[string][]time.Duration) map[string]Latency {
		out := map[string]Latency{}
		for k, v := range m {
			out[k] = distribution(v)
		}
		return out
	}
	return conv(byCat), conv(byItem)
}

func distribution(v []time.Duration) Latency {
	if len(v) == 0 {
		return Latency{}
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(p float64) float64 {
		i := int(p*float64(len(v))+0.5) - 1
		return ms(v[min(max(i, 0), len(v)-1)])
	}
	var sum time.Duration
	for _, x := range v {
		sum += x
	}
	return Latency{Count: len(v), P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: ms(v[len(v)-1]), Mean: ms(sum / time.Duration(len(v)))}
}
