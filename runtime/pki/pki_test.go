package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"testing"
	"time"
)

// TestSameKey: two certificates carry the same key when their keys are
// equal, whether or not the keys' encodings are the same bytes.
func TestSameKey(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	parse := func(pemBytes []byte, err error) *x509.Certificate {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCert(pemBytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	issue := func(id string) *x509.Certificate {
		t.Helper()
		u, err := ca.IssueUser(id, "EIS")
		return parse(u.CertPEM, err)
	}
	a, b := issue("00-00-00-00-00-00-00-0A"), issue("00-00-00-00-00-00-00-0B")
	now := time.Now()
	renewed := parse(ca.IssueUserKey(a.PublicKey.(*ecdsa.PublicKey), "00-00-00-00-00-00-00-0A", "EIS", now, now.Add(time.Hour)))
	// The same key, its encoding not kept: Equal decides.
	unencoded := *a
	unencoded.RawSubjectPublicKeyInfo = nil
	// A key of another kind, with the same encoded bytes as a's.
	_, edKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	other := *a
	other.PublicKey = edKey.Public()

	for _, tc := range []struct {
		name string
		x, y *x509.Certificate
		want bool
	}{
		{"one certificate", a, a, true},
		{"the key certified again", a, renewed, true},
		{"the key, encoding not kept", a, &unencoded, true},
		{"the key, encoding not kept, other way round", &unencoded, a, true},
		{"another user's key", a, b, false},
		{"another user's key, encoding not kept", &unencoded, b, false},
		{"not an ECDSA key", a, &other, false},
		{"not an ECDSA key, other way round", &other, a, false},
	} {
		if got := SameKey(tc.x, tc.y); got != tc.want {
			t.Errorf("%s: SameKey = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// BenchmarkSameKey is the check every request of a user with a registered
// certificate makes: the certificate it presents against that one.
func BenchmarkSameKey(b *testing.B) {
	ca, err := NewCA("bench")
	if err != nil {
		b.Fatal(err)
	}
	u, err := ca.IssueUser("00-00-00-00-00-00-00-0A", "EIS")
	if err != nil {
		b.Fatal(err)
	}
	registered, err := ParseCert(u.CertPEM)
	if err != nil {
		b.Fatal(err)
	}
	presented, err := ParseCert(u.CertPEM)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !SameKey(registered, presented) {
			b.Fatal("not the same key")
		}
	}
}
