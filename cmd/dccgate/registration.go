package main

// dccgate registration: the Registration Data Interface from the command
// line, over the gateway's store (the SQLite file under --data, or --store).
//
//	dccgate registration load [--rdp ID] FILE|-      apply a file whole, or reject it with an incident
//	dccgate registration rdp add --id ID [--name N]  register an RDP and issue its certificate (OU RDP)
//	dccgate registration rdp list
//	dccgate registration nominate --network-operator ID --rdp ID
//	dccgate registration refresh --rdp ID [--network-operator ID] [--fuel F]
//	dccgate registration refreshes [--rdp ID] [--open]
//	dccgate registration incidents [--rdp ID] [--kind K] [--open] [--json]
//	dccgate registration resolve --note TEXT INCIDENT_ID
//	dccgate registration sweep                         raise not_received incidents, flag overdue refreshes
//
// Common flags: --data DIR, --store URL, --spec DIR, --at TIME (RFC 3339:
// the time the command acts at, as on a virtual clock; default now).
// The file format is docs/registration.md.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/config"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

const registrationUsage = `usage:
  dccgate registration load [--rdp ID] FILE|-
  dccgate registration rdp add --id ID [--name NAME]
  dccgate registration rdp list
  dccgate registration nominate --network-operator ID --rdp ID
  dccgate registration refresh --rdp ID [--network-operator ID] [--fuel electricity|gas]
  dccgate registration refreshes [--rdp ID] [--open]
  dccgate registration incidents [--rdp ID] [--kind KIND] [--open] [--json]
  dccgate registration resolve --note TEXT INCIDENT_ID
  dccgate registration sweep
common flags: --data DIR, --store URL, --spec DIR, --at RFC3339 (default now)`

// storeFlags are the flags every store-backed command takes.
type storeFlags struct {
	data, store, spec, at *string
}

func addStoreFlags(fs *flag.FlagSet) storeFlags {
	return storeFlags{
		data:  fs.String("data", defaultDataDir(), "data directory (the SQLite file dccgate.db, the local PKI)"),
		store: fs.String("store", "", "store URL: sqlite:///path/file.db or postgres://... (default: DCCGATE_STORE, else DATA/dccgate.db)"),
		spec:  fs.String("spec", "", "spec directory (default: the embedded spec)"),
		at:    fs.String("at", "", "act at this time, RFC 3339 (default: now)"),
	}
}

// storeURL is the store a command opens: --store if given, else the
// DCCGATE_STORE that `serve` reads too (so the commands beside a gateway on
// PostgreSQL reach its store), else the SQLite file in the data directory.
func storeURL(flag, data string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv(config.EnvPrefix + "STORE"); env != "" {
		return env
	}
	return "sqlite://" + filepath.Join(data, "dccgate.db")
}

// open opens the store, the spec and the clock of a command.
func (f storeFlags) open(ctx context.Context, stderr io.Writer) (store.Store, *spec.Spec, clock.Clock, bool) {
	sp, ok := loadSpec(*f.spec, stderr)
	if !ok {
		return nil, nil, nil, false
	}
	var clk clock.Clock = clock.Real{}
	if *f.at != "" {
		t, err := time.Parse(time.RFC3339Nano, *f.at)
		if err != nil {
			fmt.Fprintf(stderr, "--at %q: want an RFC 3339 time such as 2026-03-01T09:00:00Z\n", *f.at)
			return nil, nil, nil, false
		}
		clk = clock.NewVirtual(t)
	}
	st, err := store.Open(ctx, storeURL(*f.store, *f.data))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, nil, false
	}
	return st, sp, clk, true
}

func runRegistration(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, registrationUsage)
		return exitUsage
	}
	sub, args := args[0], args[1:]
	if sub == "rdp" && len(args) > 0 {
		sub, args = "rdp "+args[0], args[1:]
	}
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, registrationUsage)
		return exitOK
	case "load", "rdp add", "rdp list", "nominate", "refresh", "refreshes", "incidents", "resolve", "sweep":
	default:
		fmt.Fprintf(stderr, "dccgate registration: unknown subcommand %q\n%s\n", sub, registrationUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("dccgate registration "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf := addStoreFlags(fs)
	rdp := fs.String("rdp", "", "the RDP's ID (EUI-64)")
	id := fs.String("id", "", "the RDP's ID (EUI-64)")
	name := fs.String("name", "", "the RDP's name")
	no := fs.String("network-operator", "", "a network operator's User ID")
	fuel := fs.String("fuel", "", "electricity or gas")
	kind := fs.String("kind", "", "an incident kind")
	open := fs.Bool("open", false, "open ones only")
	asJSON := fs.Bool("json", false, "print JSON")
	note := fs.String("note", "", "how the incident was resolved")
	if err := fs.Parse(flagsFirst(fs, args)); err != nil {
		return exitUsage
	}
	st, sp, clk, ok := sf.open(ctx, stderr)
	if !ok {
		return exitFail
	}
	defer st.Close()
	svc, err := registration.New(st, sp, clk)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "dccgate registration %s: %v\n", sub, err)
		return exitFail
	}
	switch sub {
	case "load":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "dccgate registration load: one FILE (or - for stdin)")
			return exitUsage
		}
		var data []byte
		if fs.Arg(0) == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(fs.Arg(0))
		}
		if err != nil {
			return fail(err)
		}
		who := *rdp
		if who == "" {
			// On the RDP's behalf: the RDP the file's header names, even
			// if the rest of it does not conform (a truncated file is then
			// rejected with its incident, saying why).
			h, herr := registration.ReadHeader(data)
			if herr != nil {
				return fail(fmt.Errorf("--rdp is required for a file whose header cannot be read: %w", herr))
			}
			who = h.RDP
		}
		res, err := svc.Load(ctx, who, filepath.Base(fs.Arg(0)), data)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintln(stdout, res.Summary())
		for _, e := range res.Errors {
			fmt.Fprintln(stdout, "  row at fault:", e)
		}
		if !res.Applied() {
			return exitFail
		}
	case "rdp add":
		if *id == "" {
			fmt.Fprintln(stderr, "dccgate registration rdp add: --id is required")
			return exitUsage
		}
		p, err := server.LoadOrCreatePKI(filepath.Join(*sf.data, "pki"))
		if err != nil {
			return fail(err)
		}
		iss, err := p.CA.IssueUser(*id, registration.RDPOrgUnit)
		if err != nil {
			return fail(err)
		}
		dir := filepath.Join(p.Dir, "rdps")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fail(err)
		}
		cert, key := filepath.Join(dir, *id+".pem"), filepath.Join(dir, *id+"-key.pem")
		if err := os.WriteFile(cert, iss.CertPEM, 0o644); err != nil {
			return fail(err)
		}
		if err := pki.WriteKey(key, iss.KeyPEM); err != nil {
			return fail(err)
		}
		if _, err := svc.AddRDP(ctx, *id, *name, string(iss.CertPEM)); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "RDP %s registered; its certificate (OU %s) is %s, its key %s\n", *id, registration.RDPOrgUnit, cert, key)
	case "rdp list":
		rdps, err := svc.Reporting().ListRDPs(ctx)
		if err != nil {
			return fail(err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "rdp\tname\tnetwork operators")
		for _, r := range rdps {
			nets, err := svc.NetworksOf(ctx, r.ID, clk.Now())
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\n", r.ID, r.Name, nets)
		}
		tw.Flush()
	case "nominate":
		if *no == "" || *rdp == "" {
			fmt.Fprintln(stderr, "dccgate registration nominate: --network-operator and --rdp are required")
			return exitUsage
		}
		n, err := svc.Nominate(ctx, *no, *rdp)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s nominates %s from %s (%s)\n", n.NetworkOperator, n.RDP, n.At.Format(time.RFC3339), sp.RegistrationData.NominationClause)
	case "refresh":
		r, err := svc.RequestRefresh(ctx, *rdp, *no, *fuel)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "refresh %s asked of %s, due by %s (%s)\n", r.ID, r.RDP, r.DueAt.Format(time.RFC3339), sp.RegistrationData.RefreshClause)
	case "refreshes":
		rs, err := svc.Refreshes(ctx, *rdp, *open)
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, rs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "refresh\trdp\trequested\tdue\treceived\toverdue")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\n", r.ID, r.RDP, stamp(r.RequestedAt), stamp(r.DueAt), stamp(r.ReceivedAt), r.Overdue)
		}
		tw.Flush()
	case "incidents":
		ins, err := svc.Incidents(ctx, store.IncidentFilter{RDP: *rdp, Kind: *kind, OpenOnly: *open})
		if err != nil {
			return fail(err)
		}
		if *asJSON {
			type incident struct {
				store.RegistrationIncident
				Detail json.RawMessage `json:"Detail,omitempty"`
			}
			out := make([]incident, len(ins))
			for i, in := range ins {
				out[i] = incident{RegistrationIncident: in, Detail: json.RawMessage(in.Detail)}
			}
			return printJSON(stdout, out)
		}
		for _, in := range ins {
			state := "open"
			if !in.ResolvedAt.IsZero() {
				state = "resolved " + stamp(in.ResolvedAt)
			}
			fmt.Fprintf(stdout, "%s  %s  %s  %s  %s\n  %s\n", in.ID, stamp(in.RaisedAt), in.Kind, in.RDP, state, in.Summary)
		}
	case "resolve":
		if fs.NArg() != 1 || *note == "" {
			fmt.Fprintln(stderr, "dccgate registration resolve: --note TEXT INCIDENT_ID")
			return exitUsage
		}
		if err := svc.Resolve(ctx, fs.Arg(0), *note); err != nil {
			if errors.Is(err, store.ErrStale) {
				err = errors.New("the incident is resolved already")
			}
			return fail(err)
		}
		fmt.Fprintf(stdout, "incident %s resolved\n", fs.Arg(0))
	case "sweep":
		raised, err := svc.Sweep(ctx)
		if err != nil {
			return fail(err)
		}
		for _, in := range raised {
			fmt.Fprintf(stdout, "%s %s: %s\n", in.ID, in.Kind, in.Summary)
		}
		fmt.Fprintf(stdout, "%d incidents raised\n", len(raised))
	}
	return exitOK
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exitFail
	}
	return exitOK
}

// flagsFirst moves the flags of args before the positional arguments, so
// flags may follow them; it asks fs which flags are booleans.
func flagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' && a != "-" {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
					continue
				}
			}
			if i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
