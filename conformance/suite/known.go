package suite

// KnownFailures are the cases of the suite that fail against dccgate's own
// gateway for a reason the project knows and has not yet fixed, by case key
// ("FILE#ID"), with the reason, what the case expects and what the gateway
// does. A run reports them apart and does not fail on them; one that
// passes again is reported as fixed, to be taken off this list.
var KnownFailures = []Known{}

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
