package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/policy"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/telemetry"
	"github.com/dccgate/dccgate/spec"
)

var _ api.Operator = (*Server)(nil)

// serveAdmin serves the admin listener: /metrics, /healthz, /readyz,
// /debug/pprof/ and the OpsService. On a loopback address it is plain
// HTTP, open to local callers; on any other it is HTTPS and every call
// needs the admin certificate.
func (s *Server) serveAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.Metrics.Handler())
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", s.readyz)
	// The Go profiles of the running process, behind what guards the rest
	// of the listener: how a slow gateway is looked into where it runs.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.mountServiceAdmin(mux)
	s.mountHubsAdmin(mux)
	path, h := dccgatev1connect.NewOpsServiceHandler(&api.OpsServer{Op: s})
	mux.Handle(path, h)
	s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if loopback(ln.Addr()) {
		s.AdminURL = "http://" + ln.Addr().String()
		go func() { s.adminDone(s.admin.Serve(ln)) }()
		return nil
	}
	tlsCfg, err := pki.ServerTLS(s.PKI.CA, s.PKI.Server)
	if err != nil {
		ln.Close()
		return err
	}
	s.admin.Handler = api.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := api.CallerFrom(r.Context()); !ok || !c.Admin {
			http.Error(w, "the admin certificate is required", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	s.admin.TLSConfig = tlsCfg
	s.AdminURL = "https://" + ln.Addr().String()
	go func() { s.adminDone(s.admin.Serve(tls.NewListener(ln, tlsCfg))) }()
	return nil
}

// adminDone reports the failure of the admin listener on Done, not its
// orderly shutdown.
func (s *Server) adminDone(err error) {
	if !errors.Is(err, http.ErrServerClosed) {
		s.done <- fmt.Errorf("admin listener: %w", err)
	}
}

func loopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// readyz answers 200 when the gateway can take requests: not shutting
// down, the store reachable with its migrations applied, the policies
// loaded; 503 with the failing check otherwise.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var lines []string
	ok := true
	check := func(name string, err error, detail string) {
		if err != nil {
			ok = false
			lines = append(lines, name+": "+err.Error())
			return
		}
		lines = append(lines, name+": ok"+detail)
	}
	if s.shuttingDown.Load() {
		check("serving", errors.New("shutting down"), "")
	} else {
		check("serving", nil, "")
	}
	check("store", s.Store.Ping(ctx), "")
	v, err := store.CheckVersion(ctx, s.Store)
	check("migrations", err, fmt.Sprintf(" (version %d)", v))
	l := s.loaded.Load()
	check("policies", nil, fmt.Sprintf(" (spec %s, policy %s)", short(l.specHash), short(l.policyHash)))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// Ready reports what /readyz reports, as an error (nil: ready).
func (s *Server) Ready(ctx context.Context) error {
	if s.shuttingDown.Load() {
		return errors.New("shutting down")
	}
	if err := s.Store.Ping(ctx); err != nil {
		return err
	}
	_, err := store.CheckVersion(ctx, s.Store)
	return err
}

// Reload reads the spec and the policies again from the server's SpecDir
// and PolicyDir, vets and compiles them, and only if all of that succeeds
// swaps the engine that decides new requests. On any error (with file:line)
// the running spec and policies stay. Requests in flight keep their
// decision.
//
// The gateway's own copy of the spec (Target Response Times of work already
// accepted, alert routing, the emulated devices) is the one it started
// with: a reload whose spec differs says so in its warnings, and those
// parts follow the new spec after a restart.
func (s *Server) Reload(ctx context.Context) (api.ReloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := s.loaded.Load()
	refuse := func(err error) (api.ReloadResult, error) {
		next := *cur
		next.reloadError = err.Error()
		s.loaded.Store(&next)
		s.Metrics.Reloaded(false, "", "")
		s.log.Error("reload refused: the running spec and policies stay", "err", err)
		return api.ReloadResult{}, err
	}
	sp, err := spec.LoadDir(s.cfg.SpecDir)
	if err != nil {
		return refuse(err)
	}
	polHash, err := PolicyHash(s.cfg.PolicyDir)
	if err != nil {
		return refuse(err)
	}
	e, err := engine.New(ctx, sp, policyOptions(s.cfg.PolicyDir)...)
	if err != nil {
		return refuse(err)
	}
	res := api.ReloadResult{SpecHash: sp.Hash, PolicyHash: polHash, Changed: sp.Hash != cur.specHash || polHash != cur.policyHash}
	if sp.Hash != s.G.Spec().Hash {
		res.Warnings = append(res.Warnings, "the spec changed: requests are decided, executed and routed with it now; the emulated devices follow it after a restart")
	}
	s.G.SetSpec(sp)
	s.G.SetEngine(telemetry.WrapDecider(e, s.tracing))
	s.Metrics.SetSpec(sp)
	s.Metrics.Reloaded(true, sp.Hash, polHash)
	s.loaded.Store(&loaded{spec: sp, specHash: sp.Hash, policyHash: polHash, at: clock.Real{}.Now()})
	s.log.Info("reloaded", "spec", short(sp.Hash), "policy", short(polHash), "changed", res.Changed)
	for _, w := range res.Warnings {
		s.log.Warn(w)
	}
	return res, nil
}

// QuarantinedAlerts implements api.Operator: the store's quarantine of
// alerts, empty if it keeps none.
func (s *Server) QuarantinedAlerts(ctx context.Context, f store.QuarantineFilter) ([]store.QuarantinedAlert, error) {
	q, ok := store.As[store.AlertQuarantine](s.Store)
	if !ok {
		return nil, nil
	}
	return q.QuarantinedAlerts(ctx, f)
}

// Status implements api.Operator.
func (s *Server) Status(ctx context.Context) api.Status {
	l := s.loaded.Load()
	return api.Status{Version: s.cfg.Version, Commit: s.cfg.Commit, SpecHash: l.specHash, PolicyHash: l.policyHash,
		LoadedAt: l.at, ReloadError: l.reloadError, Ready: s.Ready(ctx) == nil}
}

func policyOptions(dir string) []policy.Option {
	if dir == "" {
		return nil
	}
	return []policy.Option{policy.WithModules(os.DirFS(dir), dir)}
}

// PolicyHash is the SHA-256 of the policy modules of dir (the embedded
// ones for ""), tests excluded, in name order, as the spec's Hash is made.
func PolicyHash(dir string) (string, error) {
	fsys := policy.Modules()
	if dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("policy: %w", err)
		}
		fsys = os.DirFS(dir)
	}
	names, err := fs.Glob(fsys, "*.rego")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// redactURL hides the password of a store URL.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return u
	}
	return p.Redacted()
}
