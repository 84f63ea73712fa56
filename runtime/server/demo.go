package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"

	// The store backends register themselves.
	_ "github.com/dccgate/dccgate/runtime/store/postgres"
	_ "github.com/dccgate/dccgate/runtime/store/sqlite"
)

// Demo users: one per role, and a second electricity supplier.
var DemoUsers = []store.User{
	{ID: "00-00-00-00-00-00-0A-01", Role: "EIS", Party: "Alpha Energy"},
	{ID: "00-00-00-00-00-00-0A-02", Role: "GIS", Party: "Alpha Energy"},
	{ID: "00-00-00-00-00-00-0A-03", Role: "EES", Party: "Alpha Energy"},
	{ID: "00-00-00-00-00-00-0B-01", Role: "EIS", Party: "Beta Power"},
	{ID: "00-00-00-00-00-00-0C-01", Role: "SNA", Party: "Meter Agents Ltd"},
	{ID: "00-00-00-00-00-00-0E-01", Role: "ENO", Party: "North Wires"},
	{ID: "00-00-00-00-00-00-06-01", Role: "GNO", Party: "Gas Pipes"},
	{ID: "00-00-00-00-00-00-0F-01", Role: "OU", Party: "Energy Insights"},
}

// DemoWorld is n premises, each with an enrolled electricity and gas Smart
// Metering System on one Communications Hub (CHF and GPF), an IHD and, for
// every other premises, a PPMID; registered to the demo suppliers and
// network operators.
func DemoWorld(n int) gateway.World {
	w := gateway.World{Users: DemoUsers}
	for i := 1; i <= n; i++ {
		id := func(kind string) string { return fmt.Sprintf("00-DB-00-00-00-%02X-%s-%02X", i>>8, kind, i&0xff) }
		chf, gpf, esme, gsme := id("C0"), id("6F"), id("E0"), id("6A")
		mpan, mprn := fmt.Sprintf("19%011d", i), fmt.Sprintf("7%06d", i)
		pc, prem := "SW1H 0ET", fmt.Sprint(i)
		w.Registration = append(w.Registration,
			store.Registration{MPxN: mpan, Fuel: "electricity", ImportSupplier: "00-00-00-00-00-00-0A-01", ExportSupplier: "00-00-00-00-00-00-0A-03", NetworkOperator: "00-00-00-00-00-00-0E-01", Postcode: pc, Premises: prem, UPRN: fmt.Sprint(100000 + i)},
			store.Registration{MPxN: mprn, Fuel: "gas", ImportSupplier: "00-00-00-00-00-00-0A-02", NetworkOperator: "00-00-00-00-00-00-06-01", Postcode: pc, Premises: prem, UPRN: fmt.Sprint(100000 + i)},
		)
		w.Inventory = append(w.Inventory,
			store.Device{ID: chf, Type: "CHF", Status: "commissioned"},
			store.Device{ID: gpf, Type: "GPF", Status: "commissioned", CHF: chf, Meter: gsme},
			store.Device{ID: esme, Type: "ESME", Status: "commissioned", MPxN: mpan, CHF: chf},
			store.Device{ID: gsme, Type: "GSME", Status: "commissioned", MPxN: mprn, CHF: chf},
			store.Device{ID: id("1D"), Type: "IHD", Status: "commissioned", CHF: chf, Meter: esme},
		)
		if i%2 == 1 {
			w.Inventory = append(w.Inventory, store.Device{ID: id("9D"), Type: "PPMID", Status: "commissioned", CHF: chf, Meter: esme})
		}
	}
	return w
}

// IssueUserCerts issues a certificate and key for each user into dir/users
// (ID.pem, ID-key.pem) unless present, and records each certificate on the
// user, so Pre-Commands signed with the key verify.
func IssueUserCerts(p *PKI, users []store.User) ([]store.User, error) {
	dir := filepath.Join(p.Dir, "users")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := make([]store.User, len(users))
	for i, u := range users {
		iss, err := loadOrIssue(dir, u.ID, func() (pki.Issued, error) { return p.CA.IssueUser(u.ID, u.Role) })
		if err != nil {
			return nil, err
		}
		u.CertPEM = string(iss.CertPEM)
		out[i] = u
	}
	return out, nil
}

// SeedDemo loads the demo world into an empty gateway (one whose store has
// no users yet), with certificates for its users.
func (s *Server) SeedDemo(ctx context.Context, premises int) (bool, error) {
	users, err := s.Store.ListUsers(ctx)
	if err != nil {
		return false, err
	}
	if len(users) > 0 {
		return false, nil
	}
	w := DemoWorld(premises)
	if w.Users, err = IssueUserCerts(s.PKI, w.Users); err != nil {
		return false, err
	}
	if err := s.G.Load(ctx, w); err != nil {
		return false, errors.Join(errors.New("loading the demo world"), err)
	}
	return true, nil
}
