package ssi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/server"
)

// chromium returns the path of a Chromium (Debian package chromium) or
// skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test: no chromium on PATH (Debian: apt-get install -y chromium)")
	return ""
}

// newChrome starts a headless Chromium for the test. The demo CA is not
// in the browser's trust store, so certificate errors are ignored: what
// the test checks is the pages.
func newChrome(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// text reads the text of the element a CSS selector finds.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// click clicks a form's button and waits for the page it loads.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("clicking %s: %v", sel, err)
	}
}

// browserSignIn signs in through the page: it reads the challenge, signs
// it with the user's key (what the user does with openssl) and submits.
func browserSignIn(t *testing.T, ctx context.Context, s *server.Server, user string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(s.SSIURL+"signin"))
	challenge := text(t, ctx, "#challenge")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#user_id"), user),
		chromedp.SetValue(chromedp.CSS("#signature"), sign(t, s, user, challenge)),
	)
	click(t, ctx, "#signin")
	if who := text(t, ctx, "#who"); !strings.Contains(who, user) {
		t.Fatalf("signed in as %q", who)
	}
}

// TestBrowser drives the SSI in headless Chromium: sign-in, a search of
// the inventory, raising an incident after the remote diagnostic, and
// another user failing to open it by its URL. With DCCGATE_SCREENSHOTS set
// to a directory it saves the request-history page there (make
// screenshots).
func TestBrowser(t *testing.T) {
	ctx := newChrome(t)
	s := startDemo(t, 0)
	// Some history: accepted reads, refusals with their reasons.
	for _, dev := range []string{esme1, esme2} {
		submit(t, s, alpha, engine.Request{DeviceID: dev, Service: "4.1", Body: map[string]any{"register": "total"}})
	}
	submit(t, s, alpha, engine.Request{DeviceID: "00-DB-00-00-00-00-6A-01", Service: "4.1", Body: map[string]any{"register": "total"}})
	submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.9"})

	browserSignIn(t, ctx, s, alpha)
	if rows := text(t, ctx, "#requests tbody"); !strings.Contains(rows, "accepted") || !strings.Contains(rows, "rejected") {
		t.Fatalf("history shows %q", rows)
	}
	if dir := os.Getenv("DCCGATE_SCREENSHOTS"); dir != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ssi-requests.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Search the portfolio for its electricity meters (para 241).
	do(t, ctx,
		chromedp.Navigate(s.SSIURL+"inventory"),
		chromedp.SetValue(chromedp.CSS("#type"), "ESME"),
	)
	click(t, ctx, "#search")
	caption, table := text(t, ctx, "#devices caption"), text(t, ctx, "#devices tbody")
	if caption != "4 device(s) found" || strings.Count(table, "ESME") != 4 || strings.Contains(table, "GSME") {
		t.Fatalf("search: %q / %q", caption, table)
	}

	// Raise an incident: the diagnostic first, then the form.
	do(t, ctx,
		chromedp.Navigate(s.SSIURL+"incidents"),
		chromedp.SendKeys(chromedp.CSS("#device_id"), esme1),
	)
	click(t, ctx, "#diagnose")
	result := text(t, ctx, "#diagnosis-result")
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#title"), "No readings from premises 1"),
		chromedp.SetValue(chromedp.CSS("#category"), "2"),
		chromedp.SetValue(chromedp.CSS("#area"), "smwan"),
	)
	click(t, ctx, "#raise")
	status, responsible := text(t, ctx, "#incident-status"), text(t, ctx, "#responsible")
	incidentURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(result, "reachable") || status != "allocated" || !strings.HasPrefix(strings.TrimSpace(responsible), "dcc") {
		t.Fatalf("diagnostic %q, status %q, responsible %q", result, status, responsible)
	}
	if timeline := text(t, ctx, "#timeline"); !strings.Contains(timeline, `"reachable":true`) {
		t.Fatalf("the diagnostic is not on the timeline: %q", timeline)
	}

	// Another user, signed in, cannot open it by its URL.
	click(t, ctx, "form.signout button")
	browserSignIn(t, ctx, s, beta)
	do(t, ctx, chromedp.Navigate(incidentURL))
	if msg := text(t, ctx, "#error"); !strings.Contains(msg, "No such incident") {
		t.Fatalf("another user opened %s: %q", incidentURL, msg)
	}
}
