package precommand

import (
	"testing"
)

// BenchmarkEncode is the Transform of one critical request (1.1 Update
// Import Tariff, prepayment: a string and three int64s).
func BenchmarkEncode(b *testing.B) {
	svc := testSpec(b).ServiceByKey("1.1/prepayment")
	cmd := exampleCommand(svc)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(svc, cmd); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode decodes that Pre-Command without the spec.
func BenchmarkDecode(b *testing.B) {
	svc := testSpec(b).ServiceByKey("1.1/prepayment")
	pc, _ := Encode(svc, exampleCommand(svc))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(pc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPreCommand is the gateway's per-critical-request cost of
// checking the user's signature: split the Signed Pre-Command, then ECDSA
// P-256 / SHA-256 verification.
func BenchmarkVerifyPreCommand(b *testing.B) {
	svc := testSpec(b).ServiceByKey("1.1/prepayment")
	pc, _ := Encode(svc, exampleCommand(svc))
	key := newKey(b)
	signed, err := Sign(pc, key)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(signed, &key.PublicKey); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMAC is the cost of making a Command of a Signed Pre-Command and
// of checking it on the device side.
func BenchmarkMAC(b *testing.B) {
	svc := testSpec(b).ServiceByKey("1.1/prepayment")
	pc, _ := Encode(svc, exampleCommand(svc))
	signed, _ := Sign(pc, newKey(b))
	dk, _ := DeviceKey(make([]byte, 32), device)
	b.ReportAllocs()
	for b.Loop() {
		cmd, err := AddMAC(signed, dk)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := CheckMAC(cmd, dk); err != nil {
			b.Fatal(err)
		}
	}
}
