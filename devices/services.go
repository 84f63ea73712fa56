package devices

import "time"

// handler carries out one Table 5.1 service on a device that has passed the
// type and signature checks, and returns the device's answer.
type handler func(c *call) (map[string]any, error)

// handlers are the Table 5.1 services, by spec key. A row added to the spec
// without a handler here is answered with DEVICE_ERROR (and fails the
// package's tests, which walk the spec).
var handlers = map[string]handler{
	"1.1/prepayment": updateTariff,
	"1.1/credit":     updateTariff,
	"1.2/prepayment": updatePrice,
	"1.2/credit":     updatePrice,
	"1.5":            adjustBalance,
	"1.6":            updatePaymentMode,
	"1.7":            resetBlockCounters,
	"2.1":            updatePrepayConfig,
	"2.2":            topUp,
	"2.3":            updateDebt,
	"2.5":            activateEmergencyCredit,
	"3.1":            displayMessage,
	"3.2":            restrictData,
	"3.3":            clearEventLog,
	"3.4":            updateSupplierName,
	"3.5":            resetPIN,
	"4.1":            readImport,
	"4.2":            readExport,
	"4.3":            readPrepayValues,
	"4.4":            readBillingLog,
	"4.6":            readDailyLog,
	"4.8":            readProfile,
	"4.10":           readNetworkData,
	"4.11":           readTariff,
	"4.12":           readMaxDemand,
	"4.13":           readPrepayConfig,
	"4.14":           readPrepayDailyLog,
	"4.15":           readLoadLimitCounter,
	"4.16":           readActivePower,
	"4.17":           readDailyConsumption,
	"6.2":            readConfig,
	"6.4":            configureLoadLimit,
	"6.5":            configureVoltage,
	"6.6":            configureGasConversion,
	"6.7":            configureGasFlow,
	"6.8":            configureBillingCalendar,
	"6.11":           synchroniseClock,
	"6.12":           configurePowerThresholds,
	"6.13":           readLogs,
	"6.14":           configureAuxCalendar,
	"6.15":           updateCredentials,
	"6.17":           issueCredentials,
	"6.18":           setMaxDemand,
	"6.19":           setLocalTimeChange,
	"6.20":           setMPxN,
	"6.21":           handover,
	"6.22":           configureEventBehaviour,
	"6.23":           changeOfSupplier,
	"6.24":           retrieveCredentials,
	"7.1":            enableSupply,
	"7.2":            disableSupply,
	"7.3":            armSupply,
	"7.4":            readSupply,
	"7.5":            auxActivate,
	"7.6":            auxDeactivate,
	"7.7":            auxRead,
	"7.8":            auxReset,
	"7.9":            boostAdd,
	"7.10":           boostRemove,
	"7.11":           boostRead,
	"7.12":           setRandomisedOffset,
	"8.1":            commission,
	"8.5":            optOut,
	"8.7/type1":      join,
	"8.7/type2":      join,
	"8.8/type1":      unjoin,
	"8.8/type2":      unjoin,
	"8.9":            readDeviceLog,
	"8.11":           updateDeviceLog,
	"8.12":           restoreDeviceLog,
	"9.1":            requestCIN,
	"11.1":           updateFirmware,
	"11.2":           readFirmware,
	"11.3":           activateFirmware,
	"14.1":           recordNetworkData,
}

// Device limits.
const (
	// maxAux is the number of auxiliary load control switches.
	maxAux = 5
	// maxHAN bounds the devices on a HAN: the Device Log and joins.
	maxHAN = 32
	// maxProfileEntries bounds a profile or network data answer: 31 days
	// of half-hours.
	maxProfileEntries = 31 * 48
	// networkRecording and networkInterval are 14.1's "gas consumption data
	// at 6 minute intervals over a four hour period".
	networkRecording = 4 * time.Hour
	networkInterval  = 6 * time.Minute
)

// meter returns the metering state, or an error for a device without one.
func (c *call) meter() (*MeterState, error) {
	if c.d.Meter == nil {
		return nil, devErr("%s has no metrology", c.d.Type)
	}
	return c.d.Meter, nil
}

// nonNegative reads integer fields that must be zero or more.
func (c *call) nonNegative(names ...string) ([]int64, error) {
	out := make([]int64, len(names))
	for i, n := range names {
		v, err := c.int(n)
		if err != nil {
			return nil, err
		}
		if v < 0 {
			return nil, devErr("field %s: must not be negative", n)
		}
		out[i] = v
	}
	return out, nil
}

// restricted reports whether data from before the tenancy start of 3.2 is
// withheld from this sender: Other Users (role kind "other") act for the
// new occupant.
func (c *call) restricted(at time.Time) bool {
	return !c.d.RestrictedBefore.IsZero() && at.Before(c.d.RestrictedBefore) && c.roleKind() == "other"
}
