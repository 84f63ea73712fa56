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
	// Timeout bounds the wait for one request's response.
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
	Sent       int     `json:"sent"`
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
	Dropped        int     `json:"dropped,omitempty"`
	MaxOutstanding int     `json:"max_outstanding,omitempty"`
	Alerts         Alerts  `json:"alerts"`
	Memory         Memory  `json:"memory"`
	CPU            CPU     `json:"cpu"`
	Runtime        Runtime `json:"runtime"`

	started time.Time
	samples []sample // every request, completed or failed
}

// WriteSamples writes every request of the run as CSV, in the order they
// were sent: when (seconds from the run's start; in open loop, when it
// was due), its mix item, its outcome, the time to the Submit's answer
// and to its final Service Response, in milliseconds. For a request that
// failed, the acknowledgement is empty and the latency is the time to its
// failure. The percentiles hide when the slow requests came; these say,
// to set beside a gateway's logs or a collector's trace.
func (r *Result) WriteSamples(w io.Writer) error {
	all := slices.Clone(r.samples)
	slices.SortFunc(all, func(a, b sample) int { return a.sent.Compare(b.sent) })
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"sent_s", "item", "outcome", "acknowledged_ms", "latency_ms"})
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) }
	for _, s := range all {
		ack := ""
		if !s.failed {
			ack = ms(s.ack)
		}
		_ = cw.Write([]string{strconv.FormatFloat(s.sent.Sub(r.started).Seconds(), 'f', 4, 64), s.item, s.outcome, ack, ms(s.lat)})
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

type waiter struct {
	ch chan *dccgatev1.RequestState
}

type driver struct {
	cfg   Config
	users map[string]*user
	mix   []Item
	total float64

	// prepaid is how many premises (10, 20, ...) have a prepayment meter.
	prepaid int
	utrn    atomic.Uint64

	mu      sync.Mutex
	waiting map[string]*waiter
	// early holds responses that came before their Submit returned, with
	// when they came; those older than the timeout belong to no request
	// of this run (a stream replays a user's older messages) and go.
	early map[string]earlyResponse

	res     resultSink
	alerts  alertSink
	sent    atomic.Int64
	done    atomic.Int64
	started time.Time
}

type sample struct {
	item     string
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
	if cfg.Spec == nil || cfg.Duration <= 0 {
		return nil, errors.New("loadgen: a spec and a duration are required")
	}
	if cfg.Rate <= 0 && cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Mix == nil {
		cfg.Mix = DefaultMix
	}
	d := &driver{cfg: cfg, users: map[string]*user{}, waiting: map[string]*waiter{}, early: map[string]earlyResponse{},
		res: resultSink{outcomes: map[string]int{}}}
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
	// Streams replay from cursor 0: a response that lands before its
	// stream is open is not missed (a server stream's call returns only
	// with its first message, so nothing waits for them here).
	sctx, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	var streams sync.WaitGroup
	for _, u := range d.users {
		streams.Add(1)
		go func() {
			defer streams.Done()
			d.subscribe(sctx, u)
		}()
	}

	// Setup is not measured; the run starts after it, and only then the
	// progress line.
	if err := d.setup(ctx); err != nil {
		return nil, err
	}
	if d.prepaid > 0 && cfg.Settle > 0 {
		t := time.NewTimer(cfg.Settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	d.res = resultSink{outcomes: map[string]int{}}
	d.alerts.mu.Lock()
	d.alerts.sent, d.alerts.errors, d.alerts.byCode, d.alerts.on = map[string][]time.Time{}, map[string]int{}, map[string]int{}, true
	d.alerts.mu.Unlock()
	d.sent.Store(0)
	d.done.Store(0)
	if cfg.Started != nil {
		cfg.Started()
	}
	d.started = time.Now()
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
						time.Since(d.started).Seconds(), d.sent.Load(), n, n-last, d.sent.Load()-n, float64(rss)/(1<<20))
					last = n
				}
			}
		}
	}()

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	var rngMu sync.Mutex
	pick := func() (Item, int) {
		rngMu.Lock()
		defer rngMu.Unlock()
		x := rng.Float64() * d.total
		it := d.mix[len(d.mix)-1]
		for _, m := range d.mix {
			if x < m.Weight {
				it = m
				break
			}
			x -= m.Weight
		}
		if it.Prepayment {
			return it, 10 * (1 + rng.IntN(d.prepaid))
		}
		return it, 1 + rng.IntN(cfg.World.Premises())
	}
	var wg sync.WaitGroup
	end := d.started.Add(cfg.Duration)
	if cfg.Events != nil {
		seed := rng.Uint64() // before pick uses rng
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.events(ctx, end, seed)
		}()
	}
	mode := "closed"
	dropped := 0 // counted by pace's callback, on this goroutine
	if cfg.Rate > 0 {
		mode = "open"
		// Open loop: request i is due at start + i/rate, whatever the
		// gateway's speed; latency counts from that moment, so a slow
		// gateway cannot hide its queueing (no coordinated omission).
		var outstanding chan struct{}
		if cfg.MaxOutstanding > 0 {
			outstanding = make(chan struct{}, cfg.MaxOutstanding)
		}
		pace(ctx, d.started, end, cfg.Rate, func(_ int, due time.Time) {
			it, p := pick()
			if outstanding != nil {
				select {
				case outstanding <- struct{}{}:
				default:
					dropped++
					return
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if outstanding != nil {
					defer func() { <-outstanding }()
				}
				d.one(ctx, it, p, due)
			}()
		})
	} else {
		for range cfg.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && time.Now().Before(end) {
					it, p := pick()
					d.one(ctx, it, p, time.Now())
				}
			}()
		}
	}
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
		Outcomes: d.res.outcomes, TimedOut: d.res.timedOut, Dropped: dropped, started: d.started, samples: d.res.samples,
		Memory: Memory{HeapMiB: float64(ms.HeapAlloc) / (1 << 20), RSSMiB: float64(rss) / (1 << 20), PeakRSSMiB: float64(max(peak.Load(), rss)) / (1 << 20)}}
	res.Throughput = float64(res.Completed) / elapsed.Seconds()
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

// setup puts the meters the mix's prepayment items address into
// prepayment mode and tops each up once (not measured). A meter switched
// with no credit would disable its supply at its next tick (A11) and arm
// it again at the run's first top-up (A28): a thousand alerts in the run's
// first seconds that the field, whose prepayment meters hold credit, does
// not send.
func (d *driver) setup(ctx context.Context) error {
	var topup Item
	for _, it := range d.mix {
		if it.Prepayment {
			topup = it
		}
	}
	if !topup.Prepayment {
		return nil
	}
	d.prepaid = min(prepaymentPremises, d.cfg.World.Premises()/10)
	if d.prepaid == 0 {
		return errors.New("loadgen: top-ups need at least 20 systems (prepayment meters at every tenth premises)")
	}
	d.utrn.Store(uint64(time.Now().UnixNano()) % 1e15)
	mode := Item{Name: "setup", Service: "1.6", Fuel: "electricity", Body: map[string]any{"mode": "prepayment"}}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := 1; i <= d.prepaid; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.one(ctx, mode, 10*i, time.Now())
			d.one(ctx, topup, 10*i, time.Now())
		}()
	}
	wg.Wait()
	if n := d.res.outcomes["accepted"]; n != 2*d.prepaid {
		return fmt.Errorf("loadgen: setting %d meters to prepayment and topping them up: %v", d.prepaid, d.res.outcomes)
	}
	return nil
}

// one sends one request and waits for its final response.
func (d *driver) one(ctx context.Context, it Item, premises int, start time.Time) {
	fail := func(outcome string, timeout bool) {
		d.res.fail(sample{item: it.Name, sent: start, lat: time.Since(start), outcome: outcome}, timeout)
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
		return
	}
	b := it.body
	if b == nil { // an item of the setup's, not of the mix
		var err error
		if b, err = newBody(d.cfg.Spec.ServiceByKey(it.Service), it); err != nil {
			fail("error/body", false)
			return
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
			return
		}
	}
	msg.ProtoReflect().Set(b.field, protoreflect.ValueOfMessage(m))
	d.sent.Add(1)
	rctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	resp, err := u.submit(rctx, &dccgatev1.SubmitRequest{Request: msg})
	if err != nil {
		outcome := "error/submit:" + connect.CodeOf(err).String()
		if reason, _, ok := client.Refusal(err); ok {
			outcome += "/" + reason // refused before it was received (GATEWAY_BUSY)
		}
		fail(outcome, rctx.Err() != nil)
		return
	}
	acked := time.Since(start)
	id, st := resp.GetRequestId(), resp.GetState()
	w := &waiter{ch: make(chan *dccgatev1.RequestState, 1)}
	if !final(st.GetState()) {
		if early := d.register(id, w); early != nil {
			st = early
		} else {
			defer d.unregister(id)
		}
	}
	if st.GetState() == "awaiting_signature" {
		creq, err := client.RequestFromProto(d.cfg.Spec, msg, id)
		if err == nil {
			var sig []byte
			if sig, err = client.SignPreCommand(d.cfg.Spec, creq, st.GetPreCommand(), u.key); err == nil {
				var sresp *connect.Response[dccgatev1.RequestState]
				sresp, err = u.api.SubmitSignedPreCommand(rctx, connect.NewRequest(&dccgatev1.SubmitSignedPreCommandRequest{RequestId: id, SignedPreCommand: st.GetPreCommand(), Signature: sig}))
				if err == nil {
					st = sresp.Msg
				}
			}
		}
		if err != nil {
			fail("error/sign", rctx.Err() != nil)
			return
		}
	}
	for !final(st.GetState()) {
		select {
		case st = <-w.ch:
		case <-rctx.Done():
			fail("error/timeout", true)
			return
		}
	}
	outcome := st.GetState()
	if st.GetReason() != "" {
		outcome += "/" + st.GetReason()
	}
	d.done.Add(1)
	d.res.add(sample{item: it.Name, critical: b.critical, sent: start, lat: time.Since(start), ack: acked, outcome: outcome})
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
func (d *driver) register(id string, w *waiter) *dccgatev1.RequestState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.early[id]; ok {
		delete(d.early, id)
		return e.st
	}
	d.waiting[id] = w
	return nil
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

// subscribe reads a user's stream for the whole run, resuming from its
// cursor if the stream breaks, and hands final responses to their waiters.
func (d *driver) subscribe(ctx context.Context, u *user) {
	var cursor int64
	for ctx.Err() == nil {
		st, err := u.api.Subscribe(ctx, connect.NewRequest(&dccgatev1.SubscribeRequest{Cursor: cursor}))
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		for st.Receive() {
			m := st.Msg()
			cursor = m.GetCursor()
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
				// belongs to an earlier run, replayed from cursor 0).
				d.early[r.GetRequestId()] = earlyResponse{st: r, at: time.Now()}
			}
			d.mu.Unlock()
		}
		st.Close()
	}
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
