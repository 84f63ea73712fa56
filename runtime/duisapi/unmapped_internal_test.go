package duisapi

import (
	"strings"
	"testing"

	"github.com/dccgate/dccgate/spec"
)

// TestUnmappedField: a body field the SRV reads from no element is named
// as such in the refusal, in place of the rule its empty value failed; a
// field the SRV maps, or sets, keeps the engine's message.
func TestUnmappedField(t *testing.T) {
	d := spec.MustDefault().DUIS
	inv := d.SRV("8.4")
	if inv == nil || len(inv.Fields) > 0 || len(inv.Set) > 0 {
		t.Fatalf("8.4 of spec/duis.cue: %+v (this test wants an SRV that maps no field)", inv)
	}
	gas := d.SRV("6.7")
	if gas == nil || gas.Fields["uncontrolled_flow_limit"] == "" {
		t.Fatalf("6.7 of spec/duis.cue: %+v", gas)
	}
	tests := []struct {
		note      string
		srv       *spec.SRV
		msg       string
		rewritten bool
	}{
		{"a field the SRV does not read", inv, "field status does not satisfy value in ['pending']", true},
		{"a required field the SRV does not read", inv, "field status is required", true},
		{"a field the SRV reads", gas, "field uncontrolled_flow_limit does not satisfy value > 0.0", false},
		{"another refusal", inv, "the service needs a target device", false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got := unmappedField(tc.srv, tc.msg)
			want := tc.msg
			if tc.rewritten {
				want = "nothing in " + tc.srv.Element + " gives status: "
			}
			if !strings.HasPrefix(got, want) {
				t.Fatalf("%q, want it to begin %q", got, want)
			}
		})
	}
}
