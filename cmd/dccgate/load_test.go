package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/loadgen"
)

// TestLoadSeedsAndRuns: `dccgate load` seeds a world, drives it in
// process, and writes a result whose counts add up; a second run against
// a `dccgate serve` of the same data directory (--target) reuses the
// seeded world.
func TestLoadSeedsAndRuns(t *testing.T) {
	data := t.TempDir()
	out, samples := filepath.Join(data, "result.json"), filepath.Join(data, "samples.csv")
	code, stdout, errs := runCmd(t, "", "load", "--data", data, "--fleet", "40", "--suppliers", "2", "--duration", "500ms",
		"--concurrency", "4", "--quiet", "--json", out, "--samples", samples)
	if code != 0 || !strings.Contains(stdout, "seeded 40 registrations and 110 devices") || !strings.Contains(stdout, "requests/s completed") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	var res struct {
		Sent, Completed int
		Outcomes        map[string]int
		Latency         map[string]struct{ Count int }
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Completed == 0 || res.Completed != res.Sent || res.Outcomes["accepted"] != res.Completed || res.Latency["all"].Count != res.Completed {
		t.Fatalf("result %s", b)
	}
	// --samples: a header, then a line a request, its Request ID last.
	b, err = os.ReadFile(samples)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "sent_s,item,outcome,acknowledged_ms,latency_ms,request_id" || len(lines) != res.Sent+1 || !strings.Contains(lines[1], ",accepted,") ||
		!strings.Contains(lines[1][strings.LastIndexByte(lines[1], ',')+1:], ":00-DB-") {
		t.Fatalf("samples:\n%s", b)
	}
	if testing.Short() {
		return
	}
	// Nothing listening: a clear error once --wait has passed.
	code, _, errs = runCmd(t, "", "load", "--target", "https://"+freePort(t), "--data", data, "--wait", "300ms", "--quiet")
	if code == 0 || !strings.Contains(errs, "does not accept connections") {
		t.Fatalf("load against nothing: exit %d\n%s", code, errs)
	}
	// A load started before its gateway listens waits for it.
	addr := freePort(t)
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, errs := runCmd(t, "", "load", "--target", "https://"+addr, "--data", data, "--duration", "500ms", "--rate", "50", "--quiet")
		done <- result{code, stdout, errs}
	}()
	srv := startServe(t, "--data", data, "--listen", addr, "--demo", "0")
	r := <-done
	t.Logf("load started before its gateway: %q", r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "open loop at 50/s") || strings.Contains(r.stdout, "seeding") ||
		!strings.HasPrefix(srv.url, "https://"+addr) {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestLoadAgain: loads in process in one data directory, seeding it
// again last. Each run's streams start where they end when it begins, so
// each reads its own deliveries alone, none of the runs before;
// --timeout reaches the run.
func TestLoadAgain(t *testing.T) {
	data := t.TempDir()
	out := filepath.Join(data, "result.json")
	seed := []string{"--fleet", "40", "--suppliers", "2"}
	steps := []struct {
		note    string
		args    []string
		timeout float64 // the result's timeout_s
	}{
		{"the first seeds", seed, 30},
		{"the next", []string{"--timeout", "7s"}, 7},
		{"a seed again", seed, 30},
	}
	for _, st := range steps {
		args := append([]string{"load", "--data", data, "--duration", "300ms", "--concurrency", "4", "--mix", "*=0,read-electricity=1", "--alerts", "0",
			"--quiet", "--json", out}, st.args...)
		code, stdout, errs := runCmd(t, "", args...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s\n%s", st.note, code, stdout, errs)
		}
		var res struct {
			Sent     int
			Timeout  float64 `json:"timeout_s"`
			Messages int     `json:"stream_messages"`
		}
		if err := readJSON(out, &res); err != nil {
			t.Fatal(err)
		}
		if res.Timeout != st.timeout {
			t.Errorf("%s: timeout %vs, want %vs", st.note, res.Timeout, st.timeout)
		}
		// A request has one delivery, its response.
		if res.Sent == 0 || res.Messages != res.Sent {
			t.Errorf("%s: %d stream messages read for %d requests", st.note, res.Messages, res.Sent)
		}
	}
}

func TestLoadUsage(t *testing.T) {
	for _, args := range [][]string{
		{"load", "--target", "https://127.0.0.1:1"},
		{"load", "--mix", "nope=1"},
		{"load", "--fleet", "-5", "--seed-only"},
		{"load", "--rate", "100", "--max-outstanding", "-1"},
		{"load", "--target", "https://127.0.0.1:1", "--data", "/nonexistent", "--fleet", "10"},
		{"load", "--timeout", "0s"},
		{"load", "--timeout", "-1s"},
	} {
		if code, _, errs := runCmd(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errs)
		}
	}
}

// TestLoadReport: the summary says whose memory it shows (the load
// process's alone against --target) and how many meters the setup could
// not prepare; -h says what the outcomes mean.
func TestLoadReport(t *testing.T) {
	res := &loadgen.Result{Sent: 10, Completed: 9, Duration: 1, Outcomes: map[string]int{"accepted": 9, "error/stream": 1},
		Memory: loadgen.Memory{RSSMiB: 130, PeakRSSMiB: 140, HeapMiB: 40}}
	partial := *res
	partial.Setup = &loadgen.Setup{Meters: 500, Ready: 498, Retries: 140, Failed: map[string]int{"rejected/SMWAN_UNAVAILABLE": 2}}
	whole := *res
	whole.Setup = &loadgen.Setup{Meters: 500, Ready: 500, Retries: 3}
	tests := []struct {
		note      string
		res       *loadgen.Result
		inProcess bool
		want      []string
		not       []string
	}{
		{"in process", res, true, []string{"\nmemory: rss 130 MiB (peak 140 MiB), heap 40 MiB\n", "(load generator and gateway)"}, []string{"load process", "setup:"}},
		{"--target", res, false, []string{"\nmemory (load process): rss 130 MiB (peak 140 MiB), heap 40 MiB\n", "(load generator only)"}, []string{"\nmemory:"}},
		{"setup in part", &partial, true, []string{"setup: 498 of 500 meters put in prepayment mode and topped up (140 requests sent again); 2 could not be and get no top-ups: rejected/SMWAN_UNAVAILABLE 2\nsent 10,"}, nil},
		{"setup whole", &whole, true, []string{"setup: 500 of 500 meters put in prepayment mode and topped up (3 requests sent again)\nsent 10,"}, []string{"could not"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			var b strings.Builder
			printLoad(&b, tc.res, tc.inProcess)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("no %q in\n%s", w, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q in\n%s", w, b.String())
				}
			}
		})
	}
	code, _, errs := runCmd(t, "", "load", "-h")
	for _, w := range []string{"error/stream", "error/timeout", "error/submit:CODE", "GATEWAY_BUSY", "error/sign ", "error/sign:CODE", "-samples"} {
		if code != exitUsage || !strings.Contains(errs, w) {
			t.Errorf("load -h: exit %d, no %q in\n%s", code, w, errs)
		}
	}
}
