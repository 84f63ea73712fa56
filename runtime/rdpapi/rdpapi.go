// Package rdpapi serves the Registration Data Interface (RegistrationService,
// for Registration Data Providers, network operators and the admin) and the
// reports (ReportService, for users and the admin) over Connect. Each
// constructor returns the path to mount and its handler:
//
//	path, h := rdpapi.RegistrationHandler(svc, rdpapi.Options{})
//	mux.Handle(path, h)
//	path, h = rdpapi.ReportHandler(rp, rdpapi.Options{})
//	mux.Handle(path, h)
//
// The handlers read the caller from the verified client certificate of the
// TLS connection themselves (mounted behind api.Authenticate or not): the
// admin certificate (common name api.AdminCommonName), an RDP (organizational
// unit "RDP", common name its ID), or a user (common name its User ID).
package rdpapi

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"connectrpc.com/connect"

	"github.com/dccgate/dccgate/registration"
	"github.com/dccgate/dccgate/runtime/api"
	"github.com/dccgate/dccgate/runtime/pki"
)

// Options configures the handlers.
type Options struct {
	// ForwardedRoots, if set, accepts on plaintext connections the client
	// certificate a TLS-terminating proxy forwards (api.ForwardedCertHeader)
	// when it chains to these roots. Set it only where the plaintext
	// listener is reachable from that proxy alone.
	ForwardedRoots *x509.CertPool
	// HandlerOptions are passed to the Connect handler (interceptors).
	HandlerOptions []connect.HandlerOption
}

// Caller is who called.
type Caller struct {
	Admin  bool
	RDP    string // the RDP's ID, for an RDP certificate
	UserID string // the User ID, for a user certificate
}

type ctxKey struct{}

// CallerFrom returns the caller the handler authenticated.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(ctxKey{}).(Caller)
	return c, ok && (c.Admin || c.RDP != "" || c.UserID != "")
}

// WithCaller returns a context carrying a caller (in-process callers and
// tests).
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// callerOf classifies a verified certificate.
func callerOf(cert *x509.Certificate) Caller {
	switch {
	case cert.Subject.CommonName == api.AdminCommonName:
		return Caller{Admin: true}
	case slices.Contains(cert.Subject.OrganizationalUnit, registration.RDPOrgUnit):
		if id, err := pki.UserID(cert); err == nil {
			return Caller{RDP: id}
		}
	default:
		if id, err := pki.UserID(cert); err == nil {
			return Caller{UserID: id}
		}
	}
	return Caller{}
}

// authenticate puts the caller of the verified client certificate in the
// request's context; without one the handlers refuse the call.
func authenticate(next http.Handler, forwarded *x509.CertPool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cert *x509.Certificate
		switch {
		case r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0:
			cert = r.TLS.PeerCertificates[0]
		case r.TLS == nil && forwarded != nil && r.Header.Get(api.ForwardedCertHeader) != "":
			if text, err := url.QueryUnescape(r.Header.Get(api.ForwardedCertHeader)); err == nil {
				if c, err := pki.ParseCert([]byte(text)); err == nil {
					if _, err := c.Verify(x509.VerifyOptions{Roots: forwarded, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
						cert = c
					}
				}
			}
		}
		if cert != nil {
			r = r.WithContext(WithCaller(r.Context(), callerOf(cert)))
		}
		next.ServeHTTP(w, r)
	})
}

var (
	errUnauthenticated = connect.NewError(connect.CodeUnauthenticated, errors.New("a client certificate naming an RDP, a User ID or the admin is required"))
	errAdminOnly       = connect.NewError(connect.CodePermissionDenied, errors.New("the admin certificate is required"))
)

func caller(ctx context.Context) (Caller, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return Caller{}, errUnauthenticated
	}
	return c, nil
}
