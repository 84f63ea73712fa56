package duis

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// Request is a decoded sr:Request.
type Request struct {
	SchemaVersion string
	RequestID     string
	Originator    string // EUI-64 of the sender
	Target        string // EUI-64 of the device, or of the DCC for Non-Device requests
	Counter       uint64
	// FirstInSequence and Preceding are the sequencing of para 126-127.
	FirstInSequence bool
	Preceding       string
	CommandVariant  string
	SRV             *spec.SRV
	// Body is the SRV's element; nil for a Signed Pre-Command (CV 5-7).
	Body *Element
	// SignedPreCommand is the GBCSPayload of CV 5-7.
	SignedPreCommand []byte
	// Device is the Device a Non-Device request names in its Body (the
	// SRV's device mapping), upper case; empty if none.
	Device string
	// Fields are the request's body fields for the engine, in its types
	// (timestamps as RFC 3339 strings); every field of the row is present,
	// a zero value where the document does not give it, as on the Connect
	// API.
	Fields map[string]any
	// ExecuteAt is set for a Future Dated request (ExecutionDateTime).
	ExecuteAt time.Time
	// Cancels is set where ExecuteAt is CancelExecution: the request
	// cancels the sender's pending Future Dated requests of its SRV to its
	// Device rather than asking for a Command.
	Cancels bool
	// Schedule is what a 5.1 Create Schedule asks for (spec/duis.cue's
	// schedule); nil for another SRV.
	Schedule *Schedule
	// ScheduleID is the DSP Schedule ID by which a 5.2 or 5.3 names a
	// schedule of the sender's, where ByScheduleID (Device is then empty:
	// the schedule's is the request's).
	ScheduleID   uint64
	ByScheduleID bool
	// Times are the times of the Body that must not be after the request
	// is received (spec/duis.cue's limits with not_after_receipt): the
	// decoder has no clock, CheckReceipt checks them.
	Times []TimeLimit
}

// Schedule is the schedule a 5.1 Create Schedule asks for.
type Schedule struct {
	// SRV is the SRV scheduled; Body its body, read from its DSP element
	// by its own mapping.
	SRV  *spec.SRV
	Body map[string]any
	// Every is the period; Start the first run as the message gives it,
	// which may be before the request is received (First).
	Every time.Duration
	Start time.Time
	// Period, where the body gives its read period relative to each run
	// (spec/duis.cue's schedule.period_offset), is that period: BodyAt
	// gives the first run's body.
	Period *RelativePeriod

	times []TimeLimit // of the scheduled SRV's limits
}

// RelativePeriod is a read period relative to a run's day (UTC): from is
// that day and StartDays days (0 or fewer) at StartTime, to that day and
// EndDays at EndTime (xs:time texts, as given), into the fields From and To.
type RelativePeriod struct {
	StartDays, EndDays int
	StartTime, EndTime string
	From, To           string
}

// at is the period of a run at run.
func (p *RelativePeriod) at(run time.Time) (from, to time.Time, err error) {
	day := func(n int) string { return run.UTC().AddDate(0, 0, n).Format(time.DateOnly) }
	if from, err = xsDateAt(day(p.StartDays), p.StartTime); err != nil {
		return
	}
	to, err = xsDateAt(day(p.EndDays), p.EndTime)
	return
}

// BodyAt is the scheduled SRV's body for the run at first: Body, with the
// relative period's from and to of that run where there is one.
func (s *Schedule) BodyAt(first time.Time) map[string]any {
	if s.Period == nil {
		return s.Body
	}
	from, to, err := s.Period.at(first)
	if err != nil {
		return s.Body // decodeSchedule checked the times
	}
	b := make(map[string]any, len(s.Body)+2)
	for k, v := range s.Body {
		b[k] = v
	}
	b[s.Period.From], b[s.Period.To] = from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano)
	return b
}

// First is the schedule's first run not before now: Start, or the run of
// the same period and phase that follows now.
func (s *Schedule) First(now time.Time) time.Time {
	if !s.Start.Before(now) || s.Every <= 0 {
		return s.Start
	}
	d := now.Sub(s.Start)
	if d == time.Duration(math.MaxInt64) {
		return s.Start // centuries before: the gateway refuses the time as beyond those it keeps
	}
	first := s.Start.Add(d / s.Every * s.Every)
	if first.Before(now) {
		first = first.Add(s.Every)
	}
	return first
}

// TimeLimit is a time of the Body that must not be after the request is
// received: Element gives it, Why says what the row cannot hold.
type TimeLimit struct {
	SRV, Element, Why string
	At                time.Time
}

// CheckReceipt refuses a request received at now with a time of its Body
// that must not be after its receipt (Times), naming the element.
func (r *Request) CheckReceipt(now time.Time) error {
	for _, l := range r.Times {
		if l.At.After(now) {
			return perr(CodeStructure, "SRV %s: %s %s is after the request is received (%s): %s: refused rather than run otherwise (spec/duis.cue's limits)",
				l.SRV, l.Element, l.At.Format(time.RFC3339), now.UTC().Format(time.RFC3339), l.Why)
		}
	}
	return nil
}

// CancelExecution is the execution time of a DUIS cancellation: a Future
// Dated request of the same service dated so far ahead (31 December 3000)
// that it replaces the pending one and never runs. DCC Boxed's templates
// send it (duis-templates' *_CANCELLATION_* requests, for 1.1, 1.2, 1.6,
// 2.1, 6.4, 6.14, 6.15, 6.23 and 11.3).
var CancelExecution = time.Date(3000, 12, 31, 0, 0, 0, 0, time.UTC)

var (
	eui64RE     = regexp.MustCompile(`^[0-9A-Fa-f]{2}(-[0-9A-Fa-f]{2}){7}$`)
	srvRE       = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?$`)
	headerOrder = []string{"RequestID", "FirstInSequence", "PrecedingServiceRequestID", "CommandVariant", "ServiceReference", "ServiceReferenceVariant"}
	optional    = map[string]bool{"FirstInSequence": true, "PrecedingServiceRequestID": true}
)

// ParseRequestID splits originator:target:counter; the counter is an
// unsigned 64-bit decimal.
func ParseRequestID(id string) (originator, target string, counter uint64, err error) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 || !eui64RE.MatchString(parts[0]) || !eui64RE.MatchString(parts[1]) {
		return "", "", 0, perr(CodeRequestID, "RequestID %q is not originatorEUI64:targetEUI64:counter", id)
	}
	c, cerr := strconv.ParseUint(parts[2], 10, 64)
	if cerr != nil || (len(parts[2]) > 1 && parts[2][0] == '0') {
		return "", "", 0, perr(CodeRequestID, "RequestID %q: the counter is not an unsigned 64-bit decimal", id)
	}
	return strings.ToUpper(parts[0]), strings.ToUpper(parts[1]), c, nil
}

// DecodeRequest validates and decodes the sr:Request of doc against the
// spec's DUIS mapping. Validated, in this order, each failure with its
// code: the root is sr:Request in the DUIS namespace with a schemaVersion
// matching the spec (structure); its element children are Header, Body and
// at most a ds:Signature, no text but whitespace between elements
// (structure); Header holds RequestID, optional FirstInSequence and
// PrecedingServiceRequestID, CommandVariant, ServiceReference and
// ServiceReferenceVariant in that order, each text only (structure);
// RequestIDs are originator:target:counter (request_id); FirstInSequence
// is an xs:boolean and PrecedingServiceRequestID has the same originator
// (structure, request_id); FirstInSequence and PrecedingServiceRequestID
// are not both given (structure); the SRV is one DUIS has and the spec
// supports (unknown_srv, postdated_srv) and ServiceReference is its first
// two levels (structure); CommandVariant is 1-8 and one the service
// permits (command_variant); Body holds exactly one element: SignedPreCommand
// with a base64 GBCSPayload for CV 5-7, else the SRV's own element
// (unknown_srv); the body fields the spec maps parse in the field's type,
// a time of day (~time) of an xs:time falls on its own day in UTC, and
// ExecutionDateTime is an xs:dateTime (structure); a required field
// the spec maps is given by the Body, but in a cancellation (structure);
// no element of the Body says what the row cannot hold (the SRV's limits:
// structure); a 5.1 Create Schedule names a supported SRV, of the
// reference it gives, with that SRV's body element (DSP and its own
// name), a frequency of a fixed period and an xs:date start, at an
// optional xs:time (structure); a 5.2 or 5.3 that names its schedule by a
// DSPScheduleID gives an xs:nonNegativeInteger and no DeviceID
// (structure). Times that must not be after the request's receipt are
// left in Times for CheckReceipt. Elements of the Body that the spec does
// not map are not validated: this is not XSD validation.
func DecodeRequest(doc *Document, sp *spec.Spec) (*Request, error) {
	d := &sp.DUIS
	ns := d.Namespace
	root := doc.Root
	if !root.Is(ns, "Request") {
		return nil, perr(CodeStructure, "the root is {%s}%s, not sr:Request", root.Space, root.Local)
	}
	r := &Request{}
	r.SchemaVersion, _ = root.Attr("schemaVersion")
	if !regexp.MustCompile(d.SchemaVersion).MatchString(r.SchemaVersion) {
		return nil, perr(CodeStructure, "schemaVersion %q is not accepted (%s)", r.SchemaVersion, d.SchemaVersion)
	}
	if err := noMixedText(root); err != nil {
		return nil, err
	}
	els := root.Elements()
	if len(els) > 0 && els[len(els)-1].Is(NSDSig, "Signature") {
		els = els[:len(els)-1]
	}
	if len(els) != 2 || !els[0].Is(ns, "Header") || !els[1].Is(ns, "Body") {
		return nil, perr(CodeStructure, "sr:Request must hold sr:Header, sr:Body and a ds:Signature")
	}
	header, body := els[0], els[1]
	vals := map[string]string{}
	hi := 0
	for _, h := range header.Elements() {
		for hi < len(headerOrder) && headerOrder[hi] != h.Local {
			if !optional[headerOrder[hi]] {
				return nil, perr(CodeStructure, "Header: %s missing or out of order", headerOrder[hi])
			}
			hi++
		}
		if hi == len(headerOrder) || h.Space != ns {
			return nil, perr(CodeStructure, "Header: unexpected element %s", h.Local)
		}
		if len(h.Elements()) > 0 {
			return nil, perr(CodeStructure, "Header: %s must hold text only", h.Local)
		}
		vals[h.Local] = strings.TrimSpace(h.Text())
		hi++
	}
	for _, name := range headerOrder {
		if _, ok := vals[name]; !ok && !optional[name] {
			return nil, perr(CodeStructure, "Header: %s missing", name)
		}
	}
	var err error
	r.RequestID = vals["RequestID"]
	if r.Originator, r.Target, r.Counter, err = ParseRequestID(r.RequestID); err != nil {
		return nil, err
	}
	if v, ok := vals["FirstInSequence"]; ok {
		switch v {
		case "true", "1":
			r.FirstInSequence = true
		case "false", "0":
		default:
			return nil, perr(CodeStructure, "FirstInSequence %q is not a boolean", v)
		}
	}
	if p, ok := vals["PrecedingServiceRequestID"]; ok {
		o, _, _, err := ParseRequestID(p)
		if err != nil {
			return nil, err
		}
		if o != r.Originator {
			return nil, perr(CodeRequestID, "PrecedingServiceRequestID %q is not the same originator's", p)
		}
		if r.FirstInSequence {
			return nil, perr(CodeStructure, "FirstInSequence and PrecedingServiceRequestID together")
		}
		r.Preceding = p
	}
	srv, ref := vals["ServiceReferenceVariant"], vals["ServiceReference"]
	if !srvRE.MatchString(srv) {
		return nil, perr(CodeStructure, "ServiceReferenceVariant %q is not an SRV", srv)
	}
	if pd := d.PostdatedSRV(srv); pd != nil {
		return nil, perr(CodePostdated, "SRV %s %s: %s", srv, pd.Name, pd.Reason)
	}
	r.SRV = d.SRV(srv)
	if r.SRV == nil {
		return nil, perr(CodeUnknownSRV, "SRV %s is not supported", srv)
	}
	if ref != r.SRV.Ref {
		return nil, perr(CodeStructure, "ServiceReference %q is not SRV %s's reference %s", ref, srv, r.SRV.Ref)
	}
	r.CommandVariant = vals["CommandVariant"]
	cv, ok := d.CommandVariants[r.CommandVariant]
	if !ok {
		return nil, perr(CodeCommandVariant, "CommandVariant %q is not 1-8", r.CommandVariant)
	}
	if !d.Permits(r.CommandVariant, r.SRV) {
		return nil, perr(CodeCommandVariant, "CommandVariant %s does not fit SRV %s (%s): it permits %v", r.CommandVariant, srv, r.SRV.Service, d.Variants(r.SRV))
	}
	be := body.Elements()
	if len(be) != 1 {
		return nil, perr(CodeStructure, "Body must hold exactly one element")
	}
	if cv.Signed {
		if !be[0].Is(ns, "SignedPreCommand") {
			return nil, perr(CodeUnknownSRV, "CommandVariant %s carries a SignedPreCommand, not %s", r.CommandVariant, be[0].Local)
		}
		pl := be[0].Elements()
		if len(pl) != 1 || !pl[0].Is(ns, "GBCSPayload") {
			return nil, perr(CodeStructure, "SignedPreCommand must hold one GBCSPayload")
		}
		if r.SignedPreCommand, err = b64(pl[0].Text()); err != nil || len(r.SignedPreCommand) == 0 {
			return nil, perr(CodeStructure, "GBCSPayload is not base64")
		}
		return r, nil
	}
	if !be[0].Is(ns, r.SRV.Element) {
		return nil, perr(CodeUnknownSRV, "SRV %s's Body element is %s, not %s", srv, r.SRV.Element, be[0].Local)
	}
	r.Body = be[0]
	if x := directChild(be[0], ns, d.ExecutionElement); x != nil {
		t, err := xsDateTime(strings.TrimSpace(x.Text()))
		if err != nil {
			return nil, perr(CodeStructure, "%s %q is not an xs:dateTime", d.ExecutionElement, x.Text())
		}
		r.ExecuteAt = t.UTC()
		r.Cancels = r.ExecuteAt.Equal(CancelExecution)
	}
	if !r.Cancels {
		// A cancellation carries only its time: nothing else is read.
		if r.Times, err = limits(r.SRV, be[0], ns); err != nil {
			return nil, err
		}
	}
	if r.Fields, err = fields(r.SRV, be[0], ns, !r.Cancels, nil); err != nil {
		return nil, err
	}
	if !r.SRV.Service.DeviceService && r.SRV.Device != "" {
		dev, _, _ := read(be[0], ns, r.SRV.Device)
		if _, target, _, err := ParseRequestID(dev); err == nil {
			dev = target
		}
		r.Device = strings.ToUpper(dev)
	}
	if r.SRV.SRV == d.Schedule.SRV && !r.Cancels {
		if r.Schedule, err = decodeSchedule(d, r.SRV, be[0], ns); err != nil {
			return nil, err
		}
		r.Times = append(r.Times, r.Schedule.times...)
	}
	if b := r.SRV.ByScheduleID; b != nil {
		if x := be[0].Find(ns, d.Schedule.ID.Element); x != nil {
			id := strings.TrimPrefix(strings.TrimSpace(x.Text()), "+")
			n, err := strconv.ParseUint(id, 10, 64)
			if err != nil {
				return nil, perr(CodeStructure, "SRV %s: %s %q is not a schedule ID (an xs:nonNegativeInteger)", srv, d.Schedule.ID.Element, x.Text())
			}
			if r.Device != "" {
				return nil, perr(CodeStructure, "SRV %s: %s names its schedule by %s and by Device %s: one of them (an xs:choice)", srv, r.SRV.Element, d.Schedule.ID.Element, r.Device)
			}
			r.ScheduleID, r.ByScheduleID = n, true
		}
	}
	return r, nil
}

// limits refuses what the row cannot hold (spec/duis.cue's limits): an
// element of the Body (the first of its name) whose text does not match
// the limit's expression, or that is there at all where the limit has
// none. The times that must not be after the request's receipt are
// returned, for CheckReceipt. Elements are checked in name order, so the
// refusal of a message that fails several is always the same.
func limits(s *spec.SRV, body *Element, ns string) ([]TimeLimit, error) {
	names := make([]string, 0, len(s.Limits))
	for el := range s.Limits {
		names = append(names, el)
	}
	sort.Strings(names)
	var times []TimeLimit
	for _, el := range names {
		l := s.Limits[el]
		x := body.Find(ns, el)
		if x == nil {
			continue
		}
		text := strings.TrimSpace(x.Text())
		switch {
		case l.Match == "" && !l.NotAfterReceipt:
			return nil, perr(CodeStructure, "SRV %s: %s: %s: refused rather than run otherwise (spec/duis.cue's limits)", s.SRV, el, l.Why)
		case l.Match != "" && !compiled(l.Match).MatchString(text):
			return nil, perr(CodeStructure, "SRV %s: %s %q: %s: refused rather than run otherwise (spec/duis.cue's limits)", s.SRV, el, text, l.Why)
		}
		if l.NotAfterReceipt {
			t, err := xsDateTime(text)
			if err != nil {
				return nil, perr(CodeStructure, "SRV %s: %s %q is not an xs:dateTime", s.SRV, el, text)
			}
			times = append(times, TimeLimit{SRV: s.SRV, Element: el, Why: l.Why, At: t.UTC()})
		}
	}
	return times, nil
}

var regexps sync.Map // expression -> *regexp.Regexp

// compiled is the spec's expression compiled (spec.checkDUIS has checked
// that it compiles).
func compiled(expr string) *regexp.Regexp {
	if re, ok := regexps.Load(expr); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(expr)
	regexps.Store(expr, re)
	return re
}

// decodeSchedule reads 5.1 Create Schedule's Body as spec/duis.cue's
// schedule says: the SRV scheduled (which must be one the gateway
// supports, of the reference given), its body (the SRV's own element with
// the prefix, read by its mapping and limits), the period of the
// frequency and the first run (start date, at the start time or
// 00:00:00Z). What the gateway's schedule cannot hold is refused, naming
// the element: a frequency with no period, and what the limits say.
func decodeSchedule(d *spec.DUIS, s *spec.SRV, body *Element, ns string) (*Schedule, error) {
	sc := &d.Schedule
	text := func(name string) (string, bool) {
		x := directChild(body, ns, name)
		if x == nil {
			return "", false
		}
		return strings.TrimSpace(x.Text()), true
	}
	v, ok := text(sc.Service)
	if !ok {
		return nil, perr(CodeStructure, "SRV %s: %s names no SRV to schedule (%s)", s.SRV, s.Element, sc.Service)
	}
	if pd := d.PostdatedSRV(v); pd != nil {
		return nil, perr(CodeStructure, "SRV %s: %s %s %s: %s", s.SRV, sc.Service, v, pd.Name, pd.Reason)
	}
	inner := d.SRV(v)
	if inner == nil {
		return nil, perr(CodeStructure, "SRV %s: %s %q is not an SRV the gateway supports", s.SRV, sc.Service, v)
	}
	if ref, ok := text(sc.Reference); ok && ref != inner.Ref {
		return nil, perr(CodeStructure, "SRV %s: %s %q is not SRV %s's reference %s", s.SRV, sc.Reference, ref, inner.SRV, inner.Ref)
	}
	name := sc.BodyPrefix + inner.Element
	el := directChild(body, ns, name)
	if el == nil {
		return nil, perr(CodeStructure, "SRV %s: the schedule of SRV %s carries its body in %s, which %s lacks", s.SRV, inner.SRV, name, s.Element)
	}
	times, err := limits(inner, el, ns)
	if err != nil {
		return nil, err
	}
	period, err := relativePeriod(sc, inner, el, ns)
	if err != nil {
		return nil, err
	}
	var given map[string]bool
	if period != nil {
		given = map[string]bool{period.From: true, period.To: true}
	}
	b, err := fields(inner, el, ns, true, given)
	if err != nil {
		msg := err.Error()
		var pe *ParseError
		if errors.As(err, &pe) {
			msg = pe.Message
		}
		return nil, perr(CodeStructure, "SRV %s, the schedule of SRV %s in %s: %s", s.SRV, inner.SRV, name, msg)
	}
	f, ok := text(sc.Frequency)
	if !ok {
		return nil, perr(CodeStructure, "SRV %s: %s gives no %s", s.SRV, s.Element, sc.Frequency)
	}
	every, ok := sc.Every[f]
	if !ok {
		return nil, perr(CodeStructure, "SRV %s: %s %q: %s: refused rather than run at another period", s.SRV, sc.Frequency, f, sc.OtherFrequency)
	}
	date, ok := text(sc.StartDate)
	if !ok {
		return nil, perr(CodeStructure, "SRV %s: %s gives no %s", s.SRV, s.Element, sc.StartDate)
	}
	clock, _ := text(sc.StartTime)
	start, err := xsDateAt(date, clock)
	if err != nil {
		return nil, perr(CodeStructure, "SRV %s: %s %q at %s %q is not an xs:date at an xs:time", s.SRV, sc.StartDate, date, sc.StartTime, clock)
	}
	return &Schedule{SRV: inner, Body: b, Every: every.Std(), Start: start.UTC(), Period: period, times: times}, nil
}

// relativePeriod reads the scheduled body's read period relative to each
// run (spec/duis.cue's schedule.period_offset), nil where the body gives
// none or the scheduled row has no fields to take it (4.6's and 4.14's
// read the newest entry, as their DUIS period is not read).
func relativePeriod(sc *spec.DUISSchedule, inner *spec.SRV, el *Element, ns string) (*RelativePeriod, error) {
	po := &sc.PeriodOffset
	if po.Element == "" || directChild(el, ns, po.Element) == nil {
		return nil, nil
	}
	has := map[string]bool{}
	for _, f := range inner.Service.Fields {
		has[f.Name] = f.Type == "timestamp"
	}
	if !has[po.From] || !has[po.To] {
		return nil, nil
	}
	p := &RelativePeriod{From: po.From, To: po.To}
	for _, x := range []struct {
		name string
		days *int
		time *string
		tn   string
	}{{po.StartOffset, &p.StartDays, &p.StartTime, po.StartTime}, {po.EndOffset, &p.EndDays, &p.EndTime, po.EndTime}} {
		d := directChild(el, ns, x.name)
		if d == nil {
			return nil, perr(CodeStructure, "SRV %s: its period relative to each run gives no %s", inner.SRV, x.name)
		}
		n, err := strconv.Atoi(strings.TrimSpace(d.Text()))
		if err != nil || n > 0 {
			return nil, perr(CodeStructure, "SRV %s: %s %q is not a number of days back (0 or fewer)", inner.SRV, x.name, d.Text())
		}
		*x.days = n
		t := directChild(el, ns, x.tn)
		if t == nil {
			return nil, perr(CodeStructure, "SRV %s: its period relative to each run gives no %s", inner.SRV, x.tn)
		}
		*x.time = strings.TrimSpace(t.Text())
		if _, err := xsDateAt("2026-01-01", *x.time); err != nil {
			return nil, perr(CodeStructure, "SRV %s: %s %q is not an xs:time", inner.SRV, x.tn, t.Text())
		}
	}
	if from, to, _ := p.at(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); !from.Before(to) {
		return nil, perr(CodeStructure, "SRV %s: its period relative to each run ends (%s %d at %s) before it starts (%s %d at %s)",
			inner.SRV, po.EndOffset, p.EndDays, p.EndTime, po.StartOffset, p.StartDays, p.StartTime)
	}
	return p, nil
}

// xsDateAt is the xs:date date at the xs:time clock (midnight where clock
// is empty), in the zone of the time, or else of the date, or else UTC.
func xsDateAt(date, clock string) (time.Time, error) {
	zone := func(s string, at int) (string, string) {
		switch {
		case strings.HasSuffix(s, "Z"):
			return s[:len(s)-1], "Z"
		case len(s) >= at+6 && (s[len(s)-6] == '+' || s[len(s)-6] == '-'):
			return s[:len(s)-6], s[len(s)-6:]
		}
		return s, ""
	}
	d, dz := zone(date, 10)
	if clock == "" {
		clock = "00:00:00"
	}
	c, cz := zone(clock, 8)
	if len(d) != 10 || strings.ContainsAny(c, "T") {
		return time.Time{}, perr(CodeStructure, "not an xs:date and xs:time")
	}
	if cz == "" {
		cz = dz
	}
	return xsDateTime(d + "T" + c + cz)
}

func directChild(e *Element, ns, local string) *Element {
	for _, c := range e.Elements() {
		if c.Is(ns, local) {
			return c
		}
	}
	return nil
}

// fields reads the row's fields: set by the SRV, read from the element the
// spec names, or the zero value of an optional field's type. A required
// field the spec maps that no alternative of its mapping gives, or one it
// does not map at all, is refused where strict (a request, not a
// cancellation, which carries only its time): its zero value would stand
// for what the message did not say, or said where the gateway does not
// read. The fields in given are left out: something else gives them.
func fields(s *spec.SRV, body *Element, ns string, strict bool, given map[string]bool) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range s.Service.Fields {
		if given[f.Name] {
			continue // given otherwise (a schedule's relative period)
		}
		if v, ok := s.Set[f.Name]; ok {
			// In the field's type, as a value read from the Body is (the
			// spec's numbers decode as float64).
			if n, isNum := v.(float64); isNum && f.Type == "int64" {
				v = int64(n)
			}
			out[f.Name] = v
			continue
		}
		var text string
		var given bool
		m, mapped := s.Fields[f.Name]
		if mapped {
			var err error
			if text, given, err = read(body, ns, m); err != nil {
				return nil, perr(CodeStructure, "SRV %s: %s: %v: refused rather than run otherwise (spec/duis.cue maps %s)", s.SRV, f.Name, err, m)
			}
		}
		if mapped && !given && f.Required && strict {
			return nil, perr(CodeStructure, "SRV %s: nothing in %s gives %s (%s)", s.SRV, s.Element, f.Name, m)
		}
		if !mapped && f.Required && strict {
			// The gateway reads no element for it (spec/duis.cue): its zero
			// value would stand for what the message may well say (a price,
			// a threshold), so the request is refused rather than run.
			return nil, perr(CodeStructure, "SRV %s: the gateway reads no %s from %s (spec/duis.cue maps no element to it): refused rather than taken as zero", s.SRV, f.Name, s.Element)
		}
		v, err := typed(f, text, given)
		if err != nil {
			return nil, err
		}
		out[f.Name] = v
	}
	return out, nil
}

// alternative is one alternative of a field mapping (spec/duis.cue):
// [#]Element[@attr][*][[text]][=value|>Other|/divisor|/|^Scale[+-N]|~day|~time].
type alternative struct {
	count, all bool   // #: how many there are; *: the texts of all, space-separated
	name, attr string // the element, and the attribute read instead of its text
	want       string // [text]: the text (or attribute) it must have
	match      bool
	op         byte   // '=', '>', '/', '^', '~' or 0
	arg        string // the constant, Other, the divisor, Scale or the part of a time (day, time)
	exp        int    // ^Scale+N: N
}

func parseAlternative(alt string) alternative {
	var a alternative
	if rest, ok := strings.CutPrefix(alt, "#"); ok {
		a.count, alt = true, rest
	}
	if i := strings.IndexAny(alt, "=>/^~"); i >= 0 {
		a.op, a.arg, alt = alt[i], alt[i+1:], alt[:i]
		if j := strings.IndexAny(a.arg, "+-"); a.op == '^' && j >= 0 {
			a.exp, _ = strconv.Atoi(a.arg[j:])
			a.arg = a.arg[:j]
		}
	}
	if i := strings.IndexByte(alt, '['); i >= 0 && strings.HasSuffix(alt, "]") {
		alt, a.want, a.match = alt[:i], alt[i+1:len(alt)-1], true
	}
	alt, a.all = strings.CutSuffix(alt, "*")
	a.name, a.attr, _ = strings.Cut(alt, "@")
	return a
}

// read reads one field by its mapping (spec/duis.cue): alternatives
// separated by "|", the first that matches giving the value. Each is
// Element (the text of the first descendant of that name) or Element@attr
// (the attribute of the first that has it), either followed by [text] (the
// text, or attribute, must be that) and by at most one of =value (the value
// is that constant, not what the message carries), >Other (the text of the
// element Other, as where a sibling says what a DeviceID is for:
// <RequestType>Add</RequestType>), /divisor (the number divided by that, as
// DUIS gives some quantities as integers of a finer unit) and ^Scale+N (the
// number times ten to the power of Scale's text plus N, as DUIS gives
// prices with a PriceScale), ~day (the day of the month of an
// xs:dateTime in UTC, or of an xs:date as written, as a gas billing
// calendar starts) and ~time (the time of day in UTC, HH:MM:SS, of an
// xs:dateTime or of an xs:time, as a billing calendar bills; an xs:time
// whose zone puts it on another day in UTC is an error: the day given
// beside it, as an electricity calendar's Monthly day, would not be its
// day). #Element is how many there are, Element*
// the texts of all of them, space-separated (with [text], of those that
// have it), and Element/ the elements below the first that hold no
// others, as Element/Group/Leaf=text, space-separated (DUIS's 6.22 names
// each alert setting by such a path). DUIS says some things by an element's presence (<sr:Credit/>),
// some by an attribute (index="1") and some by a name of its own
// (<sr:LogToRead>Event). A text ~day or ~time cannot read is returned as
// it is, for the field's type or rule to refuse.
func read(body *Element, ns, mapping string) (string, bool, error) {
	for _, alt := range strings.Split(mapping, "|") {
		a := parseAlternative(alt)
		var got []string
		body.walk(func(e *Element) {
			if e == body || !e.Is(ns, a.name) || (!a.count && !a.all && len(got) > 0) {
				return
			}
			v := e.Text()
			if a.attr != "" {
				var ok bool
				if v, ok = e.Attr(a.attr); !ok {
					return
				}
			}
			got = append(got, strings.TrimSpace(v))
		})
		if a.match {
			// [text] holds of each counted or listed one, and of the first
			// otherwise (a later one of that text is not looked for).
			kept := got[:0]
			for _, v := range got {
				if v == a.want {
					kept = append(kept, v)
				}
			}
			got = kept
		}
		if len(got) == 0 {
			continue
		}
		switch {
		case a.count:
			return strconv.Itoa(len(got)), true, nil
		case a.all:
			return strings.Join(got, " "), true, nil
		}
		switch a.op {
		case '=':
			return a.arg, true, nil
		case '>':
			o := body.Find(ns, a.arg)
			if o == nil {
				continue
			}
			return strings.TrimSpace(o.Text()), true, nil
		case '/':
			if a.arg == "" {
				if leaves := leavesOf(body, ns, a.name); leaves != "" {
					return leaves, true, nil
				}
				continue
			}
			n, err := strconv.ParseFloat(got[0], 64)
			d, derr := strconv.ParseFloat(a.arg, 64)
			if err != nil || derr != nil || d == 0 {
				return got[0], true, nil // typed refuses it as not a number
			}
			return strconv.FormatFloat(n/d, 'f', -1, 64), true, nil
		case '^':
			sc := body.Find(ns, a.arg)
			if sc == nil {
				continue
			}
			return scaled(got[0], strings.TrimSpace(sc.Text()), a.exp), true, nil
		case '~':
			if a.arg == "time" {
				v, err := timeOfDay(got[0])
				if err != nil {
					return "", false, fmt.Errorf("%s %w", a.name, err)
				}
				return v, true, nil
			}
			// ~day, the other part of a date the spec's syntax has.
			if t, err := xsDateTime(got[0]); err == nil {
				return strconv.Itoa(t.UTC().Day()), true, nil
			}
			t, err := xsDateAt(got[0], "")
			if err != nil {
				return got[0], true, nil // typed refuses it as not a number
			}
			return strconv.Itoa(t.Day()), true, nil
		}
		return got[0], true, nil
	}
	return "", false, nil
}

// timeOfDay is ~time: the time of day in UTC of an xs:dateTime or an
// xs:time, as HH:MM:SS (with its fraction of a second, if any, for the
// field's rule to refuse). An xs:time whose zone puts it on another day
// in UTC is an error; text that is neither is returned as it is.
func timeOfDay(text string) (string, error) {
	const layout = "15:04:05.999999999"
	if t, err := xsDateTime(text); err == nil {
		return t.UTC().Format(layout), nil
	}
	day := time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC)
	t, err := xsDateAt(day.Format(time.DateOnly), text)
	if err != nil {
		return text, nil
	}
	u := t.UTC()
	switch {
	case u.Before(day):
		return "", fmt.Errorf("%q is %s UTC of the day before: the day given beside it is not its day in UTC", text, u.Format(layout))
	case !u.Before(day.AddDate(0, 0, 1)):
		return "", fmt.Errorf("%q is %s UTC of the day after: the day given beside it is not its day in UTC", text, u.Format(layout))
	}
	return u.Format(layout), nil
}

// leavesOf is Element/: the elements below the first one named local
// that hold no others, each as its path of names from it and its text
// (Group/Leaf=text), space-separated.
func leavesOf(body *Element, ns, local string) string {
	top := body.Find(ns, local)
	if top == nil {
		return ""
	}
	var out []string
	var visit func(e *Element, path string)
	visit = func(e *Element, path string) {
		kids := e.Elements()
		if len(kids) == 0 && e != top {
			out = append(out, path+"="+strings.TrimSpace(e.Text()))
		}
		for _, k := range kids {
			visit(k, path+"/"+k.Local)
		}
	}
	visit(top, top.Local)
	return strings.Join(out, " ")
}

// scaled is the decimal n times ten to the power of scale plus exp, exact
// (no binary rounding): scaled("20000", "-5", 2) is "20". What is not a
// number is returned in a form typed refuses.
func scaled(n, scale string, exp int) string {
	r, ok := new(big.Rat).SetString(n)
	s, err := strconv.Atoi(scale)
	if !ok || err != nil || s+exp < -64 || s+exp > 64 {
		return n + " x 10^" + scale
	}
	e := s + exp
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(e, -e))), nil))
	if e < 0 {
		r.Quo(r, p)
	} else {
		r.Mul(r, p)
	}
	if r.IsInt() {
		return r.Num().String()
	}
	return strings.TrimRight(r.FloatString(64), "0")
}

func typed(f spec.Field, text string, given bool) (any, error) {
	switch f.Type {
	case "int64":
		if !given {
			return int64(0), nil
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, perr(CodeStructure, "%s: %q is not an integer", f.Name, text)
		}
		return n, nil
	case "double":
		if !given {
			return 0.0, nil
		}
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, perr(CodeStructure, "%s: %q is not a number", f.Name, text)
		}
		return n, nil
	case "bool":
		return text == "true" || text == "1", nil
	case "strings":
		if !given {
			return []string{}, nil
		}
		return strings.Fields(text), nil
	case "timestamp":
		if !given {
			return "", nil
		}
		t, err := xsDateTime(text)
		if err != nil {
			return nil, perr(CodeStructure, "%s: %q is not an xs:dateTime", f.Name, text)
		}
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	return text, nil
}

// xsDateTime reads an xs:dateTime. Its zone is optional in the XSD; DUIS's
// times are UTC, so one without a zone is taken as UTC.
func xsDateTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05.999999999", s, time.UTC)
}

// noMixedText refuses non-whitespace text in an element that has element
// children (DUIS has no mixed content).
func noMixedText(root *Element) error {
	var err error
	root.walk(func(e *Element) {
		if err != nil || len(e.Elements()) == 0 {
			return
		}
		for _, c := range e.Children {
			if t, ok := c.(Text); ok && strings.TrimSpace(string(t)) != "" {
				err = perr(CodeStructure, "text in %s beside its elements", e.Local)
				return
			}
		}
	})
	return err
}

// EncodeBase64 is base64 as xs:base64Binary writes it.
func EncodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
