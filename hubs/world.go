package hubs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dccgate/dccgate/spec"
)

// World is everything the charges of a month depend on: the hub orders and
// their deliveries, installations, commissionings and removals, the market
// shares of each month and the invoices parties did not pay. The gateway
// records these; until it does, `dccgate charges --input FILE` reads them
// from a file in this shape (docs/hubs.md). Dates are "YYYY-MM-DD", months
// "YYYY-MM".
type World struct {
	// Forecasts are the Suppliers' forecasts of hubs (para 290); they are
	// kept and shown, and charge nothing.
	Forecasts []Forecast `json:"forecasts,omitempty"`
	Orders    []Order    `json:"orders"`
	Installs  []Install  `json:"installs,omitempty"`
	Removals  []Removal  `json:"removals,omitempty"`
	// Market is the market data by month: a month without an entry uses
	// the latest earlier one.
	Market   []Market  `json:"market,omitempty"`
	Defaults []Default `json:"defaults,omitempty"`
}

// Forecast is a Supplier's forecast of the hubs it will order.
type Forecast struct {
	Supplier string `json:"supplier"`
	Month    string `json:"month"`
	Variant  string `json:"variant"`
	Quantity int    `json:"quantity"`
}

// Order is a Supplier's order of hubs, one line per HAN variant (para
// 320-322), delivered at once or in parts: its hubs, however delivered,
// are a batch for para 356 ("delivered in a single order"). It is
// delivered once all the hubs it orders are; no delivery takes it past the
// quantity of a variant ordered.
type Order struct {
	ID       string `json:"id"`
	Supplier string `json:"supplier"`
	// Region is the CSP region the hubs are for; the type fault threshold
	// may be measured per region (spec hubs.type_fault.measured_per).
	Region    string `json:"region,omitempty"`
	Tranche   string `json:"tranche,omitempty"`
	OrderedOn string `json:"ordered_on,omitempty"`
	// FreeReplacement marks hubs the CSP supplies free of charge to
	// replace ones removed for a DCC Service Fault (para 334): no asset
	// cost and no differential.
	FreeReplacement bool        `json:"free_replacement,omitempty"`
	Lines           []OrderLine `json:"lines"`
	// Delivery is the delivery of the order in one part; an order
	// delivered in parts gives each part in Deliveries instead (not
	// both). A hub's charges run from the date of the part it came in.
	Delivery   *Delivery  `json:"delivery,omitempty"`
	Deliveries []Delivery `json:"deliveries,omitempty"`
}

// Delivered returns the deliveries of the order: Delivery, then any parts
// of Deliveries.
func (o *Order) Delivered() []Delivery {
	if o.Delivery != nil {
		return append([]Delivery{*o.Delivery}, o.Deliveries...)
	}
	return o.Deliveries
}

// DeliveredHubs returns the hubs delivered for the order, part by part.
func (o *Order) DeliveredHubs() []DeliveredHub {
	var out []DeliveredHub
	for _, d := range o.Delivered() {
		out = append(out, d.Hubs...)
	}
	return out
}

// OrderLine is a quantity of one HAN variant.
type OrderLine struct {
	Variant  string `json:"variant"`
	Quantity int    `json:"quantity"`
}

// Delivery is the delivery of an order, or of a part of it: its date and
// the Device IDs of its hubs.
type Delivery struct {
	Date string         `json:"date"`
	Hubs []DeliveredHub `json:"hubs"`
}

// DeliveredHub is one delivered hub (its CHF's Device ID) and its variant.
type DeliveredHub struct {
	ID      string `json:"id"`
	Variant string `json:"variant"`
}

// Install is the installation of a hub and, where done, the commissioning
// of its Communications Hub Function.
type Install struct {
	Hub            string `json:"hub"`
	Supplier       string `json:"supplier"`
	InstalledOn    string `json:"installed_on"`
	CommissionedOn string `json:"commissioned_on,omitempty"`
	// Premises is "domestic" or "non_domestic" (para 341).
	Premises string `json:"premises,omitempty"`
}

// Removal is the removal of a hub, as the removing Supplier records it.
type Removal struct {
	Hub      string `json:"hub"`
	Supplier string `json:"supplier"`
	Date     string `json:"date"`
	// Reason is a key of the spec's hubs.removal_reasons.
	Reason string `json:"reason"`
	// ReplacementVariant is the variant of the hub installed in its place
	// (split fuel, para 344).
	ReplacementVariant string `json:"replacement_variant,omitempty"`
	// CSPRequested: the CSP asked for the replacement to improve SMWAN
	// coverage (para 337).
	CSPRequested bool `json:"csp_requested,omitempty"`
	// RefreshProgramme names the early technology refresh the DCC
	// approved (para 347).
	RefreshProgramme string `json:"refresh_programme,omitempty"`
}

// Market is one month's market data: Smart Metering Systems Enrolled per
// Supplier, the non-domestic ones among them, and commissioned CHFs per
// Supplier (when absent, counted from the hubs of the world).
type Market struct {
	Month               string           `json:"month"`
	Enrolled            map[string]int64 `json:"enrolled"`
	EnrolledNonDomestic map[string]int64 `json:"enrolled_non_domestic,omitempty"`
	CommissionedCHF     map[string]int64 `json:"commissioned_chf,omitempty"`
}

// Default records that a party did not pay one of its invoices of a month.
type Default struct {
	Party string `json:"party"`
	Month string `json:"month"`
	// Invoice is a key of the spec's hubs.invoices.
	Invoice string `json:"invoice"`
}

// LoadWorld reads a world from a .json, .yaml or .yml file, refusing
// unknown fields.
func LoadWorld(path string) (*World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w, err := ParseWorld(b, strings.ToLower(filepath.Ext(path)) != ".json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return w, nil
}

// ParseWorld decodes a world from JSON, or from YAML when yamlSrc is set.
func ParseWorld(b []byte, yamlSrc bool) (*World, error) {
	if yamlSrc {
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w World
	if err := dec.Decode(&w); err != nil {
		return nil, err
	}
	return &w, nil
}

// Error is a problem with the world at a path ("orders[2].delivery").
type Error struct {
	Path    string
	Message string
}

func (e *Error) Error() string { return e.Path + ": " + e.Message }

// ErrorSet is every problem of a world, in the order found.
type ErrorSet []*Error

func (es ErrorSet) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// hub is one hub of the world with its life and its pricing.
type hub struct {
	ID, Order, Receiver, Variant, Region string
	Price, Differential                  Pence
	// Months is the number of months its asset cost is spread over.
	Months        int
	Delivered     time.Time
	DeliveryMonth Month
	Installed     time.Time // zero: not installed
	Commissioned  time.Time // zero: CHF not commissioned
	Installer     string
	Premises      string
	Removal       *Removal
	Removed       time.Time // zero: not removed
}

// heldAtEndOf reports whether the hub is delivered and not removed at the
// end of m.
func (h *hub) heldAtEndOf(m Month) bool {
	return h.Delivered.Before(m.End()) && (h.Removed.IsZero() || !h.Removed.Before(m.End()))
}

func before(t time.Time, m Month) bool { return !t.IsZero() && t.Before(m.End()) }

func in(t time.Time, m Month) bool {
	return !t.IsZero() && !t.Before(m.Start()) && t.Before(m.End())
}

// monthly is the Monthly Communications Hub Charge of the k-th month of
// the hub's life (k = 1 is its delivery month), front loaded: floor(price /
// n), and a penny more in the first price mod n months.
func (h *hub) monthly(k int) Pence {
	if k < 1 || k > h.Months {
		return 0
	}
	n := Pence(h.Months)
	a := h.Price / n
	if Pence(k) <= h.Price%n {
		a++
	}
	return a
}

// remaining is the asset cost not yet charged when the k-th month starts.
func (h *hub) remaining(k int) Pence {
	if k < 1 {
		return h.Price
	}
	paid := min(k-1, h.Months)
	n := Pence(h.Months)
	charged := Pence(paid)*(h.Price/n) + min(Pence(paid), h.Price%n)
	return h.Price - charged
}

// index checks the world against itself and the spec and builds the hubs.
func index(s *spec.Spec, w *World) (map[string]*hub, []string, ErrorSet) {
	var errs ErrorSet
	bad := func(p, f string, a ...any) { errs = append(errs, &Error{p, fmt.Sprintf(f, a...)}) }
	hc := s.Hubs
	hubs := map[string]*hub{}
	var ids []string
	var contractEnd Month
	if hc.Amortisation.ContractEnd != "" {
		var err error
		if contractEnd, err = ParseMonth(hc.Amortisation.ContractEnd); err != nil {
			bad("spec hubs.amortisation.contract_end", "%v", err)
		}
	}
	for i, f := range w.Forecasts {
		p := fmt.Sprintf("forecasts[%d]", i)
		if _, err := ParseMonth(f.Month); err != nil {
			bad(p, "%v", err)
		}
		if _, ok := hc.HANVariants[f.Variant]; !ok && f.Variant != "" {
			bad(p, "unknown HAN variant %q", f.Variant)
		}
	}
	orders := map[string]bool{}
	for i, o := range w.Orders {
		p := fmt.Sprintf("orders[%d]", i)
		if o.ID == "" || orders[o.ID] {
			bad(p, "order id %q is empty or repeated", o.ID)
		}
		orders[o.ID] = true
		if o.Supplier == "" {
			bad(p, "no supplier")
		}
		tranche := o.Tranche
		if tranche == "" {
			tranche = hc.DefaultTranche
		}
		tr, ok := hc.Tranches[tranche]
		if !ok {
			bad(p, "unknown tranche %q", o.Tranche)
		}
		ordered := map[string]int{}
		total := 0
		for j, l := range o.Lines {
			if _, ok := hc.HANVariants[l.Variant]; !ok {
				bad(fmt.Sprintf("%s.lines[%d]", p, j), "unknown HAN variant %q", l.Variant)
			}
			var err error
			if total, err = AddQuantity(total, l.Quantity); err != nil {
				bad(fmt.Sprintf("%s.lines[%d]", p, j), "%v", err)
				continue
			}
			ordered[l.Variant] += l.Quantity // at most total: no wrap
		}
		if o.Delivery != nil && len(o.Deliveries) > 0 {
			bad(p, "give the order's delivery, or its deliveries in parts, not both")
		}
		// Each part's hubs are delivered on its date; the parts together
		// are no more of a variant than ordered.
		delivered := map[string]int{}
		for k, dl := range o.Delivered() {
			dp := p + ".delivery"
			if o.Delivery == nil {
				dp = fmt.Sprintf("%s.deliveries[%d]", p, k)
			} else if k > 0 {
				dp = fmt.Sprintf("%s.deliveries[%d]", p, k-1)
			}
			d, err := parseDate(dl.Date)
			if err != nil {
				bad(dp, "%v", err)
				continue
			}
			if o.OrderedOn != "" {
				if od, err := parseDate(o.OrderedOn); err != nil {
					bad(p, "%v", err)
				} else if d.Before(od) {
					bad(dp, "delivered %s before it was ordered", dl.Date)
				}
			}
			for j, dh := range dl.Hubs {
				hp := fmt.Sprintf("%s.hubs[%d]", dp, j)
				if dh.ID == "" || hubs[dh.ID] != nil {
					bad(hp, "hub id %q is empty or delivered twice", dh.ID)
					continue
				}
				v, ok := hc.HANVariants[dh.Variant]
				if !ok {
					bad(hp, "unknown HAN variant %q", dh.Variant)
				}
				delivered[dh.Variant]++
				h := &hub{ID: dh.ID, Order: o.ID, Receiver: o.Supplier, Variant: dh.Variant, Region: o.Region,
					Price: Pence(tr.AssetPricePence), Differential: Pence(v.DifferentialPence),
					Months: hc.Amortisation.Months, Delivered: d, DeliveryMonth: MonthOf(d)}
				if o.FreeReplacement {
					h.Price, h.Differential = 0, 0
				}
				if !contractEnd.IsZero() {
					h.Months = max(1, min(h.Months, contractEnd.Sub(h.DeliveryMonth)+1))
				}
				hubs[dh.ID] = h
				ids = append(ids, dh.ID)
			}
		}
		for _, v := range slices.Sorted(maps.Keys(delivered)) {
			if n := delivered[v]; n > ordered[v] {
				where := p + ".delivery"
				if o.Delivery == nil {
					where = p + ".deliveries"
				}
				bad(where, "%d hubs of variant %s delivered, %d ordered", n, v, ordered[v])
			}
		}
	}
	for i, inst := range w.Installs {
		p := fmt.Sprintf("installs[%d]", i)
		h := hubs[inst.Hub]
		if h == nil {
			bad(p, "hub %q was not delivered", inst.Hub)
			continue
		}
		if !h.Installed.IsZero() {
			bad(p, "hub %s installed twice", inst.Hub)
			continue
		}
		t, err := parseDate(inst.InstalledOn)
		if err != nil {
			bad(p, "%v", err)
			continue
		}
		if t.Before(h.Delivered) {
			bad(p, "hub %s installed %s, before its delivery", inst.Hub, inst.InstalledOn)
		}
		if inst.Supplier == "" {
			bad(p, "no supplier")
		}
		h.Installed, h.Installer, h.Premises = t, inst.Supplier, inst.Premises
		if inst.CommissionedOn != "" {
			c, err := parseDate(inst.CommissionedOn)
			if err != nil {
				bad(p, "%v", err)
			} else if c.Before(t) {
				bad(p, "hub %s commissioned before it was installed", inst.Hub)
			}
			h.Commissioned = c
		}
	}
	for i := range w.Removals {
		r := &w.Removals[i]
		p := fmt.Sprintf("removals[%d]", i)
		h := hubs[r.Hub]
		if h == nil {
			bad(p, "hub %q was not delivered", r.Hub)
			continue
		}
		if h.Removal != nil {
			bad(p, "hub %s removed twice", r.Hub)
			continue
		}
		t, err := parseDate(r.Date)
		if err != nil {
			bad(p, "%v", err)
			continue
		}
		if t.Before(h.Delivered) || (!h.Installed.IsZero() && t.Before(h.Installed)) {
			bad(p, "hub %s removed %s, before its delivery or installation", r.Hub, r.Date)
		}
		if r.Supplier == "" {
			bad(p, "no supplier")
		}
		if _, ok := hc.RemovalReasons[r.Reason]; !ok {
			bad(p, "unknown removal reason %q", r.Reason)
		}
		if _, ok := hc.HANVariants[r.ReplacementVariant]; r.ReplacementVariant != "" && !ok {
			bad(p, "unknown HAN variant %q", r.ReplacementVariant)
		}
		h.Removal, h.Removed = r, t
		if !h.Commissioned.IsZero() && t.Before(h.Commissioned) {
			bad(p, "hub %s removed before its commissioning", r.Hub)
		}
	}
	seen := map[string]bool{}
	for i, m := range w.Market {
		p := fmt.Sprintf("market[%d]", i)
		if _, err := ParseMonth(m.Month); err != nil {
			bad(p, "%v", err)
		}
		if seen[m.Month] {
			bad(p, "month %s given twice", m.Month)
		}
		seen[m.Month] = true
		for _, mp := range []map[string]int64{m.Enrolled, m.EnrolledNonDomestic, m.CommissionedCHF} {
			for party, n := range mp {
				if n < 0 {
					bad(p, "negative count %d for %s", n, party)
				}
			}
		}
	}
	for i, d := range w.Defaults {
		p := fmt.Sprintf("defaults[%d]", i)
		if _, err := ParseMonth(d.Month); err != nil {
			bad(p, "%v", err)
		}
		if _, ok := hc.Invoices[d.Invoice]; !ok {
			bad(p, "unknown invoice %q", d.Invoice)
		}
	}
	sort.Strings(ids)
	return hubs, ids, errs
}
