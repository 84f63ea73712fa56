package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/runtime/duisapi"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// duisState is the DUIS endpoints of a server, once StartDUIS ran.
type duisState struct {
	srv atomic.Pointer[duisapi.Server]
}

// DUISOptions configure the DUIS endpoints.
type DUISOptions struct {
	// CertsDir holds users' DUIS signing certificates (PEM, the User ID in
	// x500UniqueIdentifier), registered beside those issued locally.
	CertsDir string
	// Receivers are users' Receive Response addresses (User ID -> URL).
	Receivers map[string]string
	// Poll is how often the outbox retries when nothing new arrives
	// (default 1s, wall time).
	Poll time.Duration
	// GatewayID is the User ID in the gateway's own signing certificate
	// (default: the spec's DCC ID).
	GatewayID string
}

// withDUIS adds the spec's DUIS endpoints to the mounted handlers; they
// answer 404 until StartDUIS.
func (s *Server) withDUIS(m map[string]http.Handler) map[string]http.Handler {
	for _, ep := range s.G.Spec().DUIS.Endpoints {
		path := ep.Path
		m[path] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := s.duis.srv.Load()
			if d == nil {
				http.NotFound(w, r)
				return
			}
			d.Handlers()[path].ServeHTTP(w, r)
		})
	}
	return m
}

// DUIS returns the DUIS endpoints' server, nil before StartDUIS.
func (s *Server) DUIS() *duisapi.Server { return s.duis.srv.Load() }

// DUISDir is where the local DUIS certificates go: the gateway's
// (gateway.pem) and each user's (ID.pem, ID-key.pem).
func (s *Server) DUISDir() string { return filepath.Join(s.PKI.Dir, "duis") }

// StartDUIS serves DUIS beside Connect: it issues (once, under DUISDir)
// the gateway's signing certificate and a DUIS signing certificate for
// each user, registers those and the ones of o.CertsDir, records the
// Receive Response addresses and runs the outbox until ctx ends.
func (s *Server) StartDUIS(ctx context.Context, o DUISOptions) (*duisapi.Server, error) {
	dir := s.DUISDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	caKey, err := readECKey(filepath.Join(s.PKI.Dir, "ca-key.pem"))
	if err != nil {
		return nil, fmt.Errorf("duis: the CA's key: %w", err)
	}
	issue := func(id, role string) func() (pki.Issued, error) {
		return func() (pki.Issued, error) {
			key, err := ecdsa.GenerateKey(caKey.Curve, rand.Reader)
			if err != nil {
				return pki.Issued{}, err
			}
			now := clock.Real{}.Now()
			der, err := duis.IssueUser(s.PKI.CA.Cert, caKey, id, role, &key.PublicKey, s.PKI.CA.Cert.NotBefore, now.AddDate(10, 0, 0))
			if err != nil {
				return pki.Issued{}, err
			}
			kp, err := pki.KeyPEM(key)
			if err != nil {
				return pki.Issued{}, err
			}
			return pki.Issued{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: kp}, nil
		}
	}
	gwID := o.GatewayID
	if gwID == "" {
		gwID = s.G.Spec().DCCIDs.DCC
	}
	gw, err := loadOrIssue(dir, "gateway", issue(gwID, "DCC"))
	if err != nil {
		return nil, err
	}
	gwCert, err := duis.ParseCertPEM(gw.CertPEM)
	if err != nil {
		return nil, err
	}
	gwKey, err := pki.ParseKey(gw.KeyPEM)
	if err != nil {
		return nil, err
	}
	reg := &duisapi.Registry{}
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		iss, err := loadOrIssue(dir, u.ID, issue(u.ID, u.Role))
		if err != nil {
			return nil, err
		}
		c, err := duis.ParseCertPEM(iss.CertPEM)
		if err != nil {
			return nil, err
		}
		if err := reg.Add(c); err != nil {
			return nil, err
		}
	}
	if o.CertsDir != "" {
		if err := addCerts(reg, o.CertsDir); err != nil {
			return nil, err
		}
	}
	d := &duisapi.Server{G: s.G, Registry: reg, Key: gwKey, Cert: gwCert.IssuerSerial(), DCCID: gwID}
	if ost, ok := duisapi.OutboxStoreOf(s.Store); ok {
		d.Requests = ost
		for u, addr := range o.Receivers {
			if err := ost.PutDUISReceiver(ctx, u, addr); err != nil {
				return nil, err
			}
		}
		ob := &duisapi.Outbox{S: d, Store: ost, Now: clock.Real{}.Now, Client: &http.Client{Timeout: 30 * time.Second}}
		poll := o.Poll
		if poll <= 0 {
			poll = time.Second
		}
		go ob.Run(ctx, func() <-chan time.Time { return clock.Real{}.After(poll) })
	} else if len(o.Receivers) > 0 {
		return nil, errors.New("duis: this store has no outbox for the Receive Response addresses")
	}
	s.duis.srv.Store(d)
	return d, nil
}

// addCerts registers every certificate of dir's *.pem files that carries a
// User ID.
func addCerts(reg *duisapi.Registry, dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := duis.ParseCert(blk.Bytes)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			if c.EUI64 != "" {
				if err := reg.Add(c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func readECKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return pki.ParseKey(b)
}

// BoxedWorld is the world of DCC Boxed's public reference test data
// (spec/duis.cue, boxed): its users, one premises with an electricity and
// a gas supply, and its devices with the types spec.BoxedDevices derives,
// commissioned and associated with the premises' Communications Hub.
func BoxedWorld(s *Server) gateway.World {
	sp := s.G.Spec()
	b := sp.DUIS.Boxed
	w := gateway.World{}
	for _, u := range b.Users {
		w.Users = append(w.Users, store.User{ID: u.ID, Role: u.Role, Party: u.Party})
	}
	w.Registration = []store.Registration{
		{MPxN: b.Electricity.MPxN, Fuel: "electricity", ImportSupplier: b.Electricity.Supplier, NetworkOperator: b.Electricity.NetworkOperator, Postcode: b.Postcode, Premises: b.Premises},
		{MPxN: b.Gas.MPxN, Fuel: "gas", ImportSupplier: b.Gas.Supplier, NetworkOperator: b.Gas.NetworkOperator, Postcode: b.Postcode, Premises: b.Premises},
	}
	devs := sp.BoxedDevices()
	first := map[string]string{}
	for _, d := range devs {
		if _, ok := first[d.Type]; !ok {
			first[d.Type] = d.ID
		}
	}
	for _, d := range devs {
		dev := store.Device{ID: d.ID, Type: d.Type, Status: "commissioned"}
		if d.Type != "CHF" {
			dev.CHF = first["CHF"]
		}
		switch d.Type {
		case "ESME":
			if first["ESME"] == d.ID {
				dev.MPxN = b.Electricity.MPxN
			}
		case "GSME":
			if first["GSME"] == d.ID {
				dev.MPxN = b.Gas.MPxN
			}
		case "GPF":
			dev.Meter = first["GSME"]
		case "IHD", "PPMID", "HCALCS":
			dev.Meter = first["ESME"]
		}
		w.Inventory = append(w.Inventory, dev)
	}
	return w
}

// SeedBoxed loads the Boxed world into an empty gateway, with local
// certificates for its users (as SeedDemo does); it reports whether it
// loaded anything. A store that holds it already (a restart) is left as it
// is; one that holds other users is an error: the Boxed world's users
// would not be there, and its requests would all be refused.
func (s *Server) SeedBoxed(ctx context.Context) (bool, error) {
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return false, err
	}
	w := BoxedWorld(s)
	if len(users) > 0 {
		if _, err := s.Store.GetUser(ctx, w.Users[0].ID); err == nil {
			return false, nil
		}
		return false, fmt.Errorf("--world boxed needs an empty store, or one that holds the Boxed world: this one holds %d other users (start with a fresh --data)", len(users))
	}
	if w.Users, err = IssueUserCerts(s.PKI, w.Users); err != nil {
		return false, err
	}
	if err := s.G.Load(ctx, w); err != nil {
		return false, errors.Join(errors.New("loading the boxed world"), err)
	}
	return true, nil
}
