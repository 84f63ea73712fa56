package hubs

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// Engine computes Communications Hub charges over a spec and its compiled
// hubs policy. It is immutable and safe to share.
type Engine struct {
	spec *spec.Spec
	pol  *Policy
}

// New compiles the hubs policy over s.
func New(ctx context.Context, s *spec.Spec, opts ...PolicyOption) (*Engine, error) {
	p, err := NewPolicy(ctx, s, opts...)
	if err != nil {
		return nil, err
	}
	// The kinds this package computes must be in the spec, and those the
	// policy places must have a rule: an edit that drops one fails here,
	// not in the middle of a month.
	for _, k := range []string{"asset_not_installed", "asset_installed", "han_differential", "maintenance",
		"type_fault_compensation", "batch_fault_compensation", "float_top_up", "asset_written_off", "refresh_site_visit"} {
		if _, ok := s.Hubs.ChargeKinds[k]; !ok {
			return nil, fmt.Errorf("hubs: spec hubs.charge_kinds lacks %q, which the hubs package computes", k)
		}
		if _, err := p.Rule(k); err != nil && k != "asset_written_off" && k != "refresh_site_visit" {
			return nil, err
		}
	}
	return &Engine{spec: s, pol: p}, nil
}

// Spec returns the spec the engine charges by.
func (e *Engine) Spec() *spec.Spec { return e.spec }

// Book is a world checked against the spec with every removal decided by
// the policy, ready to give the statement of any month. Statements are
// computed in month order from the first delivery (the float and bad debt
// carry from one month to the next) and kept.
type Book struct {
	e         *Engine
	w         *World
	hubs      map[string]*hub
	ids       []string
	decisions map[string]Decision
	first     Month
	market    []marketMonth
	defaults  map[Month][]Default
	done      map[Month]*Statement
}

type marketMonth struct {
	m Month
	*Market
}

// Open checks w, decides its removals and returns its book. The world must
// not change while the book is used.
func (e *Engine) Open(ctx context.Context, w *World) (*Book, error) {
	hubs, ids, errs := index(e.spec, w)
	b := &Book{e: e, w: w, hubs: hubs, ids: ids, decisions: map[string]Decision{},
		defaults: map[Month][]Default{}, done: map[Month]*Statement{}}
	for i, d := range w.Defaults {
		m, err := ParseMonth(d.Month)
		if err != nil {
			continue // reported by index
		}
		if inv, ok := e.spec.Hubs.Invoices[d.Invoice]; ok && inv.BadDebtKind == "" {
			errs = append(errs, &Error{fmt.Sprintf("defaults[%d]", i), fmt.Sprintf("invoice %q is not one a party pays", d.Invoice)})
		}
		b.defaults[m] = append(b.defaults[m], d)
	}
	for i := range w.Market {
		if m, err := ParseMonth(w.Market[i].Month); err == nil {
			b.market = append(b.market, marketMonth{m, &w.Market[i]})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	sort.Slice(b.market, func(i, j int) bool { return b.market[i].m.Before(b.market[j].m) })
	for _, id := range ids {
		h := hubs[id]
		if b.first.IsZero() || h.DeliveryMonth.Before(b.first) {
			b.first = h.DeliveryMonth
		}
		if h.Removal == nil {
			continue
		}
		d, err := e.pol.Decide(ctx, h)
		if err != nil {
			return nil, err
		}
		b.decisions[id] = d
	}
	return b, nil
}

// ErrMonthOpen is returned for a month that has not ended on the clock.
var ErrMonthOpen = errors.New("the month has not ended")

// Charges returns the statement of m if m has ended at now (invoices are
// issued in arrears, para 364).
func (b *Book) Charges(m Month, now time.Time) (*Statement, error) {
	if now.Before(m.End()) {
		return nil, fmt.Errorf("charges for %s: %w (now %s)", m, ErrMonthOpen, now.Format(time.RFC3339))
	}
	return b.Statement(m)
}

// Statement returns the statement of m whatever the time: a provisional
// one for a month not yet ended.
func (b *Book) Statement(m Month) (*Statement, error) {
	if st, ok := b.done[m]; ok {
		return st, nil
	}
	var prev *Statement
	if !b.first.IsZero() && b.first.Before(m) {
		var err error
		if prev, err = b.Statement(m.Add(-1)); err != nil {
			return nil, err
		}
	}
	st, err := b.compute(m, prev)
	if err != nil {
		return nil, fmt.Errorf("charges for %s: %w", m, err)
	}
	b.done[m] = st
	return st, nil
}

// Statement is one month's Communications Hub charges: every party's
// invoices, the smeared pools they share, what the CSP bears, the removals
// decided, the fault assessments, the float and the defaults.
type Statement struct {
	Month       string          `json:"month"`
	SpecHash    string          `json:"spec_hash"`
	Invoices    []*Invoice      `json:"invoices"`
	Pools       []*Pool         `json:"pools"`
	Removals    []RemovalResult `json:"removals"`
	TypeFaults  []TypeFault     `json:"type_faults"`
	BatchFaults []BatchFault    `json:"batch_faults"`
	Float       Float           `json:"float"`
	Defaults    []DefaultResult `json:"defaults"`
	// Carried are unpaid invoices no other user could yet share (none had
	// charges on that invoice): next month tries again.
	Carried []DefaultResult `json:"carried,omitempty"`

	finance map[string]Pence // per party, the finance charges before float and bad debt
	service map[string]Pence
}

// Invoice is one party's invoice of the month (or the CSP's statement).
type Invoice struct {
	Party   string  `json:"party"`
	Invoice string  `json:"invoice"`
	Label   string  `json:"label"`
	Clause  string  `json:"clause"`
	Lines   []*Line `json:"lines"`
	Total   Pence   `json:"total_pence"`
}

// Line is one line of an invoice, with the rule, clause and hubs behind it.
type Line struct {
	Party  string `json:"party"`
	Kind   string `json:"kind"`
	Label  string `json:"label"`
	Clause string `json:"clause"`
	// Rule is who the policy puts it on: "receiving_supplier", "smear by
	// enrolled".
	Rule   string   `json:"rule"`
	Amount Pence    `json:"amount_pence"`
	Hubs   []string `json:"hubs,omitempty"`
	// Items are the amounts per hub of a line charged hub by hub.
	Items []Item `json:"items,omitempty"`
	// Pool and Share say which pool a smeared line is a share of, and the
	// party's weight over the total weight.
	Pool   string `json:"pool,omitempty"`
	Share  string `json:"share,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Item is one hub's part of a line.
type Item struct {
	Hub    string `json:"hub"`
	Amount Pence  `json:"amount_pence"`
	Note   string `json:"note,omitempty"`
}

// Pool is an amount smeared across parties by a basis.
type Pool struct {
	Kind   string  `json:"kind"`
	Basis  string  `json:"basis"`
	Clause string  `json:"clause"`
	Total  Pence   `json:"total_pence"`
	Items  []Item  `json:"items"`
	Shares []Share `json:"shares"`
}

// Share is one party's weight and share of a pool.
type Share struct {
	Party  string `json:"party"`
	Weight string `json:"weight"`
	Amount Pence  `json:"amount_pence"`
}

// RemovalResult is a removal of the month as the policy decided it.
type RemovalResult struct {
	Hub            string `json:"hub"`
	Supplier       string `json:"supplier"`
	Date           string `json:"date"`
	Reason         string `json:"reason"`
	Category       string `json:"category"`
	Responsibility string `json:"responsibility"`
	Clause         string `json:"clause"`
	Detail         string `json:"detail"`
	// Remaining is the asset cost not yet charged; Recovered is what users
	// pay of it, charged by Rule; the CSP writes off the rest.
	Remaining  Pence  `json:"remaining_pence"`
	Recovered  Pence  `json:"recovered_pence"`
	WrittenOff Pence  `json:"written_off_pence"`
	Rule       string `json:"rule"`
	TypeFault  bool   `json:"type_fault"`
	BatchFault bool   `json:"batch_fault"`
}

// TypeFault is the annual type fault assessment of one region (para
// 348-354).
type TypeFault struct {
	Region      string   `json:"region"`
	Year        string   `json:"year"` // "2026-01..2026-12"
	Installed   int      `json:"installed"`
	Faults      int      `json:"faults"`
	ThresholdBP int64    `json:"threshold_bp"`
	Threshold   int      `json:"threshold"` // floor(installed x threshold_bp / 10000)
	Above       int      `json:"above"`
	Damages     Pence    `json:"damages_pence"`
	FaultHubs   []string `json:"fault_hubs"`
}

// BatchFault is an order whose hubs failed in the month (para 355-356).
type BatchFault struct {
	Order       string   `json:"order"`
	Supplier    string   `json:"supplier"`
	Delivered   int      `json:"delivered"`
	ThresholdBP int64    `json:"threshold_bp"`
	Threshold   int      `json:"threshold"`
	Faults      int      `json:"faults"`       // to the end of the month
	FaultsPrior int      `json:"faults_prior"` // to the end of the month before
	Damages     Pence    `json:"damages_pence"`
	FaultHubs   []string `json:"fault_hubs"`
}

// Float is the finance account's contingency float (para 303, K3.13).
type Float struct {
	Opening   Pence `json:"opening_pence"`
	Recovered Pence `json:"recovered_pence"` // draws of last month returned by socialisation
	Recurring Pence `json:"recurring_pence"` // this month's recurring finance charges
	Target    Pence `json:"target_pence"`    // months x recurring
	TopUp     Pence `json:"top_up_pence"`
	Drawn     Pence `json:"drawn_pence"` // paid out for this month's defaults
	Closing   Pence `json:"closing_pence"`
}

// DefaultResult is a party's unpaid invoice: drawn from the float this
// month, socialised across the other users next month.
type DefaultResult struct {
	Party     string `json:"party"`
	Month     string `json:"month"`
	Invoice   string `json:"invoice"`
	Unpaid    Pence  `json:"unpaid_pence"`
	FloatDraw Pence  `json:"float_draw_pence"`
	// SocialisedIn is the month whose invoices carry it.
	SocialisedIn string `json:"socialised_in"`
}

// month is the work of one statement.
type month struct {
	b     *Book
	m     Month
	st    *Statement
	lines map[[2]string]*Line // (party, kind)
	pools map[string]*Pool
	csp   map[string]*Line
}

func (b *Book) compute(m Month, prev *Statement) (*Statement, error) {
	hc := &b.e.spec.Hubs
	x := &month{b: b, m: m, st: &Statement{Month: m.String(), SpecHash: b.e.spec.Hash},
		lines: map[[2]string]*Line{}, pools: map[string]*Pool{}, csp: map[string]*Line{}}
	for _, id := range b.ids {
		h := b.hubs[id]
		if !h.Delivered.Before(m.End()) {
			continue
		}
		k := m.Sub(h.DeliveryMonth) + 1
		if in(h.Delivered, m) && h.Differential > 0 {
			if err := x.charge("han_differential", h, Item{h.ID, h.Differential, hc.HANVariants[h.Variant].Label}); err != nil {
				return nil, err
			}
		}
		if before(h.Removed, m.Add(-1)) {
			continue
		}
		if in(h.Removed, m) {
			if err := x.removal(h, k); err != nil {
				return nil, err
			}
			continue
		}
		if a := h.monthly(k); a > 0 {
			kind := "asset_not_installed"
			if before(h.Installed, m) {
				kind = "asset_installed"
			}
			if err := x.charge(kind, h, Item{h.ID, a, fmt.Sprintf("month %d of %d", k, h.Months)}); err != nil {
				return nil, err
			}
		}
		if before(h.Commissioned, m) && hc.Maintenance.PencePerHubMonth > 0 {
			if err := x.charge("maintenance", h, Item{Hub: h.ID, Amount: Pence(hc.Maintenance.PencePerHubMonth)}); err != nil {
				return nil, err
			}
		}
	}
	if int(m.Mon) == hc.TypeFault.YearEndMonth {
		if err := x.typeFaults(); err != nil {
			return nil, err
		}
	}
	if err := x.batchFaults(); err != nil {
		return nil, err
	}
	if err := x.splitPools(); err != nil {
		return nil, err
	}
	x.st.finance, x.st.service = x.totalsByInvoice()
	if err := x.socialise(prev); err != nil {
		return nil, err
	}
	if err := x.float(prev); err != nil {
		return nil, err
	}
	x.invoices()
	x.defaults()
	return x.st, nil
}

// party resolves a rule's party for a hub; "" means a pool or the CSP.
func (x *month) party(r Rule, h *hub) (string, error) {
	switch r.Party {
	case partyReceiving:
		return h.Receiver, nil
	case partyInstaller:
		if h.Installer == "" {
			return "", fmt.Errorf("%s of hub %s falls on its installing supplier, but it was not installed", r.Kind, h.ID)
		}
		return h.Installer, nil
	case partyRemoving:
		if h.Removal == nil {
			return "", fmt.Errorf("%s of hub %s falls on its removing supplier, but it was not removed", r.Kind, h.ID)
		}
		return h.Removal.Supplier, nil
	case partyCSP, partySmear:
		return "", nil
	}
	return "", fmt.Errorf("rule for %s names party %q, which the hubs package does not know", r.Kind, r.Party)
}

// charge applies the policy's rule for kind to one hub's amount.
func (x *month) charge(kind string, h *hub, it Item) error {
	r, err := x.b.e.pol.Rule(kind)
	if err != nil {
		return err
	}
	return x.apply(r, h, it, "")
}

func (x *month) apply(r Rule, h *hub, it Item, detail string) error {
	p, err := x.party(r, h)
	if err != nil {
		return err
	}
	switch {
	case r.Party == partySmear:
		pl := x.pools[r.Kind]
		if pl == nil {
			pl = &Pool{Kind: r.Kind, Basis: r.Basis, Clause: r.Clause}
			x.pools[r.Kind] = pl
		}
		if pl.Basis != r.Basis {
			return fmt.Errorf("pool %s smeared by both %s and %s", r.Kind, pl.Basis, r.Basis)
		}
		pl.Items = append(pl.Items, it)
		pl.Total += it.Amount
	case r.Party == partyCSP:
		x.cspLine(r.Kind, it, detail)
	default:
		x.line(p, r, it, detail)
	}
	return nil
}

func (x *month) line(party string, r Rule, it Item, detail string) *Line {
	key := [2]string{party, r.Kind}
	l := x.lines[key]
	if l == nil {
		l = &Line{Party: party, Kind: r.Kind, Clause: r.Clause, Rule: r.Text(), Detail: detail}
		x.lines[key] = l
	}
	l.Amount += it.Amount
	if it.Hub != "" {
		l.Hubs = append(l.Hubs, it.Hub)
		l.Items = append(l.Items, it)
	}
	return l
}

func (x *month) cspLine(kind string, it Item, detail string) {
	l := x.csp[kind]
	if l == nil {
		l = &Line{Party: x.b.e.spec.Hubs.CSPParty, Kind: kind, Clause: x.b.e.spec.Hubs.ChargeKinds[kind].Clause, Rule: partyCSP, Detail: detail}
		x.csp[kind] = l
	}
	l.Amount += it.Amount
	if it.Hub != "" {
		l.Hubs = append(l.Hubs, it.Hub)
		l.Items = append(l.Items, it)
	}
}

// removal settles the remaining asset cost of a hub removed in the k-th
// month of its life, as the policy decided.
func (x *month) removal(h *hub, k int) error {
	hc := &x.b.e.spec.Hubs
	d := x.b.decisions[h.ID]
	rem := h.remaining(k)
	recovered := Pence(0)
	if d.Remaining.Party != partyCSP {
		recovered = ofBP(rem, d.Remaining.RecoveryBP)
	}
	r := Rule{Kind: d.Remaining.Kind, Party: d.Remaining.Party, Basis: d.Remaining.Basis, Clause: d.Clause}
	res := RemovalResult{Hub: h.ID, Supplier: h.Removal.Supplier, Date: h.Removal.Date, Reason: h.Removal.Reason,
		Category: d.Category, Responsibility: d.Responsibility, Clause: d.Clause, Detail: d.Detail,
		Remaining: rem, Recovered: recovered, WrittenOff: rem - recovered, Rule: r.Text(),
		TypeFault: d.TypeFault, BatchFault: d.BatchFault}
	x.st.Removals = append(x.st.Removals, res)
	if recovered > 0 {
		if _, ok := hc.ChargeKinds[r.Kind]; !ok {
			return fmt.Errorf("removal of %s: the policy charges kind %q, which the spec lacks", h.ID, r.Kind)
		}
		note := fmt.Sprintf("%s: %s of remaining %s", d.Category, fmtBP(d.Remaining.RecoveryBP), rem)
		if err := x.apply(r, h, Item{h.ID, recovered, note}, ""); err != nil {
			return err
		}
	}
	if rem-recovered > 0 {
		x.cspLine("asset_written_off", Item{h.ID, rem - recovered, d.Category}, "")
	}
	if d.SiteVisit == partyCSP && hc.TechnologyRefresh.SiteVisitPence > 0 {
		v := Pence(hc.TechnologyRefresh.SiteVisitPence)
		vr := Rule{Kind: "refresh_site_visit", Party: partyRemoving, Clause: hc.ChargeKinds["refresh_site_visit"].Clause}
		if err := x.apply(vr, h, Item{h.ID, -v, "site visit covered by the CSP"}, ""); err != nil {
			return err
		}
		x.cspLine("refresh_site_visit", Item{h.ID, v, ""}, "")
	}
	return nil
}

func fmtBP(bp int64) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// typeFaults assesses the year ending with this month (para 348-354).
func (x *month) typeFaults() error {
	hc := &x.b.e.spec.Hubs
	m := x.m
	start, end := m.Add(-11).Start(), m.End()
	group := func(h *hub) string {
		if hc.TypeFault.MeasuredPer == "region" {
			return h.Region
		}
		return "gb"
	}
	base := map[string]int{}
	faults := map[string][]*hub{}
	held := map[string]map[string]map[string]bool{} // group -> supplier -> hubs
	add := func(g, s, id string) {
		if held[g] == nil {
			held[g] = map[string]map[string]bool{}
		}
		if held[g][s] == nil {
			held[g][s] = map[string]bool{}
		}
		held[g][s][id] = true
	}
	for _, id := range x.b.ids {
		h := x.b.hubs[id]
		g := group(h)
		if before(h.Installed, m) && (h.Removed.IsZero() || !h.Removed.Before(start)) {
			base[g]++
			add(g, h.Installer, id)
		}
		if h.Removal != nil && !h.Removed.Before(start) && h.Removed.Before(end) && x.b.decisions[id].TypeFault {
			faults[g] = append(faults[g], h)
			add(g, h.Removal.Supplier, id)
		}
	}
	var groups []string
	for g := range base {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	r, err := x.b.e.pol.Rule("type_fault_compensation")
	if err != nil {
		return err
	}
	for _, g := range groups {
		n, fs := base[g], faults[g]
		t := floorBP(n, hc.TypeFault.ThresholdBP)
		above := max(0, len(fs)-t)
		tf := TypeFault{Region: g, Year: m.Add(-11).String() + ".." + m.String(), Installed: n, Faults: len(fs),
			ThresholdBP: hc.TypeFault.ThresholdBP, Threshold: t, Above: above,
			Damages: Pence(above) * Pence(hc.TypeFault.LDPencePerFault)}
		bySupplier := map[string][]*hub{}
		for _, h := range fs {
			tf.FaultHubs = append(tf.FaultHubs, h.ID)
			bySupplier[h.Removal.Supplier] = append(bySupplier[h.Removal.Supplier], h)
		}
		x.st.TypeFaults = append(x.st.TypeFaults, tf)
		if tf.Damages == 0 {
			continue
		}
		if r.Party != partyAffected {
			return fmt.Errorf("type fault compensation: the hubs package pays affected_suppliers, the policy says %q", r.Party)
		}
		var suppliers []string
		for s := range bySupplier {
			suppliers = append(suppliers, s)
		}
		sort.Strings(suppliers)
		ws := make([]*big.Rat, len(suppliers))
		wtext := make([]string, len(suppliers))
		for i, s := range suppliers {
			f, hs := int64(len(bySupplier[s])), int64(len(held[g][s]))
			switch r.Basis {
			case basisFaultRate:
				ws[i] = big.NewRat(f, hs)
				wtext[i] = fmt.Sprintf("fault rate %d/%d", f, hs)
			case basisFaultCount:
				ws[i] = big.NewRat(f, 1)
				wtext[i] = fmt.Sprintf("%d faults", f)
			default:
				return fmt.Errorf("type fault compensation: unknown basis %q", r.Basis)
			}
		}
		shares, err := Split(-tf.Damages, ws)
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("region %q, year %s: %d faults, %d installed, threshold floor(%d x %s) = %d, %d above x %s = %s",
			g, tf.Year, len(fs), n, n, fmtBP(tf.ThresholdBP), t, above, Pence(hc.TypeFault.LDPencePerFault), tf.Damages)
		for i, s := range suppliers {
			l := x.line(s, r, Item{}, detail)
			l.Amount += shares[i]
			l.Share = wtext[i]
			for _, h := range bySupplier[s] {
				l.Hubs = append(l.Hubs, h.ID)
			}
		}
		x.cspLine("type_fault_compensation", Item{Amount: tf.Damages}, detail)
	}
	return nil
}

// batchFaults pays, in the month a fault occurs, the damages of each fault
// of an order above its batch threshold (para 355-356).
func (x *month) batchFaults() error {
	hc := &x.b.e.spec.Hubs
	r, err := x.b.e.pol.Rule("batch_fault_compensation")
	if err != nil {
		return err
	}
	for _, o := range x.b.w.Orders {
		// The batch is the order's hubs, in however many parts they
		// came (para 356: "delivered in a single order").
		batch := o.DeliveredHubs()
		if len(batch) == 0 {
			continue
		}
		var now, prior int
		var hs []string
		var rep *hub
		for _, dh := range batch {
			h := x.b.hubs[dh.ID]
			rep = h
			if h.Removal == nil || !x.b.decisions[h.ID].BatchFault || !h.Removed.Before(x.m.End()) {
				continue
			}
			now++
			hs = append(hs, h.ID)
			if h.Removed.Before(x.m.Start()) {
				prior++
			}
		}
		if now == prior {
			continue
		}
		n := len(batch)
		t := floorBP(n, hc.BatchFault.ThresholdBP)
		above := max(0, now-t) - max(0, prior-t)
		bf := BatchFault{Order: o.ID, Supplier: o.Supplier, Delivered: n, ThresholdBP: hc.BatchFault.ThresholdBP,
			Threshold: t, Faults: now, FaultsPrior: prior, Damages: Pence(above) * Pence(hc.BatchFault.LDPencePerFault), FaultHubs: hs}
		x.st.BatchFaults = append(x.st.BatchFaults, bf)
		if bf.Damages == 0 {
			continue
		}
		detail := fmt.Sprintf("order %s: %d of %d hubs failed, threshold floor(%d x %s) = %d, %d more above it this month x %s = %s",
			o.ID, now, n, n, fmtBP(bf.ThresholdBP), t, above, Pence(hc.BatchFault.LDPencePerFault), bf.Damages)
		p, err := x.party(r, rep)
		if err != nil {
			return err
		}
		if p == "" {
			return fmt.Errorf("batch fault compensation must fall on a supplier, the policy says %q", r.Party)
		}
		l := x.line(p, r, Item{}, detail)
		l.Amount -= bf.Damages
		l.Hubs = append(l.Hubs, hs...)
		x.cspLine("batch_fault_compensation", Item{Amount: bf.Damages}, detail)
	}
	return nil
}

// weights returns each party's weight by a market basis in this month.
func (x *month) weights(basis string) (map[string]*big.Rat, error) {
	var mk *Market
	for _, mm := range x.b.market {
		if !x.m.Before(mm.m) {
			mk = mm.Market
		}
	}
	counts := map[string]int64{}
	switch basis {
	case basisEnrolled, basisNonDomestic:
		if mk == nil {
			return nil, fmt.Errorf("no market data for %s or before", x.m)
		}
		counts = mk.Enrolled
		if basis == basisNonDomestic {
			counts = mk.EnrolledNonDomestic
		}
	case basisCommissioned:
		if mk != nil && mk.CommissionedCHF != nil {
			counts = mk.CommissionedCHF
			break
		}
		for _, id := range x.b.ids {
			h := x.b.hubs[id]
			if before(h.Commissioned, x.m) && h.heldAtEndOf(x.m) {
				counts[h.Installer]++
			}
		}
	case basisFinance:
		return ratWeights(x.st.finance), nil
	case basisService:
		return ratWeights(x.st.service), nil
	default:
		return nil, fmt.Errorf("unknown smear basis %q", basis)
	}
	out := map[string]*big.Rat{}
	for p, n := range counts {
		out[p] = big.NewRat(n, 1)
	}
	return out, nil
}

func ratWeights(m map[string]Pence) map[string]*big.Rat {
	out := map[string]*big.Rat{}
	for p, v := range m {
		if v > 0 {
			out[p] = big.NewRat(int64(v), 1)
		}
	}
	return out
}

// share splits amount by weights (parties in ID order) into lines of kind.
func (x *month) share(r Rule, amount Pence, ws map[string]*big.Rat, hubs []string, pool, detail string) ([]Share, error) {
	var parties []string
	for p, w := range ws {
		if w.Sign() > 0 {
			parties = append(parties, p)
		}
	}
	sort.Strings(parties)
	list := make([]*big.Rat, len(parties))
	total := new(big.Rat)
	for i, p := range parties {
		list[i] = ws[p]
		total.Add(total, ws[p])
	}
	amounts, err := Split(amount, list)
	if err != nil {
		return nil, fmt.Errorf("%s of %s by %s: %w", r.Kind, amount, r.Basis, err)
	}
	var out []Share
	for i, p := range parties {
		w := fmt.Sprintf("%s/%s", ratText(list[i]), ratText(total))
		out = append(out, Share{Party: p, Weight: w, Amount: amounts[i]})
		if amounts[i] == 0 {
			continue
		}
		l := x.line(p, r, Item{}, detail)
		l.Amount += amounts[i]
		l.Pool, l.Share = pool, w
		l.Hubs = append(l.Hubs, hubs...)
	}
	return out, nil
}

func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return r.RatString()
}

func (x *month) splitPools() error {
	var kinds []string
	for k := range x.pools {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		pl := x.pools[k]
		ws, err := x.weights(pl.Basis)
		if err != nil {
			return fmt.Errorf("pool %s: %w", k, err)
		}
		hubs := make([]string, len(pl.Items))
		for i, it := range pl.Items {
			hubs[i] = it.Hub
		}
		r := Rule{Kind: k, Party: partySmear, Basis: pl.Basis, Clause: pl.Clause}
		if pl.Shares, err = x.share(r, pl.Total, ws, hubs, k, ""); err != nil {
			return err
		}
		x.st.Pools = append(x.st.Pools, pl)
	}
	return nil
}

// totalsByInvoice sums each party's lines so far by invoice.
func (x *month) totalsByInvoice() (finance, service map[string]Pence) {
	finance, service = map[string]Pence{}, map[string]Pence{}
	for _, l := range x.lines {
		switch x.b.e.spec.Hubs.ChargeKinds[l.Kind].Invoice {
		case invoiceFinance:
			finance[l.Party] += l.Amount
		case invoiceService:
			service[l.Party] += l.Amount
		}
	}
	return finance, service
}

// socialise shares last month's unpaid invoices across the other users
// (K9.7, para 369), in proportion to their own charges on that invoice.
func (x *month) socialise(prev *Statement) error {
	if prev == nil {
		return nil
	}
	hc := &x.b.e.spec.Hubs
	pending := append(append([]DefaultResult(nil), prev.Defaults...), prev.Carried...)
	for i, d := range pending {
		if d.Unpaid <= 0 {
			continue
		}
		carried := i >= len(prev.Defaults)
		kind := hc.Invoices[d.Invoice].BadDebtKind
		r, err := x.b.e.pol.Rule(kind)
		if err != nil {
			return err
		}
		if r.Party != partySmear {
			return fmt.Errorf("%s: the hubs package socialises bad debt by a basis, the policy says %q", kind, r.Party)
		}
		// The other users' charges on the unpaid invoice's month; for a
		// debt carried over, this month's.
		var base map[string]Pence
		var of string
		switch r.Basis {
		case basisFinance:
			base, of = prev.finance, d.Month
			if carried {
				base, of = x.st.finance, x.m.String()
			}
		case basisService:
			base, of = prev.service, d.Month
			if carried {
				base, of = x.st.service, x.m.String()
			}
		default:
			return fmt.Errorf("%s: bad debt is shared by finance_charges or service_charges, not %q", kind, r.Basis)
		}
		ws := ratWeights(base)
		for _, o := range pending {
			if o.Invoice == d.Invoice && o.Month == d.Month {
				delete(ws, o.Party)
			}
		}
		delete(ws, d.Party)
		if len(ws) == 0 {
			d.SocialisedIn = x.m.Add(1).String()
			x.st.Carried = append(x.st.Carried, d)
			continue
		}
		detail := fmt.Sprintf("%s did not pay its %s invoice of %s (%s): shared by each other user's %s of %s", d.Party, d.Invoice, d.Month, d.Unpaid, r.Basis, of)
		if _, err := x.share(r, d.Unpaid, ws, nil, "", detail); err != nil {
			return err
		}
		x.st.Float.Recovered += d.FloatDraw
	}
	return nil
}

// float tops the float up to its target (para 303, K3.13).
func (x *month) float(prev *Statement) error {
	hc := &x.b.e.spec.Hubs
	f := &x.st.Float
	if prev != nil {
		f.Opening = prev.Float.Closing
	}
	recurring := map[string]bool{}
	for _, k := range hc.Float.Kinds {
		recurring[k] = true
	}
	for _, l := range x.lines {
		if recurring[l.Kind] {
			f.Recurring += l.Amount
		}
	}
	f.Target = Pence(hc.Float.Months) * f.Recurring
	bal := f.Opening + f.Recovered
	f.TopUp = max(0, f.Target-bal)
	f.Closing = bal + f.TopUp
	if f.TopUp == 0 {
		return nil
	}
	r, err := x.b.e.pol.Rule("float_top_up")
	if err != nil {
		return err
	}
	if r.Party != partySmear {
		return fmt.Errorf("float_top_up: the hubs package shares the float by a basis, the policy says %q", r.Party)
	}
	ws, err := x.weights(r.Basis)
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("float target %d x %s = %s, held %s", hc.Float.Months, f.Recurring, f.Target, bal)
	_, err = x.share(r, f.TopUp, ws, nil, "", detail)
	return err
}

// invoices groups the lines into each party's invoices and the CSP's.
func (x *month) invoices() {
	hc := &x.b.e.spec.Hubs
	byKey := map[[2]string]*Invoice{}
	get := func(party, inv string) *Invoice {
		k := [2]string{party, inv}
		if byKey[k] == nil {
			byKey[k] = &Invoice{Party: party, Invoice: inv, Label: hc.Invoices[inv].Label, Clause: hc.Invoices[inv].Clause}
		}
		return byKey[k]
	}
	add := func(i *Invoice, l *Line) {
		l.Label = hc.ChargeKinds[l.Kind].Label
		i.Lines = append(i.Lines, l)
		i.Total += l.Amount
	}
	for _, l := range x.lines {
		add(get(l.Party, hc.ChargeKinds[l.Kind].Invoice), l)
	}
	for _, l := range x.csp {
		add(get(hc.CSPParty, invoiceCSP), l)
	}
	for _, i := range byKey {
		sort.Slice(i.Lines, func(a, b int) bool { return i.Lines[a].Kind < i.Lines[b].Kind })
		x.st.Invoices = append(x.st.Invoices, i)
	}
	sort.Slice(x.st.Invoices, func(a, b int) bool {
		ia, ib := x.st.Invoices[a], x.st.Invoices[b]
		if ia.Party != ib.Party {
			return ia.Party < ib.Party
		}
		return ia.Invoice < ib.Invoice
	})
	for _, pl := range x.st.Pools {
		sort.SliceStable(pl.Items, func(a, b int) bool { return pl.Items[a].Hub < pl.Items[b].Hub })
	}
}

// defaults records this month's unpaid invoices and draws the float.
func (x *month) defaults() {
	f := &x.st.Float
	for _, d := range x.b.defaults[x.m] {
		res := DefaultResult{Party: d.Party, Month: d.Month, Invoice: d.Invoice, SocialisedIn: x.m.Add(1).String()}
		if inv := x.st.Invoice(d.Party, d.Invoice); inv != nil {
			res.Unpaid = inv.Total
		}
		if d.Invoice == invoiceFinance && res.Unpaid > 0 {
			res.FloatDraw = min(res.Unpaid, f.Closing)
			f.Drawn += res.FloatDraw
			f.Closing -= res.FloatDraw
		}
		x.st.Defaults = append(x.st.Defaults, res)
	}
}

// Invoice returns a party's invoice of the statement, or nil.
func (st *Statement) Invoice(party, invoice string) *Invoice {
	for _, i := range st.Invoices {
		if i.Party == party && i.Invoice == invoice {
			return i
		}
	}
	return nil
}

// Line returns the line of a kind on a party's invoices, or nil.
func (st *Statement) Line(party, kind string) *Line {
	for _, i := range st.Invoices {
		if i.Party != party {
			continue
		}
		for _, l := range i.Lines {
			if l.Kind == kind {
				return l
			}
		}
	}
	return nil
}

// Pool returns the pool of a kind, or nil.
func (st *Statement) Pool(kind string) *Pool {
	for _, p := range st.Pools {
		if p.Kind == kind {
			return p
		}
	}
	return nil
}
