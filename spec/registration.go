package spec

// RegistrationData is the Registration Data Interface of chapter 4 (para
// 74-91): spec/registration.cue.
type RegistrationData struct {
	Clause           string `json:"clause"`
	NominationClause string `json:"nomination_clause"`
	// RefreshWithin is how long an RDP has to provide a data refresh the DCC
	// asks for (para 91: two calendar days).
	RefreshWithin Duration `json:"refresh_within"`
	RefreshClause string   `json:"refresh_clause"`
	// Master is "rdp" or "dcc": which data is in force while a full file
	// disagrees with the data held (para 89).
	Master       string `json:"master"`
	MasterClause string `json:"master_clause"`
	// FileExpectedEvery is how often an RDP is expected to send a file; nil
	// where files are not expected on a cadence.
	FileExpectedEvery *Duration                   `json:"file_expected_every"`
	MaxRowsListed     int                         `json:"max_rows_listed"`
	Fuels             map[string]RegistrationFuel `json:"fuels"`
	Columns           []RegistrationColumn        `json:"columns"`
	IncidentKinds     map[string]IncidentKind     `json:"incident_kinds"`
}

// RegistrationFuel names a fuel's MPxN and its pattern.
type RegistrationFuel struct {
	MPxN    string `json:"mpxn"`
	Pattern string `json:"pattern"`
}

// RegistrationColumn is a column of a registration file.
type RegistrationColumn struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Pattern  string `json:"pattern,omitempty"`
	// Fuels, if set, are the fuels for which the column may be non-empty.
	Fuels []string `json:"fuels,omitempty"`
	Doc   string   `json:"doc"`
}

// IncidentKind is a kind of registration data incident (para 87, 89).
type IncidentKind struct {
	When   string `json:"when"`
	Clause string `json:"clause"`
}

// Performance says what the Code Performance Measures count (para 128-129,
// 259-262).
type Performance struct {
	Clause string `json:"clause"`
	// Categories maps a measure's "measures" (on_demand, future_dated) to
	// the request categories it counts.
	Categories      map[string][]string `json:"categories"`
	ExcludedReasons []string            `json:"excluded_reasons"`
	// CriticalFrom is "signature": a critical request's response is due
	// from the receipt of its signed Pre-Command (the gateway's recorded
	// due time); "receipt": from the receipt of the request.
	CriticalFrom string `json:"critical_from"`
	// HeldFrom is "release": a request held behind its predecessor (para
	// 126-127) has its response due from its release (the gateway's
	// recorded due time); "receipt": from its receipt.
	HeldFrom string                       `json:"held_from"`
	Results  map[string]PerformanceResult `json:"results"`
}

// PerformanceResult is what the source requires of a measure's result.
type PerformanceResult struct {
	Text   string `json:"text"`
	Clause string `json:"clause"`
}

// Demand is managing demand (para 267-273).
type Demand struct {
	Clause                     string `json:"clause"`
	ForecastMonths             int    `json:"forecast_months"`
	ForecastClause             string `json:"forecast_clause"`
	ForecastInForce            string `json:"forecast_in_force"`
	ReportClause               string `json:"report_clause"`
	TimeZone                   string `json:"time_zone"`
	CountScheduleRuns          bool   `json:"count_schedule_runs"`
	CountFromFirstServiceMonth bool   `json:"count_from_first_service_month"`
}

// Traffic is para 273's traffic management at times of system stress.
type Traffic struct {
	Clause           string   `json:"clause"`
	Enabled          bool     `json:"enabled"`
	DeferAtInFlight  int      `json:"defer_at_in_flight"`
	RefuseAtInFlight int      `json:"refuse_at_in_flight"`
	DeferFor         Duration `json:"defer_for"`
	Categories       []string `json:"categories"`
	Exempt           []string `json:"exempt"`
	DeferredCode     string   `json:"deferred_code"`
}
