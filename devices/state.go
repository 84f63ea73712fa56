package devices

import (
	"maps"
	"slices"
	"time"
)

// Credential kinds a device can hold. Roles of kind "supplier" and
// "network_operator" (spec Role.Kind) sign critical commands with the
// credential of the same name; the others belong to DCC functions.
const (
	// CredSupplier is the Registered Supplier's credential (para 140).
	CredSupplier = "supplier"
	// CredExportSupplier is the Registered Supplier's credential for an
	// export MPAN: the Export Supplier is the Registered Supplier of the
	// meter and hub it shares with the import supplier (para 140; it may
	// sign 8.12, the one critical service it is eligible for).
	CredExportSupplier = "export_supplier"
	// CredNetworkOperator is the Network Operator's credential.
	CredNetworkOperator = "network_operator"
	// CredAccessControlBroker is the DCC's own credential, which 6.21 hands
	// over and 8.5 removes.
	CredAccessControlBroker = "access_control_broker"
	// CredCoSParty is the CoS Party's credential: the party that signs a 6.23
	// Update Security Credentials (CoS) (para 142-146).
	CredCoSParty = "cos_party"
	// CredWANProvider is the credential of the DCC's communications service
	// provider.
	CredWANProvider = "wan_provider"
)

// Supply states of a meter. For a gas meter the supply is its valve.
const (
	SupplyEnabled  = "enabled"
	SupplyDisabled = "disabled"
	// SupplyArmed: the consumer can enable the supply at the meter (an
	// "button_press" Event).
	SupplyArmed = "armed"
)

// Payment modes of a meter.
const (
	PaymentCredit     = "credit"
	PaymentPrepayment = "prepayment"
)

// DeviceState is a copy of one emulated device's state, as Fleet.Get returns
// it. Fields that a device type does not have are zero (Meter is nil for
// devices that are not meters).
type DeviceState struct {
	ID   string
	Type string
	// MPxN is the MPAN or MPRN the meter displays (6.20, 8.1).
	MPxN string
	// CHF is the Communications Hub Function the device talks through.
	CHF string
	// AssociatedMeter is the meter a non-meter device is associated with
	// (DeviceOptions.Meter).
	AssociatedMeter string

	AddedAt        time.Time
	Commissioned   bool
	CommissionedAt time.Time
	// Withdrawn is set by 8.5 Service Opt Out: the device no longer holds the
	// DCC's credentials.
	Withdrawn bool
	// Powered is false during a power cut. Battery devices stay powered.
	Powered bool
	// PowerLostAt is when the current or last power cut began.
	PowerLostAt time.Time
	// WANConnected is true once a CHF has joined the SMWAN.
	WANConnected bool
	BatteryLow   bool

	// Credentials maps a credential kind (CredSupplier...) to the User ID
	// of the party the device trusts for it.
	Credentials map[string]string
	// Certificates maps a credential kind to the certificate last placed
	// for it by 6.15, 6.21, 6.23 or 8.5.
	Certificates map[string]string
	// KeyPairs counts the key pairs the device generated per key usage
	// (6.17); DeviceCertificate names the current one.
	KeyPairs map[string]int

	Firmware Firmware
	// ClockSyncedAt is when the device's clock was last synchronised with
	// its hub (6.11, 8.1).
	ClockSyncedAt time.Time
	// Joined lists the devices this one communicates with over the HAN
	// (8.7, 8.8).
	Joined []string
	// DeviceLog is a CHF's HAN Device Log (8.9, 8.11, 8.12).
	DeviceLog   []DeviceLogEntry
	EventLog    []LogEntry
	SecurityLog []LogEntry
	// EventBehaviour maps an alert code to log, alert or ignore, and a
	// setting of the meter's own event codes, as DUIS names it, to Enable
	// or Disable (6.22).
	EventBehaviour map[string]string

	// RestrictedBefore is the tenancy start of 3.2: data from before it is
	// withheld from Other Users.
	RestrictedBefore time.Time
	SupplierName     string
	PIN              string
	// Message is what the display shows (3.1, 9.1).
	Message string
	// CIN is the last Customer Identification Number (9.1).
	CIN             string
	LocalTimeChange LocalTimeChange
	// Aux are the auxiliary load control switches, by number (ESME, HCALCS).
	Aux map[int]AuxSwitch
	// RandomisedOffsetSeconds is the limit of 7.12.
	RandomisedOffsetSeconds int64

	Meter *MeterState
}

// Firmware is the firmware a device runs and the images it stores.
type Firmware struct {
	Version string
	// Images are the stored versions with the SHA-256 (hex) of their
	// images: the running one, and at most one other (11.1).
	Images []FirmwareImage
}

// FirmwareImage is a firmware version a device stores.
type FirmwareImage struct {
	Version string
	SHA256  string
}

// image is the hash of the stored version's image.
func (fw *Firmware) image(version string) (string, bool) {
	for _, im := range fw.Images {
		if im.Version == version {
			return im.SHA256, true
		}
	}
	return "", false
}

// set stores version's image, in place of one of the same version.
func (fw *Firmware) set(version, sha256 string) {
	for i, im := range fw.Images {
		if im.Version == version {
			fw.Images[i].SHA256 = sha256
			return
		}
	}
	fw.Images = append(fw.Images, FirmwareImage{Version: version, SHA256: sha256})
}

// keepOnly drops every stored image but version's.
func (fw *Firmware) keepOnly(version string) {
	fw.Images = slices.DeleteFunc(fw.Images, func(im FirmwareImage) bool { return im.Version != version })
}

// DeviceLogEntry is one entry of a CHF's Device Log: a device allowed on the
// HAN and the credential it is known by.
type DeviceLogEntry struct {
	Device     string
	Credential string
}

// LogEntry is one entry of an event or security log.
type LogEntry struct {
	At     time.Time
	Code   string
	Detail string
}

// LocalTimeChange is the Local Time Change Calendar of 6.19.
type LocalTimeChange struct {
	DSTStart time.Time
	DSTEnd   time.Time
}

// AuxSwitch is one auxiliary load control switch.
type AuxSwitch struct {
	On       bool
	Calendar string
	// Description is the switch's label (6.14).
	Description string
	// Boost is true when the switch is under the Boost button (7.9, 7.10).
	Boost bool
}

// MeterState is the metering part of an ESME or GSME.
type MeterState struct {
	// Fuel is "electricity" or "gas", from the spec's device type.
	Fuel string

	ImportKWh float64
	ExportKWh float64
	// ReactiveExportKVArh is the reactive export register (ESME).
	ReactiveExportKVArh float64
	// TOUKWh are the time-of-use import registers, one per TOU block.
	TOUKWh []float64
	// BlockKWh is the Tariff Block Counter Matrix, one counter per TOU
	// block, reset by 1.7.
	BlockKWh []float64
	// RateWatts is the device's mean import, the base of its deterministic
	// consumption.
	RateWatts float64

	Tariff      Tariff
	PaymentMode string

	// CreditPence is the meter balance; in prepayment mode consumption,
	// standing charge and debt recovery take from it. With emergency credit
	// active it may go down to minus the emergency credit limit.
	CreditPence               float64
	LowCreditThresholdPence   int64
	EmergencyCreditLimitPence int64
	DisablementThresholdPence int64
	EmergencyCreditActive     bool
	DebtPence                 float64
	DebtRecoveryPencePerDay   int64

	Supply string

	LoadLimit LoadLimit
	MaxDemand MaxDemand
	// BillingDay is the day of the month of the billing calendar (6.8); 0
	// means no calendar.
	BillingDay int
	// BillingTime is the calendar's time of day (UTC), since midnight, at
	// which the meter takes its billing data on BillingDay: 0 is midnight.
	BillingTime time.Duration
	BillingLog  []LogRead
	DailyLog    []LogRead
	Voltage     Voltage
	// LowWatts and HighWatts are the IHD power thresholds of 6.12.
	LowWatts  int64
	HighWatts int64
	Gas       GasConfig
	// NetworkRecordingUntil is the end of the gas network data recording
	// window started by 14.1.
	NetworkRecordingFrom  time.Time
	NetworkRecordingUntil time.Time
}

// Tariff is the import tariff of 1.1 and 1.2.
type Tariff struct {
	Name                string
	StandingChargePence int64
	UnitRateMillipence  int64
	TOUBlocks           int
}

// LoadLimit is the load limiting configuration (6.4) and counter (4.15).
type LoadLimit struct {
	// Configured is set by 6.4; only then does exceeding the limit disable
	// and arm the supply.
	Configured     bool
	ThresholdWatts int64
	Counter        int64
}

// MaxDemand is the maximum demand register of 4.12 and 6.18.
type MaxDemand struct {
	PeriodMinutes int64
	// TimeframeStart and TimeframeEnd are the daily timeframe set by 6.18
	// (as given, hh:mm[:ss]); empty: the whole day.
	TimeframeStart, TimeframeEnd string
	ImportWatts                  float64
	At                           time.Time
}

// Voltage holds the voltage thresholds (6.5) and the last measured RMS
// voltage.
type Voltage struct {
	OverVolts  int64
	UnderVolts int64
	RMSVolts   float64
}

// GasConfig is the gas conversion (6.6) and flow (6.7) configuration.
type GasConfig struct {
	CalorificValue        float64
	ConversionFactor      float64
	UncontrolledFlowLimit float64
}

// LogRead is an entry of the daily read or billing data log: the registers
// at a midnight (daily) or at the billing calendar's time (billing).
type LogRead struct {
	At        time.Time
	ImportKWh float64
	ExportKWh float64
	TOUKWh    []float64
	// ConsumptionKWh is the import since the previous entry of the same log.
	ConsumptionKWh        float64
	CreditPence           float64
	DebtPence             float64
	EmergencyCreditActive bool
}

// clone returns a deep copy, so callers of Get cannot reach the live state.
func (s *DeviceState) clone() DeviceState {
	c := *s
	c.Credentials = maps.Clone(s.Credentials)
	c.Certificates = maps.Clone(s.Certificates)
	c.KeyPairs = maps.Clone(s.KeyPairs)
	c.Firmware.Images = slices.Clone(s.Firmware.Images)
	c.Joined = slices.Clone(s.Joined)
	c.DeviceLog = slices.Clone(s.DeviceLog)
	c.EventLog = slices.Clone(s.EventLog)
	c.SecurityLog = slices.Clone(s.SecurityLog)
	c.EventBehaviour = maps.Clone(s.EventBehaviour)
	c.Aux = maps.Clone(s.Aux)
	if s.Meter != nil {
		m := *s.Meter
		m.TOUKWh = slices.Clone(s.Meter.TOUKWh)
		m.BlockKWh = slices.Clone(s.Meter.BlockKWh)
		m.BillingLog = cloneReads(s.Meter.BillingLog)
		m.DailyLog = cloneReads(s.Meter.DailyLog)
		c.Meter = &m
	}
	return c
}

func cloneReads(in []LogRead) []LogRead {
	if in == nil {
		return nil
	}
	out := make([]LogRead, len(in))
	for i, r := range in {
		r.TOUKWh = slices.Clone(r.TOUKWh)
		out[i] = r
	}
	return out
}
