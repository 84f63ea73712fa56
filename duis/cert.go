package duis

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
)

// OIDUniqueIdentifier is x500UniqueIdentifier (2.5.4.45), the attribute
// of a DCC user certificate's subject that carries the User ID (EUI-64) as
// a BIT STRING. crypto/x509 refuses a BIT STRING in a name, so the
// certificates are read here with encoding/asn1.
var OIDUniqueIdentifier = asn1.ObjectIdentifier{2, 5, 4, 45}

var attrNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.45": "x500UniqueIdentifier", "2.5.4.5": "SERIALNUMBER", "0.9.2342.19200300.100.1.25": "DC",
}

// Cert is what the gateway needs of a certificate: who issued it, its
// serial, the subject's User ID, its key and validity.
type Cert struct {
	Raw       []byte
	Serial    *big.Int
	Issuer    pkix.RDNSequence
	Subject   pkix.RDNSequence
	EUI64     string // from x500UniqueIdentifier; "" if absent
	PublicKey *ecdsa.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
	tbs       []byte
	sig       []byte
}

type certificate struct {
	TBS    asn1.RawValue
	SigAlg pkix.AlgorithmIdentifier
	Sig    asn1.BitString
}

type tbsCertificate struct {
	Version  int `asn1:"optional,explicit,default:0,tag:0"`
	Serial   *big.Int
	SigAlg   pkix.AlgorithmIdentifier
	Issuer   asn1.RawValue
	Validity struct{ NotBefore, NotAfter time.Time }
	Subject  asn1.RawValue
	SPKI     asn1.RawValue
	Rest     []asn1.RawValue `asn1:"optional"`
}

// ParseCert reads a DER certificate, x500UniqueIdentifier included.
func ParseCert(der []byte) (*Cert, error) {
	var c certificate
	rest, err := asn1.Unmarshal(der, &c)
	if err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("duis: certificate: not DER: %v", err)
	}
	var t tbsCertificate
	if _, err := asn1.Unmarshal(c.TBS.FullBytes, &t); err != nil {
		return nil, fmt.Errorf("duis: certificate: %w", err)
	}
	out := &Cert{Raw: der, Serial: t.Serial, NotBefore: t.Validity.NotBefore, NotAfter: t.Validity.NotAfter, tbs: c.TBS.FullBytes, sig: c.Sig.Bytes}
	if _, err := asn1.Unmarshal(t.Issuer.FullBytes, &out.Issuer); err != nil {
		return nil, fmt.Errorf("duis: certificate issuer: %w", err)
	}
	if _, err := asn1.Unmarshal(t.Subject.FullBytes, &out.Subject); err != nil {
		return nil, fmt.Errorf("duis: certificate subject: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(t.SPKI.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("duis: certificate key: %w", err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve.Params().BitSize != 256 {
		return nil, errors.New("duis: certificate key is not ECDSA P-256")
	}
	out.PublicKey = ec
	for _, rdn := range out.Subject {
		for _, a := range rdn {
			if a.Type.Equal(OIDUniqueIdentifier) {
				bs, ok := a.Value.(asn1.BitString)
				if !ok || bs.BitLength != 64 {
					// openssl's -subj "/x500UniqueIdentifier=..." writes a
					// UTF8String: said, not skipped in silence.
					return nil, fmt.Errorf("duis: certificate's x500UniqueIdentifier is %s, not the 64-bit BIT STRING of a User ID (X.520, as DCC certificates carry it)", describeValue(a.Value))
				}
				out.EUI64 = formatEUI(bs.Bytes)
			}
		}
	}
	return out, nil
}

// ParseCertPEM reads the first CERTIFICATE block of a PEM file.
func ParseCertPEM(b []byte) (*Cert, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("duis: no CERTIFICATE in the PEM")
		}
		if blk.Type == "CERTIFICATE" {
			return ParseCert(blk.Bytes)
		}
	}
}

// CheckSignatureFrom reports whether the issuer's key signed c (ECDSA with
// SHA-256, the DCC's algorithm).
func (c *Cert) CheckSignatureFrom(issuer *ecdsa.PublicKey) bool {
	h := sha256.Sum256(c.tbs)
	return ecdsa.VerifyASN1(issuer, h[:], c.sig)
}

// IssuerSerial names c as a signature's KeyInfo does.
func (c *Cert) IssuerSerial() IssuerSerial {
	return IssuerSerial{Issuer: NameString(c.Issuer), Serial: c.Serial}
}

// NameString writes a name as RFC 4514 does (the last RDN first,
// "CN=Z1,OU=07"); a BIT STRING value as hex.
func NameString(n pkix.RDNSequence) string {
	var parts []string
	for i := len(n) - 1; i >= 0; i-- {
		var attrs []string
		for _, a := range n[i] {
			name, ok := attrNames[a.Type.String()]
			if !ok {
				name = a.Type.String()
			}
			var v string
			switch x := a.Value.(type) {
			case string:
				v = escapeDN(x)
			case asn1.BitString:
				v = "#" + hex.EncodeToString(x.Bytes)
			default:
				v = fmt.Sprint(x)
			}
			attrs = append(attrs, name+"="+v)
		}
		parts = append(parts, strings.Join(attrs, "+"))
	}
	return strings.Join(parts, ",")
}

func escapeDN(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `+`, `\+`, `"`, `\"`, `<`, `\<`, `>`, `\>`, `;`, `\;`)
	return r.Replace(s)
}

// SameName reports whether two distinguished names, as strings, name the
// same entity: the same attribute types and values, whatever the order of
// the RDNs and the spaces after commas (DUIS tools write "CN=Z1,OU=07"
// and "CN=Z1, OU=07" alike).
func SameName(a, b string) bool {
	na, nb := dnSet(a), dnSet(b)
	if len(na) != len(nb) || len(na) == 0 {
		return false
	}
	for i := range na {
		if na[i] != nb[i] {
			return false
		}
	}
	return true
}

func dnSet(s string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		kv := strings.TrimSpace(cur.String())
		cur.Reset()
		if kv == "" {
			return
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			out = append(out, "?"+kv)
			return
		}
		out = append(out, strings.ToUpper(strings.TrimSpace(k))+"="+strings.TrimSpace(v))
	}
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case r == '\\':
			cur.WriteRune(r)
			esc = true
		case r == ',' || r == '+' || r == ';':
			flush()
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	sort.Strings(out)
	return out
}

func formatEUI(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, "-")
}

// describeValue names an attribute value's ASN.1 kind for an error.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the text %q", x)
	case asn1.BitString:
		return fmt.Sprintf("a BIT STRING of %d bits", x.BitLength)
	}
	return fmt.Sprintf("a %T", v)
}

// ParseEUI64 reads "90-B3-D5-1F-30-01-00-00" (hex, upper or lower case).
func ParseEUI64(s string) ([]byte, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 8 {
		return nil, fmt.Errorf("duis: %q is not an EUI-64", s)
	}
	out := make([]byte, 8)
	for i, p := range parts {
		b, err := hex.DecodeString(p)
		if err != nil || len(b) != 1 {
			return nil, fmt.Errorf("duis: %q is not an EUI-64", s)
		}
		out[i] = b[0]
	}
	return out, nil
}

// UserSubject is the subject of a DCC user certificate: x500UniqueIdentifier
// (the User ID as a 64-bit BIT STRING) and the role code as OU.
func UserSubject(eui64, role string) ([]byte, error) {
	id, err := ParseEUI64(eui64)
	if err != nil {
		return nil, err
	}
	rdn := pkix.RDNSequence{
		{{Type: OIDUniqueIdentifier, Value: asn1.BitString{Bytes: id, BitLength: 64}}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: role}},
	}
	return asn1.Marshal(rdn)
}

// IssueUser issues a DCC-form user certificate for the User ID and role,
// signed by the CA's certificate and key, valid from notBefore to notAfter.
func IssueUser(caCert *x509.Certificate, caKey *ecdsa.PrivateKey, eui64, role string, pub *ecdsa.PublicKey, notBefore, notAfter time.Time) ([]byte, error) {
	subject, err := UserSubject(eui64, role)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		RawSubject:   subject,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	return x509.CreateCertificate(rand.Reader, tmpl, caCert, pub, caKey)
}
