// Package server assembles a running gateway: store, engine, gateway,
// certificates and the HTTPS listener serving the Connect API.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/reports"
	"github.com/dccgate/dccgate/reports/traffic"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/hubsvc"
	"github.com/dccgate/dccgate/runtime/metrics"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/rdpapi"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/telemetry"
	"github.com/dccgate/dccgate/spec"
)

// Config configures a server.
type Config struct {
	// DataDir holds the SQLite file and the local PKI (pki/).
	DataDir string
	// TrafficManagement turns on the traffic management policy of para 273
	// (policy/rego/traffic.rego): off by default.
	TrafficManagement bool
	// StoreURL overrides the store: sqlite:///path or postgres://...
	StoreURL string
	// Listen is the address to serve on ("127.0.0.1:0" picks a port).
	Listen string
	// PlaintextListen, if set, also serves HTTP/2 without TLS (h2c) there,
	// for a TLS-terminating proxy in front that forwards the verified client
	// certificate (api.ForwardedCertHeader); calls without one are refused.
	PlaintextListen string
	// VirtualClock starts a virtual clock at Start and mounts the admin API.
	VirtualClock bool
	Start        time.Time
	// AdminListen, if set, serves /metrics, /healthz, /readyz and the
	// OpsService (reload) there: plain HTTP on a loopback address, else
	// HTTPS that requires the admin certificate.
	AdminListen string
	// SpecDir and PolicyDir are where the spec (.cue) and the policies
	// (.rego) are read from at start (unless Spec and Engine are given)
	// and at each Reload; empty means the embedded ones.
	SpecDir   string
	PolicyDir string
	// Engine, when set, is shared (compiled once for many servers); it
	// must have been compiled from Spec and the policies of PolicyDir.
	Engine *engine.Engine
	Spec   *spec.Spec
	// Tracing exports spans (nil: none).
	Tracing *telemetry.Tracing
	// Version and Commit name the build, for Status and the metrics.
	Version, Commit string
	// SSIListen, if set, serves the Self-Service Interface there (HTTPS, a
	// client certificate optional: see runtime/ssi); SSIMaxSessions, if
	// above 0, lowers the spec's limit of sessions per user (para 252).
	SSIListen      string
	SSIMaxSessions int
	// PKI is the local PKI; nil loads or creates DataDir/pki.
	PKI     *PKI
	Workers int
	// MaxInFlight and AdmissionWait bound the requests the process holds
	// (gateway.Config; 0: the gateway's defaults).
	MaxInFlight   int
	AdmissionWait time.Duration
	Logger        *slog.Logger
	// Lease is how long a process's claim on a request holds on a store
	// several processes share (PostgreSQL); default 30s. See scaleout.go.
	Lease time.Duration
	// CommandTimeout bounds one Command over the SMWAN (default 10s);
	// CommandRetries is how many times a failed one is sent again.
	CommandTimeout time.Duration
	CommandRetries int
	// RetryLater: see gateway.Config.RetryLater.
	RetryLater time.Duration
	// Anomaly is the anomaly-detection thresholds (para 134-135) until a
	// world loaded with thresholds of its own replaces them.
	Anomaly []gateway.AnomalyRule
	// AlertAnomaly is the thresholds on each device's alerts (para 136).
	AlertAnomaly []gateway.AlertAnomalyRule
}

// PKI is the local certificate authority and what it issued for a server.
type PKI struct {
	CA     *pki.CA
	Server pki.Issued
	Admin  pki.Issued
	Dir    string
}

// Server is a running gateway.
type Server struct {
	lock *os.File // the SQLite store's serve lock (serveLock); nil for others
	G    *gateway.Gateway
	PKI  *PKI
	URL  string
	// PlaintextURL is the h2c address, if served.
	PlaintextURL string
	// AdminURL is the admin listener's address, if served.
	AdminURL string
	Store    store.Store
	Metrics  *metrics.Metrics
	// ServiceMgmt is incidents, maintenance and the SSI (servicemgmt.go).
	ServiceMgmt
	// Hubs is the Communications Hubs (hubs.go); nil if the store keeps
	// no hub records.
	Hubs *hubsvc.Service

	cfg     Config
	log     *slog.Logger
	tracing *telemetry.Tracing
	http    *http.Server
	plain   *http.Server
	admin   *http.Server
	ln      net.Listener
	done    chan error
	// warm serves the API's calls on kept goroutines (warmstacks.go).
	warm *warmStacks

	// streams ends the Subscribe streams when a shutdown begins.
	streams      context.Context
	endStreams   context.CancelFunc
	shuttingDown atomic.Bool
	closeOnce    sync.Once
	enrol        *enrolmentSnapshot
	closeErr     error

	reloadMu sync.Mutex
	loaded   atomic.Pointer[loaded]

	// duis is the DUIS endpoints (runtime/server/duis.go).
	duis duisState
}

// loaded is what decides new requests, and the last reload's error.
type loaded struct {
	spec        *spec.Spec
	specHash    string
	policyHash  string
	at          time.Time
	reloadError string
}

// LoadOrCreatePKI reads the local PKI from dir, creating it on first use:
// ca.pem, ca-key.pem, server.pem, server-key.pem, admin.pem, admin-key.pem
// (keys 0600).
func LoadOrCreatePKI(dir string) (*PKI, error) {
	p := &PKI{Dir: dir}
	ca, err := pki.LoadCA(dir)
	if errors.Is(err, os.ErrNotExist) {
		if ca, err = pki.NewCA("dccgate local CA"); err != nil {
			return nil, err
		}
		if err := ca.Save(dir); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	p.CA = ca
	if p.Server, err = loadOrIssue(dir, "server", func() (pki.Issued, error) { return ca.IssueServer("localhost", "127.0.0.1", "::1") }); err != nil {
		return nil, err
	}
	if p.Admin, err = loadOrIssue(dir, "admin", func() (pki.Issued, error) { return ca.IssueAdmin(api.AdminCommonName) }); err != nil {
		return nil, err
	}
	return p, nil
}

func loadOrIssue(dir, name string, issue func() (pki.Issued, error)) (pki.Issued, error) {
	cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	c, err1 := os.ReadFile(cp)
	k, err2 := os.ReadFile(kp)
	if err1 == nil && err2 == nil {
		return pki.Issued{CertPEM: c, KeyPEM: k}, nil
	}
	iss, err := issue()
	if err != nil {
		return iss, err
	}
	if err := os.WriteFile(cp, iss.CertPEM, 0o644); err != nil {
		return iss, err
	}
	return iss, pki.WriteKey(kp, iss.KeyPEM)
}

// Start opens the store, builds the gateway and serves it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tracing == nil {
		cfg.Tracing = telemetry.NoTracing()
	}
	if cfg.Spec == nil {
		s, err := spec.LoadDir(cfg.SpecDir)
		if err != nil {
			return nil, err
		}
		cfg.Spec = s
	}
	polHash, err := PolicyHash(cfg.PolicyDir)
	if err != nil {
		return nil, err
	}
	if cfg.Engine == nil {
		e, err := engine.New(ctx, cfg.Spec, policyOptions(cfg.PolicyDir)...)
		if err != nil {
			return nil, err
		}
		cfg.Engine = e
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, err
	}
	if cfg.PKI == nil {
		p, err := LoadOrCreatePKI(filepath.Join(cfg.DataDir, "pki"))
		if err != nil {
			return nil, err
		}
		cfg.PKI = p
	}
	url := cfg.StoreURL
	if url == "" {
		url = "sqlite://" + filepath.Join(cfg.DataDir, "dccgate.db")
	}
	lock, err := serveLock(url)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			unlock(lock)
		}
	}()
	raw, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", redactURL(url), err)
	}
	m := metrics.New(cfg.Spec)
	m.Loaded(cfg.Spec.Hash, polHash)
	st := telemetry.WrapStore(raw, cfg.Tracing, m.StoreCall)
	gc := gateway.Config{Store: st, Engine: telemetry.WrapDecider(cfg.Engine, cfg.Tracing), Spec: cfg.Spec, Workers: cfg.Workers, Logger: cfg.Logger,
		MaxInFlight: cfg.MaxInFlight, AdmissionWait: cfg.AdmissionWait, Anomaly: cfg.Anomaly, AlertAnomaly: cfg.AlertAnomaly}
	gc.CommandTimeout, gc.CommandRetries, gc.RetryLater = cfg.CommandTimeout, cfg.CommandRetries, cfg.RetryLater
	if err := shareStore(&gc, cfg, url); err != nil {
		st.Close()
		return nil, err
	}
	if cfg.VirtualClock {
		start := cfg.Start
		if start.IsZero() {
			start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		}
		v := clock.NewVirtual(start)
		gc.Clock, gc.Virtual = v, v
	} else {
		gc.Clock = clock.Real{}
	}
	// Registration Data from RDPs and the reports (chapter 4, para 259-273)
	// work on the raw store, which has their tables.
	regSvc, err := registration.New(raw, cfg.Spec, gc.Clock)
	if err != nil {
		st.Close()
		return nil, err
	}
	rp, err := reports.New(raw, cfg.Spec, gc.Clock)
	if err != nil {
		st.Close()
		return nil, err
	}
	if gc.Traffic, err = traffic.New(ctx, cfg.Spec, traffic.Enabled(cfg.TrafficManagement)); err != nil {
		st.Close()
		return nil, err
	}
	enrol := &enrolmentSnapshot{rp: rp, clk: gc.Clock, log: cfg.Logger, background: gc.Virtual == nil}
	gc.OnDue = func(ctx context.Context) {
		// Idempotent: overdue RDP files and refreshes raise incidents once;
		// the enrolled-system count is recorded once a day (para 408).
		if _, err := regSvc.Sweep(ctx); err != nil {
			cfg.Logger.Error("registration sweep", "err", err)
		}
		enrol.due(ctx)
	}
	sm, err := newServiceMgmt(ctx, raw, cfg, &gc)
	if err != nil {
		st.Close()
		return nil, err
	}
	g, err := gateway.New(ctx, gc)
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := sm.bind(g, raw, cfg); err != nil {
		st.Close()
		return nil, err
	}
	sm.SSI.SetReports(rp)
	hubSvc, err := newHubs(raw, cfg, g, rp)
	if err != nil {
		st.Close()
		return nil, err
	}
	if hubSvc != nil && sm.SSI != nil {
		sm.SSI.SetHubs(hubSvc)
	}
	g.SetObserver(m)
	m.WatchWork(metrics.WorkSource{Store: raw, Now: g.Now, Stats: g.Stats})
	if err := g.Start(context.WithoutCancel(ctx)); err != nil {
		st.Close()
		return nil, err
	}
	tlsCfg, err := pki.ServerTLS(cfg.PKI.CA, cfg.PKI.Server)
	if err != nil {
		g.Close()
		st.Close()
		return nil, err
	}
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:8443"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		g.Close()
		st.Close()
		return nil, err
	}
	s := &Server{G: g, PKI: cfg.PKI, Store: st, Metrics: m, cfg: cfg, log: cfg.Logger, tracing: cfg.Tracing, ln: ln, done: make(chan error, 3), enrol: enrol}
	s.ServiceMgmt = sm
	s.Hubs = hubSvc
	s.streams, s.endStreams = context.WithCancel(context.Background())
	s.loaded.Store(&loaded{spec: cfg.Spec, specHash: cfg.Spec.Hash, policyHash: polHash, at: clock.Real{}.Now()})
	s.URL = "https://" + ln.Addr().String()
	s.warm = newWarmStacks(warmMax)
	interceptors := []connect.Interceptor{telemetry.NewInterceptor(cfg.Logger, cfg.Tracing, m.RPC)}
	fail := func(err error) (*Server, error) {
		ln.Close()
		if s.plain != nil {
			s.plain.Close()
		}
		g.Close()
		st.Close()
		return nil, err
	}
	if cfg.PlaintextListen != "" {
		pln, err := net.Listen("tcp", cfg.PlaintextListen)
		if err != nil {
			return fail(err)
		}
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		protos.SetHTTP1(true)
		s.plain = &http.Server{
			Handler: s.warm.wrap(s.endStreamsOnShutdown(api.Handler(g, api.Options{Admin: cfg.VirtualClock, CA: cfg.PKI.CA, Draining: s.streams.Done(), TrustForwardedCert: true, Interceptors: interceptors,
				Mount: s.withServiceAPI(s.withDUIS(rdpHandlers(regSvc, rp, rdpapi.Options{ForwardedRoots: cfg.PKI.CA.Pool(), HandlerOptions: []connect.HandlerOption{connect.WithInterceptors(interceptors...)}})))}))),
			Protocols:         &protos,
			HTTP2:             apiHTTP2(),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		}
		s.PlaintextURL = "http://" + pln.Addr().String()
		go func() { s.done <- s.plain.Serve(pln) }()
	}
	if cfg.AdminListen != "" {
		if err := s.serveAdmin(cfg.AdminListen); err != nil {
			return fail(fmt.Errorf("admin listener: %w", err))
		}
	}
	if err := s.serveSSI(cfg); err != nil {
		return fail(err)
	}
	s.http = &http.Server{
		Handler: s.warm.wrap(s.endStreamsOnShutdown(api.Handler(g, api.Options{Admin: cfg.VirtualClock, CA: cfg.PKI.CA, Draining: s.streams.Done(), Interceptors: interceptors,
			Mount: s.withServiceAPI(s.withDUIS(rdpHandlers(regSvc, rp, rdpapi.Options{HandlerOptions: []connect.HandlerOption{connect.WithInterceptors(interceptors...)}})))}))),
		TLSConfig:         tlsCfg,
		HTTP2:             apiHTTP2(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	go func() { s.done <- s.http.Serve(tls.NewListener(ln, tlsCfg)) }()
	s.lock, started = lock, true
	return s, nil
}

// apiMaxReadFrameSize is the largest HTTP/2 frame the API reads, which
// its clients learn from the server's settings: HTTP/2's smallest maximum.
// Go's client gives each request body it sends a buffer of the peer's
// frame size, up to 512 KiB, for as long as the body is open; with Go's
// server default of 1 MiB, every SubmitStream held 512 KiB in its client
// for its life and every unary call took one (100 users' streams: 50 MiB
// of a load generator's heap). The API's messages are a few hundred bytes;
// a larger one is sent in several frames.
const apiMaxReadFrameSize = 16 << 10

// apiHTTP2 is the HTTP/2 configuration of the API's servers.
func apiHTTP2() *http.HTTP2Config {
	return &http.HTTP2Config{MaxReadFrameSize: apiMaxReadFrameSize}
}

// endStreamsOnShutdown ends the Subscribe streams when a shutdown begins
// (a client resumes from its cursor on the next process), so that they do
// not hold the shutdown to its grace period.
func (s *Server) endStreamsOnShutdown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/Subscribe") {
			ctx, cancel := context.WithCancel(r.Context())
			stop := context.AfterFunc(s.streams, cancel)
			defer stop()
			defer cancel()
			r = r.WithContext(ctx)
		}
		h.ServeHTTP(w, r)
	})
}

// ShutdownReport says how a shutdown went.
type ShutdownReport struct {
	// Drained is true when the work in flight finished within the grace
	// period; otherwise Parked requests were left in the store, in a state
	// from which the next start resumes them.
	Drained bool
	Parked  int
}

// Shutdown stops the server gracefully: readiness fails at once, the
// listeners stop accepting, the calls in progress finish (every request
// acknowledged is durable before its acknowledgement), streams end, and the
// work in flight runs until it is done or ctx ends. What is still running
// then is stopped and stays in the store to resume at the next start, once.
// The store is closed last.
func (s *Server) Shutdown(ctx context.Context) (ShutdownReport, error) {
	var rep ShutdownReport
	s.closeOnce.Do(func() {
		s.shuttingDown.Store(true)
		s.endStreams()
		var wg sync.WaitGroup
		servers := []*http.Server{s.http, s.plain, s.ssiServer}
		errs := make([]error, len(servers))
		for i, h := range servers {
			if h == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.Shutdown(ctx); err != nil {
					errs[i] = fmt.Errorf("stopping the listener: %w", err)
					h.Close()
				}
			}()
		}
		wg.Wait()
		s.warm.stop()
		herr := errors.Join(errs...)
		rep.Drained = s.G.Drain(ctx) == nil
		rep.Parked = s.G.Stats().InFlight
		s.G.Close()
		s.enrol.wait() // its walk ends with the gateway's context
		if s.admin != nil {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			if err := s.admin.Shutdown(actx); err != nil {
				s.admin.Close()
			}
			cancel()
		}
		s.closeErr = errors.Join(herr, s.Store.Close())
		unlock(s.lock)
		if err := s.tracing.Shutdown(context.WithoutCancel(ctx)); err != nil {
			s.log.Warn("flushing traces", "err", err)
		}
	})
	return rep, s.closeErr
}

// Close stops serving, waits up to 10 seconds for the work in flight and
// closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Shutdown(ctx)
	return err
}

// Done is closed with the serving error when the listener stops.
func (s *Server) Done() <-chan error { return s.done }

// rdpHandlers are the RegistrationService (RDPs) and the ReportService,
// mounted beside the gateway's own services.
func rdpHandlers(reg *registration.Service, rp *reports.Reports, o rdpapi.Options) map[string]http.Handler {
	out := map[string]http.Handler{}
	path, h := rdpapi.RegistrationHandler(reg, o)
	out[path] = h
	path, h = rdpapi.ReportHandler(rp, o)
	out[path] = h
	return out
}

// errLocked: another process holds the lock.
var errLocked = errors.New("locked")

// serveLock keeps a second gateway off a SQLite store: one process serves
// a SQLite file (the users, the inventory and the due work are that
// process's alone; several gateways share PostgreSQL). The lock is
// DATA/dccgate.db.serve-lock, held until the gateway stops or its process
// ends, however it ends; the registration and report commands do not take
// it. Other stores: nil.
func serveLock(url string) (*os.File, error) {
	path, ok := strings.CutPrefix(url, "sqlite://")
	if !ok {
		return nil, nil
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path == ":memory:" {
		return nil, nil
	}
	f, err := lockFile(path + ".serve-lock")
	if errors.Is(err, errLocked) {
		return nil, fmt.Errorf("another dccgate serve is serving %s: a SQLite store is one gateway's (several share PostgreSQL)", path)
	}
	return f, err
}

func unlock(f *os.File) {
	if f != nil {
		f.Close()
	}
}
