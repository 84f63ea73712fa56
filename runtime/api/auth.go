package api

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/url"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
)

type ctxKey int

const callerKey ctxKey = 0

// AdminCommonName is the subject of the admin certificate.
const AdminCommonName = "dccgate-admin"

// Caller is who called: a User ID, or the admin.
type Caller struct {
	UserID string
	Admin  bool
}

// ForwardedCertHeader carries the client certificate (URL-escaped PEM) that
// a TLS-terminating proxy verified, for plaintext HTTP/2 behind it.
const ForwardedCertHeader = "X-SSL-Client-Cert"

// Authenticate reads the caller from the verified client certificate of the
// TLS connection and puts it in the request's context. Calls without one
// reach the handlers with no caller, and the handlers refuse them.
func Authenticate(next http.Handler) http.Handler { return authenticate(next, nil) }

// AuthenticateForwarded is Authenticate, and for plaintext connections it
// also accepts the certificate a TLS-terminating proxy forwards in
// ForwardedCertHeader, if it chains to roots. Use it only where the
// plaintext listener is reachable from that proxy alone.
func AuthenticateForwarded(next http.Handler, roots *x509.CertPool) http.Handler {
	return authenticate(next, roots)
}

func authenticate(next http.Handler, forwardedRoots *x509.CertPool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cert *x509.Certificate
		switch {
		case r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0:
			cert = r.TLS.PeerCertificates[0]
		case r.TLS == nil && forwardedRoots != nil && r.Header.Get(ForwardedCertHeader) != "":
			if pemText, err := url.QueryUnescape(r.Header.Get(ForwardedCertHeader)); err == nil {
				if c, err := pki.ParseCert([]byte(pemText)); err == nil {
					if _, err := c.Verify(x509.VerifyOptions{Roots: forwardedRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
						cert = c
					}
				}
			}
		}
		if cert != nil {
			var c Caller
			if cert.Subject.CommonName == AdminCommonName {
				c.Admin = true
			} else if id, err := pki.UserID(cert); err == nil {
				c.UserID = id
			}
			ctx := context.WithValue(r.Context(), callerKey, c)
			r = r.WithContext(gateway.WithPresented(ctx, cert))
		}
		next.ServeHTTP(w, r)
	})
}

// CallerFrom returns the authenticated caller.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey).(Caller)
	return c, ok && (c.UserID != "" || c.Admin)
}

// WithCaller returns a context carrying a caller: for in-process callers
// that authenticated otherwise.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey, c)
}
