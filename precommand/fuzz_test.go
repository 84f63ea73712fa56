package precommand

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, and what
// it accepts must be what the encoder writes, byte for byte (one encoding
// per meaning, so a signature covers one meaning only).
func FuzzDecode(f *testing.F) {
	sp := testSpec(f)
	key := newKey(f)
	for _, k := range []string{"1.1/prepayment", "6.4", "6.6", "8.11", "4.8", "7.1"} {
		svc := sp.ServiceByKey(k)
		pc, err := Encode(svc, exampleCommand(svc))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(pc)
		signed, _ := Sign(pc, key)
		f.Add(signed)
		cmd, _ := AddMAC(signed, bytes.Repeat([]byte{1}, 32))
		f.Add(cmd)
	}
	f.Add([]byte("DCPC\x01"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if again := marshal(m); !bytes.Equal(again, data) {
			t.Fatalf("accepted %x, which re-encodes as %x", data, again)
		}
		if !bytes.HasPrefix(data, m.PreCommand) {
			t.Fatal("PreCommand is not a prefix")
		}
		for _, svc := range sp.Services {
			if svc.Key() == m.Service {
				_, _ = m.Body(svc)
			}
		}
	})
}
