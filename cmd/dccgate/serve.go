package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/ssi"
	"github.com/dccgate/dccgate/runtime/telemetry"
	"github.com/dccgate/dccgate/spec"
)

func defaultDataDir() string {
	if d := os.Getenv("DCCGATE_DATA"); d != "" {
		return d
	}
	return "data"
}

// runServe starts the gateway. With no arguments: the embedded SQLite store
// under ./data, mutual TLS with the local CA of ./data/pki, and the demo
// world loaded on first start. The configuration comes from --config (or
// $DCCGATE_CONFIG), DCCGATE_* variables and flags (see `dccgate config
// print`). SIGHUP reloads the spec and policies; SIGTERM or SIGINT stops
// taking requests and lets the work in flight finish for up to --grace.
func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fl := config.RegisterFlags(fs)
	verbose := fs.Bool("v", false, "log debug lines (log.level debug)")
	world := fs.String("world", "", "load a world into an empty store: boxed (the IDs of DCC Boxed's reference test data; replaces --demo)")
	duisCerts := fs.String("certs", "", "DUIS: a directory of users' signing certificates (PEM, User ID in x500UniqueIdentifier)")
	var receivers duisReceivers
	fs.Var(&receivers, "duis-receiver", "DUIS: a user's Receive Response address, USER_ID=URL (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *verbose {
		fl.Set("log.level", "debug")
	}
	conf, err := config.Load(fl, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitUsage
	}
	c := conf.Config
	log := newLogger(stderr, c.Log.Format, c.Log.Level)
	gc := applyGC(c.GC, os.Environ())
	ver, rev := buildInfo()
	tracing, err := telemetry.NewTracing(ctx, telemetry.TracingConfig{Endpoint: c.Tracing.Endpoint, Headers: c.Tracing.Headers,
		SampleRatio: c.Tracing.SampleRatio, ServiceVersion: ver})
	if err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitUsage
	}
	cfg := server.Config{DataDir: c.Data, StoreURL: c.Store, Listen: c.Listen, PlaintextListen: c.H2CListen, AdminListen: c.AdminListen,
		VirtualClock: c.VirtualClock, Workers: c.Workers, MaxInFlight: c.MaxInFlight, AdmissionWait: c.AdmitWait.Std(), Logger: log, SpecDir: c.Spec, PolicyDir: c.Policy, Tracing: tracing,
		Version: ver, Commit: rev, TrafficManagement: c.Traffic, Lease: c.Lease.Std(),
		SSIListen: c.SSIListen, SSIMaxSessions: c.SSISessions}
	cfg.Anomaly, cfg.AlertAnomaly = anomalyRules(c.Anomaly), alertAnomalyRules(c.AlertAnomaly)
	if c.VirtualClock {
		cfg.Start, _ = time.Parse(time.RFC3339, c.Start) // validated by config.Load
	}
	cfg.CommandTimeout, cfg.CommandRetries, cfg.RetryLater = c.SMWAN.Timeout.Std(), c.SMWAN.Retries, c.SMWAN.RetryLater.Std()
	if cfg.RetryLater == 0 {
		cfg.RetryLater = -1 // retry_later: 0 is never; the gateway's 0 is its default
	}
	// SIGHUP is taken from before the start: one that comes while the
	// gateway starts (a supervisor that saw the "serving" line early) is a
	// reload once it serves, not the default action, which ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		tracing.Shutdown(context.WithoutCancel(ctx))
		return exitFail
	}
	defer srv.Close()
	if err := checkAnomaly(srv.G.Spec(), cfg.Anomaly, cfg.AlertAnomaly); err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitUsage
	}
	srv.G.SetSMWANFaults(c.SMWAN.Latency.Std(), c.SMWAN.Loss)
	srv.G.SetSMWANAnswerLoss(c.SMWAN.AnswerLoss)
	if *world != "" && *world != "boxed" {
		fmt.Fprintf(stderr, "dccgate serve: unknown --world %q (boxed)\n", *world)
		return exitUsage
	}
	if *world == "boxed" {
		if _, err := srv.SeedBoxed(ctx); err != nil {
			fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
			return exitFail
		}
	}
	if c.Demo > 0 && *world == "" {
		seeded, err := srv.SeedDemo(ctx, c.Demo)
		if err != nil {
			fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
			return exitFail
		}
		if seeded {
			log.Info("demo world loaded", "premises", c.Demo, "users", len(server.DemoUsers))
		}
	}
	if err := setServiceDesk(ctx, srv, c.ServiceDesk, stdout); err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitUsage
	}
	st := srv.Status(ctx)
	log.Info("serving", "url", srv.URL, "admin", srv.AdminURL, "version", ver, "commit", rev, "spec", st.SpecHash, "policy", st.PolicyHash,
		"config", conf.File, "gc_percent", gc.Percent, "memory_limit", gc.MemoryLimit)
	pkiDir := srv.PKI.Dir
	fmt.Fprintf(stdout, `dccgate serving on %[1]s (store: %[2]s, clock: %[3]s)
Certificates: %[4]s (CA ca.pem; users/<USER_ID>.pem and -key.pem; admin.pem)
`, srv.URL, storeName(cfg), clockName(c.VirtualClock), filepath.Clean(pkiDir))
	// The demo's example only where the demo's import supplier is a user
	// of this store (not in the Boxed world, nor in a store of one's own).
	if _, err := srv.Store.GetUser(ctx, server.DemoUsers[0].ID); err == nil {
		fmt.Fprintf(stdout, `Try, as the demo import supplier:
  curl --cacert %[2]s/ca.pem --cert %[2]s/users/%[3]s.pem --key %[2]s/users/%[3]s-key.pem \
    -H 'Content-Type: application/json' %[1]s/dccgate.v1.GatewayService/Submit \
    -d '{"request":{"envelope":{"userId":"%[3]s","deviceId":"00-DB-00-00-00-00-E0-01"},"readInstantaneousImportRegisters":{"register":"total"}}}'
`, srv.URL, filepath.Clean(pkiDir), server.DemoUsers[0].ID)
	}
	if code := startDUIS(ctx, srv, *world, *duisCerts, receivers, stdout, stderr); code != exitOK {
		return code
	}
	if srv.AdminURL != "" {
		fmt.Fprintf(stdout, "Admin: %[1]s/metrics, %[1]s/healthz, %[1]s/readyz, %[1]s/debug/pprof/; reload with SIGHUP or OpsService.Reload\n", srv.AdminURL)
	}
	if srv.SSIURL != "" {
		fmt.Fprintf(stdout, "Self-Service Interface: %s (sign in with a user's certificate or by signing the challenge with users/<USER_ID>-key.pem)\n", srv.SSIURL)
	}
	for {
		select {
		case <-hup:
			log.Info("SIGHUP: reloading the spec and policies")
			srv.Reload(ctx) // logs its outcome; a refused reload keeps the running ones
		case <-ctx.Done():
			log.Info("shutting down: no new requests; work in flight has the grace period", "grace", c.Grace.Std())
			gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Grace.Std())
			rep, err := srv.Shutdown(gctx)
			cancel()
			if err != nil {
				log.Warn("shutdown", "err", err)
			}
			if rep.Drained {
				log.Info("stopped: all work in flight finished")
			} else {
				if srv.G.Shared() {
					// The other processes take it over.
					log.Info("stopped: work in flight given up in the store, to the other processes sharing it (or the next start)", "parked", rep.Parked)
				} else {
					log.Info("stopped: work in flight parked in the store, to resume at the next start", "parked", rep.Parked)
				}
			}
			return exitOK
		case err := <-srv.Done():
			fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
			return exitFail
		}
	}
}

// demoServiceDesk is the Service Desk's contact the demo world shows where
// none is configured: a telephone number of the range Ofcom keeps for
// drama and an address of the reserved domain example, marked as the
// demo's on every page.
var demoServiceDesk = ssi.ServiceDeskContact{Telephone: "+44 20 7946 0000", Email: "servicedesk@dcc.example", Demo: true}

// setServiceDesk gives the SSI the Service Desk's telephone and email
// (para 255), checked against the spec's service_desk.contact_patterns;
// with none configured and the demo world loaded, the demo's example.
func setServiceDesk(ctx context.Context, srv *server.Server, sd config.ServiceDesk, stdout io.Writer) error {
	if srv.SSI == nil {
		return nil
	}
	if err := checkServiceDesk(srv.G.Spec(), sd); err != nil {
		return err
	}
	c := ssi.ServiceDeskContact{Telephone: sd.Telephone, Email: sd.Email}
	if c.Telephone == "" && c.Email == "" {
		if _, err := srv.Store.GetUser(ctx, server.DemoUsers[0].ID); err == nil {
			c = demoServiceDesk
			fmt.Fprintf(stdout, "Service Desk (the demo's example; set service_desk.telephone and service_desk.email): %s, %s\n", c.Telephone, c.Email)
		}
	}
	srv.SSI.SetServiceDesk(c)
	return nil
}

// anomalyRules is the anomaly key (its form validated by config.Load) as
// the gateway's thresholds.
func anomalyRules(key string) []gateway.AnomalyRule {
	parsed, _ := config.ParseAnomaly(key)
	var rules []gateway.AnomalyRule
	for _, r := range parsed {
		rules = append(rules, gateway.AnomalyRule{Service: r.Service, Role: r.Role, Max: r.Max, Per: r.Per})
	}
	return rules
}

// alertAnomalyRules is the alert_anomaly key (its form validated by
// config.Load) as the gateway's thresholds.
func alertAnomalyRules(key string) []gateway.AlertAnomalyRule {
	parsed, _ := config.ParseAlertAnomaly(key)
	var rules []gateway.AlertAnomalyRule
	for _, r := range parsed {
		rules = append(rules, gateway.AlertAnomalyRule{Code: r.Code, Max: r.Max, Per: r.Per})
	}
	return rules
}

// checkAnomaly checks the thresholds' services, roles and alert codes
// against the spec the gateway runs: one on a service, role or code it
// does not have would never count.
func checkAnomaly(sp *spec.Spec, rules []gateway.AnomalyRule, alertRules []gateway.AlertAnomalyRule) error {
	var errs []error
	for _, r := range alertRules {
		known := r.Code == ""
		for _, a := range sp.Alerts {
			known = known || a.Code == r.Code
		}
		if !known {
			errs = append(errs, fmt.Errorf("config: alert_anomaly: %q is no alert code of the spec (A1 to A35 of Table 5.4), nor * for every alert", r.Code))
		}
	}
	for _, r := range rules {
		if sp.ServiceByKey(r.Service) == nil && len(sp.ServicesByRef(r.Service)) == 0 {
			errs = append(errs, fmt.Errorf("config: anomaly: %q is no service of the spec (a row key such as 1.1.1 or a reference such as 1.1)", r.Service))
		}
		if r.Role != "" && sp.Role(r.Role) == nil {
			var codes []string
			for _, ro := range sp.Roles {
				codes = append(codes, ro.Code)
			}
			errs = append(errs, fmt.Errorf("config: anomaly: %q is no role of the spec (%s)", r.Role, strings.Join(codes, ", ")))
		}
	}
	return errors.Join(errs...)
}

// checkServiceDesk checks the Service Desk's telephone and email against
// the spec's contact patterns (those a SEC Party's contact is held to).
func checkServiceDesk(sp *spec.Spec, sd config.ServiceDesk) error {
	rules, err := incidents.DeskRulesOf(sp)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range []struct{ key, v string }{{"service_desk.telephone", sd.Telephone}, {"service_desk.email", sd.Email}} {
		if f.v != "" && !rules.ValidContact(f.v) {
			errs = append(errs, fmt.Errorf("config: %s: %q is not a telephone number or an email address (the spec's service_desk.contact_patterns)", f.key, f.v))
		}
	}
	return errors.Join(errs...)
}

// newLogger is the process's log: JSON, or text when format is auto and w
// is a terminal (or format is text).
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" || (format == "auto" && isTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func storeName(c server.Config) string {
	if c.StoreURL != "" {
		return c.StoreURL
	}
	return filepath.Join(c.DataDir, "dccgate.db")
}

func clockName(virtual bool) string {
	if virtual {
		return "virtual"
	}
	return "wall"
}

// runDev: `dccgate dev init [DIR]` writes a local CA, the server and admin
// certificates and the demo users' certificates and keys.
func runDev(_ context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(stderr, "usage: dccgate dev init [--data DIR]")
		return exitUsage
	}
	fs := flag.NewFlagSet("dccgate dev init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", defaultDataDir(), "data directory; certificates go to DIR/pki")
	if err := fs.Parse(args[1:]); err != nil {
		return exitUsage
	}
	p, err := server.LoadOrCreatePKI(filepath.Join(*dataDir, "pki"))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	users, err := server.IssueUserCerts(p, server.DemoUsers)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "Local PKI in %s:\n  ca.pem            the CA your client trusts (--cacert)\n  server.pem        the gateway's certificate (localhost, 127.0.0.1)\n  admin.pem         the AdminService client (serve --virtual-clock)\n", p.Dir)
	for _, u := range users {
		fmt.Fprintf(stdout, "  users/%s.pem  %s (%s); key users/%s-key.pem (0600)\n", u.ID, u.Role, u.Party, u.ID)
	}
	fmt.Fprintf(stdout, "\nStart the gateway with: dccgate serve --data %s\n", *dataDir)
	return exitOK
}
