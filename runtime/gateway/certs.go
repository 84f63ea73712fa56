package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// The user key registry (para 134: "confirmation of the validity of the
// security certificate"): each user's current certificate is on its user
// record. A certificate is valid when it is the user's current one, inside
// its validity period on the gateway's clock, and not revoked. Revoking
// replaces the record's certificate with the revocation marker, so no
// certificate of that user verifies until a new one is registered.

// RevokedMarker stands in a user's record for a revoked certificate.
const RevokedMarker = "REVOKED"

type presentedKey struct{}

// WithPresented returns a context carrying the certificate the caller
// presented (the TLS client certificate), for the registry check.
func WithPresented(ctx context.Context, cert *x509.Certificate) context.Context {
	return context.WithValue(ctx, presentedKey{}, cert)
}

func presented(ctx context.Context) *x509.Certificate {
	c, _ := ctx.Value(presentedKey{}).(*x509.Certificate)
	return c
}

// certificateProblem says why a user's certificate is not valid at `at`,
// or "" when it is. presented, if known, must carry the registered key.
func certificateProblem(u store.User, presented *x509.Certificate, at time.Time) string {
	switch u.CertPEM {
	case "":
		return "" // no registry entry: authentication alone decides
	case RevokedMarker:
		return "the user's certificate is revoked"
	}
	reg, err := parseRegistered(u.CertPEM)
	if err != nil {
		return "the registered certificate does not parse"
	}
	if at.Before(reg.NotBefore) || at.After(reg.NotAfter) {
		return fmt.Sprintf("the certificate is valid from %s to %s", reg.NotBefore.UTC().Format(time.RFC3339), reg.NotAfter.UTC().Format(time.RFC3339))
	}
	if presented != nil && !pki.SameKey(reg, presented) {
		return "the certificate presented is not the user's registered certificate"
	}
	return ""
}

// RegisterCertificate makes certPEM the user's current certificate.
func (g *Gateway) RegisterCertificate(ctx context.Context, userID string, certPEM []byte) error {
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return err
	}
	if id, err := pki.UserID(cert); err != nil || id != userID {
		return errors.New("gateway: the certificate does not name the user")
	}
	u, err := g.st.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	u.CertPEM = string(certPEM)
	return g.putUser(ctx, u)
}

// RevokeCertificate revokes the user's current certificate.
func (g *Gateway) RevokeCertificate(ctx context.Context, userID string) error {
	u, err := g.st.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	u.CertPEM = RevokedMarker
	return g.putUser(ctx, u)
}
