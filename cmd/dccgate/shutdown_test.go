package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/policy"
)

// logged is a `dccgate serve` child whose log (stderr) is kept.
type logged struct {
	*child
	mu  sync.Mutex
	log bytes.Buffer
}

func (l *logged) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.Write(p)
}

func (l *logged) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.String()
}

// waitLog waits for a log line matching re.
func (l *logged) waitLog(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindString(l.text()); m != "" {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line matching %s in:\n%s", re, l.text())
	return ""
}

// startLogged starts `dccgate serve` keeping its log; env is added to the
// child's environment.
func startLogged(t *testing.T, env []string, args ...string) *logged {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(append(os.Environ(), "DCCGATE_TEST_MAIN=1"), env...)
	l := &logged{child: &child{cmd: cmd}}
	cmd.Stderr = l
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "dccgate serving on "); ok {
			l.url, _, _ = strings.Cut(rest, " ")
			go io.Copy(io.Discard, stdout)
			return l
		}
	}
	t.Fatalf("dccgate serve exited before serving:\n%s", l.text())
	return nil
}

// TestSIGTERMUnderLoadLosesNothingRunsNothingTwice: users submit 4.1
// continuously while Commands take a second each; SIGTERM stops the
// gateway within its grace period with work still queued and running; the
// restarted gateway completes every acknowledged request, each with
// exactly one Service Response.
func TestSIGTERMUnderLoadLosesNothingRunsNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	data := t.TempDir()
	addr := freePort(t)
	ctx := t.Context()
	const grace = 1500 * time.Millisecond
	first := startLogged(t, nil, "--data", data, "--listen", addr, "--demo", "3", "--workers", "4",
		"--smwan-latency", "1s", "--grace", grace.String(), "-v")
	pkiDir := filepath.Join(data, "pki")
	// Each user reads meters it may read: both suppliers and both network
	// operators, on electricity and gas.
	users := map[string][]string{
		"00-00-00-00-00-00-0A-01": {"00-DB-00-00-00-00-E0-01", "00-DB-00-00-00-00-E0-02", "00-DB-00-00-00-00-E0-03"},
		"00-00-00-00-00-00-0E-01": {"00-DB-00-00-00-00-E0-01", "00-DB-00-00-00-00-E0-02", "00-DB-00-00-00-00-E0-03"},
		"00-00-00-00-00-00-0A-02": {"00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-6A-02", "00-DB-00-00-00-00-6A-03"},
		"00-00-00-00-00-00-06-01": {"00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-6A-02", "00-DB-00-00-00-00-6A-03"},
	}
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	for user, meters := range users {
		cl := userClient(t, pkiDir, first.url, user)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := cl.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
					Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: meters[i%len(meters)]},
					Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
				}}))
				if err != nil {
					return // the gateway stopped taking requests
				}
				if st := resp.Msg.GetState().GetState(); st != "acknowledged" {
					t.Errorf("%s: %s (%s)", user, st, resp.Msg.GetState().GetReason())
					return
				}
				mu.Lock()
				acked = append(acked, resp.Msg.GetRequestId())
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(2500 * time.Millisecond) // some complete, many queue
	sent := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := first.cmd.Wait()
	took := time.Since(sent)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, first.text())
	}
	if took > grace+5*time.Second {
		t.Errorf("stopping took %v with a grace period of %v", took, grace)
	}
	parked := regexp.MustCompile(`"msg":"stopped: work in flight parked[^}]*"parked":(\d+)`).FindStringSubmatch(first.text())
	if parked == nil || parked[1] == "0" {
		t.Fatalf("no work was parked by the shutdown (the test needs some in flight):\n%s", tail(first.text(), 2000))
	}
	t.Logf("%d requests acknowledged; SIGTERM to exit %v; %s parked", len(acked), took.Round(time.Millisecond), parked[1])

	// The next start resumes them; a virtual clock mounts the admin API.
	second := startLogged(t, nil, "--data", data, "--listen", addr, "--demo", "3",
		"--virtual-clock", "--start", time.Now().UTC().Format(time.RFC3339))
	adm := adminClient(t, pkiDir, second.url)
	deadline := time.Now().Add(60 * time.Second)
	count := map[string]int{}
	for {
		count = map[string]int{}
		var after int64
		for {
			resp, err := adm.ListDeliveries(ctx, connect.NewRequest(&dccgatev1.ListDeliveriesRequest{After: after}))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range resp.Msg.GetDeliveries() {
				if d.GetKind() == "response" {
					count[d.GetRequestId()]++
				}
			}
			if len(resp.Msg.GetDeliveries()) == 0 {
				break
			}
			after = resp.Msg.GetCursor()
		}
		missing := 0
		for _, id := range acked {
			if count[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged requests have no Service Response after the restart", missing, len(acked))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("%s: %d Service Responses, want 1", id, n)
		}
	}
	for user := range users {
		cl := userClient(t, pkiDir, second.url, user)
		for _, id := range acked {
			if !strings.HasPrefix(id, user+":") {
				continue
			}
			resp, err := cl.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
			if err != nil {
				t.Fatal(err)
			}
			if st := resp.Msg.GetState(); st != "accepted" {
				t.Errorf("%s: %s (%s)", id, st, resp.Msg.GetReason())
			}
		}
	}
	checkLog(t, first.text()+second.text())
}

// checkLog: no key or signature material in the log, and every line about
// a call names the user and the request (a request not received, the user).
func checkLog(t *testing.T, log string) {
	t.Helper()
	for _, bad := range []string{"PRIVATE KEY", "BEGIN CERTIFICATE", "signature\":\"", "signedPreCommand"} {
		if strings.Contains(log, bad) {
			t.Errorf("the log holds %q", bad)
		}
	}
	rpcs := 0
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("a log line is not JSON: %q", line)
			continue
		}
		if rec["msg"] == "rpc" && rec["rpc"] == "/dccgate.v1.GatewayService/Submit" && rec["level"] == "INFO" {
			rpcs++
			// A request refused before it was received (GATEWAY_BUSY:
			// the queue here outgrows max_in_flight) has no ID or state.
			notReceived := rec["reason"] == "GATEWAY_BUSY" && rec["code"] == "unavailable"
			if rec["user"] == "" || (!notReceived && (rec["request_id"] == nil || rec["state"] == nil)) {
				t.Errorf("a request's log line lacks user, request_id or state: %s", line)
			}
		}
	}
	if rpcs == 0 {
		t.Error("no request was logged")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// TestSIGHUPRefusesABadPolicy edits the policy of a running gateway into
// something that does not compile and sends SIGHUP: the reload is refused
// with file:line, logged, and the gateway goes on deciding with the old
// policy; a good edit then reloads.
func TestSIGHUPRefusesABadPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, policy.Modules()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "gateway.rego")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	admin := freePort(t)
	srv := startLogged(t, []string{"DCCGATE_POLICY=" + dir, "DCCGATE_ADMIN_LISTEN=" + admin}, "--data", data, "--listen", freePort(t), "--demo", "1", "--virtual-clock")
	const user = "00-00-00-00-00-00-0A-01"
	cl := userClient(t, filepath.Join(data, "pki"), srv.url, user)
	submit := func() string {
		t.Helper()
		resp, err := cl.Submit(t.Context(), connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
			Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: "00-DB-00-00-00-00-E0-01"},
			Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
		}}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.GetState().GetState()
	}
	if st := submit(); st != "acknowledged" {
		t.Fatalf("before the edit: %s", st)
	}
	lines := bytes.Count(src, []byte("\n"))
	if err := os.WriteFile(file, append(append([]byte{}, src...), "\nbroken := {\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	m := srv.waitLog(t, regexp.MustCompile(`"msg":"reload refused[^\n]*`))
	loc := regexp.MustCompile(regexp.QuoteMeta(file) + `:(\d+):\d+: rego_compile_error`).FindStringSubmatch(m)
	if loc == nil {
		t.Fatalf("the refusal does not name file:line: %s", m)
	}
	if n := atoi(loc[1]); n <= lines {
		t.Errorf("error at line %d, before the edit", n)
	}
	if st := submit(); st != "acknowledged" {
		t.Fatalf("after the refused reload: %s", st)
	}
	resp, err := http.Get("http://" + admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz after a refused reload: %d", resp.StatusCode)
	}
	// The admin RPC refuses it too, naming the same place.
	ops := dccgatev1connect.NewOpsServiceClient(http.DefaultClient, "http://"+admin)
	if _, err := ops.Reload(t.Context(), connect.NewRequest(&dccgatev1.ReloadRequest{})); err == nil || !strings.Contains(err.Error(), file+":"+loc[1]) {
		t.Fatalf("OpsService.Reload: %v", err)
	}
	// Repaired: the reload goes through.
	if err := os.WriteFile(file, src, 0o644); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Process.Signal(syscall.SIGHUP)
	srv.waitLog(t, regexp.MustCompile(`"msg":"reloaded"`))
	checkLog(t, srv.text())
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}
