package ssi_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/server"
	"github.com/dccgate/dccgate/runtime/ssi"
	"github.com/dccgate/dccgate/runtime/store"
)

const (
	alpha = "00-00-00-00-00-00-0A-01" // electricity import supplier of the demo world
	beta  = "00-00-00-00-00-00-0B-01" // another electricity supplier, registered nowhere
	gasU  = "00-00-00-00-00-00-0A-02" // the demo gas supplier
	esme1 = "00-DB-00-00-00-00-E0-01"
	esme2 = "00-DB-00-00-00-00-E0-02"
)

// startDemo starts a gateway on a virtual clock with the demo world and the
// SSI on a loopback listener.
func startDemo(t *testing.T, maxSessions int) *server.Server {
	t.Helper()
	ctx := t.Context()
	s, err := server.Start(ctx, server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", SSIListen: "127.0.0.1:0",
		VirtualClock: true, Start: time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC), SSIMaxSessions: maxSessions, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.SeedDemo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	return s
}

// submit sends a Service Request as a user and waits for its work.
func submit(t *testing.T, s *server.Server, user string, req engine.Request) store.Request {
	t.Helper()
	req.UserID = user
	r, err := s.G.Submit(t.Context(), user, &req)
	if err != nil {
		t.Fatal(err)
	}
	s.G.WaitIdle(t.Context())
	got, err := s.Store.GetRequest(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// browser is an HTTP client with cookies that trusts the local CA and,
// if cert is set, presents it.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, s *server.Server, certUser string) *browser {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.PKI.CA.Cert)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certUser != "" {
		pair, err := tls.LoadX509KeyPair(filepath.Join(s.PKI.Dir, "users", certUser+".pem"), filepath.Join(s.PKI.Dir, "users", certUser+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: strings.TrimSuffix(s.SSIURL, ssi.Prefix), c: &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: tc},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

var (
	challengeRE = regexp.MustCompile(`name="challenge" value="([0-9a-f]+)"`)
	csrfRE      = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
)

// sign signs a challenge with a user's key from the demo PKI, as the
// openssl command the sign-in page shows does.
func sign(t *testing.T, s *server.Server, user, challenge string) string {
	t.Helper()
	keyPEM, err := os.ReadFile(filepath.Join(s.PKI.Dir, "users", user+"-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ParseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pki.Sign(key, ssi.ChallengeMessage(challenge))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// signIn signs in by the challenge with signer's key; it returns the
// status of the sign-in POST.
// signedIn is a browser signed in as user, with its own key.
func signedIn(t *testing.T, s *server.Server, user string) *browser {
	t.Helper()
	b := newBrowser(t, s, "")
	if code := b.signIn(s, user, user); code != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d", user, code)
	}
	return b
}

func (b *browser) signIn(s *server.Server, user, signer string) int {
	b.t.Helper()
	_, page, _ := b.do("GET", "/ssi/signin", nil)
	m := challengeRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no challenge on the sign-in page")
	}
	code, _, _ := b.do("POST", "/ssi/signin", url.Values{"challenge": {m[1]}, "user_id": {user}, "signature": {sign(b.t, s, signer, m[1])}})
	return code
}

// csrf returns the CSRF token of a page of the session.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, page, _ := b.do("GET", path, nil)
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}
