package devices

import (
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// benchCommand is a sealed Command of key to the ESME from its supplier,
// signed when the service is critical.
func benchCommand(b *testing.B, e *env, key string) (Command, *spec.Service) {
	b.Helper()
	ref, variant, _ := cut(key)
	svc := e.f.Spec().Service(ref, variant)
	cmd, signer := e.unsealed(svc, esme)
	return seal(cmd, signer), svc
}

// BenchmarkDeviceAuthenticate is the device side of the security of one
// Command, alone: read the Command, check the DCC's MAC under the device's
// key, check it is addressed here and means the Command, and for a critical
// one resolve the credential holder's key and verify the ECDSA P-256
// signature.
func BenchmarkDeviceAuthenticate(b *testing.B) {
	for _, key := range []string{"1.1/prepayment", "4.1"} {
		b.Run(key, func(b *testing.B) {
			e := newEnv(b)
			cmd, svc := benchCommand(b, e, key)
			t := e.f.begin()
			defer e.f.end(t)
			c := &call{f: e.f, t: t, d: e.f.devices[esme], cmd: cmd, svc: svc}
			b.ReportAllocs()
			for b.Loop() {
				if err := c.authenticate(svc.Critical); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExecute is a whole Command on the device: authentication and
// the service (an import tariff update, critical; a register read, not).
func BenchmarkExecute(b *testing.B) {
	for _, key := range []string{"1.1/prepayment", "4.1"} {
		b.Run(key, func(b *testing.B) {
			e := newEnv(b)
			cmd, _ := benchCommand(b, e, key)
			b.ReportAllocs()
			for b.Loop() {
				if r := e.f.Execute(cmd); !r.OK {
					b.Fatal(r.Detail)
				}
			}
		})
	}
}
