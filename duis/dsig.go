package duis

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
)

// The algorithms DUIS uses, and nothing else is accepted.
const (
	NSDSig          = "http://www.w3.org/2000/09/xmldsig#"
	AlgExcC14N      = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgECDSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgEnveloped    = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgSHA256       = "http://www.w3.org/2001/04/xmlenc#sha256"
	signatureLength = 64
)

// IssuerSerial names a certificate as KeyInfo/X509Data/X509IssuerSerial
// does: the issuer's distinguished name as a string and the serial number.
type IssuerSerial struct {
	Issuer string
	Serial *big.Int
}

func (is IssuerSerial) String() string { return is.Issuer + " #" + is.Serial.String() }

// Signature is a verified signature: who signed.
type Signature struct {
	Key IssuerSerial
}

// Lookup finds the public key of the certificate a signature names, in
// the caller's registry; nil if it knows none.
type Lookup func(IssuerSerial) *ecdsa.PublicKey

// Sign signs the document as DUIS does: it removes any signature the root
// holds, then appends to the root an enveloped ds:Signature over the whole
// document (Reference URI "", the enveloped-signature transform, SHA-256
// over the inclusive canonical form), SignedInfo in exclusive C14N, signed
// with ECDSA P-256 SHA-256 as raw r||s, and KeyInfo naming the
// certificate by issuer and serial. It returns the signed bytes.
func Sign(doc *Document, key *ecdsa.PrivateKey, cert IssuerSerial) ([]byte, error) {
	if key == nil || key.Curve.Params().BitSize != 256 {
		return nil, fmt.Errorf("duis: a P-256 key is needed")
	}
	root := doc.Root
	var kept []Node
	for _, c := range root.Children {
		if e, ok := c.(*Element); ok && e.Is(NSDSig, "Signature") {
			continue
		}
		kept = append(kept, c)
	}
	root.Children = kept
	digest := sha256.Sum256(Canonical(root, nil))
	p := sigPrefix(root)
	q := func(local string) string {
		if p == "" {
			return local
		}
		return p + ":" + local
	}
	signedInfo := fmt.Sprintf(`<%s><%s Algorithm="%s"/><%s Algorithm="%s"/><%s URI=""><%s><%s Algorithm="%s"/></%s><%s Algorithm="%s"/><%s>%s</%s></%s></%s>`,
		q("SignedInfo"), q("CanonicalizationMethod"), AlgExcC14N, q("SignatureMethod"), AlgECDSASHA256,
		q("Reference"), q("Transforms"), q("Transform"), AlgEnveloped, q("Transforms"),
		q("DigestMethod"), AlgSHA256, q("DigestValue"), base64.StdEncoding.EncodeToString(digest[:]), q("DigestValue"),
		q("Reference"), q("SignedInfo"))
	decl := ""
	if root.inScope()[p] != NSDSig {
		decl = fmt.Sprintf(` xmlns:%s="%s"`, p, NSDSig)
	}
	sigXML := fmt.Sprintf(`<%s%s>%s<%s></%s><%s><%s><%s><%s>%s</%s><%s>%s</%s></%s></%s></%s></%s>`,
		q("Signature"), decl, signedInfo, q("SignatureValue"), q("SignatureValue"),
		q("KeyInfo"), q("X509Data"), q("X509IssuerSerial"), q("X509IssuerName"), xmlEscape(cert.Issuer), q("X509IssuerName"),
		q("X509SerialNumber"), cert.Serial.String(), q("X509SerialNumber"), q("X509IssuerSerial"), q("X509Data"), q("KeyInfo"), q("Signature"))
	sigEl, err := parseFragment(root, sigXML)
	if err != nil {
		return nil, err
	}
	si := sigEl.Elements()[0]
	h := sha256.Sum256(ExclusiveCanonical(si))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return nil, err
	}
	raw := make([]byte, signatureLength)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	sigEl.Elements()[1].Children = []Node{Text(base64.StdEncoding.EncodeToString(raw))}
	sigEl.Parent = root
	root.Children = append(root.Children, sigEl)
	return Serialize(doc), nil
}

// sigPrefix is the prefix the signature uses: one the document already
// binds to the XMLDSig namespace at the root (the first in order, so the
// choice is the same every time), else "ds", or "ds1", "ds2"... where the
// document binds "ds" to another namespace (the signature's elements must
// be XMLDSig's, not that namespace's).
func sigPrefix(root *Element) string {
	scope := root.inScope()
	var bound []string
	for p, u := range scope {
		if u == NSDSig && p != "" {
			bound = append(bound, p)
		}
	}
	if len(bound) > 0 {
		sort.Strings(bound)
		return bound[0]
	}
	p := "ds"
	for i := 1; ; i++ {
		if _, taken := scope[p]; !taken {
			return p
		}
		p = "ds" + strconv.Itoa(i)
	}
}

// parseFragment parses xml as a child of parent (so it sees the parent's
// namespace bindings).
func parseFragment(parent *Element, x string) (*Element, error) {
	var decls strings.Builder
	for p, u := range parent.inScope() {
		if p == "" {
			fmt.Fprintf(&decls, ` xmlns="%s"`, xmlEscape(u))
		} else {
			fmt.Fprintf(&decls, ` xmlns:%s="%s"`, p, xmlEscape(u))
		}
	}
	d, err := Parse([]byte("<wrap"+decls.String()+">"+x+"</wrap>"), DefaultLimits)
	if err != nil {
		return nil, err
	}
	e := d.Root.Elements()[0]
	e.Parent = parent
	fixSpaces(e)
	return e, nil
}

// fixSpaces resolves namespaces again after a subtree moved.
func fixSpaces(e *Element) {
	e.walk(func(x *Element) { x.Space, _ = x.lookupNS(x.Prefix) })
}

// Verify checks the document's signature against the key lookup finds.
// Accepted is exactly the DUIS form: one ds:Signature in the whole
// document, the last element child of the root, with one Reference whose
// URI is "" (the whole document, so the element verified is the root the
// caller then acts on: no signature wrapping), the enveloped-signature
// transform alone, SHA-256, exclusive C14N of SignedInfo, ECDSA P-256
// SHA-256 as raw r||s, and KeyInfo holding X509IssuerSerial only.
func Verify(doc *Document, lookup Lookup) (*Signature, error) {
	root := doc.Root
	var sig *Element
	count := 0
	root.walk(func(e *Element) {
		if e.Is(NSDSig, "Signature") {
			count++
			sig = e
		}
	})
	switch {
	case count == 0:
		return nil, perr(CodeSignature, "the document is not signed")
	case count > 1:
		return nil, perr(CodeSignature, "%d signatures: exactly one is accepted", count)
	case sig.Parent != root:
		return nil, perr(CodeSignature, "the signature must be a child of the root element")
	}
	els := root.Elements()
	if els[len(els)-1] != sig {
		return nil, perr(CodeSignature, "the signature must be the root's last element")
	}
	parts := sig.Elements()
	if len(parts) != 3 || !parts[0].Is(NSDSig, "SignedInfo") || !parts[1].Is(NSDSig, "SignatureValue") || !parts[2].Is(NSDSig, "KeyInfo") {
		return nil, perr(CodeSignature, "Signature must hold SignedInfo, SignatureValue and KeyInfo, in that order")
	}
	si, sv, ki := parts[0], parts[1], parts[2]
	sip := si.Elements()
	if len(sip) != 3 || !sip[0].Is(NSDSig, "CanonicalizationMethod") || !sip[1].Is(NSDSig, "SignatureMethod") || !sip[2].Is(NSDSig, "Reference") {
		return nil, perr(CodeSignature, "SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference")
	}
	if a, _ := sip[0].Attr("Algorithm"); a != AlgExcC14N || len(sip[0].Elements()) != 0 {
		return nil, perr(CodeSignature, "canonicalization %q: only exclusive C14N without comments is accepted", a)
	}
	if a, _ := sip[1].Attr("Algorithm"); a != AlgECDSASHA256 {
		return nil, perr(CodeSignature, "signature method %q: only ECDSA SHA-256 is accepted", a)
	}
	ref := sip[2]
	if u, ok := ref.Attr("URI"); !ok || u != "" {
		return nil, perr(CodeSignature, "the Reference must have URI \"\" (the whole document)")
	}
	for _, a := range ref.Attrs {
		if !ref.isNSDecl(a) && !(a.Prefix == "" && a.Local == "URI") {
			return nil, perr(CodeSignature, "the Reference has attribute %s", a.Local)
		}
	}
	rp := ref.Elements()
	if len(rp) != 3 || !rp[0].Is(NSDSig, "Transforms") || !rp[1].Is(NSDSig, "DigestMethod") || !rp[2].Is(NSDSig, "DigestValue") {
		return nil, perr(CodeSignature, "Reference must hold Transforms, DigestMethod and DigestValue")
	}
	tr := rp[0].Elements()
	if len(tr) != 1 || !tr[0].Is(NSDSig, "Transform") {
		return nil, perr(CodeSignature, "exactly one Transform, enveloped-signature, is accepted")
	}
	if a, _ := tr[0].Attr("Algorithm"); a != AlgEnveloped || len(tr[0].Elements()) != 0 {
		return nil, perr(CodeSignature, "transform %q: only enveloped-signature is accepted", a)
	}
	if a, _ := rp[1].Attr("Algorithm"); a != AlgSHA256 {
		return nil, perr(CodeSignature, "digest method %q: only SHA-256 is accepted", a)
	}
	wantDigest, err := b64(rp[2].Text())
	if err != nil || len(wantDigest) != sha256.Size {
		return nil, perr(CodeSignature, "DigestValue is not a base64 SHA-256 digest")
	}
	key, err := keyInfo(ki)
	if err != nil {
		return nil, err
	}
	raw, err := b64(sv.Text())
	if err != nil || len(raw) != signatureLength {
		return nil, perr(CodeSignature, "SignatureValue is not a raw 64-byte r||s")
	}
	pub := lookup(key)
	if pub == nil {
		return nil, perr(CodeUnknownCertificate, "no certificate %s", key)
	}
	digest := sha256.Sum256(Canonical(root, sig))
	if !bytes.Equal(digest[:], wantDigest) {
		return nil, perr(CodeSignature, "the digest does not match the document")
	}
	h := sha256.Sum256(ExclusiveCanonical(si))
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return nil, perr(CodeSignature, "the signature does not verify against %s", key)
	}
	return &Signature{Key: key}, nil
}

func keyInfo(ki *Element) (IssuerSerial, error) {
	kp := ki.Elements()
	if len(kp) != 1 || !kp[0].Is(NSDSig, "X509Data") {
		return IssuerSerial{}, perr(CodeSignature, "KeyInfo must hold one X509Data")
	}
	xd := kp[0].Elements()
	if len(xd) != 1 || !xd[0].Is(NSDSig, "X509IssuerSerial") {
		return IssuerSerial{}, perr(CodeSignature, "X509Data must hold one X509IssuerSerial (no certificate travels in the message)")
	}
	is := xd[0].Elements()
	if len(is) != 2 || !is[0].Is(NSDSig, "X509IssuerName") || !is[1].Is(NSDSig, "X509SerialNumber") {
		return IssuerSerial{}, perr(CodeSignature, "X509IssuerSerial must hold X509IssuerName and X509SerialNumber")
	}
	serial, ok := new(big.Int).SetString(strings.TrimSpace(is[1].Text()), 10)
	if !ok || serial.Sign() < 0 || serial.BitLen() > 160 {
		return IssuerSerial{}, perr(CodeSignature, "X509SerialNumber is not a serial number")
	}
	return IssuerSerial{Issuer: strings.TrimSpace(is[0].Text()), Serial: serial}, nil
}

func b64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	return base64.StdEncoding.DecodeString(s)
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	escapeAttr(&b, s)
	return strings.ReplaceAll(b.String(), ">", "&gt;")
}

// Serialize writes the document with an XML declaration; the element tree
// is written in its canonical form (namespace declarations where the
// source had them), which parses back to the same tree.
func Serialize(doc *Document) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.Write(Canonical(doc.Root, nil))
	return b.Bytes()
}
