package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // --pprof
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/loadgen"
	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// loadWorldFile records, in the data directory, the world `dccgate load`
// seeded, so a later run (or one against a gateway serving that directory)
// addresses the same users and devices.
const loadWorldFile = "load-world.json"

type seededWorld struct {
	Systems   int    `json:"systems"`
	Suppliers int    `json:"suppliers"`
	Others    int    `json:"others,omitempty"`
	Store     string `json:"store"`
}

// loadUsage heads `dccgate load -h`: what it does and what its outcomes
// mean (README.md, "Load and scale", says the same).
const loadUsage = `usage: dccgate load [--fleet N | --target URL --data DIR] [--rate R | --concurrency C] [--duration D] [flags]

Seeds a world and drives load at a gateway through its public API: in this
process, or at --target. It prints throughput, latency percentiles, the
outcomes of the requests, memory and CPU.

Outcomes: accepted, rejected/REASON, ... are the final Service Responses'
states and reason codes. The others failed on the load generator's side:
  error/submit:CODE         the Submit failed with that Connect code, nothing
                            acknowledged: unavailable, no connection to the
                            gateway (refused, or the stream it went on broke);
                            internal or canceled with the run going on, the
                            connection broke mid-answer ("http2: client conn
                            is closed", "connection reset by peer");
                            deadline_exceeded, no answer within --timeout
  error/submit:unavailable/GATEWAY_BUSY
                            refused before it was received: the gateway was
                            full (max_in_flight); nothing stored
  error/stream              acknowledged, but the user's stream, where its
                            Service Response comes, broke before it came (the
                            gateway was stopped or killed): failed at once
                            rather than waiting for its timeout
  error/timeout             acknowledged, and no final Service Response on the
                            stream within --timeout (30 s)
  error/sign                a critical request's Pre-Command could not be
                            signed (the load generator's fault)
  error/sign:CODE           the signed Pre-Command's call failed with that code
  error/no-credentials, error/body
                            not sent: no certificate for the user, or no body
                            for the item (the world or the mix is wrong)
While a user's connection fails (error/submit:unavailable with no reason,
or canceled mid-run), its requests are held off it for 10 ms, doubling to
1 s, until the gateway answers again: a closed loop's workers wait, and an open loop counts those
falling due then under error/submit:unavailable without sending them. The
setup (meters put in prepayment mode and topped up for the top-ups) sends a
request again, up to 3 times, when it was refused SMWAN_UNAVAILABLE or
GATEWAY_BUSY or its connection or stream failed; meters still not set up are
left out of the top-ups and counted, and the load fails only if none is.
Each user's stream starts where it ends when the run begins
(GetStreamCursor), so a run reads none of the deliveries of the runs
before it in the same store.

Flags:
`

// runLoad seeds a gateway's store with a large world and drives load at it
// through the public API.
func runLoad(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "URL of a running gateway serving --data's store (default: a gateway in this process)")
	wait := fs.Duration("wait", 30*time.Second, "with --target: how long to wait for the gateway to accept connections (it may still be starting)")
	data := fs.String("data", "", "data directory: the store, pki/ and "+loadWorldFile+" (default: a temporary one, in process)")
	storeFlag := fs.String("store", "", "store URL (sqlite:///path or postgres://...; default: DCCGATE_STORE, else DIR/dccgate.db)")
	fleet := fs.Int("fleet", 0, "seed the store with this many enrolled Smart Metering Systems (two per dual fuel premises) first; 0 keeps the seeded world (10000 if none)")
	suppliers := fs.Int("suppliers", 32, "with --fleet: supplier companies (an EIS and a GIS user each) sharing the premises")
	others := fs.Int("others", 8, "with --fleet: users of each role other than the Import Suppliers' (the export supplier, agent, network operators, other user) sharing the premises")
	seedOnly := fs.Bool("seed-only", false, "seed and exit (then `dccgate serve --data DIR`)")
	rate := fs.Float64("rate", 0, "open loop: requests per second (0: closed loop at --concurrency)")
	conc := fs.Int("concurrency", 64, "closed loop: requests in flight")
	outstanding := fs.Int("max-outstanding", 2048, "open loop: at most this many requests sent and not yet answered; one due beyond is not sent and counts as dropped (0: no bound)")
	calls := fs.Bool("calls", false, "send each request on a Submit call of its own (default: each user's requests share one SubmitStream, as a user sending many a second would)")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	warmup := fs.Duration("warmup", 0, "send this long first, at the same rate or concurrency, without counting it: the run is measured on a gateway already under the load (its connections, caches and heap), not from its first requests")
	timeout := fs.Duration("timeout", loadgen.DefaultTimeout, "how long a request may take, from sent to its final Service Response on the stream, before it counts as error/timeout (error/submit:deadline_exceeded if not acknowledged)")
	settle := fs.Duration("settle", time.Second, "a pause after the setup (meters put in prepayment mode and topped up) before the run, so the gateway's work left from setup is not measured")
	mixFlag := fs.String("mix", "", "weights over the default mix, e.g. critical=0,topup=20, or *=0,critical=1 for one item alone (items: "+strings.Join(loadgen.MixNames(), ", ")+")")
	alerts := fs.Float64("alerts", 20, "device events per second, each raising a device alert on its users' streams (0: none; against --target only when given, and the gateway must serve the AdminService: serve --virtual-clock)")
	workers := fs.Int("workers", 0, "in process: the gateway's request workers (0: its default)")
	maxInFlight := fs.Int("max-in-flight", 0, "in process: the most requests the gateway holds before it refuses GATEWAY_BUSY (0: its default; -1: no bound)")
	jsonOut := fs.String("json", "", "write the result as JSON to this file")
	samplesOut := fs.String("samples", "", "write every request as CSV to this file: when it was sent, its item and outcome, its times to the acknowledgement and to the response, its Request ID")
	quiet := fs.Bool("quiet", false, "no progress lines")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address during the run (e.g. 127.0.0.1:6060)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run (the gateway too, in process) to this file")
	fs.Usage = func() {
		fmt.Fprint(stderr, loadUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	// The collector as `dccgate serve` sets it by default, so that a
	// gateway in process is measured as it would be served.
	applyGC(config.Default().GC, os.Environ())
	if *target != "" {
		// A target gateway takes device events only on its AdminService,
		// which a gateway on the real clock does not serve: asked for only.
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "alerts" })
		if !given {
			*alerts = 0
		}
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dccgate load: %v\n", err)
		return exitFail
	}
	if *fleet < 0 || *suppliers < 1 || *rate < 0 || *alerts < 0 || *outstanding < 0 || *conc < 1 || *dur <= 0 || *timeout <= 0 || *warmup < 0 {
		fmt.Fprintln(stderr, "dccgate load: --fleet, --rate, --alerts, --max-outstanding, --warmup must not be negative; --suppliers, --concurrency, --duration and --timeout must be positive")
		return exitUsage
	}
	mix, err := loadgen.ParseMix(*mixFlag)
	if err != nil {
		fmt.Fprintf(stderr, "dccgate load: %v\n", err)
		return exitUsage
	}
	if *target != "" && *fleet > 0 {
		// The serving gateway keeps the users and inventory entries it has
		// read (it alone writes them): a seed written beside it would not be seen.
		fmt.Fprintln(stderr, "dccgate load: --fleet with --target: seed the directory first (--seed-only), then serve it")
		return exitUsage
	}
	if *data == "" {
		if *target != "" {
			fmt.Fprintln(stderr, "dccgate load: --target needs --data, the directory the target gateway serves (its pki/ and "+loadWorldFile+")")
			return exitUsage
		}
		dir, err := os.MkdirTemp("", "dccgate-load-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		*data = dir
	}
	dbURL := storeURL(*storeFlag, *data)
	sp, err := spec.Default()
	if err != nil {
		return fail(err)
	}
	p, err := server.LoadOrCreatePKI(filepath.Join(*data, "pki"))
	if err != nil {
		return fail(err)
	}
	seeded, _ := readWorld(*data)
	if *fleet == 0 && seeded.Systems == 0 {
		*fleet = 10_000
	}
	w := loadgen.World{Systems: seeded.Systems, Suppliers: seeded.Suppliers, Others: seeded.Others}
	if *fleet > 0 {
		w = loadgen.World{Systems: *fleet, Suppliers: *suppliers, Others: *others}
		if err := w.Validate(); err != nil {
			fmt.Fprintf(stderr, "dccgate load: %v\n", err)
			return exitUsage
		}
		users, err := server.IssueUserCerts(p, w.Users())
		if err != nil {
			return fail(err)
		}
		st, err := store.Open(ctx, dbURL)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "seeding %d Smart Metering Systems (%d premises), %d users into %s\n", w.Systems, w.Premises(), len(users), redact(dbURL))
		stats, err := w.Seed(ctx, st, users, time.Now().UTC())
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "seeded %d registrations and %d devices in %.1fs (%.0f devices/s)\n", stats.Registrations, stats.Devices,
			stats.Took.Seconds(), float64(stats.Devices)/stats.Took.Seconds())
		if err := writeWorld(*data, seededWorld{Systems: w.Systems, Suppliers: w.Suppliers, Others: w.Others, Store: redact(dbURL)}); err != nil {
			return fail(err)
		}
	}
	if *seedOnly {
		return exitOK
	}
	url := *target
	var events func(ctx context.Context, device, kind string) error
	var commits func() store.CommitStats // in process: the store's group commit
	if url == "" {
		srv, err := server.Start(ctx, server.Config{DataDir: *data, StoreURL: dbURL, Listen: "127.0.0.1:0", Workers: *workers, MaxInFlight: *maxInFlight, PKI: p, Spec: sp})
		if err != nil {
			return fail(err)
		}
		defer srv.Close()
		url = srv.URL
		events = srv.G.DeviceEvent
		if cs, ok := srv.Store.(store.CommitStatser); ok {
			commits = cs.CommitStats
		}
	} else if err := awaitGateway(ctx, url, *wait, stderr); err != nil {
		return fail(err)
	}
	if *target != "" && *alerts > 0 {
		hc, err := pki.ClientHTTP(p.CA.CertPEM, p.Admin, 0)
		if err != nil {
			return fail(err)
		}
		admin := dccgatev1connect.NewAdminServiceClient(hc, strings.TrimRight(url, "/"))
		events = func(ctx context.Context, device, kind string) error {
			_, err := admin.DeviceEvent(ctx, connect.NewRequest(&dccgatev1.DeviceEventRequest{DeviceId: device, Kind: kind}))
			return err
		}
	}
	if *alerts == 0 {
		events = nil
	}
	creds := map[string]pki.Issued{}
	for _, u := range w.Users() {
		c, err1 := os.ReadFile(filepath.Join(p.Dir, "users", u.ID+".pem"))
		k, err2 := os.ReadFile(filepath.Join(p.Dir, "users", u.ID+"-key.pem"))
		if err := errors.Join(err1, err2); err != nil {
			return fail(fmt.Errorf("user %s: %w (seed the world with --fleet first)", u.ID, err))
		}
		creds[u.ID] = pki.Issued{CertPEM: c, KeyPEM: k}
	}
	setupFrom := time.Now()
	cfg := loadgen.Config{URL: url, CAPEM: p.CA.CertPEM, Credentials: creds, World: w, Spec: sp, Mix: mix,
		Rate: *rate, Concurrency: *conc, MaxOutstanding: *outstanding, Calls: *calls, Duration: *dur, Warmup: *warmup, Timeout: *timeout, Settle: *settle, Seed: uint64(time.Now().UnixNano()), Events: events, EventRate: *alerts,
		// A line of its own, printed as the timed run begins (scripts
		// measuring a gateway from outside start there).
		Started: func() {
			fmt.Fprintf(stdout, "load: the run starts (setup took %.1fs)\n", time.Since(setupFrom).Seconds())
		}}
	if !*quiet {
		cfg.Progress = stderr
	}
	mode := fmt.Sprintf("closed loop, %d in flight", *conc)
	if *rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f/s", *rate)
	}
	if *warmup > 0 {
		mode += fmt.Sprintf(" (after a warm-up of %s, not counted)", *warmup)
	}
	fmt.Fprintf(stdout, "load: %s for %s against %s (%d systems, %d users)\n", mode, *dur, url, w.Systems, len(creds))
	if *pprofAddr != "" {
		ln, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return fail(err)
		}
		ps := &http.Server{Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
		go ps.Serve(ln)
		defer ps.Close()
		runtime.SetBlockProfileRate(int(time.Millisecond))
		runtime.SetMutexProfileFraction(10)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	var before store.CommitStats
	if commits != nil {
		before = commits()
	}
	res, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	printLoad(stdout, res, *target == "")
	if commits != nil {
		// Setup included: the load's writes dominate.
		after := commits()
		if n := after.Commits - before.Commits; n > 0 {
			w := after.Writes - before.Writes
			fmt.Fprintf(stdout, "store: %d writes in %d commits (%.1f a commit), %.2f ms a commit\n", w, n, float64(w)/float64(n),
				float64((after.CommitTime-before.CommitTime).Microseconds())/1000/float64(n))
		}
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, res); err != nil {
			return fail(err)
		}
	}
	if *samplesOut != "" {
		if err := writeSamples(*samplesOut, res); err != nil {
			return fail(err)
		}
	}
	if res.Completed == 0 {
		return exitFail
	}
	return exitOK
}

func printLoad(w io.Writer, r *loadgen.Result, inProcess bool) {
	if s := r.Setup; s != nil {
		fmt.Fprintf(w, "setup: %d of %d meters put in prepayment mode and topped up (%d requests sent again)", s.Ready, s.Meters, s.Retries)
		if n := s.Meters - s.Ready; n > 0 {
			fmt.Fprintf(w, "; %d could not be and get no top-ups:", n)
			for _, k := range sortedKeys(s.Failed) {
				fmt.Fprintf(w, " %s %d", k, s.Failed[k])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "sent %d, completed %d in %.1fs: %.0f requests/s completed", r.Sent, r.Completed, r.Duration, r.Throughput)
	if r.TimedOut > 0 {
		fmt.Fprintf(w, ", %d timed out", r.TimedOut)
	}
	if r.Dropped > 0 {
		fmt.Fprintf(w, ", %d not sent (due with %d outstanding: --max-outstanding)", r.Dropped, r.MaxOutstanding)
	}
	if r.Submit == "calls" {
		fmt.Fprint(w, " (a Submit call each)")
	} else {
		fmt.Fprint(w, " (on SubmitStreams)")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-22s %8s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max")
	line := func(name string, l loadgen.Latency) {
		fmt.Fprintf(w, "%-22s %8d %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, l.Count, l.P50, l.P90, l.P99, l.P999, l.Max)
	}
	for _, k := range []string{"all", "on_demand", "critical"} {
		if l, ok := r.Latency[k]; ok {
			line(k, l)
		}
	}
	for _, k := range sortedKeys(r.ByItem) {
		line("  "+k, r.ByItem[k])
	}
	if l, ok := r.Latency["acknowledged"]; ok {
		line("acknowledged", l)
	}
	fmt.Fprintln(w, "outcomes:")
	for _, k := range sortedKeys(r.Outcomes) {
		fmt.Fprintf(w, "  %-40s %d\n", k, r.Outcomes[k])
	}
	if a := r.Alerts; a.Events > 0 || a.Delivered > 0 {
		fmt.Fprintf(w, "device alerts: %d events sent, %d alerts delivered", a.Events, a.Delivered)
		for _, k := range sortedKeys(a.ByCode) {
			fmt.Fprintf(w, " %s:%d", k, a.ByCode[k])
		}
		fmt.Fprintln(w)
		if a.Latency.Count > 0 {
			line("alert", a.Latency)
		}
		for _, k := range sortedKeys(a.EventErrors) {
			fmt.Fprintf(w, "  event failed: %s (%d)\n", k, a.EventErrors[k])
		}
	}
	// The process's figures: against --target, the load generator's alone.
	memory, whose := "memory", " (load generator and gateway)"
	if !inProcess {
		memory, whose = "memory (load process)", " (load generator only)"
	}
	fmt.Fprintf(w, "%s: rss %.0f MiB (peak %.0f MiB), heap %.0f MiB\n", memory, r.Memory.RSSMiB, r.Memory.PeakRSSMiB, r.Memory.HeapMiB)
	fmt.Fprintf(w, "cpu: %.1f s over %.1f s (%.2f cores), %.0f us a completed request%s\n", r.CPU.Seconds, r.Duration,
		r.CPU.Seconds/r.Duration, r.CPU.PerRequestUS, whose)
	rt := r.Runtime
	perReq := ""
	if r.Completed > 0 {
		perReq = fmt.Sprintf(", %.1f KiB allocated a completed request", float64(rt.AllocBytes)/float64(r.Completed)/1024)
	}
	fmt.Fprintf(w, "runtime: %d collections, %.2f s of CPU (%.1f%%), longest pause %.1f ms; a goroutine ready to run waited p99 %.1f ms, p99.9 %.1f ms%s\n",
		rt.GCCycles, rt.GCCPUSeconds, rt.GCShare*100, rt.GCPauseMaxMS, rt.SchedP99MS, rt.SchedP999MS, perReq)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func readWorld(dir string) (seededWorld, error) {
	var w seededWorld
	return w, readJSON(filepath.Join(dir, loadWorldFile), &w)
}

func writeWorld(dir string, w seededWorld) error {
	return writeJSON(filepath.Join(dir, loadWorldFile), w)
}

// readJSON reads the JSON file at path into v.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON writes v to path as indented JSON.
func writeJSON(path string, v any) error {
	b, _ := json.MarshalIndent(v, "", "  ")
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// redact hides a store URL's password.
func redact(u string) string {
	if pu, err := neturl.Parse(u); err == nil {
		return pu.Redacted()
	}
	return u
}

// awaitGateway waits up to wait for the gateway at target to accept TCP
// connections: started beside the load, it may not listen yet (a store of
// millions takes seconds to open), and every request sent before would
// fail alike.
func awaitGateway(ctx context.Context, target string, wait time.Duration, stderr io.Writer) error {
	u, err := neturl.Parse(target)
	if err != nil || u.Host == "" {
		return fmt.Errorf("--target %q: not a URL", target)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	deadline := time.Now().Add(wait)
	for said := false; ; said = true {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the gateway at %s does not accept connections (waited %s): %w", target, wait, err)
		}
		if !said {
			fmt.Fprintf(stderr, "dccgate load: waiting for the gateway at %s to accept connections\n", target)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func writeSamples(name string, res *loadgen.Result) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := res.WriteSamples(f); err != nil { // csv buffers
		f.Close()
		return err
	}
	return f.Close()
}
