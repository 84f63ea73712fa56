package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/server"
)

func defaultDataDir() string {
	if d := os.Getenv("DCCGATE_DATA"); d != "" {
		return d
	}
	return "data"
}

// runServe starts the gateway. With no arguments: the embedded SQLite store
// under ./data, mutual TLS with the local CA of ./data/pki, and the demo
// world loaded on first start.
func runServe(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dccgate serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", defaultDataDir(), "data directory (SQLite file, local PKI)")
	storeURL := fs.String("store", "", "store URL: sqlite:///path/file.db (default: DATA/dccgate.db) or postgres://...")
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve HTTPS (Connect, gRPC, gRPC-Web) on")
	plaintext := fs.String("h2c-listen", "", "also serve HTTP/2 without TLS here, for a TLS-terminating proxy that forwards the client certificate in "+api.ForwardedCertHeader)
	virtual := fs.Bool("virtual-clock", false, "run on a virtual clock and serve the AdminService (tests, scenario runs)")
	start := fs.String("start", "2026-01-05T09:00:00Z", "virtual clock start (RFC 3339), with --virtual-clock")
	demo := fs.Int("demo", 10, "premises of the demo world loaded into an empty store (0: none)")
	workers := fs.Int("workers", 8, "request workers")
	specDir := fs.String("spec", "", "spec directory (default: the embedded spec)")
	verbose := fs.Bool("v", false, "log debug lines")
	latency := fs.Duration("smwan-latency", 0, "latency of every Command over the emulated SMWAN (on the gateway's clock)")
	loss := fs.Float64("smwan-loss", 0, "share of Commands the emulated SMWAN loses (0 to 1)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := server.Config{DataDir: *dataDir, StoreURL: *storeURL, Listen: *listen, PlaintextListen: *plaintext, VirtualClock: *virtual, Workers: *workers, Logger: log}
	if *virtual {
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			fmt.Fprintf(stderr, "dccgate serve: --start: %v\n", err)
			return exitUsage
		}
		cfg.Start = t
	}
	if *specDir != "" {
		s, ok := loadSpec(*specDir, stderr)
		if !ok {
			return exitFail
		}
		cfg.Spec = s
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitFail
	}
	defer srv.Close()
	srv.G.SetSMWANFaults(*latency, *loss)
	if *demo > 0 {
		seeded, err := srv.SeedDemo(ctx, *demo)
		if err != nil {
			fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
			return exitFail
		}
		if seeded {
			log.Info("demo world loaded", "premises", *demo, "users", len(server.DemoUsers))
		}
	}
	pkiDir := srv.PKI.Dir
	fmt.Fprintf(stdout, `dccgate serving on %[1]s (store: %[2]s, clock: %[3]s)
Certificates: %[4]s (CA ca.pem; users/<USER_ID>.pem and -key.pem; admin.pem)
Try, as the demo import supplier:
  curl --cacert %[4]s/ca.pem --cert %[4]s/users/00-00-00-00-00-00-0A-01.pem --key %[4]s/users/00-00-00-00-00-00-0A-01-key.pem \
    -H 'Content-Type: application/json' %[1]s/dccgate.v1.GatewayService/Submit \
    -d '{"request":{"envelope":{"userId":"00-00-00-00-00-00-0A-01","deviceId":"00-DB-00-00-00-00-E0-01"},"readInstantaneousImportRegisters":{"register":"total"}}}'
`, srv.URL, storeName(cfg), clockName(*virtual), filepath.Clean(pkiDir))
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return exitOK
	case err := <-srv.Done():
		fmt.Fprintf(stderr, "dccgate serve: %v\n", err)
		return exitFail
	}
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
