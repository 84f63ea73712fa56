package duis

import (
	"crypto/ecdsa"
	"os"
	"path/filepath"
	"testing"
)

// TestInteropDCCBoxed verifies a response signed by DCC Boxed itself, when
// DCCGATE_DUIS_INTEROP names a directory holding response.xml (a signed
// sr:Response, e.g. readfw-response.xml of SmartDCCInnovation/duis-parser)
// and cert.pem (the DSP certificate that signed it, from
// SmartDCCInnovation/dccboxed-signing-tool). Those files are GPL-3.0 and are
// not shipped here; with them, this checks both canonicalizations and the
// raw r||s signature against DCC's own implementation.
func TestInteropDCCBoxed(t *testing.T) {
	dir := os.Getenv("DCCGATE_DUIS_INTEROP")
	if dir == "" {
		t.Skip("DCCGATE_DUIS_INTEROP not set")
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	x, err := os.ReadFile(filepath.Join(dir, "response.xml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := Parse(x, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(doc, func(is IssuerSerial) *ecdsa.PublicKey {
		if SameName(is.Issuer, c.IssuerSerial().Issuer) && is.Serial.Cmp(c.Serial) == 0 {
			return c.PublicKey
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
