package store

import (
	"context"
	"time"
)

// Hubs is the state of the Communications Hubs (chapter 7, para 287-356):
// Suppliers' forecasts and orders, each order's delivery kept as a batch
// (para 356), each hub delivered with the dates of its life and its
// removal, and the invoices parties did not pay. The charges are computed from these records (package hubs). The
// SQL backends implement it beside Store (assert with a type switch on the
// store they opened); storetest.RunHubs tests it. The readings of Store's
// contract apply.
type Hubs interface {
	// PutHubForecast inserts or replaces a Supplier's forecast of a month
	// and HAN variant.
	PutHubForecast(ctx context.Context, f HubForecast) error
	// HubForecasts lists a Supplier's forecasts ("" for all), by
	// supplier, month then variant.
	HubForecasts(ctx context.Context, supplier string) ([]HubForecast, error)

	// InsertHubOrder stores a new order (its DeliveredAt is ignored: an
	// order is stored undelivered); ErrDuplicate if the ID is used.
	InsertHubOrder(ctx context.Context, o HubOrder) error
	// GetHubOrder returns one order or ErrNotFound.
	GetHubOrder(ctx context.Context, id string) (HubOrder, error)
	// HubOrders lists a Supplier's orders ("" for all), by OrderedAt then
	// ID.
	HubOrders(ctx context.Context, supplier string) ([]HubOrder, error)
	// DeliverHubOrder records a delivery of hubs of an order at a time, and
	// puts each hub's Communications Hub Function on the Smart Metering
	// Inventory (type CHF, status chfStatus), in one transaction. An order
	// may be delivered in parts: the delivery that brings its hubs to the
	// quantity its lines order sets its DeliveredAt. ErrNotFound if there
	// is no such order, ErrStale if it is delivered already or the hubs
	// would take it past what it ordered, ErrDuplicate if a hub's ID is
	// already a hub or a device. Each hub's Order and Supplier are the
	// order's, its DeliveredAt the delivery's.
	DeliverHubOrder(ctx context.Context, order string, at time.Time, hubs []Hub, chfStatus string) error

	// GetHub returns one hub or ErrNotFound.
	GetHub(ctx context.Context, id string) (Hub, error)
	// ListHubs lists hubs by ID; zero filter fields do not filter.
	ListHubs(ctx context.Context, f HubFilter) ([]Hub, error)
	// RecordHubInstalled sets the installation and commissioning of a hub
	// that is not removed: a time already set is kept, a zero time given
	// changes nothing, and Installer and Premises are set with the
	// installation. ErrNotFound if there is no such hub, ErrStale if it is
	// removed.
	RecordHubInstalled(ctx context.Context, id string, installedAt, commissionedAt time.Time, installer, premises string) error
	// RemoveHub records the removal of a hub (r's RemovedAt, RemovedBy and
	// removal fields) and moves its CHF on the inventory to chfStatus, in
	// one transaction. ErrNotFound if there is no such hub, ErrStale if it
	// is removed already.
	RemoveHub(ctx context.Context, id string, r Hub, chfStatus string) error

	// PutHubDefault records that a party did not pay one of its invoices
	// of a month (insert or replace).
	PutHubDefault(ctx context.Context, d HubDefault) error
	// HubDefaults lists the unpaid invoices by month, party then invoice.
	HubDefaults(ctx context.Context) ([]HubDefault, error)
}

// HubDefault is a party's invoice of a month that it did not pay (a
// Communications Hub Finance Acceleration Event, K9.7, para 369).
type HubDefault struct {
	Party      string    `json:"party"`
	Month      string    `json:"month"`   // YYYY-MM
	Invoice    string    `json:"invoice"` // a key of spec hubs.invoices
	RecordedAt time.Time `json:"recorded_at"`
}

// HubForecast is a Supplier's forecast of the hubs of a HAN variant it
// will order in a month (para 290).
type HubForecast struct {
	Supplier string    `json:"supplier"`
	Month    string    `json:"month"` // YYYY-MM
	Variant  string    `json:"variant"`
	Quantity int       `json:"quantity"`
	FiledAt  time.Time `json:"filed_at"`
}

// HubOrder is a Supplier's order of Communications Hubs.
type HubOrder struct {
	ID       string `json:"id"`
	Supplier string `json:"supplier"`
	Region   string `json:"region"`
	Tranche  string `json:"tranche"`
	// FreeReplacement: the CSP replaces hubs removed for a DCC Service
	// Fault free of charge (para 334).
	FreeReplacement bool           `json:"free_replacement"`
	Lines           []HubOrderLine `json:"lines"`
	OrderedAt       time.Time      `json:"ordered_at"`
	DeliveredAt     time.Time      `json:"delivered_at"` // zero until delivered
}

// HubOrderLine is a quantity of one HAN variant (para 320-322).
type HubOrderLine struct {
	Variant  string `json:"variant"`
	Quantity int    `json:"quantity"`
}

// Hub is one delivered Communications Hub: its Device ID (its CHF's), its
// order (the batch of para 356) and its life.
type Hub struct {
	ID          string    `json:"id"`
	Order       string    `json:"order"`
	Supplier    string    `json:"supplier"` // the Supplier that received it
	Variant     string    `json:"variant"`
	DeliveredAt time.Time `json:"delivered_at"`
	// InstalledAt and CommissionedAt come from its CHF's inventory status.
	InstalledAt    time.Time `json:"installed_at"`
	CommissionedAt time.Time `json:"commissioned_at"`
	Installer      string    `json:"installer"`
	Premises       string    `json:"premises"` // domestic, non_domestic, or "" (unknown)
	// The removal, if removed.
	RemovedAt          time.Time `json:"removed_at"`
	RemovedBy          string    `json:"removed_by"`
	RemovalReason      string    `json:"removal_reason"`
	ReplacementVariant string    `json:"replacement_variant"`
	CSPRequested       bool      `json:"csp_requested"`
	RefreshProgramme   string    `json:"refresh_programme"`
}

// HubFilter selects hubs; zero fields do not filter.
type HubFilter struct {
	Supplier string
	Order    string
}
