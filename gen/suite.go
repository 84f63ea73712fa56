package gen

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// The conformance suite (conformance/suite): scenario files in the public
// format, one per row of the schedule, each with a small world and one case
// per fact of the row that a gateway can show:
//
//   - role.R: every role is refused (ROLE_NOT_ELIGIBLE) or, properly
//     registered, accepted on a device in a status that allows the service;
//   - registration.R: the same role not named in the Registration Data is
//     refused as footnote 13 and para 139 say (NOT_REGISTERED for checked
//     rows, DEVICE_REJECTED by the device for critical ones, accepted for
//     the DCC's own activities);
//   - category.on_demand, category.future_dated, category.scheduled,
//     category.local: each category of para 128 and notes 404 and 406 is
//     available (and runs: future dated when due, scheduled on its schedule)
//     or refused with CATEGORY_NOT_AVAILABLE;
//   - type.T: every device type is a target (accepted), a Type 2 Device the
//     row may not serve (TYPE2_NOT_SUPPORTED, note 405), or not a target
//     (DEVICE_TYPE);
//   - status.S: every SMI status gives what the row's statuses and the
//     inventory transitions say;
//   - critical.unsigned, critical.wrong-key: a critical request waits for
//     its signed Pre-Command and is refused if another key signs it;
//   - user.unknown: the request a properly registered user is accepted on,
//     sent by a User ID that has not completed User Entry (no world names
//     it), is refused UNKNOWN_USER (para 116, 281). One case per row: a
//     gateway may check the user on some paths (critical, the DCC's own
//     activities, inventory queries) and not others;
//   - malformed.FIELD.KIND: each request field rule of the row (the CEL rule
//     and the type of a field, the row's checks across fields, spec/*.cue)
//     broken once: the zero or empty value an absent field takes on the
//     API (missing), the first value beyond each bound (below, above), a
//     value of the wrong form (format), the shortest value too long
//     (too-long), a body the row's check refuses (check). Each is refused
//     MALFORMED (para 133, 134) before any other check; the values are
//     found by evaluating the spec's own rules, so a loosened or dropped
//     rule lets one through. The row's other cases send the spec's valid
//     examples and are accepted.
//
// Three files check what is not a single row: note-406.yaml (local delivery
// by role and status), para-134-order.yaml (the order of the checks) and
// replay.yaml (the Request ID counter, REPLAY).
//
// Anomaly detection (ANOMALY) has no generated cases: the spec sets no
// threshold above which requests are quarantined (footnote 14 leaves the
// numbers to the DCC CoCo; Table 5.3's Monthly Service Thresholds are for
// reporting, para 272, not quarantine). The hand-written
// conformance/scenarios/anomaly.yaml checks the mechanism with a threshold
// of its own.
//
// The expected outcomes follow the rules the format states (its "Rules the
// format assumes"), computed from the spec: the generator never asks the
// gateway. Every case is a step with an id; the steps whose id is that id, a
// slash and more (a setup before it, the advance of a future dated request
// after it) belong to it. A comment above each case names the row and
// clause it checks.

// suiteDir is where the suite's files go.
const suiteDir = "conformance/suite"

// suiteStart is the virtual clock at the start of each generated scenario.
var suiteStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Suite generates the conformance suite: a scenario file per row of the
// schedule (alerts excepted: they are deliveries, not requests), the two
// cross-row files and an index.
func Suite(s *spec.Spec) ([]Output, error) {
	g := newSuiteGen(s)
	var outs []Output
	type indexRow struct{ file, row, what string }
	var index []indexRow
	add := func(f *sfile, row, what string) error {
		b, err := f.render()
		if err != nil {
			return err
		}
		outs = append(outs, Output{Path: suiteDir + "/" + f.path, Content: b})
		index = append(index, indexRow{f.path, row, what + fmt.Sprintf(" (%d cases)", len(f.cases))})
		return nil
	}
	for _, svc := range s.Services {
		if svc.Alert {
			continue
		}
		f, err := g.rowFile(svc)
		if err != nil {
			return nil, err
		}
		if err := add(f, svc.Key(), svc.Name); err != nil {
			return nil, err
		}
	}
	if f := g.localFile(); f != nil {
		if err := add(f, "note 406", "Commands for Local Delivery by role and status"); err != nil {
			return nil, err
		}
	}
	if f := g.orderFile(); f != nil {
		if err := add(f, "para 134", "the order of the checks"); err != nil {
			return nil, err
		}
	}
	if f := g.replayFile(); f != nil {
		if err := add(f, "para 133", "the Request ID counter (REPLAY)"); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<!-- %s -->\n\n", header)
	b.WriteString("# The conformance suite\n\n")
	b.WriteString("Scenario files in the public format (`conformance/scenario-format.md`), generated from the spec by\n")
	b.WriteString("`gen/suite.go` (`make generate`); `flows/` holds the hand-written flows that are not a product of the\n")
	b.WriteString("table. Run them with `dccgate conformance run` (reports) or `dccgate scenario run conformance/suite`.\n\n")
	b.WriteString("Each case is a step with an id (`role.EIS`, `status.withdrawn`, ...); the steps whose id is the case's\n")
	b.WriteString("id, a slash and more (a setup before it, an advance after it) belong to it. The comment above a case\n")
	b.WriteString("names the row and the clause it checks.\n")
	b.WriteString("The alert rows (A1, A2) are deliveries, not requests: `flows/` and the alert scenarios cover them.\n")
	b.WriteString("Anomaly detection has no generated cases: the spec sets no quarantine threshold (footnote 14 leaves the\n")
	b.WriteString("numbers to the DCC CoCo); `conformance/scenarios/anomaly.yaml` checks it with a threshold of its own.\n\n")
	b.WriteString("| file | row | what |\n| --- | --- | --- |\n")
	for _, r := range index {
		fmt.Fprintf(&b, "| [%s](%s) | %s | %s |\n", r.file, r.file, r.row, r.what)
	}
	outs = append(outs, Output{Path: suiteDir + "/INDEX.md", Content: b.Bytes()})
	if err := errors.Join(g.errs...); err != nil {
		return nil, err
	}
	return outs, nil
}

// suiteGen holds what every file shares: the users and the spec's lookups.
type suiteGen struct {
	s *spec.Spec
	// users: a registered user per role, and an unregistered one per role
	// that Registration Data names.
	users []suser
	reg   map[string]string // role -> registered user
	unreg map[string]string // role -> unregistered user
	// note405 and moves index the spec's notes and transitions.
	note405 map[string]bool
	events  map[string]string // service ref -> event moving its target
	// errs are what the generator could not derive from the spec.
	errs []error
}

type suser struct {
	id, role, party string
	suspended       bool
}

func newSuiteGen(s *spec.Spec) *suiteGen {
	g := &suiteGen{s: s, reg: map[string]string{}, unreg: map[string]string{}, note405: map[string]bool{}, events: map[string]string{}}
	for i, r := range s.Roles {
		id := fmt.Sprintf("00-00-00-00-00-00-0A-%02X", i+1)
		g.reg[r.Code] = id
		g.users = append(g.users, suser{id: id, role: r.Code, party: "registered " + r.Code})
	}
	for i, r := range s.Roles {
		if r.Registration == nil {
			continue
		}
		id := fmt.Sprintf("00-00-00-00-00-00-0B-%02X", i+1)
		g.unreg[r.Code] = id
		g.users = append(g.users, suser{id: id, role: r.Code, party: "unregistered " + r.Code})
	}
	for _, n := range s.Note405.Services {
		g.note405[spec.Key(n.Ref, n.Variant)] = true
	}
	for _, t := range s.Transitions {
		if t.Service != "" && t.Subject == "target" {
			g.events[t.Service] = t.Event
		}
	}
	return g
}

// ---------------------------------------------------------------- the model

// attempt is one request as the model sees it.
type attempt struct {
	row   *spec.Service
	inner *spec.Service // the scheduled service of a 5.1
	role  string
	// unregistered: the sender is not named in the Registration Data.
	unregistered bool
	suspended    bool
	// typ and status describe the target device; known is false for a
	// device not on the inventory.
	typ, status string
	known       bool
	category    string // on_demand, future_dated
	local       bool
	// newType is the type a 12.2 names; requested the status an 8.4 asks.
	newType, requested string
	// malformed says how the request breaks a field rule of the row;
	// unknownUser: the sender has not completed User Entry.
	malformed   string
	unknownUser bool
}

// verdict is what the model expects of an attempt.
type verdict struct {
	outcome string // accepted, rejected
	reason  string
	// clause explains the verdict for the case's comment.
	clause string
	// moveTo is the status the target moves to, if the request moves it.
	moveTo string
	// atDevice: the refusal is the device's, when the Command runs.
	atDevice bool
}

func (g *suiteGen) role(code string) *spec.Role { return g.s.Role(code) }

func (g *suiteGen) class(typ string) string {
	if t := g.s.DeviceType(typ); t != nil {
		return t.Class
	}
	return ""
}

// localAllowed: note 406 makes local delivery a way of delivering a
// Command, so only Device Services may ask for it.
func (g *suiteGen) localAllowed(svc *spec.Service) bool {
	if !g.s.Note406.DeviceServicesOnly {
		return true
	}
	return svc.DeviceService && !svc.Alert
}

// registrationRule says how the Registration Data check applies to a row:
// "check" (non-critical Device Services; and rows that say how, the
// execution-date rows and the changes to a device's entry) or "skip"
// (critical Device Services, footnote 13; other Non-Device Services,
// para 139).
func registrationRule(svc *spec.Service) string {
	switch {
	case svc.Registration != "":
		return "check"
	case !svc.DeviceService, svc.Critical:
		return "skip"
	}
	return "check"
}

func categoryAvailable(svc *spec.Service, cat string) bool {
	switch cat {
	case "future_dated":
		return svc.FutureDated != nil
	case "scheduled":
		return svc.Scheduled != nil
	}
	return svc.OnDemand != nil
}

// move is the status the inventory transitions move a device to, and
// whether they allow it.
func (g *suiteGen) move(event, from, typ, role, requested string) (string, string, bool) {
	class, kind := g.class(typ), ""
	if r := g.role(role); r != nil {
		kind = r.Kind
	}
	for _, t := range g.s.Transitions {
		if t.Event != event || !slices.Contains(t.From, from) {
			continue
		}
		if len(t.Classes) > 0 && !slices.Contains(t.Classes, class) {
			continue
		}
		if len(t.RoleKinds) > 0 && !slices.Contains(t.RoleKinds, kind) {
			continue
		}
		to := t.To
		if to == "requested" {
			allowed := t.ToAllowed
			if len(allowed) == 0 {
				for _, st := range g.s.Statuses {
					allowed = append(allowed, st.Code)
				}
			}
			if !slices.Contains(allowed, requested) {
				continue
			}
			to = requested
		}
		return to, t.Clause, true
	}
	return "", "", false
}

// expect runs the checks in the order of para 134 as the format states
// them, and what the device does with a critical Command (footnote 13).
func (g *suiteGen) expect(a attempt) verdict {
	rej := func(reason, clause string) verdict {
		return verdict{outcome: "rejected", reason: reason, clause: clause}
	}
	row := a.row
	cat := a.category
	if cat == "" {
		cat = "on_demand"
	}
	if a.malformed != "" {
		return rej("MALFORMED", a.malformed+" ("+g.reasonClause("MALFORMED")+")")
	}
	if !categoryAvailable(row, cat) {
		return rej("CATEGORY_NOT_AVAILABLE", fmt.Sprintf("%s is N/A for %s (para 128, Annex 5)", g.catLabel(cat), row.Key()))
	}
	if a.inner != nil && a.inner.Scheduled == nil {
		return rej("CATEGORY_NOT_AVAILABLE", fmt.Sprintf("%s is not a Scheduled Service (%s)", a.inner.Key(), g.s.Note404.Clause))
	}
	if a.local && !g.localAllowed(row) {
		return rej("CATEGORY_NOT_AVAILABLE", fmt.Sprintf("a Command for Local Delivery is for Device Services only (%s)", g.s.Note406.Clause))
	}
	if a.unknownUser {
		return rej("UNKNOWN_USER", "the User ID has not completed User Entry ("+g.reasonClause("UNKNOWN_USER")+")")
	}
	if a.suspended {
		return rej("USER_SUSPENDED", "the user's rights are suspended (para 134, 125)")
	}
	if !row.HasRole(a.role) {
		return rej("ROLE_NOT_ELIGIBLE", fmt.Sprintf("%s is not an eligible role for %s (para 110, 114, 134)", a.role, row.Key()))
	}
	if a.inner != nil && !a.inner.HasRole(a.role) {
		return rej("ROLE_NOT_ELIGIBLE", fmt.Sprintf("%s is not an eligible role for the scheduled service %s", a.role, a.inner.Key()))
	}
	eff := row
	if a.inner != nil {
		eff = a.inner
	}
	if eff.Target == "device" {
		if !a.known {
			return rej("DEVICE_UNKNOWN", "the device is not on the Smart Metering Inventory (para 134)")
		}
		if g.class(a.typ) == "type2" && !g.note405[eff.Key()] {
			return rej("TYPE2_NOT_SUPPORTED", fmt.Sprintf("%s is not available for a Type 2 Device (%s)", eff.Key(), g.s.Note405.Clause))
		}
		if !slices.Contains(eff.Targets, a.typ) {
			return rej("DEVICE_TYPE", fmt.Sprintf("%s is not aimed at %s %s (Annex 5, Table %s)", eff.Key(), article(a.typ), a.typ, eff.Table))
		}
		if !a.local && !slices.Contains(eff.Statuses, a.status) {
			return rej("DEVICE_STATUS", fmt.Sprintf("status %s does not allow %s over the SMWAN (para 134)", a.status, eff.Key()))
		}
		if a.local && !slices.Contains(g.role(a.role).LocalStatuses, a.status) {
			return rej("DEVICE_STATUS", fmt.Sprintf("status %s does not allow a Command for Local Delivery for %s (%s)", a.status, a.role, g.s.Note406.Clause))
		}
	}
	var moveTo string
	if ev, ok := g.events[eff.Ref]; ok && (a.known || eff.Target == "new_device") {
		from, typ := "none", a.typ
		if a.known {
			from = a.status
		}
		if eff.Target == "new_device" {
			typ = a.newType
		}
		to, _, ok := g.move(ev, from, typ, a.role, a.requested)
		if !ok {
			return rej("DEVICE_STATUS", fmt.Sprintf("the inventory transitions allow no %s of %s %s from %s by %s (transitions.cue)", ev, article(typ), typ, from, a.role))
		}
		if !a.local {
			moveTo = to
		}
	}
	r := g.role(a.role)
	if registrationRule(eff) == "check" && a.inner == nil && r.Registration != nil && a.unregistered {
		return rej("NOT_REGISTERED", fmt.Sprintf("the sender is not the registered %s (para 134, footnote 13)", strings.ReplaceAll(r.Registration.Field, "_", " ")))
	}
	if eff.DeviceService && eff.Critical && !a.local {
		switch {
		case r.Kind != "supplier" && r.Kind != "network_operator":
			v := rej("DEVICE_REJECTED", fmt.Sprintf("a device holds no credential for a %s (para 140, footnote 13)", r.Kind))
			v.atDevice = true
			return v
		case a.unregistered:
			v := rej("DEVICE_REJECTED", "the device holds the registered party's credential, not the sender's (para 140-141, footnote 13)")
			v.atDevice = true
			return v
		}
	}
	return verdict{outcome: "accepted", moveTo: moveTo}
}

// reasonClause is the clause the spec gives a reason code.
func (g *suiteGen) reasonClause(code string) string {
	if r := g.s.Reason(code); r != nil {
		return r.Clause
	}
	return code
}

// article is "a" or "an" before a code read letter by letter ("an ESME",
// "a GSME", "an HCALCS").
func article(code string) string {
	if code != "" && strings.ContainsRune("AEFHILMNORSX", rune(code[0])) {
		return "an"
	}
	return "a"
}

// catLabel names a category as the spec labels it, in lower case ("on
// demand").
func (g *suiteGen) catLabel(cat string) string {
	for _, c := range g.s.Categories {
		if c.Code == cat {
			return strings.ToLower(c.Label)
		}
	}
	return cat
}

// ---------------------------------------------------------------- files

// sfile is one scenario under construction.
type sfile struct {
	g          *suiteGen
	path, name string
	source     string
	intro      []string
	now        time.Time
	premises   []*prem
	extraUsers []suser
	cases      []*scase
	counters   map[string]int
}

// prem is a premises: an electricity and a gas MPxN, their Registration
// Data naming the registered users, and the devices of one case.
type prem struct {
	n       int
	hub     string // the premises' Communications Hub Function
	devices []*sdev
	// what the premises is for, as a comment.
	note string
}

type sdev struct {
	id, typ, status, mpxn, chf, meter string
}

type scase struct {
	id      string
	comment []string
	steps   []*sstep
	// unissued: the locally delivered request an 8.13 reports on was
	// refused, so no Command was issued and there is no response to
	// return (para 193-194): the 8.13 is refused MALFORMED.
	unissued bool
}

type sstep struct {
	id      string
	as      string
	request string // the request's flow mapping
	advance string
	expect  []string // "key: value" pairs of the flow mapping
}

func (g *suiteGen) newFile(path, name, source string) *sfile {
	f := &sfile{g: g, path: path, name: name, source: source, now: suiteStart, counters: map[string]int{}}
	f.premises = append(f.premises, &prem{n: 1, note: "shared by the cases that are refused (nothing changes)"})
	return f
}

func mpan(p int) string { return fmt.Sprintf("19%011d", p) }
func mprn(p int) string { return fmt.Sprintf("7%09d", p) }

// devID is 00-DB-00-00-VV-PP-TT-SS: VV a second device of a kind, PP the
// premises, TT the device type (its position in the spec), SS the status
// (its order; 00 for a device not yet on the inventory).
func (g *suiteGen) devID(p int, typ, status string, second int) string {
	ti := slices.IndexFunc(g.s.DeviceTypes, func(t *spec.DeviceType) bool { return t.Code == typ })
	so := 0
	if st := g.s.Status(status); st != nil {
		so = st.Order
	}
	return fmt.Sprintf("00-DB-00-00-%02X-%02X-%02X-%02X", second, p, 0x10*(ti+1), so)
}

func (p *prem) find(id string) *sdev {
	for _, d := range p.devices {
		if d.id == id {
			return d
		}
	}
	return nil
}

// typeFuel is the fuel a device of the type serves ("" for either).
func (g *suiteGen) typeFuel(typ string) string {
	if t := g.s.DeviceType(typ); t != nil {
		return t.Fuel
	}
	return ""
}

// meterOf is the meter type of a fuel.
func (g *suiteGen) meterOf(fuel string) string {
	for _, t := range g.s.DeviceTypes {
		if t.Class == "meter" && t.Fuel == fuel {
			return t.Code
		}
	}
	return ""
}

func (g *suiteGen) hubType() string {
	for _, t := range g.s.DeviceTypes {
		if t.Class == "hub" && t.Fuel == "" {
			return t.Code
		}
	}
	return ""
}

// fuels lists the spec's fuels in a fixed order.
func (g *suiteGen) fuels() []string {
	var out []string
	for _, t := range g.s.DeviceTypes {
		if t.Class == "meter" && t.Fuel != "" && !slices.Contains(out, t.Fuel) {
			out = append(out, t.Fuel)
		}
	}
	return out
}

func (g *suiteGen) mpxnOf(p int, fuel string) string {
	if fuel == g.fuels()[0] {
		return mpan(p)
	}
	return mprn(p)
}

// device puts a device of typ in status on premises p and returns it,
// with what it needs: the premises' hub and, for a device that is not a
// meter or the hub, the meter of fuel it is associated with. The hub and
// meters are commissioned unless they are the device asked for. A hub in
// another status than the premises' own is a second hub, alone.
func (f *sfile) device(p *prem, typ, status, fuel string) *sdev {
	g := f.g
	hub := g.hubType()
	if p.hub == "" {
		st := "commissioned"
		if typ == hub && p != f.shared() {
			st = status
		}
		p.hub = g.devID(p.n, hub, st, 0)
		p.devices = append(p.devices, &sdev{id: p.hub, typ: hub, status: st})
	}
	if typ == hub {
		id := g.devID(p.n, hub, status, 0)
		if p.find(id) == nil {
			p.devices = append(p.devices, &sdev{id: id, typ: hub, status: status})
		}
		if id == p.hub {
			f.meters(p, fuel)
		}
		return p.find(id)
	}
	if g.class(typ) == "meter" {
		id := g.devID(p.n, typ, status, 0)
		if d := p.find(id); d != nil {
			return d
		}
		d := &sdev{id: id, typ: typ, status: status, mpxn: g.mpxnOf(p.n, g.typeFuel(typ)), chf: p.hub}
		p.devices = append(p.devices, d)
		return d
	}
	// Another device: associated with a commissioned meter of its fuel.
	mfuel := g.typeFuel(typ)
	if mfuel == "" {
		mfuel = fuel
	}
	if mfuel == "" {
		mfuel = g.fuels()[0]
	}
	meter := f.device(p, g.meterOf(mfuel), "commissioned", mfuel)
	id := g.devID(p.n, typ, status, 0)
	if d := p.find(id); d != nil {
		return d
	}
	d := &sdev{id: id, typ: typ, status: status, chf: p.hub, meter: meter.id}
	p.devices = append(p.devices, d)
	return d
}

// meters puts on the premises' hub the commissioned meters of fuel (every
// fuel if fuel is empty), so the hub's MPxNs name the users of that fuel.
func (f *sfile) meters(p *prem, fuel string) {
	for _, fu := range f.g.fuels() {
		if fuel != "" && fu != fuel {
			continue
		}
		f.device(p, f.g.meterOf(fu), "commissioned", fu)
	}
}

// own gives a case premises of its own, so what it changes touches no other
// case.
func (f *sfile) own(note string) *prem {
	p := &prem{n: len(f.premises) + 1, note: note}
	f.premises = append(f.premises, p)
	return p
}

func (f *sfile) shared() *prem { return f.premises[0] }

// roleFuel is the fuel whose Registration Data names a role ("" for
// roles it does not name).
func (g *suiteGen) roleFuel(role string) string {
	if r := g.role(role); r != nil && r.Registration != nil {
		return r.Registration.Fuel
	}
	return ""
}

// compatible: a user of role can be the registered party of a device of
// typ (a meter or Gas Proxy of the role's fuel; a hub or another device on
// a premises of that fuel).
func (g *suiteGen) compatible(role, typ string) bool {
	rf, tf := g.roleFuel(role), g.typeFuel(typ)
	return rf == "" || tf == "" || rf == tf
}

// ---------------------------------------------------------------- cases

func (f *sfile) addCase(c *scase) { f.cases = append(f.cases, c) }

// q quotes a string for YAML (Go's quoting is valid YAML for the ASCII the
// suite writes).
func q(s string) string { return strconv.Quote(s) }

// req describes one request for a step.
type req struct {
	svc      *spec.Service
	device   string
	future   time.Time
	schedule *spec.Service
	first    time.Time
	local    bool
	body     []string // "key: value" pairs
	sign     string
	counter  int // the Request ID's counter, if not the next
}

func (f *sfile) requestText(r req) string {
	parts := []string{"service: " + q(r.svc.Ref)}
	if r.svc.Variant != "" {
		parts = append(parts, "variant: "+r.svc.Variant)
	}
	if r.device != "" {
		parts = append(parts, "device: "+q(r.device))
	}
	switch {
	case r.schedule != nil:
		sp := []string{"service: " + q(r.schedule.Ref)}
		if r.schedule.Variant != "" {
			sp = append(sp, "variant: "+r.schedule.Variant)
		}
		sp = append(sp, "every: 24h", "first: "+q(r.first.Format(time.RFC3339)))
		parts = append(parts, "when: {schedule: {"+strings.Join(sp, ", ")+"}}")
	case !r.future.IsZero():
		parts = append(parts, "when: {future: "+q(r.future.Format(time.RFC3339))+"}")
	}
	if r.local {
		parts = append(parts, "delivery: local")
	}
	if len(r.body) > 0 {
		parts = append(parts, "body: {"+strings.Join(r.body, ", ")+"}")
	}
	if r.sign != "" {
		parts = append(parts, "sign: "+r.sign)
	}
	if r.counter > 0 {
		parts = append(parts, "counter: "+strconv.Itoa(r.counter))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// send adds a request step to a case and counts the sender's requests (the
// public client numbers each user's requests from 1 in every world, and
// after a counter the file gives, from above the highest sent).
func (f *sfile) send(c *scase, id, as string, r req, expect ...string) *sstep {
	st := &sstep{id: id, as: as, request: f.requestText(r), expect: expect}
	if r.counter > 0 {
		f.counters[as] = max(f.counters[as], r.counter)
	} else {
		f.counters[as]++
	}
	c.steps = append(c.steps, st)
	return st
}

// requestID is the ID the public client gives the sender's next request.
func (f *sfile) nextRequestID(as, device string) string {
	return fmt.Sprintf("%s:%s:%d", as, device, f.counters[as]+1)
}

func (f *sfile) advance(c *scase, id string, d time.Duration, expect ...string) {
	f.now = f.now.Add(d)
	c.steps = append(c.steps, &sstep{id: id, advance: durationText(d), expect: expect})
}

func durationText(d time.Duration) string { return (spec.Duration(d)).Format() }

// ---------------------------------------------------------------- row files

// rowFile writes the cases of one row.
func (g *suiteGen) rowFile(svc *spec.Service) (*sfile, error) {
	name := strings.ReplaceAll(svc.Key(), "/", "-")
	f := g.newFile(name+".yaml", fmt.Sprintf("%s %s", svc.Key(), svc.Name), fmt.Sprintf("%s (%s); para 110, 114, 128, 134; %s; %s; %s", svc.Clause, svc.Key(), g.s.Note404.Clause, g.s.Note405.Clause, g.s.Note406.Clause))
	crit := "not critical"
	if svc.Critical {
		crit = "critical"
	}
	f.intro = []string{
		fmt.Sprintf("%s %s: %s", svc.Key(), svc.Name, svc.Description),
		fmt.Sprintf("Table %s; %s; on demand %s, future dated %s, scheduled %s; roles %s;", svc.Table, crit, durText(svc.OnDemand), durText(svc.FutureDated), durText(svc.Scheduled), strings.Join(svc.Roles, " ")),
		fmt.Sprintf("target %s; device types %s; statuses %s.", svc.Target, orDash(strings.Join(svc.Targets, " ")), orDash(strings.Join(svc.Statuses, " "))),
	}
	rf := &rowGen{g: g, f: f, svc: svc}
	rf.cat = "on_demand"
	if svc.OnDemand == nil {
		rf.cat = "future_dated"
	}
	rf.roles()
	rf.registration()
	rf.categories()
	rf.types()
	rf.statuses()
	rf.critical()
	rf.listed()
	rf.moves()
	rf.unknownUser()
	rf.malformed()
	return f, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type rowGen struct {
	g   *suiteGen
	f   *sfile
	svc *spec.Service
	cat string // the category the cases use: on demand where available
}

// deviceTarget: the row's request is aimed at a device on the inventory.
func (r *rowGen) deviceTarget() bool { return r.svc.Target == "device" }

// choice is a device type and status for a role's request.
type choice struct{ typ, status string }

// attemptFor is the model's view of a request of this row.
func (r *rowGen) attemptFor(role string, ch choice) attempt {
	a := attempt{row: r.svc, role: role, category: r.cat, known: true, typ: ch.typ, status: ch.status}
	switch r.svc.Target {
	case "new_device":
		a.known = ch.status != ""
		a.newType = ch.typ
	case "device":
	default:
		a.known = false
	}
	if r.svc.CreatesSchedule {
		a.inner = r.innerFor(role)
	}
	if r.requests() {
		a.requested = r.requested(role, ch)
	}
	return a
}

// innerFor is the scheduled service a role's 5.1 names: the first of note
// 404 the role may ask for.
func (r *rowGen) innerFor(role string) *spec.Service {
	var first *spec.Service
	for _, s := range r.g.s.Services {
		if s.Scheduled == nil {
			continue
		}
		if first == nil {
			first = s
		}
		if s.HasRole(role) {
			return s
		}
	}
	return first
}

// requests: the row's request names the status its target moves to (8.4).
func (r *rowGen) requests() bool {
	for _, t := range r.g.s.Transitions {
		if t.Service == r.svc.Ref && t.To == "requested" {
			return true
		}
	}
	return false
}

func (r *rowGen) hasField(name string) bool {
	return slices.ContainsFunc(r.svc.Fields, func(f spec.Field) bool { return f.Name == name })
}

// requested is the status an 8.4 asks for: the first status the
// transitions allow from the device's status, or the spec's example.
func (r *rowGen) requested(role string, ch choice) string {
	ev := r.g.events[r.svc.Ref]
	for _, st := range r.g.s.Statuses {
		if st.Code == ch.status {
			continue
		}
		if _, _, ok := r.g.move(ev, ch.status, ch.typ, role, st.Code); ok {
			return st.Code
		}
	}
	for _, fl := range r.svc.Fields {
		if fl.Name == "status" {
			if s, ok := fl.Example.(string); ok {
				return s
			}
		}
	}
	return ""
}

// typesFor lists the device types a role's request may be aimed at: the
// row's types, those of the role's fuel first.
func (r *rowGen) typesFor(role string) []string {
	var a, b []string
	for _, t := range r.svc.Targets {
		if r.g.compatible(role, t) {
			a = append(a, t)
		} else {
			b = append(b, t)
		}
	}
	return append(a, b...)
}

// statusOrder lists the statuses to try: commissioned (if the row allows
// it), the row's other statuses, then the rest.
func (r *rowGen) statusOrder() []string {
	var out []string
	for _, st := range r.svc.Statuses {
		if st == "commissioned" {
			out = append(out, st)
		}
	}
	for _, st := range r.svc.Statuses {
		if st != "commissioned" {
			out = append(out, st)
		}
	}
	for _, st := range r.g.s.Statuses {
		if !slices.Contains(out, st.Code) {
			out = append(out, st.Code)
		}
	}
	return out
}

// acceptedChoice finds a device type and status on which a properly
// registered user of role is accepted; ok is false when there is none.
func (r *rowGen) acceptedChoice(role string) (choice, bool) {
	switch r.svc.Target {
	case "device", "new_device":
	default:
		return choice{}, true
	}
	types := r.typesFor(role)
	if len(types) == 0 {
		return choice{}, false
	}
	if r.svc.Target == "new_device" {
		for _, t := range types {
			ch := choice{typ: t}
			if r.g.expect(r.attemptFor(role, ch)).outcome == "accepted" {
				return ch, true
			}
		}
		return choice{typ: types[0]}, false
	}
	for _, t := range types {
		for _, st := range r.statusOrder() {
			ch := choice{typ: t, status: st}
			if r.g.expect(r.attemptFor(role, ch)).outcome == "accepted" {
				return ch, true
			}
		}
	}
	return choice{typ: types[0], status: r.statusOrder()[0]}, false
}

// refusedChoice is the device for a case refused before the device checks:
// the one the first eligible role is accepted on.
func (r *rowGen) refusedChoice() choice {
	ch, _ := r.acceptedChoice(r.firstRole())
	return ch
}

func (r *rowGen) firstRole() string { return r.svc.Roles[0] }

// caseSpec is one case of a row: who asks, on what, how.
type caseSpec struct {
	id      string
	comment []string
	role    string
	as      string // the sender, if not the role's (un)registered user
	unreg   bool
	ch      choice
	local   bool
	sign    string
	cat     string
	inner   *spec.Service
	// own: the case gets premises of its own (it may change the world).
	own bool
	// forced: the model finds no device this role is accepted on; the case
	// states what the row says all the same (a known contradiction).
	forced bool
	// requested: the status an 8.4 asks for, if not the first allowed.
	requested string
	// malformed: how the body breaks a field rule; body, if set, is the
	// request's body (the row's examples fill the rest).
	malformed string
	body      []string
	// unknown: the sender is a User ID no world names.
	unknown bool
}

// emit writes one case of the row: its premises and device, the body its
// request needs, the request (and the advance of a future dated one, the
// run of a schedule) with the model's verdict.
func (r *rowGen) emit(cs caseSpec) {
	g, f := r.g, r.f
	a := r.attemptFor(cs.role, cs.ch)
	a.unregistered = cs.unreg
	a.local = cs.local
	if cs.requested != "" {
		a.requested = cs.requested
	}
	if cs.cat != "" {
		a.category = cs.cat
	}
	if cs.inner != nil {
		a.inner = cs.inner
	}
	a.malformed, a.unknownUser = cs.malformed, cs.unknown
	v := g.expect(a)
	if cs.forced {
		v = verdict{outcome: "accepted", moveTo: v.moveTo}
	}
	accepted := v.outcome == "accepted"
	pending := accepted && cs.sign == "none"
	// runs: the Command (or the DCC's activity) is carried out now or when
	// due, so the case may change its world.
	runs := accepted && !pending && !cs.local
	// Commissioning looks at the hub, the meter and the MPxN (para 187): a
	// case that gets past the device checks needs a world of its own.
	// A malformed request of a row whose activity needs a request to
	// report on (8.13) gets one, unless it is that field that breaks its
	// rule: refused by its field rule alone, not for naming nothing.
	referent := cs.malformed != "" && cs.body != nil && r.hasField("original_request_id") &&
		!slices.ContainsFunc(cs.body, func(e string) bool { return strings.HasPrefix(e, "original_request_id:") })
	own := cs.own || runs || referent || (r.svc.Commissions && v.reason != "MALFORMED" && v.reason != "UNKNOWN_USER" && v.reason != "ROLE_NOT_ELIGIBLE" && v.reason != "CATEGORY_NOT_AVAILABLE" && v.reason != "DEVICE_TYPE" && v.reason != "DEVICE_STATUS" && v.reason != "TYPE2_NOT_SUPPORTED")
	p := f.shared()
	if own {
		p = f.own(cs.id)
	}
	c := &scase{id: cs.id, comment: cs.comment}
	as := cs.as
	if as == "" {
		as = g.reg[cs.role]
		if cs.unreg {
			as = g.unreg[cs.role]
		}
		if cs.unknown {
			as = unknownUser
		}
	}
	eff := r.svc
	if a.inner != nil && a.inner.Target == "device" {
		eff = a.inner
	}
	fuel := g.roleFuel(cs.role)
	var target *sdev
	var device string
	switch eff.Target {
	case "device":
		if a.known {
			target = f.device(p, cs.ch.typ, cs.ch.status, fuel)
			device = target.id
		} else {
			device = g.devID(p.n, cs.ch.typ, "", 9)
		}
	case "new_device":
		if cs.ch.status != "" {
			target = f.device(p, cs.ch.typ, cs.ch.status, fuel)
			device = target.id
		} else {
			f.device(p, g.hubType(), "commissioned", fuel)
			device = g.devID(p.n, cs.ch.typ, "", 0)
		}
	case "inventory_query":
		// Read Inventory by Device ID: a commissioned meter of the premises.
		mf := fuel
		if mf == "" {
			mf = g.fuels()[0]
		}
		device = f.device(p, g.meterOf(mf), "commissioned", fuel).id
	}
	rq := req{svc: r.svc, device: device, local: cs.local, sign: cs.sign}
	if cs.body != nil {
		rq.body = cs.body
		if referent {
			rq.body = overBody(r.body(c, p, target, device, cs.role, as, a, true), cs.body)
		}
	} else {
		rq.body = r.body(c, p, target, device, cs.role, as, a, runs)
	}
	switch {
	case a.inner != nil:
		rq.schedule = a.inner
		rq.first = f.now.Add(time.Hour)
	case a.category == "future_dated":
		rq.future = f.now.Add(time.Hour)
	}
	// later: the outcome is known when the future dated request is due.
	later := a.category == "future_dated" && a.inner == nil && (runs || cs.local && accepted || v.atDevice)
	var exp []string
	switch {
	case later:
		exp = []string{"outcome: pending"}
		what := "Expected: pending until its execution time, then "
		if accepted {
			what += "accepted."
		} else {
			what += "rejected with " + v.reason + ": " + v.clause + "."
		}
		c.comment = append(c.comment, what)
	case !accepted:
		exp = []string{"outcome: rejected", "reason: " + v.reason}
		c.comment = append(c.comment, "Expected: "+v.reason+": "+v.clause+".")
	case pending:
		exp = []string{"outcome: pending"}
		c.comment = append(c.comment, "Expected: pending, waiting for the signed Pre-Command (para 132, 155).")
	case cs.local:
		exp = []string{"outcome: accepted"}
		c.comment = append(c.comment, "Expected: accepted: the Command for Local Delivery comes back to the user (para 193).")
	default:
		exp = []string{"outcome: accepted"}
		if v.moveTo != "" {
			exp = append(exp, "status: "+v.moveTo)
		}
		if a.inner != nil {
			exp = append(exp, fmt.Sprintf("schedules: {%s: 1}", q(as)))
		}
		what := "Expected: accepted"
		if v.moveTo != "" {
			what += "; the device moves to " + v.moveTo
		}
		c.comment = append(c.comment, what+".")
	}
	if c.unissued && accepted {
		exp = []string{"outcome: rejected", "reason: MALFORMED"}
		// In place of the "Expected: accepted" the switch wrote.
		c.comment[len(c.comment)-1] = "Expected: MALFORMED: the request it reports on was refused, so no Command was issued and there is no response to return (para 193-194)."
	}
	f.send(c, cs.id, as, rq, exp...)
	if later {
		exp := []string{fmt.Sprintf("outcomes: {%s: %s}", q(cs.id), v.outcome)}
		if v.moveTo != "" && target != nil && runs {
			exp = append(exp, fmt.Sprintf("status: {%s: %s}", q(target.id), v.moveTo))
		}
		f.advance(c, cs.id+"/due", time.Hour, exp...)
	}
	if runs && a.inner != nil {
		// The schedule runs at its first time and is still there after.
		f.advance(c, cs.id+"/runs", 2*time.Hour)
		if rs := g.readSchedule(); rs != nil && rs.HasRole(cs.role) {
			f.send(c, cs.id+"/held", as, req{svc: rs, device: device}, "outcome: accepted", fmt.Sprintf("schedules: {%s: 1}", q(as)))
		}
	}
	f.addCase(c)
}

// readSchedule is the row that reads a user's schedules (Table 5.2, on
// the same devices as 5.1), used to look at a schedule after it ran.
func (g *suiteGen) readSchedule() *spec.Service {
	create := g.createSchedule()
	for _, s := range g.s.Services {
		if s.Table == "5.2" && !s.CreatesSchedule && create != nil && s.Ref != create.Ref && len(s.Fields) == 0 && slices.Equal(s.Roles, create.Roles) {
			return s
		}
	}
	return nil
}

// overBody is base's "field: value" entries with over's in place of those
// of the same fields.
func overBody(base, over []string) []string {
	name := func(e string) string { n, _, _ := strings.Cut(e, ":"); return n }
	out := slices.Clone(over)
	for _, e := range base {
		if !slices.ContainsFunc(over, func(o string) bool { return name(o) == name(e) }) {
			out = append(out, e)
		}
	}
	return out
}

// body sets the fields a request needs on its world (the rest take the
// spec's examples): a Device Log to update, a hub to restore from, a new
// device's details, the status an 8.4 asks for, the locally delivered
// request an 8.13 reports on, the image an 11.3 activates. runs says the
// request will be carried out, so the setup it needs must come first.
func (r *rowGen) body(c *scase, p *prem, target *sdev, device, role, as string, a attempt, runs bool) []string {
	g, f := r.g, r.f
	fuel := g.roleFuel(role)
	var out []string
	for _, fl := range r.svc.Fields {
		switch {
		case fl.Name == "add" && fl.Type == "strings" && target != nil:
			// 8.11: add a commissioned meter of the premises to the Device Log.
			mf := fuel
			if mf == "" {
				mf = g.fuels()[0]
			}
			out = append(out, "add: ["+q(f.device(p, g.meterOf(mf), "commissioned", fuel).id)+"]")
		case fl.Name == "from_chf" && target != nil:
			// 8.12: the failed hub whose Device Log is restored.
			old := g.devID(p.n, g.hubType(), "commissioned", 1)
			if p.find(old) == nil {
				p.devices = append(p.devices, &sdev{id: old, typ: g.hubType(), status: "commissioned"})
			}
			out = append(out, "from_chf: "+q(old))
		case fl.Name == "status" && a.requested != "":
			out = append(out, "status: "+a.requested)
		case fl.Name == "original_request_id" && target != nil && runs:
			// 8.13: first the request whose Command was delivered locally.
			if orig := g.localService(role, target.typ); orig != nil {
				ov := g.expect(attempt{row: orig, role: role, unregistered: a.unregistered, known: true, typ: target.typ, status: target.status, local: true})
				exp := []string{"outcome: accepted"}
				if ov.outcome != "accepted" {
					exp = []string{"outcome: rejected", "reason: " + ov.reason}
					c.unissued = true
				}
				id := f.nextRequestID(as, device)
				f.send(c, c.id+"/local", as, req{svc: orig, device: device, local: true}, exp...)
				out = append(out, "original_request_id: "+q(id))
			}
		case fl.Name == "type" && r.svc.Target == "new_device":
			out = append(out, "type: "+a.newType)
			if target != nil || device == "" {
				break
			}
			// A new device's hub, MPxN or meter on the premises.
			if a.newType != g.hubType() {
				out = append(out, "chf: "+q(p.hub))
			}
			switch {
			case g.class(a.newType) == "meter":
				out = append(out, "mpxn: "+q(g.mpxnOf(p.n, g.typeFuel(a.newType))))
			case a.newType != g.hubType():
				mf := g.typeFuel(a.newType)
				if mf == "" {
					mf = fuel
				}
				if mf == "" {
					mf = g.fuels()[0]
				}
				out = append(out, "meter: "+q(f.device(p, g.meterOf(mf), "commissioned", fuel).id))
			}
		case fl.Name == "credential" && g.role(role) != nil && g.s.ExampleFor(fl, role) == any(g.role(role).Kind):
			// 6.15: the credential of the sender's own kind (para 141).
			out = append(out, "credential: "+g.role(role).Kind)
		}
	}
	if target != nil && runs {
		for _, pre := range g.prerequisites(r.svc) {
			f.setup(c, pre, as, device)
		}
	}
	return out
}

// prerequisites are the rows whose Commands a device needs before it can
// carry out a row's: not a fact of the schedule but of the devices, so
// written here. Emergency credit (2.5) needs prepayment mode (1.6) and an
// emergency credit limit (2.1); activating firmware (11.3) needs an image
// that 11.1 stored.
var prerequisites = map[string][]string{
	"2.5":  {"1.6", "2.1"},
	"11.3": {"11.1"},
}

func (g *suiteGen) prerequisites(svc *spec.Service) []*spec.Service {
	var out []*spec.Service
	for _, key := range prerequisites[svc.Key()] {
		if s := g.s.ServiceByKey(key); s != nil {
			out = append(out, s)
		}
	}
	return out
}

// setup sends a prerequisite row as part of a case: on demand where it is
// available, else future dated and run when due.
func (f *sfile) setup(c *scase, svc *spec.Service, as, device string) {
	id := c.id + "/" + svc.Key()
	if svc.OnDemand != nil {
		f.send(c, id, as, req{svc: svc, device: device}, "outcome: accepted")
		return
	}
	f.send(c, id, as, req{svc: svc, device: device, future: f.now.Add(time.Minute)}, "outcome: pending")
	f.advance(c, id+"/due", time.Minute, fmt.Sprintf("outcomes: {%s: accepted}", q(id)))
}

// localService is a Device Service a role may ask for as a Command for
// Local Delivery on a device of typ: the first non-critical row that
// allows both (one without fields if there is one).
func (g *suiteGen) localService(role, typ string) *spec.Service {
	var withFields *spec.Service
	for _, s := range g.s.Services {
		// Sent on demand: a row that is future dated only would be refused
		// its category.
		if !s.DeviceService || s.Alert || s.Critical || s.OnDemand == nil || !s.HasRole(role) || !slices.Contains(s.Targets, typ) {
			continue
		}
		if len(s.Fields) == 0 {
			return s
		}
		if withFields == nil {
			withFields = s
		}
	}
	return withFields
}

func (r *rowGen) rowRef() string {
	return fmt.Sprintf("%s %s", r.svc.Key(), r.svc.Name)
}

// roles: every role of the Role Reference Key.
func (r *rowGen) roles() {
	g := r.g
	for _, role := range g.s.Roles {
		id := "role." + role.Code
		if !r.svc.HasRole(role.Code) {
			r.emit(caseSpec{id: id, role: role.Code, ch: r.refusedChoice(), comment: []string{
				fmt.Sprintf("%s, roles: %s (%s) is not an eligible role of the row (para 110, 114, 134).", r.rowRef(), role.Code, role.Description),
			}})
			continue
		}
		ch, ok := r.acceptedChoice(role.Code)
		cs := caseSpec{id: id, role: role.Code, ch: ch, comment: []string{
			fmt.Sprintf("%s, roles: %s (%s) is eligible; properly registered, it is accepted (para 110, 114, 134).", r.rowRef(), role.Code, role.Description),
		}}
		if !ok {
			// No device type and status lets the role be accepted: aim at
			// the class the transitions give the role's kind, and say what
			// the row says.
			cs.forced, cs.own = true, true
			cs.comment = append(cs.comment, "The spec leaves this role no device it can be accepted on (the transitions name one that a note forbids): a known contradiction.")
			for _, t := range g.s.Transitions {
				if t.Service != r.svc.Ref || len(t.RoleKinds) == 0 || !slices.Contains(t.RoleKinds, role.Kind) {
					continue
				}
				for _, typ := range r.svc.Targets {
					if len(t.Classes) == 0 || slices.Contains(t.Classes, g.class(typ)) {
						cs.ch = choice{typ: typ, status: t.From[0]}
						break
					}
				}
			}
		}
		r.emit(cs)
	}
}

// registration: the same roles, not named in the Registration Data.
func (r *rowGen) registration() {
	for _, role := range r.g.s.Roles {
		if !r.svc.HasRole(role.Code) || role.Registration == nil {
			continue
		}
		ch, ok := r.acceptedChoice(role.Code)
		if !ok {
			continue
		}
		rule := registrationRule(r.svc)
		why := "the row is checked against the Registration Data (para 134, footnote 13)"
		switch {
		case r.svc.CreatesSchedule:
			why = "creating a schedule is an activity of the DCC, not checked against the Registration Data (para 139); each run is, when it runs"
		case rule == "skip" && r.svc.DeviceService:
			why = "a critical Command is not checked against the Registration Data: the device refuses it (footnote 13, para 140-141)"
		case rule == "skip":
			why = "the DCC's own activities are not checked against the Registration Data (para 139)"
		case !r.svc.DeviceService:
			why = "only a supplier authorised for the device changes its entry on the inventory (para 175, 177, 181)"
		}
		r.emit(caseSpec{id: "registration." + role.Code, role: role.Code, unreg: true, ch: ch, comment: []string{
			fmt.Sprintf("%s, Registration Data: %s %s the MPxN's Registration Data does not name; %s.", r.rowRef(), article(role.Code), role.Code, why),
		}})
	}
}

// categories: on demand, future dated, scheduled (note 404) and a Command
// for Local Delivery (note 406).
func (r *rowGen) categories() {
	g := r.g
	role := r.firstRole()
	ch, _ := r.acceptedChoice(role)
	durs := map[string]*spec.Duration{"on_demand": r.svc.OnDemand, "future_dated": r.svc.FutureDated}
	for _, cat := range []string{"on_demand", "future_dated"} {
		if r.svc.CreatesSchedule && cat != "on_demand" {
			// A 5.1 is sent with its schedule: the format has no way to ask
			// for it future dated as well.
			continue
		}
		avail := categoryAvailable(r.svc, cat)
		what := fmt.Sprintf("%s, categories: %s is %s (para 128, Annex 5: %s).", r.rowRef(), g.catLabel(cat), availText(avail), durText(durs[cat]))
		if cat == "future_dated" && avail {
			what += " It waits for its execution time, then runs."
		}
		r.emit(caseSpec{id: "category." + cat, role: role, ch: ch, cat: cat, comment: []string{what}})
	}
	// Scheduled: 5.1 Create Schedule naming this row.
	if create := g.createSchedule(); create != nil && r.svc != create {
		srole := ""
		for _, rl := range r.svc.Roles {
			if create.HasRole(rl) {
				srole = rl
				break
			}
		}
		if srole == "" {
			srole = create.Roles[0]
		}
		sch := choice{typ: create.Targets[0], status: "commissioned"}
		if r.deviceTarget() {
			sch, _ = r.acceptedChoice(srole)
		}
		what := fmt.Sprintf("%s, categories: scheduled is %s (%s): %s %s naming it", r.rowRef(), availText(r.svc.Scheduled != nil), g.s.Note404.Clause, create.Key(), create.Name)
		if r.svc.Scheduled != nil {
			what += " is accepted; the schedule runs at its time and is still held after."
		} else {
			what += " is refused."
		}
		cr := &rowGen{g: g, f: r.f, svc: create, cat: "on_demand"}
		cr.emit(caseSpec{id: "category.scheduled", role: srole, ch: sch, inner: r.svc, comment: []string{what}})
	}
	// A Command for Local Delivery, by an eligible role note 406 gives
	// statuses, on a device in one of them.
	lrole := role
	for _, rl := range r.svc.Roles {
		if len(g.role(rl).LocalStatuses) > 0 {
			lrole = rl
			break
		}
	}
	lch, _ := r.acceptedChoice(lrole)
	if ls := g.role(lrole).LocalStatuses; r.deviceTarget() && len(ls) > 0 && !slices.Contains(ls, lch.status) {
		lch.status = ls[len(ls)-1]
	}
	what := fmt.Sprintf("%s, delivery: a Command for Local Delivery (para 192-193, %s) ", r.rowRef(), g.s.Note406.Clause)
	if g.localAllowed(r.svc) {
		what += "is returned to the user."
	} else {
		what += "is for Device Services only."
	}
	r.emit(caseSpec{id: "category.local", role: lrole, ch: lch, local: true, comment: []string{what}})
}

func availText(ok bool) string {
	if ok {
		return "available"
	}
	return "N/A"
}

// createSchedule is the row that creates schedules (5.1).
func (g *suiteGen) createSchedule() *spec.Service {
	for _, s := range g.s.Services {
		if s.CreatesSchedule {
			return s
		}
	}
	return nil
}

// types: every device type as the target.
func (r *rowGen) types() {
	if !r.deviceTarget() && r.svc.Target != "new_device" || r.svc.CreatesSchedule {
		return
	}
	g := r.g
	for _, t := range g.s.DeviceTypes {
		role := ""
		for _, rl := range r.svc.Roles {
			if g.compatible(rl, t.Code) {
				role = rl
				break
			}
		}
		if role == "" {
			role = r.firstRole()
		}
		ch := choice{typ: t.Code, status: "commissioned"}
		if r.svc.Target == "new_device" {
			ch.status = ""
		} else {
			for _, st := range r.statusOrder() {
				c := choice{typ: t.Code, status: st}
				if g.expect(r.attemptFor(role, c)).outcome == "accepted" {
					ch = c
					break
				}
			}
		}
		var what string
		switch {
		case t.Class == "type2" && !g.note405[r.svc.Key()] && r.deviceTarget():
			what = fmt.Sprintf("%s, device types: %s %s is a Type 2 Device, which only %s may serve (%s).", r.rowRef(), article(t.Code), t.Code, g.note405List(), g.s.Note405.Clause)
		case slices.Contains(r.svc.Targets, t.Code):
			what = fmt.Sprintf("%s, device types: %s %s (%s) is a device type of the row (para 134, Annex 5).", r.rowRef(), article(t.Code), t.Code, t.Name)
		default:
			what = fmt.Sprintf("%s, device types: %s %s (%s) is not a device type of the row (para 134, Annex 5).", r.rowRef(), article(t.Code), t.Code, t.Name)
		}
		r.emit(caseSpec{id: "type." + t.Code, role: role, ch: ch, comment: []string{what}})
	}
}

func (g *suiteGen) note405List() string {
	var l []string
	for _, n := range g.s.Note405.Services {
		l = append(l, spec.Key(n.Ref, n.Variant))
	}
	return strings.Join(l, ", ")
}

// statuses: every SMI status of the target device.
func (r *rowGen) statuses() {
	if !r.deviceTarget() && r.svc.Target != "new_device" || r.svc.CreatesSchedule {
		return
	}
	g := r.g
	role := r.firstRole()
	ch0, _ := r.acceptedChoice(role)
	for _, st := range g.s.Statuses {
		ch := choice{typ: ch0.typ, status: st.Code}
		allowed := slices.Contains(r.svc.Statuses, st.Code)
		what := fmt.Sprintf("%s, statuses: %s %s in status %s (%s)", r.rowRef(), article(ch.typ), ch.typ, st.Code, st.Label)
		if r.svc.Target == "new_device" {
			what += " is pre-notified again only where the inventory transitions allow it (para 182-183, H5.28-5.32)."
		} else if allowed {
			what += " is one of the row's statuses (para 134)"
			if ev, ok := g.events[r.svc.Ref]; ok {
				what += fmt.Sprintf(", and the %s transition decides (transitions.cue).", ev)
			} else {
				what += "."
			}
		} else {
			what += " is not one of the row's statuses (para 134)."
		}
		r.emit(caseSpec{id: "status." + st.Code, role: role, ch: ch, comment: []string{what}})
	}
}

// critical: the Pre-Command round trip (para 132, 154-155). A Change of
// Supplier request is signed by the CoS Party, not by its sender (para
// 142-146): its sender has no Pre-Command to sign.
func (r *rowGen) critical() {
	if !r.svc.Critical || r.svc.CoS {
		return
	}
	role := r.firstRole()
	ch, _ := r.acceptedChoice(role)
	r.emit(caseSpec{id: "critical.unsigned", role: role, ch: ch, sign: "none", own: true, comment: []string{
		fmt.Sprintf("%s, critical: the gateway answers with a Pre-Command and waits for the user's signature (para 132, 155).", r.rowRef()),
	}})
	other := r.g.unreg[role]
	if other == "" {
		for _, u := range r.g.users {
			if u.role != role {
				other = u.id
				break
			}
		}
	}
	g, f := r.g, r.f
	id := "critical.wrong-key"
	a := r.attemptFor(role, ch)
	v := g.expect(a)
	p := f.own(id)
	c := &scase{id: id, comment: []string{
		fmt.Sprintf("%s, critical: a Pre-Command signed with another user's key does not verify (para 134, 154-155).", r.rowRef()),
	}}
	as := g.reg[role]
	target := f.device(p, ch.typ, ch.status, g.roleFuel(role))
	rq := req{svc: r.svc, device: target.id, sign: "{with: " + q(other) + "}"}
	rq.body = r.body(c, p, target, target.id, role, as, a, false)
	if a.category == "future_dated" {
		rq.future = f.now.Add(time.Hour)
	}
	reason := "SIGNATURE_INVALID"
	if v.outcome != "accepted" {
		reason = v.reason
	}
	c.comment = append(c.comment, "Expected: "+reason+".")
	f.send(c, id, as, rq, "outcome: rejected", "reason: "+reason)
	f.addCase(c)
}

// listed: the devices a request adds to or removes from its hub's Device
// Log (8.11, the fields marked device_log). A device added must be on the
// inventory (para 182-184, 187); a supplier registered for the MPxN of the
// meter it adds may add it to a hub bound to another fuel's MPxN (para
// 184); and each transition of those devices (subject "added" or
// "removed") moves them.
func (r *rowGen) listed() {
	g := r.g
	adds, removes := r.svc.DeviceLogFields("add"), r.svc.DeviceLogFields("remove")
	if len(adds) == 0 && len(removes) == 0 {
		return
	}
	role := r.firstRole()
	ch, ok := r.acceptedChoice(role)
	if !ok {
		return
	}
	f := r.f
	if len(adds) > 0 {
		// Not notified: not on the inventory, so it joins no HAN.
		p := f.shared()
		hub := f.device(p, ch.typ, ch.status, g.roleFuel(role))
		unknown := g.devID(p.n, g.meterOf(g.fuels()[0]), "", 0)
		id := "device-log.add.unknown"
		c := &scase{id: id, comment: []string{
			fmt.Sprintf("%s, Device Log: a device the request adds that is not on the Smart Metering Inventory (para 182-184, 187).", r.rowRef()),
			"Expected: DEVICE_UNKNOWN (" + g.reasonClause("DEVICE_UNKNOWN") + ").",
		}}
		f.send(c, id, g.reg[role], req{svc: r.svc, device: hub.id, body: []string{adds[0] + ": [" + q(unknown) + "]"}}, "outcome: rejected", "reason: DEVICE_UNKNOWN")
		f.addCase(c)
		// A supplier of each fuel adds its meter, pre-notified on no hub,
		// to a hub that serves only the other fuel so far.
		for _, code := range r.svc.Roles {
			fuel := g.roleFuel(code)
			if fuel == "" || g.role(code).Kind != "supplier" || g.meterOf(fuel) == "" {
				continue
			}
			other := ""
			for _, fu := range g.fuels() {
				if fu != fuel && other == "" {
					other = fu
				}
			}
			if other == "" {
				continue
			}
			id := "device-log.add.own-meter." + code
			p := f.own(id)
			hub := f.device(p, ch.typ, ch.status, other)
			m := f.device(p, g.meterOf(fuel), "pending", fuel)
			m.chf = ""
			c := &scase{id: id, comment: []string{
				fmt.Sprintf("%s, Device Log: %s %s adds its %s meter, pre-notified on no hub, to a hub bound so far to the %s MPxN alone; the Registration Data names it for the meter's MPxN (para 184).", r.rowRef(), article(code), code, fuel, other),
				"Expected: accepted; the meter is installed, not commissioned (para 184).",
			}}
			f.send(c, id, g.reg[code], req{svc: r.svc, device: hub.id, body: []string{adds[0] + ": [" + q(m.id) + "]"}},
				"outcome: accepted", fmt.Sprintf("status: {%s: installed_not_commissioned}", q(m.id)))
			f.addCase(c)
			// The same with a meter whose MPxN is of other premises: the
			// hub is not its premises'.
			id = "device-log.add.other-premises." + code
			p = f.own(id)
			hub = f.device(p, ch.typ, ch.status, other)
			m = f.device(p, g.meterOf(fuel), "pending", fuel)
			m.chf, m.mpxn = "", g.mpxnOf(f.shared().n, fuel)
			c = &scase{id: id, comment: []string{
				fmt.Sprintf("%s, Device Log: %s %s adds its %s meter, pre-notified on no hub, whose MPxN the Registration Data places at other premises than the hub's MPxN; it is not registered for the hub (para 134, 184).", r.rowRef(), article(code), code, fuel),
				"Expected: NOT_REGISTERED (" + g.reasonClause("NOT_REGISTERED") + ").",
			}}
			f.send(c, id, g.reg[code], req{svc: r.svc, device: hub.id, body: []string{adds[0] + ": [" + q(m.id) + "]"}},
				"outcome: rejected", "reason: NOT_REGISTERED", fmt.Sprintf("status: {%s: pending}", q(m.id)))
			f.addCase(c)
		}
	}
	for _, t := range g.s.Transitions {
		if t.Service != r.svc.Ref {
			continue
		}
		var field, does string
		switch {
		case t.Subject == "added" && len(adds) > 0:
			field, does = adds[0], "adds to the Device Log"
		case t.Subject == "removed" && len(removes) > 0:
			field, does = removes[0], "removes from the Device Log"
		default:
			continue
		}
		for _, dt := range g.s.DeviceTypes {
			if len(t.Classes) > 0 && !slices.Contains(t.Classes, dt.Class) || dt.Code == g.hubType() {
				continue
			}
			from := t.From[0]
			id := "transition." + t.Event + "." + dt.Code
			p := f.own(id)
			c := &scase{id: id, comment: []string{
				fmt.Sprintf("%s, transitions: %s %s in status %s that the request %s moves to %s (%s).", r.rowRef(), article(dt.Code), dt.Code, from, does, t.To, t.Clause),
				"Expected: accepted; the listed device's status moves.",
			}}
			// A device of one fuel (a gas meter, a Gas Proxy Function) is
			// that fuel's supplier's to add or remove (para 134, 184).
			sender := role
			for _, code := range r.svc.Roles {
				if dt.Fuel != "" && g.roleFuel(sender) != dt.Fuel && g.roleFuel(code) == dt.Fuel && g.role(code).Kind == g.role(role).Kind {
					sender = code
				}
			}
			hub := f.device(p, ch.typ, ch.status, g.roleFuel(sender))
			listed := f.device(p, dt.Code, from, g.roleFuel(sender))
			if listed.id == hub.id {
				continue
			}
			f.send(c, id, g.reg[sender], req{svc: r.svc, device: hub.id, body: []string{field + ": [" + q(listed.id) + "]"}},
				"outcome: accepted", fmt.Sprintf("status: {%s: %s}", q(listed.id), t.To))
			f.addCase(c)
		}
	}
}

// moves: for a row whose request moves its target between statuses (the
// inventory transitions), what each kind of role may move, the statuses a
// request may ask for, and a Command for Local Delivery in every status
// (the transitions apply to it too).
func (r *rowGen) moves() {
	g := r.g
	ev, ok := g.events[r.svc.Ref]
	if !ok || !r.deviceTarget() {
		return
	}
	first := r.firstRole()
	kinds := map[string]bool{g.role(first).Kind: true}
	for _, role := range r.svc.Roles {
		kind := g.role(role).Kind
		if kinds[kind] {
			continue
		}
		kinds[kind] = true
		for _, typ := range r.typePerClass() {
			for _, st := range r.svc.Statuses {
				r.emit(caseSpec{id: fmt.Sprintf("move.%s.%s.%s", role, typ, st), role: role, ch: choice{typ: typ, status: st}, comment: []string{
					fmt.Sprintf("%s, transitions: %s (a %s) asks to %s %s %s in status %s; the inventory transitions decide (transitions.cue).", r.rowRef(), role, kind, ev, article(typ), typ, st),
				}})
			}
		}
	}
	if r.requests() {
		ch, ok := r.acceptedChoice(first)
		if ok {
			for _, st := range g.s.Statuses {
				r.emit(caseSpec{id: "requested." + st.Code, role: first, ch: ch, requested: st.Code, comment: []string{
					fmt.Sprintf("%s, transitions: %s asks to move %s %s from %s to %s (transitions.cue: the statuses a user may set).", r.rowRef(), first, article(ch.typ), ch.typ, ch.status, st.Code),
				}})
			}
		}
	}
	if g.localAllowed(r.svc) {
		ch, _ := r.acceptedChoice(first)
		for _, st := range g.s.Statuses {
			r.emit(caseSpec{id: "local." + st.Code, role: first, ch: choice{typ: ch.typ, status: st.Code}, local: true, comment: []string{
				fmt.Sprintf("%s, transitions: a Command for Local Delivery to %s %s in status %s: note 406 and the %s transition decide (%s; transitions.cue).", r.rowRef(), article(ch.typ), ch.typ, st.Code, ev, g.s.Note406.Clause),
			}})
		}
	}
}

// typePerClass is a device type of the row for each class of device (not
// Type 2 Devices unless note 405 lets the row serve them).
func (r *rowGen) typePerClass() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range r.g.s.DeviceTypes {
		if !slices.Contains(r.svc.Targets, t.Code) || seen[t.Class] || t.Class == "type2" && !r.g.note405[r.svc.Key()] {
			continue
		}
		seen[t.Class] = true
		out = append(out, t.Code)
	}
	return out
}

// ---------------------------------------------------------------- cross-row files

// localRow is the Device Service the local delivery file asks for: the
// first non-critical one open to the most roles.
func (g *suiteGen) localRow() *spec.Service {
	var best *spec.Service
	for _, s := range g.s.Services {
		if !s.DeviceService || s.Alert || s.Critical || len(s.Fields) > 0 && best != nil {
			continue
		}
		if best == nil || len(s.Roles) > len(best.Roles) {
			best = s
		}
	}
	return best
}

// localFile: note 406, a Command for Local Delivery by every role in every
// status.
func (g *suiteGen) localFile() *sfile {
	svc := g.localRow()
	if svc == nil {
		return nil
	}
	f := g.newFile("note-406.yaml", "note 406 Commands for Local Delivery", g.s.Note406.Clause+"; para 192-194")
	f.intro = []string{
		fmt.Sprintf("Note 406: the statuses in which each role may ask for a Command for Local Delivery, asked with %s %s.", svc.Key(), svc.Name),
	}
	rg := &rowGen{g: g, f: f, svc: svc, cat: "on_demand"}
	if svc.OnDemand == nil {
		rg.cat = "future_dated"
	}
	for _, role := range g.s.Roles {
		if !svc.HasRole(role.Code) {
			continue
		}
		typ := rg.typesFor(role.Code)[0]
		for _, st := range g.s.Statuses {
			allowed := slices.Contains(role.LocalStatuses, st.Code)
			rg.emit(caseSpec{id: "local." + role.Code + "." + st.Code, role: role.Code, ch: choice{typ: typ, status: st.Code}, local: true, comment: []string{
				fmt.Sprintf("%s, note 406: %s asks for a Command for Local Delivery to %s %s in status %s, which note 406 %s for %s (%s).", svc.Key(), role.Code, article(typ), typ, st.Code, map[bool]string{true: "allows", false: "does not allow"}[allowed], role.Code, g.s.Note406.Clause),
			}})
		}
	}
	return f
}

// orderFile: para 134, the first failing check gives the reason.
func (g *suiteGen) orderFile() *sfile {
	// A row with on demand only, an ineligible role and a meter target.
	var svc *spec.Service
	for _, s := range g.s.Services {
		if s.DeviceService && !s.Alert && !s.Critical && s.OnDemand != nil && s.FutureDated == nil && len(s.Roles) < len(g.s.Roles) && registrationRule(s) == "check" {
			svc = s
			break
		}
	}
	if svc == nil {
		return nil
	}
	var out, in string
	for _, r := range g.s.Roles {
		if svc.HasRole(r.Code) && in == "" && r.Registration != nil {
			in = r.Code
		}
		if !svc.HasRole(r.Code) && out == "" {
			out = r.Code
		}
	}
	f := g.newFile("para-134-order.yaml", "para 134 order of the checks", "para 134; conformance/scenario-format.md (Rules the format assumes)")
	f.intro = []string{
		fmt.Sprintf("Para 134: the checks run in order and the first that fails gives the reason. Each case fails two checks of %s %s.", svc.Key(), svc.Name),
	}
	susp := suser{id: "00-00-00-00-00-00-0C-01", role: out, party: "suspended " + out, suspended: true}
	f.extraUsers = append(f.extraUsers, susp)
	rg := &rowGen{g: g, f: f, svc: svc, cat: "on_demand"}
	meter := svc.Targets[0]
	var type2, wrong string
	for _, t := range g.s.DeviceTypes {
		if t.Class == "type2" && type2 == "" {
			type2 = t.Code
		}
		if t.Class != "type2" && !slices.Contains(svc.Targets, t.Code) && wrong == "" {
			wrong = t.Code
		}
	}
	badStatus := ""
	for _, st := range g.s.Statuses {
		if !slices.Contains(svc.Statuses, st.Code) {
			badStatus = st.Code
		}
	}
	cases := []struct {
		id, what string
		cs       caseSpec
		a        attempt
	}{
		{"order.category-before-role", fmt.Sprintf("future dated (N/A) and sent by %s (not eligible): the category is checked first.", out),
			caseSpec{role: out, ch: choice{meter, "commissioned"}, cat: "future_dated"}, attempt{}},
		{"order.user-before-role", fmt.Sprintf("a suspended user of a role (%s) that is not eligible: the user is checked first.", out),
			caseSpec{role: out, as: susp.id, ch: choice{meter, "commissioned"}}, attempt{suspended: true}},
		{"order.role-before-device", fmt.Sprintf("%s (not eligible) aims at a device not on the inventory: the role is checked first.", out),
			caseSpec{role: out, ch: choice{meter, "unknown"}}, attempt{}},
		{"order.device-before-registration", fmt.Sprintf("an unregistered %s aims at a device not on the inventory: the device is checked first.", in),
			caseSpec{role: in, unreg: true, ch: choice{meter, "unknown"}}, attempt{}},
		{"order.type2-before-status", fmt.Sprintf("%s %s (Type 2) in status %s: note 405 is checked before the status.", article(type2), type2, badStatus),
			caseSpec{role: in, ch: choice{type2, badStatus}}, attempt{}},
		{"order.type-before-status", fmt.Sprintf("%s %s (not a device type of the row) in status %s: the type is checked before the status.", article(wrong), wrong, badStatus),
			caseSpec{role: in, ch: choice{wrong, badStatus}}, attempt{}},
		{"order.status-before-registration", fmt.Sprintf("an unregistered %s aims at %s %s in status %s: the status is checked before the Registration Data.", in, article(meter), meter, badStatus),
			caseSpec{role: in, unreg: true, ch: choice{meter, badStatus}}, attempt{}},
	}
	// Structure first, then category (para 134; the format's order): a
	// body that breaks a field rule of the row, future dated where it is
	// N/A. (The user comes after both, but a gateway that refuses a caller
	// with no certificate at the TLS handshake shows nothing else to a
	// client that cannot issue one: the suite sends no unknown user with a
	// second fault.)
	if vs, err := g.violations(svc); err == nil && len(vs) > 0 {
		bad := vs[0]
		cases = append(cases, struct {
			id, what string
			cs       caseSpec
			a        attempt
		}{"order.malformed-before-category", fmt.Sprintf("future dated (N/A) with a body that breaks a field rule (%s): the structure is checked first.", bad.what),
			caseSpec{role: in, ch: choice{meter, "commissioned"}, cat: "future_dated", malformed: bad.what, body: bad.body}, attempt{}})
	}
	for _, c := range cases {
		cs := c.cs
		cs.id = c.id
		cs.comment = []string{fmt.Sprintf("%s, para 134: %s (para 134; the format's order of the checks)", svc.Key(), strings.TrimSuffix(c.what, "."))}
		if c.a.suspended {
			rg.emitSuspended(cs)
			continue
		}
		if cs.ch.status == "unknown" {
			rg.emitUnknown(cs)
			continue
		}
		rg.emit(cs)
	}
	return f
}

// emitUnknown: a request aimed at a device that is not on the inventory.
func (r *rowGen) emitUnknown(cs caseSpec) {
	g, f := r.g, r.f
	a := attempt{row: r.svc, role: cs.role, unregistered: cs.unreg, category: r.cat, known: false, typ: cs.ch.typ}
	v := g.expect(a)
	c := &scase{id: cs.id, comment: append(cs.comment, "Expected: "+v.reason+": "+v.clause+".")}
	as := g.reg[cs.role]
	if cs.unreg {
		as = g.unreg[cs.role]
	}
	f.send(c, cs.id, as, req{svc: r.svc, device: g.devID(f.shared().n, cs.ch.typ, "", 9)}, "outcome: rejected", "reason: "+v.reason)
	f.addCase(c)
}

// emitSuspended: a request by the suspended user.
func (r *rowGen) emitSuspended(cs caseSpec) {
	g, f := r.g, r.f
	a := attempt{row: r.svc, role: cs.role, suspended: true, category: r.cat, known: true, typ: cs.ch.typ, status: cs.ch.status}
	v := g.expect(a)
	c := &scase{id: cs.id, comment: append(cs.comment, "Expected: "+v.reason+": "+v.clause+".")}
	d := f.device(f.shared(), cs.ch.typ, cs.ch.status, g.roleFuel(cs.role))
	f.send(c, cs.id, cs.as, req{svc: r.svc, device: d.id}, "outcome: rejected", "reason: "+v.reason)
	f.addCase(c)
}

// ---------------------------------------------------------------- rendering

func (f *sfile) render() ([]byte, error) {
	g := f.g
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# %s\n", header)
	for _, l := range f.intro {
		w("# %s\n", l)
	}
	w("name: %s\n", q(f.name))
	w("source: %s\n", q(f.source))
	w("users:\n")
	for _, u := range append(append([]suser{}, g.users...), f.extraUsers...) {
		if u.suspended {
			w("  - {id: %s, role: %s, party: %s, suspended: true}\n", q(u.id), u.role, q(u.party))
			continue
		}
		w("  - {id: %s, role: %s, party: %s}\n", q(u.id), u.role, q(u.party))
	}
	w("# Premises N: MPAN %s..., MPRN %s...; the registered users are named.\n", mpan(1)[:10], mprn(1)[:5])
	w("registration:\n")
	for _, p := range f.premises {
		if p.empty() {
			continue
		}
		for _, fuel := range g.fuels() {
			parts := []string{"mpxn: " + q(g.mpxnOf(p.n, fuel)), "fuel: " + fuel}
			seen := map[string]bool{}
			for _, r := range g.s.Roles {
				if r.Registration == nil || r.Registration.Fuel != fuel || seen[r.Registration.Field] {
					continue
				}
				seen[r.Registration.Field] = true
				parts = append(parts, r.Registration.Field+": "+q(g.reg[r.Code]))
			}
			parts = append(parts, "postcode: \"LS1 1AA\"", "premises: "+q(strconv.Itoa(p.n)))
			w("  - {%s}\n", strings.Join(parts, ", "))
		}
	}
	w("inventory:\n")
	for _, p := range f.premises {
		if p.empty() {
			continue
		}
		w("  # premises %d: %s\n", p.n, p.note)
		for _, d := range p.devices {
			parts := []string{"device: " + q(d.id), "type: " + d.typ, "status: " + d.status}
			if d.mpxn != "" {
				parts = append(parts, "mpxn: "+q(d.mpxn))
			}
			if d.chf != "" {
				parts = append(parts, "chf: "+q(d.chf))
			}
			if d.meter != "" {
				parts = append(parts, "meter: "+q(d.meter))
			}
			w("  - {%s}\n", strings.Join(parts, ", "))
		}
	}
	w("steps:\n")
	for _, c := range f.cases {
		for i, st := range c.steps {
			if i == 0 {
				for _, l := range c.comment {
					w("  # %s\n", l)
				}
			}
			w("  - id: %s\n", q(st.id))
			if st.advance != "" {
				w("    advance: %s\n", st.advance)
			} else {
				w("    as: %s\n", q(st.as))
				w("    request: %s\n", st.request)
			}
			if len(st.expect) > 0 {
				w("    expect: {%s}\n", strings.Join(st.expect, ", "))
			}
		}
	}
	return b.Bytes(), nil
}

func (p *prem) empty() bool { return len(p.devices) == 0 }
