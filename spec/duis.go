package spec

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DUIS is spec/duis.cue: how the DUIS XML interface maps onto the schedule.
type DUIS struct {
	Namespace        string                    `json:"namespace"`
	SchemaVersion    string                    `json:"schema_version"`
	OwnSchemaVersion string                    `json:"own_schema_version"`
	ExecutionElement string                    `json:"execution_element"`
	Clause           string                    `json:"clause"`
	Endpoints        map[string]DUISEndpoint   `json:"endpoints"`
	CommandVariants  map[string]CommandVariant `json:"command_variants"`
	ResponseCodes    map[string]string         `json:"response_codes"`
	ReasonCodes      map[string]string         `json:"reason_codes"`
	EnvelopeCodes    map[string]string         `json:"envelope_codes"`
	ResultCode       string                    `json:"result_code"`
	SRVs             []*SRV                    `json:"srvs"`
	Postdated        []*PostdatedSRV           `json:"postdated"`
	Schedule         DUISSchedule              `json:"schedule"`
	Boxed            Boxed                     `json:"boxed"`

	bySRV          map[string]*SRV
	postdatedBySRV map[string]*PostdatedSRV
}

// DUISEndpoint is one web service URL of the DCC User Gateway.
type DUISEndpoint struct {
	Path string `json:"path"`
	Doc  string `json:"doc"`
}

// CommandVariant is one DUIS CommandVariant value. Critical nil means the
// variant does not constrain the critical flag.
type CommandVariant struct {
	Doc       string `json:"doc"`
	Endpoint  string `json:"endpoint"`
	Critical  *bool  `json:"critical,omitempty"`
	NonDevice bool   `json:"non_device,omitempty"`
	Signed    bool   `json:"signed,omitempty"`
	CoS       bool   `json:"cos,omitempty"` // also fits a Change of Supplier service (para 143-146)
	Delivery  string `json:"delivery"`
}

// SRV is one DUIS Service Reference Variant the gateway accepts.
type SRV struct {
	SRV     string            `json:"srv"`
	Element string            `json:"element"`
	Ref     string            `json:"ref"`
	Variant string            `json:"variant,omitempty"`
	Set     map[string]any    `json:"set,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`
	// Device is the mapping that reads a Non-Device request's Device.
	Device string `json:"device,omitempty"`
	// Limits refuse what the row cannot hold, by the element that says it.
	Limits map[string]DUISLimit `json:"limits,omitempty"`
	// ByScheduleID is set where the SRV may name a schedule by its DSP
	// Schedule ID instead of its Device (5.2, 5.3).
	ByScheduleID *ByScheduleID `json:"by_schedule_id,omitempty"`
	// Service is the schedule row, set at load time.
	Service *Service `json:"-"`
}

// DUISLimit refuses an element of the Body the row cannot hold: present
// with a text Match does not match (any text, where Match is empty), or
// with NotAfterReceipt, an xs:dateTime after the request's receipt.
type DUISLimit struct {
	Match           string `json:"match,omitempty"`
	Why             string `json:"why"`
	NotAfterReceipt bool   `json:"not_after_receipt,omitempty"`
}

// ByScheduleID says how an SRV names a schedule by its DSP Schedule ID:
// Field, if set, is the row's field given the gateway's ID of the schedule.
type ByScheduleID struct {
	Field string `json:"field,omitempty"`
}

// DUISSchedule says how 5.1 Create Schedule's Body reads into the
// gateway's schedule, and what a DSP Schedule ID is (spec/duis.cue).
type DUISSchedule struct {
	SRV            string              `json:"srv"`
	Service        string              `json:"service"`
	Reference      string              `json:"reference"`
	BodyPrefix     string              `json:"body_prefix"`
	StartDate      string              `json:"start_date"`
	StartTime      string              `json:"start_time"`
	Frequency      string              `json:"frequency"`
	Every          map[string]Duration `json:"every"`
	OtherFrequency string              `json:"other_frequency"`
	ID             struct {
		Element string `json:"element"`
		Modulus uint64 `json:"modulus"`
	} `json:"id"`
	// PeriodOffset reads a scheduled read's period relative to its run.
	PeriodOffset struct {
		Element     string `json:"element"`
		StartOffset string `json:"start_offset"`
		StartTime   string `json:"start_time"`
		EndOffset   string `json:"end_offset"`
		EndTime     string `json:"end_time"`
		From        string `json:"from"`
		To          string `json:"to"`
	} `json:"period_offset"`
}

// IDOf is the DSP Schedule ID of the schedule a 5.1 of RequestID createdBy
// (originator:target:counter) created: its counter modulo the spec's
// modulus. ok is false for an ID of another form.
func (s *DUISSchedule) IDOf(createdBy string) (id uint64, ok bool) {
	i := strings.LastIndexByte(createdBy, ':')
	if i < 0 || s.ID.Modulus == 0 {
		return 0, false
	}
	c, err := strconv.ParseUint(createdBy[i+1:], 10, 64)
	if err != nil {
		return 0, false
	}
	return c % s.ID.Modulus, true
}

// PostdatedSRV is a DUIS SRV the source does not have.
type PostdatedSRV struct {
	SRV     string `json:"srv"`
	Element string `json:"element"`
	Name    string `json:"name"`
	Reason  string `json:"reason"`
}

// SRV returns the supported SRV, or nil.
func (d *DUIS) SRV(srv string) *SRV { return d.bySRV[srv] }

// PostdatedSRV returns the postdated SRV, or nil.
func (d *DUIS) PostdatedSRV(srv string) *PostdatedSRV { return d.postdatedBySRV[srv] }

// Variants returns the command variants an SRV permits, in order: those
// whose critical flag and device/non-device kind fit its schedule row, and
// whose delivery note 406 allows the service at all (local delivery is for
// Device Services only).
func (d *DUIS) Variants(s *SRV) []string {
	var out []string
	for cv, v := range d.CommandVariants {
		if d.permits(v, s.Service) {
			out = append(out, cv)
		}
	}
	sort.Strings(out)
	return out
}

// Permits reports whether command variant cv fits the SRV.
func (d *DUIS) Permits(cv string, s *SRV) bool {
	v, ok := d.CommandVariants[cv]
	return ok && d.permits(v, s.Service)
}

func (d *DUIS) permits(v CommandVariant, svc *Service) bool {
	if svc == nil {
		return false
	}
	if v.NonDevice {
		return !svc.DeviceService
	}
	if !svc.DeviceService {
		return false
	}
	if v.CoS && svc.CoS {
		return true
	}
	return v.Critical == nil || *v.Critical == svc.Critical
}

func (d *DUIS) index(s *Spec) {
	d.bySRV = map[string]*SRV{}
	for _, r := range d.SRVs {
		r.Service = s.Service(r.Ref, r.Variant)
		d.bySRV[r.SRV] = r
	}
	d.postdatedBySRV = map[string]*PostdatedSRV{}
	for _, p := range d.Postdated {
		d.postdatedBySRV[p.SRV] = p
	}
}

// checkDUIS runs the rules of spec/duis.cue that need the schedule.
func (s *Spec) checkDUIS(at func(p, format string, args ...any)) {
	d := &s.DUIS
	seen := map[string]bool{}
	elements := map[string]string{}
	for i, r := range d.SRVs {
		p := fmt.Sprintf("duis.srvs[%d]", i)
		if seen[r.SRV] {
			at(p, "SRV %s listed twice", r.SRV)
		}
		seen[r.SRV] = true
		if prev, dup := elements[r.Element]; dup {
			at(p, "Body element %s is already SRV %s's", r.Element, prev)
		}
		elements[r.Element] = r.SRV
		if r.SRV != r.Ref && !strings.HasPrefix(r.SRV, r.Ref+".") {
			at(p, "SRV %s: its first two levels must be the Annex 5 reference %s", r.SRV, r.Ref)
		}
		var svc *Service
		for _, row := range s.Services {
			if row.Ref == r.Ref && row.Variant == r.Variant {
				svc = row
			}
		}
		if svc == nil {
			at(p, "SRV %s maps to %s, which is not a row of the schedule", r.SRV, Key(r.Ref, r.Variant))
			continue
		}
		has := map[string]bool{}
		for _, f := range svc.Fields {
			has[f.Name] = true
		}
		for name := range r.Set {
			if !has[name] {
				at(p+".set", "SRV %s sets %s, which is not a field of %s", r.SRV, name, svc.Key())
			}
		}
		for name := range r.Fields {
			if !has[name] {
				at(p+".fields", "SRV %s reads %s, which is not a field of %s", r.SRV, name, svc.Key())
			}
		}
		for el, l := range r.Limits {
			if _, err := regexp.Compile(l.Match); err != nil {
				at(p+".limits."+el, "SRV %s: the match of %s is no regular expression: %v", r.SRV, el, err)
			}
		}
		if b := r.ByScheduleID; b != nil && b.Field != "" && !has[b.Field] {
			at(p+".by_schedule_id", "SRV %s gives the schedule's ID to %s, which is not a field of %s", r.SRV, b.Field, svc.Key())
		}
		if b := r.ByScheduleID; b != nil && svc.DeviceService {
			at(p+".by_schedule_id", "SRV %s names a schedule, but %s is a Device Service: its RequestID names the Device", r.SRV, svc.Key())
		}
	}
	sc := &d.Schedule
	creates := false
	for _, r := range d.SRVs {
		for _, row := range s.Services {
			if r.SRV == sc.SRV && row.Ref == r.Ref && row.Variant == r.Variant {
				creates = row.CreatesSchedule
			}
		}
	}
	if !creates {
		at("duis.schedule.srv", "SRV %s is not a supported SRV whose row creates a schedule", sc.SRV)
	}
	if len(sc.Every) == 0 {
		at("duis.schedule.every", "no frequency has a period")
	}
	moves := false
	for _, c := range s.Categories {
		moves = moves || c.Code == "scheduled" && c.MovesTimes
	}
	if sc.PeriodOffset.Element != "" && !moves {
		// The period is the first run's: later runs would read it again.
		at("duis.schedule.period_offset", "a period relative to each run needs categories.scheduled.moves_times")
	}
	for i, pd := range d.Postdated {
		p := fmt.Sprintf("duis.postdated[%d]", i)
		if seen[pd.SRV] {
			at(p, "SRV %s is both supported and postdated", pd.SRV)
		}
		seen[pd.SRV] = true
		ref := strings.Join(strings.SplitN(pd.SRV, ".", 3)[:2], ".")
		for _, row := range s.Services {
			if row.Ref == ref {
				at(p, "SRV %s is listed as postdating the source, but Annex 5 has reference %s", pd.SRV, ref)
				break
			}
		}
		if prev, dup := elements[pd.Element]; dup {
			at(p, "Body element %s is already SRV %s's", pd.Element, prev)
		}
		elements[pd.Element] = pd.SRV
	}
	for cv, v := range d.CommandVariants {
		if _, ok := d.Endpoints[v.Endpoint]; !ok {
			at("duis.command_variants."+cv, "command variant %s names endpoint %s, which is not in duis.endpoints", cv, v.Endpoint)
		}
	}
	if _, ok := d.ResponseCodes["I0"]; !ok {
		at("duis.response_codes", "I0 (success) is missing")
	}
	if _, ok := d.ResponseCodes["I99"]; !ok {
		at("duis.response_codes", "I99 (acknowledged) is missing")
	}
}

// Boxed is the world of `dccgate serve --world boxed` (spec/duis.cue).
type Boxed struct {
	Users []struct {
		ID    string `json:"id"`
		Role  string `json:"role"`
		Party string `json:"party"`
	} `json:"users"`
	DCC         string      `json:"dcc"`
	Postcode    string      `json:"postcode"`
	Premises    string      `json:"premises"`
	Electricity BoxedSupply `json:"electricity"`
	Gas         BoxedSupply `json:"gas"`
	Devices     []struct {
		ID   string   `json:"id"`
		SRVs []string `json:"srvs"`
	} `json:"devices"`
}

// BoxedSupply is a Boxed premises' MPxN of one fuel and its supplier.
type BoxedSupply struct {
	MPxN            string `json:"mpxn"`
	Supplier        string `json:"supplier"`
	NetworkOperator string `json:"network_operator,omitempty"`
}

// BoxedDevice is a Boxed device with the type derived from its SRVs.
type BoxedDevice struct {
	ID   string
	Type string
	// Votes says how many of its supported SRVs each candidate type takes.
	Votes map[string]int
}

// BoxedDevices derives each Boxed device's type from the SRVs the public
// templates address to it: among the device types, the one that the most
// of those SRVs (the supported ones) may be aimed at; on a tie, the most
// specific, that is the type fewer rows of the schedule may be aimed at.
func (s *Spec) BoxedDevices() []BoxedDevice {
	rowsOf := map[string]int{}
	for _, svc := range s.Services {
		for _, t := range svc.Targets {
			rowsOf[t]++
		}
	}
	var out []BoxedDevice
	for _, d := range s.DUIS.Boxed.Devices {
		votes := map[string]int{}
		for _, srv := range d.SRVs {
			r := s.DUIS.SRV(srv)
			if r == nil || r.Service == nil || !r.Service.DeviceService {
				continue
			}
			for _, t := range r.Service.Targets {
				votes[t]++
			}
		}
		best := ""
		for _, t := range s.DeviceTypes {
			c := t.Code
			switch {
			case votes[c] == 0:
			case best == "" || votes[c] > votes[best]:
				best = c
			case votes[c] == votes[best] && rowsOf[c] < rowsOf[best]:
				best = c
			}
		}
		out = append(out, BoxedDevice{ID: d.ID, Type: best, Votes: votes})
	}
	return out
}
