package devices

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// Alert codes of Table 5.4 that the emulated devices raise, named by what
// causes them. Which device types may raise each one is read from the spec.
const (
	alertTamper          = "A1"
	alertNoPermission    = "A4"
	alertLowBattery      = "A5"
	alertLoadLimit       = "A6"
	alertLoadLimitArmed  = "A7"
	alertSupplyEnabled   = "A8"
	alertEmergencyCredit = "A9"
	alertLowCredit       = "A10"
	alertDisabled        = "A11"
	alertBillingLog      = "A13"
	alertOverVoltage     = "A15"
	alertUnderVoltage    = "A16"
	alertPowerLoss       = "A21"
	alertCreditAdded     = "A23"
	alertRestored        = "A24"
	alertLongOutage      = "A25"
	alertAuxAdHoc        = "A26"
	alertArmed           = "A28"
)

// Capacities of the emulated devices. Logs drop their oldest entries when
// full, so a long-running fleet stays bounded.
const (
	maxEventLog = 100
	maxOffLog   = 1024
	maxUTRNs    = 64
)

// device is the live state of one emulated device.
type device struct {
	DeviceState
	// class is the spec's class of the type: meter, hub, type1, type2.
	class string
	// seed makes the device's consumption deterministic and its own.
	seed uint64
	// accruedTo is the clock time registers have been brought up to.
	accruedTo time.Time
	// wasFlowing and off record when energy could flow, for profile data.
	wasFlowing bool
	off        []period

	lowAlerted       bool // A10 raised since credit last rose above the threshold
	disabledByCredit bool // A11 disabled the supply; a top-up arms it again
	slotIdx          int64
	slotWh           float64
	prevDaily        float64 // import register at the last daily read
	prevBilling      float64 // import register at the last billing read
	utrns            []string
	cins             int
	// macKey is the device's MAC key, derived from the fleet's master key
	// (auth.go); nil until first needed.
	macKey []byte
	// sharedCreds: Credentials is a set the fleet interned, which other
	// devices hold too; ownCredentials copies it before a write.
	sharedCreds bool
	// answers are the device's last answers, to a Command sent again
	// (answered); not kept when the device is parked.
	answers    [answersKept]answer
	nextAnswer int
}

// answersKept is how many answers a device keeps for Commands sent again:
// the DCC sends one again within its tries, a few Commands at most later.
const answersKept = 4

// answer is a Command the device answered and its answer.
type answer struct {
	requestID     string
	authenticated []byte
	resp          Response
}

// answered returns the answer the device gave to cmd, if it answered the
// same Command (Request ID and authenticated bytes) lately.
func (d *device) answered(cmd Command) (Response, bool) {
	if cmd.RequestID == "" {
		return Response{}, false
	}
	for _, a := range d.answers {
		if a.requestID == cmd.RequestID && bytes.Equal(a.authenticated, cmd.Authenticated) {
			return a.resp, true
		}
	}
	return Response{}, false
}

// remember keeps the answer to cmd (answered).
func (d *device) remember(cmd Command, resp Response) {
	if cmd.RequestID == "" {
		return
	}
	d.answers[d.nextAnswer] = answer{requestID: cmd.RequestID, authenticated: cmd.Authenticated, resp: resp}
	d.nextAnswer = (d.nextAnswer + 1) % answersKept
}

// ownCredentials gives the device a Credentials map of its own, to write.
func (d *device) ownCredentials() {
	if d.sharedCreds || d.Credentials == nil {
		own := maps.Clone(d.Credentials)
		if own == nil {
			own = map[string]string{}
		}
		d.Credentials, d.sharedCreds = own, false
	}
}

// period is a span during which no energy flowed (power cut or supply not
// enabled); to is zero while it lasts.
type period struct{ from, to time.Time }

func idHash(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

func imageHash(image string) string {
	s := sha256.Sum256([]byte(image))
	return hex.EncodeToString(s[:])
}

// deviceCertificate names the device's own certificate for a key usage; a
// new key pair (6.17) gives a new one.
func (s *DeviceState) deviceCertificate(usage string) string {
	return fmt.Sprintf("CERT/%s/%s/%d", s.ID, usage, s.KeyPairs[usage])
}

func (d *device) logEvent(at time.Time, code, detail string) {
	d.EventLog = appendCapped(d.EventLog, LogEntry{At: at, Code: code, Detail: detail}, maxEventLog)
}

func (d *device) logSecurity(at time.Time, code, detail string) {
	d.SecurityLog = appendCapped(d.SecurityLog, LogEntry{At: at, Code: code, Detail: detail}, maxEventLog)
}

// put sets (*m)[k] = v, making the map at its first write. A fleet's
// devices mostly never get a certificate, a key pair, an event behaviour or
// an auxiliary switch: empty maps made for each were objects the collector
// marked, and its marking is what the gateway's slowest responses wait on.
func put[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = map[K]V{}
	}
	(*m)[k] = v
}

// factoryImages holds the hash of each factory firmware version, shared by
// every device that runs it.
var factoryImages sync.Map // version -> SHA-256 (hex)

func factoryImage(version string) string {
	if h, ok := factoryImages.Load(version); ok {
		return h.(string)
	}
	h, _ := factoryImages.LoadOrStore(version, imageHash("factory:"+version))
	return h.(string)
}

func appendCapped[T any](s []T, v T, capacity int) []T {
	s = append(s, v)
	if len(s) > capacity {
		s = slices.Delete(s, 0, len(s)-capacity)
	}
	return s
}

// flowing reports whether energy can flow through the device: it has
// power and, for a meter, its supply is enabled.
func (d *device) flowing() bool {
	return d.Powered && (d.Meter == nil || d.Meter.Supply == SupplyEnabled)
}

// noteFlow records, after a change of power or supply at time at, when
// energy stopped or started flowing. Callers accrue first, so registers are
// up to at under the old state.
func (d *device) noteFlow(at time.Time) {
	now := d.flowing()
	if now == d.wasFlowing {
		return
	}
	d.wasFlowing = now
	if !now {
		d.off = appendCapped(d.off, period{from: at}, maxOffLog)
		return
	}
	if n := len(d.off); n > 0 && d.off[n-1].to.IsZero() {
		d.off[n-1].to = at
	}
}

func (d *device) setSupply(at time.Time, state string) {
	if d.Meter == nil {
		return
	}
	d.Meter.Supply = state
	d.noteFlow(at)
}

func (d *device) setPowered(at time.Time, on bool) {
	d.Powered = on
	if !on {
		d.PowerLostAt = at
	}
	d.noteFlow(at)
}

// call is one Command being executed.
type call struct {
	f   *Fleet
	t   *tx
	d   *device
	cmd Command
	svc *spec.Service
	// body is the fields the device acts on: those of the authenticated
	// Pre-Command (authenticate).
	body map[string]any
}

func (c *call) now() time.Time { return c.t.now }

// roleKind is the spec's kind of the sender's role: supplier,
// network_operator, agent or other.
func (c *call) roleKind() string {
	if r := c.f.sp.Role(c.cmd.SenderRole); r != nil {
		return r.Kind
	}
	return ""
}
