package api

import (
	"context"
	"net/http"

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

// Authenticate reads the caller from the verified client certificate of the
// TLS connection and puts it in the request's context. Calls without one
// reach the handlers with no caller, and the handlers refuse them.
func Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
			cert := r.TLS.PeerCertificates[0]
			var c Caller
			if cert.Subject.CommonName == AdminCommonName {
				c.Admin = true
			} else if id, err := pki.UserID(cert); err == nil {
				c.UserID = id
			}
			r = r.WithContext(context.WithValue(r.Context(), callerKey, c))
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
