package api

import (
	"net/http"

	"connectrpc.com/connect"

	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/pki"
)

// Options configures the handler.
type Options struct {
	// Admin mounts the AdminService (virtual-clock gateways only).
	Admin bool
	// CA issues the users' certificates on an admin Reset.
	CA *pki.CA
	// TrustForwardedCert accepts, on plaintext connections, the client
	// certificate a TLS-terminating proxy forwards (ForwardedCertHeader),
	// verified against the CA.
	TrustForwardedCert bool
	// Mount adds handlers of other services (path -> handler).
	Mount map[string]http.Handler
	// Interceptors wrap every handler (logs, traces, metrics).
	Interceptors []connect.Interceptor
	// Draining, closed when a shutdown begins, ends each SubmitStream once
	// the requests it has taken are answered, so that streams do not hold
	// the shutdown to its grace period.
	Draining <-chan struct{}
}

// CompressMinBytes is the smallest message the Gateway and Admin services
// compress, for a client that accepts gzip: a long profile log is, a
// single read's response or an alert is not. From 1 KiB, gzip took 2% of
// the CPU of a run at 5,000 requests a second (pprof, in process), for
// messages a few KiB long.
const CompressMinBytes = 16 << 10

// Handler returns the gateway's HTTP handler: the Connect services behind
// the certificate authentication.
func Handler(g *gateway.Gateway, o Options) http.Handler {
	mux := http.NewServeMux()
	opts := []connect.HandlerOption{connect.WithCompressMinBytes(CompressMinBytes)}
	if len(o.Interceptors) > 0 {
		opts = append(opts, connect.WithInterceptors(o.Interceptors...))
	}
	path, h := dccgatev1connect.NewGatewayServiceHandler(&GatewayServer{G: g, Draining: o.Draining}, opts...)
	mux.Handle(path, h)
	if o.Admin {
		path, h := dccgatev1connect.NewAdminServiceHandler(&AdminServer{G: g, CA: o.CA}, opts...)
		mux.Handle(path, h)
	}
	for path, h := range o.Mount {
		mux.Handle(path, h)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	if o.TrustForwardedCert && o.CA != nil {
		return AuthenticateForwarded(mux, o.CA.Pool())
	}
	return Authenticate(mux)
}
