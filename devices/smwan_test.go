package devices

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

func read(device string) Command {
	return seal(Command{Service: "4.1", Device: device, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{"register": "total"}}, "")
}

type result struct {
	r   Response
	err error
}

func sendAsync(w *SMWAN, ctx context.Context, cmd Command) <-chan result {
	ch := make(chan result, 1)
	go func() {
		r, err := w.Send(ctx, cmd)
		ch <- result{r, err}
	}()
	return ch
}

// waitInFlight yields until n commands wait on the SMWAN; their timers are
// set by then, so advancing the clock reaches them. No sleeping.
func waitInFlight(t *testing.T, w *SMWAN, n int) {
	t.Helper()
	for i := 0; w.InFlight() != n; i++ {
		if i > 1e7 {
			t.Fatalf("%d commands in flight, want %d", w.InFlight(), n)
		}
		runtime.Gosched()
	}
}

func TestSMWANZeroLatency(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk)
	r, err := w.Send(context.Background(), read(esme))
	if err != nil || !r.OK {
		t.Fatalf("%+v %v", r, err)
	}
}

// TestSMWANLatency: a command waits its latency on the virtual clock, and
// only on it.
func TestSMWANLatency(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk)
	w.SetLatency(5 * time.Second)
	done := sendAsync(w, context.Background(), read(esme))
	waitInFlight(t, w, 1)
	e.clk.Advance(4 * time.Second)
	select {
	case res := <-done:
		t.Fatalf("delivered before its latency: %+v", res)
	default:
	}
	if w.InFlight() != 1 {
		t.Fatal("command left the SMWAN early")
	}
	e.clk.Advance(time.Second)
	res := <-done
	if res.err != nil || !res.r.OK {
		t.Fatalf("%+v", res)
	}
	if at := res.r.Data["at"]; at != start.Add(5*time.Second).Format(time.RFC3339) {
		t.Fatalf("read at %v, want the clock after latency", at)
	}
}

func TestSMWANContext(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk, WithLatency(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := sendAsync(w, ctx, read(esme))
	waitInFlight(t, w, 1)
	cancel()
	if res := <-done; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("%+v", res)
	}
	if _, err := w.Send(ctx, read(esme)); !errors.Is(err, context.Canceled) {
		t.Fatalf("send on a cancelled context: %v", err)
	}
}

func TestSMWANDeadHub(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk)
	w.KillHub(chf1)
	for _, dev := range []string{chf1, esme, gsme, ihd} {
		if _, err := w.Send(context.Background(), read(dev)); !errors.Is(err, ErrHubDead) {
			t.Fatalf("%s behind a dead hub: %v", dev, err)
		}
	}
	w.ReviveHub(chf1)
	if r, err := w.Send(context.Background(), read(esme)); err != nil || !r.OK {
		t.Fatalf("after revive: %+v %v", r, err)
	}
	if _, err := w.Send(context.Background(), read("00-DB-00-00-00-00-99-99")); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("unknown device: %v", err)
	}
}

// TestSMWANLossIsSeeded: the same seed loses the same commands; lost
// commands never reach the device.
func TestSMWANLossIsSeeded(t *testing.T) {
	pattern := func(seed uint64) []bool {
		e := newEnv(t)
		w := NewSMWAN(e.f, e.clk, WithSeed(seed), WithLoss(0.3))
		var lost []bool
		n := 0
		for i := range 200 {
			cmd := Command{Service: "2.2", Device: esme, Sender: users["EIS"], SenderRole: "EIS",
				Body: map[string]any{"utrn": utrn(i), "amount_pence": int64(1)}}
			cmd = seal(cmd, "")
			_, err := w.Send(context.Background(), cmd)
			if err != nil && !errors.Is(err, ErrLost) {
				t.Fatal(err)
			}
			lost = append(lost, err != nil)
			if err == nil {
				n++
			}
		}
		if got := e.state(esme).Meter.CreditPence; got != initialCredit+float64(n) {
			t.Fatalf("credit %v after %d delivered top-ups of 1p", got, n)
		}
		if n == 0 || n == 200 {
			t.Fatalf("loss 0.3 delivered %d of 200", n)
		}
		return lost
	}
	a, b, c := pattern(42), pattern(42), pattern(43)
	if !equalBools(a, b) {
		t.Fatal("the same seed lost different commands")
	}
	if equalBools(a, c) {
		t.Fatal("different seeds lost the same commands")
	}
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk, WithSeed(42), WithLoss(0.3))
	w.SetSeed(42)
	for i, want := range a[:20] {
		_, err := w.Send(context.Background(), read(esme))
		if (err != nil) != want {
			t.Fatalf("SetSeed: send %d lost=%t, want %t", i, err != nil, want)
		}
	}
}

func utrn(i int) string {
	s := "73100000000000000000"
	b := []byte(s)
	for j := len(b) - 1; i > 0; j-- {
		b[j] = byte('0' + i%10)
		i /= 10
	}
	return string(b)
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSMWANAnswerLost: a Command whose answer is lost has run on the
// device, and its sender hears nothing until it gives up; sent again, the
// same Command is answered as before and not run twice (a top-up is
// credited once), while a new Command with the same UTRN is refused.
func TestSMWANAnswerLost(t *testing.T) {
	e := newEnv(t)
	w := NewSMWAN(e.f, e.clk)
	before := e.state(gsme).Meter.CreditPence
	svc := e.f.Spec().Service("2.2", "")
	cmd, signer := e.unsealed(svc, gsme)
	cmd.Body["utrn"], cmd.Body["amount_pence"] = "73100000000000000001", int64(2000)
	topUp := seal(cmd, signer)

	w.SetAnswerLoss(1)
	ctx, cancel := context.WithCancel(context.Background())
	ch := sendAsync(w, ctx, topUp)
	for i := 0; e.state(gsme).Meter.CreditPence == before; i++ {
		if i > 1e7 {
			t.Fatal("the top-up did not run on the device")
		}
		runtime.Gosched()
	}
	cancel() // the sender's timeout
	if r := <-ch; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("answer lost: %+v %v, want the sender's own timeout", r.r, r.err)
	}

	w.SetAnswerLoss(0)
	r, err := w.Send(context.Background(), topUp)
	if err != nil || !r.OK {
		t.Fatalf("sent again: %+v %v", r, err)
	}
	if got := e.state(gsme).Meter.CreditPence; got != before+2000 {
		t.Fatalf("credit %v -> %v, want +2000 once", before, got)
	}
	if got := r.Data["credit_pence"]; got != float64(before+2000) {
		t.Fatalf("the answer sent again says credit %v, want %v", got, before+2000)
	}
	// A new Command (another Request ID) with the UTRN is a replay.
	again, signer := e.unsealed(svc, gsme)
	again.Body["utrn"], again.Body["amount_pence"] = "73100000000000000001", int64(2000)
	if r, err := w.Send(context.Background(), seal(again, signer)); err != nil || r.OK {
		t.Fatalf("a new top-up with the UTRN used: %+v %v", r, err)
	}
}
