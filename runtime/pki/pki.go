// Package pki issues and checks the certificates of a gateway's local
// deployment: a CA, the server's certificate, and one client certificate per
// User ID (the subject's common name), for mutual TLS (`dccgate dev init`,
// `serve --virtual-clock`).
package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/dccgate/dccgate/clock"
)

// CA is a certificate authority with its key.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// Validity of issued certificates: long, and from long ago, since the wall
// clock decides TLS validity while the gateway's registry judges validity
// on its own clock, which tests set to other dates.
const validity = 10 * 365 * 24 * time.Hour

var validFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var eui64 = regexp.MustCompile(`^([0-9A-F]{2}-){7}[0-9A-F]{2}$`)

// NewCA creates a CA named name.
func NewCA(name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := clock.Real{}.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"dccgate"}},
		NotBefore:             validFrom,
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pemBlock("CERTIFICATE", der), key: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PRIVATE KEY", der), nil
}

// Issued is a certificate and its key, both PEM.
type Issued struct {
	CertPEM []byte
	KeyPEM  []byte
}

// IssueUser issues a client certificate whose common name is the User ID
// and whose organizational unit is the role.
func (ca *CA) IssueUser(userID, role string) (Issued, error) {
	if !eui64.MatchString(userID) {
		return Issued{}, fmt.Errorf("pki: user ID %q is not an EUI-64", userID)
	}
	return ca.issue(pkix.Name{CommonName: userID, OrganizationalUnit: []string{role}}, nil, x509.ExtKeyUsageClientAuth)
}

// IssueServer issues a server certificate for the hosts (names or IPs).
func (ca *CA) IssueServer(hosts ...string) (Issued, error) {
	return ca.issue(pkix.Name{CommonName: "dccgate"}, hosts, x509.ExtKeyUsageServerAuth)
}

func (ca *CA) issue(subject pkix.Name, hosts []string, usage x509.ExtKeyUsage) (Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Issued{}, err
	}
	now := clock.Real{}.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    validFrom,
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return Issued{}, err
	}
	kp, err := KeyPEM(key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{CertPEM: pemBlock("CERTIFICATE", der), KeyPEM: kp}, nil
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Save writes ca.pem and ca-key.pem (0600) into dir.
func (ca *CA) Save(dir string) error {
	kp, err := KeyPEM(ca.key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM, 0o644); err != nil {
		return err
	}
	return WriteKey(filepath.Join(dir, "ca-key.pem"), kp)
}

// LoadCA reads ca.pem and ca-key.pem from dir.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
	if err != nil {
		return nil, err
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := ParseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// WriteKey writes a private key file readable by its owner only.
func WriteKey(path string, keyPEM []byte) error {
	return os.WriteFile(path, keyPEM, 0o600)
}

// ParseCert parses the first certificate of a PEM.
func ParseCert(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("pki: no CERTIFICATE block")
	}
	return x509.ParseCertificate(blk.Bytes)
}

// ParseKey parses a PKCS#8 or SEC 1 EC private key PEM: the first
// private key block, past any other (openssl ecparam -genkey writes the
// curve's EC PARAMETERS first).
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return nil, errors.New("pki: no private key PEM block")
		}
		if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			continue
		}
		if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, errors.New("pki: key is not ECDSA")
			}
			return ek, nil
		}
		return x509.ParseECPrivateKey(blk.Bytes)
	}
}

// UserID returns the User ID a client certificate names, or an error if it
// names none.
func UserID(cert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", errors.New("pki: no client certificate")
	}
	if !eui64.MatchString(cert.Subject.CommonName) {
		return "", fmt.Errorf("pki: certificate subject %q names no User ID", cert.Subject.CommonName)
	}
	return cert.Subject.CommonName, nil
}

// ServerTLS is the TLS configuration of a gateway that requires client
// certificates signed by ca (mutual TLS, HTTP/2).
func ServerTLS(ca *CA, server Issued) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(server.CertPEM, server.KeyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

// ClientTLS is the TLS configuration of a client presenting a user's
// certificate to a gateway whose server certificate ca signed.
func ClientTLS(caPEM []byte, user Issued) (*tls.Config, error) {
	pair, err := tls.X509KeyPair(user.CertPEM, user.KeyPEM)
	if err != nil {
		return nil, err
	}
	cfg, err := AnonymousTLS(caPEM)
	if err != nil {
		return nil, err
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// AnonymousTLS is ClientTLS for a client that presents no certificate (a
// party that is not a user), trusting the gateway's server certificate as
// ClientTLS does.
func AnonymousTLS(caPEM []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("pki: no CA certificate in PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}, nil
}

// ClientHTTP is an HTTP/2 client presenting a user's certificate to a
// gateway whose server certificate ca signed (ClientTLS), keeping up to
// maxIdle idle connections to it (0: net/http's default).
func ClientHTTP(caPEM []byte, user Issued, maxIdle int) (*http.Client, error) {
	cfg, err := ClientTLS(caPEM, user)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: maxIdle}}, nil
}

// Sign signs msg with ECDSA P-256 over SHA-256 (ASN.1 DER signature).
func Sign(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, key, h[:])
}

// Verify checks an ECDSA P-256 SHA-256 signature by the certificate's key.
func Verify(cert *x509.Certificate, msg, sig []byte) bool {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(pub, h[:], sig)
}

// IssueAdmin issues the admin client certificate (common name name).
func (ca *CA) IssueAdmin(name string) (Issued, error) {
	return ca.issue(pkix.Name{CommonName: name, OrganizationalUnit: []string{"admin"}}, nil, x509.ExtKeyUsageClientAuth)
}

// IssueUserKey issues a certificate for an existing public key, valid from
// notBefore to notAfter (the registry's view of a user's validity period).
func (ca *CA) IssueUserKey(pub *ecdsa.PublicKey, userID, role string, notBefore, notAfter time.Time) ([]byte, error) {
	if !eui64.MatchString(userID) {
		return nil, fmt.Errorf("pki: user ID %q is not an EUI-64", userID)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: userID, OrganizationalUnit: []string{role}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, err
	}
	return pemBlock("CERTIFICATE", der), nil
}

// SameKey reports whether two certificates carry the same public key.
func SameKey(a, b *x509.Certificate) bool {
	pa, ok1 := a.PublicKey.(*ecdsa.PublicKey)
	pb, ok2 := b.PublicKey.(*ecdsa.PublicKey)
	if !ok1 || !ok2 {
		return false
	}
	// A user presenting its registered certificate, on every request: the
	// encoded keys decide it. Equal, which copies out the coordinates'
	// bytes, is left for encodings that differ.
	if len(a.RawSubjectPublicKeyInfo) > 0 && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo) {
		return true
	}
	return pa.Equal(pb)
}
