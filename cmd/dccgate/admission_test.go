package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/client"
)

// TestServeRefusesWhatItCannotTake: `serve --max-in-flight 3`, with two
// workers and a slow SMWAN, takes some of twelve Submits sent at once and
// refuses the rest GATEWAY_BUSY over the wire ("unavailable", the reason
// and clause in the metadata, counted in the metrics); everything it took
// completes, and then it takes requests again.
func TestServeRefusesWhatItCannotTake(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	data := t.TempDir()
	admin := freePort(t)
	srv := startLogged(t, nil, "--data", data, "--listen", freePort(t), "--demo", "3", "--workers", "2",
		"--smwan-latency", "400ms", "--max-in-flight", "3", "--admission-wait", "20ms", "--admin-listen", admin)
	const user, meter = "00-00-00-00-00-00-0A-01", "00-DB-00-00-00-00-E0-01"
	cl := userClient(t, filepath.Join(data, "pki"), srv.url, user)
	ctx := t.Context()
	read := func() *connect.Request[dccgatev1.SubmitRequest] {
		return connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
			Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: meter},
			Body:     &dccgatev1.ServiceRequest_ReadInstantaneousImportRegisters{ReadInstantaneousImportRegisters: &dccgatev1.ReadInstantaneousImportRegisters{Register: "total"}},
		}})
	}

	var (
		mu    sync.Mutex
		acked []string
		busy  int
		wg    sync.WaitGroup
	)
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cl.Submit(ctx, read())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				reason, clause, ok := client.Refusal(err)
				if connect.CodeOf(err) != connect.CodeUnavailable || !ok || reason != "GATEWAY_BUSY" || clause != "para 273" {
					t.Errorf("refused with %v (%s %q %q), want unavailable GATEWAY_BUSY, para 273", err, connect.CodeOf(err), reason, clause)
				}
				busy++
				return
			}
			if st := resp.Msg.GetState().GetState(); st != "acknowledged" {
				t.Errorf("taken as %s (%s)", st, resp.Msg.GetState().GetReason())
			}
			acked = append(acked, resp.Msg.GetRequestId())
		}()
	}
	wg.Wait()
	if len(acked) < 3 || busy == 0 {
		t.Fatalf("%d taken, %d refused busy: want at least the 3 it holds taken and some refused", len(acked), busy)
	}

	waitAccepted(ctx, t, cl, acked, "after it was taken")
	resp, err := cl.Submit(ctx, read())
	if err != nil || resp.Msg.GetState().GetState() != "acknowledged" {
		t.Fatalf("after the work drained: %v", err)
	}

	m, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	body, _ := io.ReadAll(m.Body)
	got := regexp.MustCompile(`(?m)^dccgate_admission_refused_total (\d+)$`).FindSubmatch(body)
	if got == nil || atoi(string(got[1])) != busy {
		t.Errorf("metrics: %q, want dccgate_admission_refused_total %d", got, busy)
	}
}
