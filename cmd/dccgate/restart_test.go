package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/runtime/pki"
)

// TestMain lets the test binary act as dccgate in a child process, so
// process-level tests (SIGKILL and restart) need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("DCCGATE_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// child is a `dccgate serve` process.
type child struct {
	cmd *exec.Cmd
	url string
}

func startServe(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "DCCGATE_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("dccgate serve exited before serving")
			}
			if rest, ok := strings.CutPrefix(line, "dccgate serving on "); ok {
				c.url, _, _ = strings.Cut(rest, " ")
				go func() {
					for range lines {
					}
				}()
				return c
			}
		case <-timeout:
			t.Fatal("dccgate serve did not start in time")
		}
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func userClient(t *testing.T, pkiDir, url, user string) dccgatev1connect.GatewayServiceClient {
	t.Helper()
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(pkiDir, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg, err := pki.ClientTLS(read("ca.pem"), pki.Issued{CertPEM: read("users/" + user + ".pem"), KeyPEM: read("users/" + user + "-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	return dccgatev1connect.NewGatewayServiceClient(hc, url)
}

// waitAccepted waits until each of ids is accepted; one that ends
// otherwise, or is still open after 30 seconds, fails the test.
func waitAccepted(ctx context.Context, t *testing.T, cl dccgatev1connect.GatewayServiceClient, ids []string, when string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			resp, err := cl.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
			if err != nil {
				t.Fatal(err)
			}
			if st := resp.Msg.GetState(); st == "accepted" {
				break
			} else if st != "acknowledged" && st != "executing" || time.Now().After(deadline) {
				t.Fatalf("%s: state %s %s", id, st, when)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func adminClient(t *testing.T, pkiDir, url string) dccgatev1connect.AdminServiceClient {
	t.Helper()
	read := func(n string) []byte {
		b, err := os.ReadFile(filepath.Join(pkiDir, n))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cfg, err := pki.ClientTLS(read("ca.pem"), pki.Issued{CertPEM: read("admin.pem"), KeyPEM: read("admin-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	return dccgatev1connect.NewAdminServiceClient(hc, url)
}

// TestKillAfterAcknowledgementLosesNothingRunsNothingTwice acknowledges
// requests whose Commands cannot finish (the SMWAN is slow on a virtual
// clock that does not move), kills the server with SIGKILL, restarts it on
// the same data, and checks that every acknowledged request completes
// exactly once, with exactly one Service Response each.
func TestKillAfterAcknowledgementLosesNothingRunsNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	data := t.TempDir()
	addr := freePort(t)
	ctx := t.Context()
	first := startServe(t, "--data", data, "--listen", addr, "--virtual-clock", "--smwan-latency", "1h", "--demo", "3")
	pkiDir := filepath.Join(data, "pki")
	const user = "00-00-00-00-00-00-0A-01"
	cl := userClient(t, pkiDir, first.url, user)
	const n = 12
	meters := []string{"00-DB-00-00-00-00-E0-01", "00-DB-00-00-00-00-E0-02", "00-DB-00-00-00-00-E0-03"}
	var ids []string
	for i := 1; i <= n; i++ {
		dev := meters[i%len(meters)]
		id := fmt.Sprintf("%s:%s:%d", user, dev, i)
		resp, err := cl.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
			Envelope: &dccgatev1.Envelope{RequestId: id, UserId: user, DeviceId: dev},
			Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
		}}))
		if err != nil {
			t.Fatal(err)
		}
		if st := resp.Msg.GetState().GetState(); st != "acknowledged" {
			t.Fatalf("request %d: state %s (%s)", i, st, resp.Msg.GetState().GetReason())
		}
		ids = append(ids, id)
	}
	// None has completed: the Commands wait on the SMWAN.
	for _, id := range ids {
		resp, err := cl.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
		if err != nil {
			t.Fatal(err)
		}
		if st := resp.Msg.GetState(); st != "acknowledged" && st != "executing" {
			t.Fatalf("%s is %s before the kill", id, st)
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()

	second := startServe(t, "--data", data, "--listen", addr, "--virtual-clock", "--demo", "3")
	cl = userClient(t, pkiDir, second.url, user)
	waitAccepted(ctx, t, cl, ids, "after restart")
	// Exactly one Service Response per request on the user's stream.
	adm := adminClient(t, pkiDir, second.url)
	resp, err := adm.ListDeliveries(ctx, connect.NewRequest(&dccgatev1.ListDeliveriesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, d := range resp.Msg.GetDeliveries() {
		if d.GetKind() == "response" {
			count[d.GetRequestId()]++
		}
	}
	for _, id := range ids {
		if count[id] != 1 {
			t.Errorf("%s: %d Service Responses, want 1", id, count[id])
		}
	}
	// The counters survived too: a replayed ID is refused.
	again, err := cl.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{RequestId: ids[3], UserId: user, DeviceId: meters[1]},
		Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if again.Msg.GetState().GetReason() != "REPLAY" {
		t.Fatalf("replayed ID: %+v", again.Msg.GetState())
	}
}
