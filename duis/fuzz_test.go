package duis

import (
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// FuzzDecodeRequest: no input makes the parser or the decoder panic or
// run away, and whatever decodes has a supported SRV and a permitted CV.
func FuzzDecodeRequest(f *testing.F) {
	for _, n := range []string{"read-import-registers.xml", "display-message.xml", "enable-supply.xml", "read-inventory.xml", "read-meter-balance.xml"} {
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
	s, _ := testPKI(f, "90-B3-D5-1F-30-01-00-00")
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
