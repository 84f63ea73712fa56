package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/dccgate/dccgate/conformance/connectgw"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/spec"
)

// runScenario: `dccgate scenario run [--target URL] FILE_OR_DIR...`.
func runScenario(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "usage: dccgate scenario run [--target URL [--certs DIR]] [--parallel N] FILE_OR_DIR...")
		return exitUsage
	}
	fs := flag.NewFlagSet("dccgate scenario run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("target", "", "URL of a running `dccgate serve --virtual-clock` (default: a fresh in-process gateway per scenario)")
	certs := fs.String("certs", filepath.Join(defaultDataDir(), "pki"), "with --target: the directory holding ca.pem, admin.pem and admin-key.pem of that gateway (and ca-key.pem, if there, to send as User IDs no world names)")
	parallel := fs.Int("parallel", 1, "scenarios run at once (in-process only)")
	if err := fs.Parse(reorder(args[1:])); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "dccgate scenario run: name at least one scenario file or directory")
		return exitUsage
	}
	all, err := scenario.LoadAll(fs.Args()...)
	invalid := 0
	if err != nil {
		fmt.Fprintln(stderr, err)
		invalid = 1
		var el scenario.ErrorList
		if errors.As(err, &el) {
			invalid = el.Files()
		}
	}
	sp, err := spec.Default()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	var newGateway func() scenario.Gateway
	var closers []func()
	defer func() {
		for _, c := range closers {
			c()
		}
	}()
	if *target != "" {
		client, err := remoteClient(*target, *certs, sp)
		if err != nil {
			fmt.Fprintf(stderr, "dccgate scenario run: %v\n", err)
			return exitFail
		}
		warnNoIssuer(stderr, "scenario run", client, *certs)
		newGateway = func() scenario.Gateway { return client }
		*parallel = 1
	} else {
		eng, err := engine.New(ctx, sp)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		tmp, err := os.MkdirTemp("", "dccgate-scenarios-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		closers = append(closers, func() { os.RemoveAll(tmp) })
		p, err := server.LoadOrCreatePKI(filepath.Join(tmp, "pki"))
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitFail
		}
		var n atomic.Int64 // scenarios start gateways in parallel
		newGateway = func() scenario.Gateway {
			gw, err := newInProcess(ctx, filepath.Join(tmp, fmt.Sprint(n.Add(1))), p, eng, sp)
			if err != nil {
				return failing{err}
			}
			return gw
		}
	}
	// An invalid file counts as a failed scenario in the last line.
	if _, failed := scenario.RunAll(ctx, newGateway, all, stdout, scenario.Parallel(*parallel), scenario.Invalid(invalid)); failed > 0 {
		return exitFail
	}
	return exitOK
}

func remoteClient(url, certs string, sp *spec.Spec) (*connectgw.Client, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(certs, name)) }
	ca, err := read("ca.pem")
	if err != nil {
		return nil, err
	}
	cert, err := read("admin.pem")
	if err != nil {
		return nil, err
	}
	key, err := read("admin-key.pem")
	if err != nil {
		return nil, err
	}
	c, err := connectgw.New(url, ca, pki.Issued{CertPEM: cert, KeyPEM: key}, sp)
	if err != nil {
		return nil, err
	}
	if ca, err := pki.LoadCA(certs); err == nil {
		// The gateway's own CA (its operator runs the scenarios): the
		// request of a User ID no world names reaches the gateway.
		c.Issue = func(id string) (pki.Issued, error) { return ca.IssueUser(id, "") }
	}
	return c, nil
}

// warnNoIssuer says, once, what a run without the gateway's CA key cannot
// do: send as a User ID the world does not name. Such a request is refused
// at the TLS handshake and reported UNKNOWN_USER, though in process a
// check before the user's (the category) may refuse it first.
func warnNoIssuer(stderr io.Writer, cmd string, c *connectgw.Client, certs string) {
	if c.Issue == nil {
		fmt.Fprintf(stderr, "dccgate %s: no ca-key.pem in %s: a request sent as a User ID the world does not name is refused at the TLS handshake and reported UNKNOWN_USER, whatever check would refuse it first\n", cmd, certs)
	}
}

// inProcess is a fresh gateway on a loopback port, driven through its
// public API; Close stops it.
type inProcess struct {
	*connectgw.Client
	srv *server.Server
}

func newInProcess(ctx context.Context, dir string, p *server.PKI, eng *engine.Engine, sp *spec.Spec) (*inProcess, error) {
	srv, err := server.Start(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", VirtualClock: true, Engine: eng, Spec: sp, PKI: p})
	if err != nil {
		return nil, err
	}
	c, err := connectgw.New(srv.URL, p.CA.CertPEM, p.Admin, sp)
	if err != nil {
		srv.Close()
		return nil, err
	}
	c.Issue = userIssuer(p)
	return &inProcess{Client: c, srv: srv}, nil
}

// Close stops the in-process gateway.
func (g *inProcess) Close() error { return g.srv.Close() }

// failing is a gateway that could not start: every call fails with why.
type failing struct{ err error }

func (f failing) Reset(context.Context, scenario.World) error { return f.err }
func (f failing) Submit(context.Context, string, scenario.SubmitRequest) (scenario.SubmitResult, error) {
	return scenario.SubmitResult{}, f.err
}
func (f failing) Advance(context.Context, time.Duration) error { return f.err }
func (f failing) Event(context.Context, string, string) error  { return f.err }
func (f failing) Outcome(context.Context, string) (scenario.Outcome, error) {
	return scenario.Outcome{}, f.err
}
func (f failing) DeviceStatus(context.Context, string) (string, error) { return "", f.err }
func (f failing) Enrolled(context.Context, string) (bool, error)       { return false, f.err }
func (f failing) Alerts(context.Context, int64) ([]scenario.Alert, int64, error) {
	return nil, 0, f.err
}
func (f failing) Schedules(context.Context, string, string) (int, error) { return 0, f.err }
