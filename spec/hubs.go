package spec

import (
	"maps"
	"slices"
)

// HubCharging is the Communications Hub charging regime of chapter 7 (para
// 287-356) and the commercial model of chapter 8 (para 363-370): every
// number, in pence and basis points. Who pays what is policy (hubs.rego).
type HubCharging struct {
	Clause            string                      `json:"clause"`
	Amortisation      HubAmortisation             `json:"amortisation"`
	Tranches          map[string]HubTranche       `json:"tranches"`
	DefaultTranche    string                      `json:"default_tranche"`
	HANVariants       map[string]HANVariant       `json:"han_variants"`
	Maintenance       HubMaintenance              `json:"maintenance"`
	RemovalReasons    map[string]HubRemovalReason `json:"removal_reasons"`
	Regions           HubRegions                  `json:"regions"`
	NoFault           HubNoFault                  `json:"no_fault"`
	TypeFault         HubTypeFault                `json:"type_fault"`
	BatchFault        HubBatchFault               `json:"batch_fault"`
	TechnologyRefresh HubTechnologyRefresh        `json:"technology_refresh"`
	Float             HubFloat                    `json:"float"`
	Invoices          map[string]HubInvoice       `json:"invoices"`
	ChargeKinds       map[string]HubChargeKind    `json:"charge_kinds"`
	Lifecycle         map[string]string           `json:"lifecycle"`
	Split             HubSplit                    `json:"split"`
	CSPParty          string                      `json:"csp_party"`
}

// HubRegions are the CSP regions an order of hubs may name.
type HubRegions struct {
	Clause string               `json:"clause"`
	Areas  map[string]HubRegion `json:"areas"`
}

// HubRegion is one CSP region.
type HubRegion struct {
	Label string `json:"label"`
	CSP   string `json:"csp"`
}

// Names are the regions' keys, sorted.
func (r HubRegions) Names() []string { return slices.Sorted(maps.Keys(r.Areas)) }

// HubAmortisation says over how many months a hub's asset cost is recovered.
type HubAmortisation struct {
	Months int `json:"months"`
	// ContractEnd is the last month of the CSP contracts ("2035-12"), or
	// empty for none.
	ContractEnd string `json:"contract_end"`
	Rounding    string `json:"rounding"`
	Clause      string `json:"clause"`
}

// HubTranche is the asset price of the hubs of a tranche.
type HubTranche struct {
	AssetPricePence int64  `json:"asset_price_pence"`
	Note            string `json:"note"`
}

// HANVariant is a HAN variant of an order line.
type HANVariant struct {
	Label             string `json:"label"`
	DualBand          bool   `json:"dual_band"`
	DifferentialPence int64  `json:"differential_pence"`
}

// HubMaintenance is the Monthly Maintenance Charge per commissioned hub.
type HubMaintenance struct {
	PencePerHubMonth int64  `json:"pence_per_hub_month"`
	Clause           string `json:"clause"`
}

// HubRemovalReason is a reason a removal record may give.
type HubRemovalReason struct {
	Label   string `json:"label"`
	Claimed string `json:"claimed"`
	Clause  string `json:"clause"`
}

// HubNoFault is the recovery of a no-fault removal.
type HubNoFault struct {
	RecoveryBP int64  `json:"recovery_bp"`
	Rounding   string `json:"rounding"`
	Clause     string `json:"clause"`
}

// HubTypeFault is the type fault threshold and its liquidated damages.
type HubTypeFault struct {
	ThresholdBP     int64  `json:"threshold_bp"`
	LDPencePerFault int64  `json:"ld_pence_per_fault"`
	YearEndMonth    int    `json:"year_end_month"`
	MeasuredPer     string `json:"measured_per"`
	Clause          string `json:"clause"`
}

// HubBatchFault is the batch fault threshold and its liquidated damages.
type HubBatchFault struct {
	ThresholdBP     int64  `json:"threshold_bp"`
	LDPencePerFault int64  `json:"ld_pence_per_fault"`
	WindowMonths    int    `json:"window_months"`
	Clause          string `json:"clause"`
}

// HubTechnologyRefresh is what the CSP covers in an early refresh.
type HubTechnologyRefresh struct {
	SiteVisitPence int64  `json:"site_visit_pence"`
	Clause         string `json:"clause"`
}

// HubFloat is the contingency float of the finance account.
type HubFloat struct {
	Months int      `json:"months"`
	Kinds  []string `json:"kinds"`
	Clause string   `json:"clause"`
}

// HubInvoice is one of a party's monthly invoices.
type HubInvoice struct {
	Label       string `json:"label"`
	Clause      string `json:"clause"`
	BadDebtKind string `json:"bad_debt_kind,omitempty"`
}

// HubChargeKind is a kind of charge line.
type HubChargeKind struct {
	Label   string `json:"label"`
	Invoice string `json:"invoice"`
	Clause  string `json:"clause"`
}

// HubSplit is the rule that shares an amount between parties.
type HubSplit struct {
	Method string `json:"method"`
	Ties   string `json:"ties"`
}
