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
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Config configures a server.
type Config struct {
	// DataDir holds the SQLite file and the local PKI (pki/).
	DataDir string
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
	// Engine, when set, is shared (compiled once for many servers).
	Engine *engine.Engine
	Spec   *spec.Spec
	// PKI is the local PKI; nil loads or creates DataDir/pki.
	PKI     *PKI
	Workers int
	Logger  *slog.Logger
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
	G   *gateway.Gateway
	PKI *PKI
	URL string
	// PlaintextURL is the h2c address, if served.
	PlaintextURL string
	Store        store.Store
	http         *http.Server
	plain        *http.Server
	ln           net.Listener
	done         chan error
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
	if cfg.Spec == nil {
		s, err := spec.Default()
		if err != nil {
			return nil, err
		}
		cfg.Spec = s
	}
	if cfg.Engine == nil {
		e, err := engine.New(ctx, cfg.Spec)
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
	st, err := store.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", url, err)
	}
	gc := gateway.Config{Store: st, Engine: cfg.Engine, Spec: cfg.Spec, Workers: cfg.Workers, Logger: cfg.Logger}
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
	g, err := gateway.New(ctx, gc)
	if err != nil {
		st.Close()
		return nil, err
	}
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
	s := &Server{G: g, PKI: cfg.PKI, Store: st, ln: ln, done: make(chan error, 2)}
	s.URL = "https://" + ln.Addr().String()
	if cfg.PlaintextListen != "" {
		pln, err := net.Listen("tcp", cfg.PlaintextListen)
		if err != nil {
			ln.Close()
			g.Close()
			st.Close()
			return nil, err
		}
		var protos http.Protocols
		protos.SetUnencryptedHTTP2(true)
		protos.SetHTTP1(true)
		s.plain = &http.Server{
			Handler:           api.Handler(g, api.Options{Admin: cfg.VirtualClock, CA: cfg.PKI.CA, TrustForwardedCert: true}),
			Protocols:         &protos,
			ReadHeaderTimeout: 10 * time.Second,
		}
		s.PlaintextURL = "http://" + pln.Addr().String()
		go func() { s.done <- s.plain.Serve(pln) }()
	}
	s.http = &http.Server{
		Handler:           api.Handler(g, api.Options{Admin: cfg.VirtualClock, CA: cfg.PKI.CA}),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	go func() { s.done <- s.http.Serve(tls.NewListener(ln, tlsCfg)) }()
	return s, nil
}

// Close stops serving, waits for the workers and closes the store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if s.plain != nil {
		s.plain.Shutdown(ctx)
	}
	s.G.Close()
	if cerr := s.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// Done is closed with the serving error when the listener stops.
func (s *Server) Done() <-chan error { return s.done }
