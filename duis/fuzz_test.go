package duis

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// FuzzDecodeRequest: no input makes the parser or the decoder panic or
// run away, and whatever decodes has a supported SRV and a permitted CV.
func FuzzDecodeRequest(f *testing.F) {
	for _, n := range []string{"read-import-registers.xml", "display-message.xml", "enable-supply.xml", "read-inventory.xml", "read-meter-balance.xml",
		"create-schedule.xml", "create-schedule-read-log.xml", "read-schedule.xml", "delete-schedule.xml", "billing-calendar-electricity.xml", "billing-calendar-gas.xml"} {
		f.Add(fixture(f, n))
	}
	f.Add([]byte(`<!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>`))
	sp := spec.MustDefault()
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Parse(b, DefaultLimits)
		if err != nil {
			return
		}
		_ = Canonical(doc.Root, nil)
		r, err := DecodeRequest(doc, sp)
		if err != nil {
			return
		}
		if r.SRV == nil || !sp.DUIS.Permits(r.CommandVariant, r.SRV) {
			t.Fatalf("decoded a request the spec does not permit: %+v", r)
		}
	})
}

// FuzzVerify: mutations of a signed document never verify unless the
// canonical document is unchanged.
func FuzzVerify(f *testing.F) {
	// A fixed key and certificate: each fuzz worker is a process of its
	// own and runs this again; with a signer of its own (a new key, a
	// random serial) it would verify none of the seeds its coordinator
	// signed, and never reach the check below.
	s := fixedSigner(f)
	signedContent := map[string]bool{}
	for _, n := range []string{"read-import-registers.xml", "display-message.xml"} {
		signed := s.sign(f, fixture(f, n))
		f.Add(signed)
		doc, _ := Parse(signed, DefaultLimits)
		signedContent[string(Canonical(doc.Root, lastSignature(doc.Root)))] = true
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := Parse(b, DefaultLimits)
		if err != nil {
			return
		}
		if _, err := Verify(doc, s.lookup); err != nil {
			return
		}
		// What verified must be content that was signed.
		if !signedContent[string(Canonical(doc.Root, lastSignature(doc.Root)))] {
			t.Fatalf("a changed document verified:\n%s", b)
		}
	})
}

func lastSignature(root *Element) *Element {
	var sig *Element
	for _, e := range root.Elements() {
		if e.Is(NSDSig, "Signature") {
			sig = e
		}
	}
	return sig
}

// fixedSigner is the signer of testdata/fuzz-user-key.pem and
// fuzz-user.pem.
func fixedSigner(t testing.TB) signer {
	t.Helper()
	block := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		return blk.Bytes
	}
	key, err := x509.ParseECPrivateKey(block("fuzz-user-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCert(block("fuzz-user.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return signer{key, cert}
}
