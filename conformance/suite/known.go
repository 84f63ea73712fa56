package suite

// KnownFailures are the cases of the suite that fail against dccgate's own
// gateway for a reason the project knows and has not yet fixed, by case key
// ("FILE#ID"), with the reason, what the case expects and what the gateway
// does. A run reports them apart and does not fail on them; one that
// passes again is reported as fixed, to be taken off this list.
var KnownFailures = []Known{
	{
		Case:     "8.12.yaml#role.EES",
		Expected: "accepted",
		Got:      "rejected DEVICE_REJECTED",
		Reason: "8.12 Restore HAN Device Log is critical and lists EES as eligible, but the gateway gives a " +
			"Communications Hub Function only the import supplier's supplier credential (runtime/gateway " +
			"addToFleet), so the hub refuses every critical Command an Export Supplier signs (devices/auth.go).",
	},
	{
		Case:     "8.4.yaml#role.OU",
		Expected: "accepted",
		Got:      "rejected TYPE2_NOT_SUPPORTED",
		Reason: "spec conflict: transitions.cue lets an Other User update the status of Type 2 Devices only " +
			"(8.4), while note 405 allows no service but 8.7, 8.8 (type 2) and 8.11 on a Type 2 Device; so no " +
			"device is left on which OU, an eligible role of 8.4, can be accepted.",
	},
}

// Known is a known failure.
type Known struct {
	Case     string
	Expected string
	Got      string
	Reason   string
}

// KnownMap returns the known failures by case key, with their reasons.
func KnownMap() map[string]string {
	m := map[string]string{}
	for _, k := range KnownFailures {
		m[k.Case] = k.Reason
	}
	return m
}
