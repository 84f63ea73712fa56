package devices

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/spec"
)

// How a device authenticates a Command (para 132, 140-141, 154, footnote
// 13), with real cryptography:
//
//   - Every Command carries, in Command.Authenticated, the bytes the DCC
//     sends over the SMWAN: the Pre-Command (non-critical) or the Signed
//     Pre-Command (critical), followed by the DCC's Message Authentication
//     Code under the device's own key (docs/precommand.md). The device
//     derives its key from the master key the fleet is given (SetMACKey,
//     precommand.DeviceKey); a missing or wrong MAC is refused with A2
//     (Trusted Source Authentication Failure).
//   - The authenticated Pre-Command must be addressed to this device
//     (otherwise A3, Not intended recipient of Command) and must mean the
//     Command: the same service, sender, request ID and body, compared in
//     the encoding, which has one encoding per meaning (otherwise A2). The
//     device then acts on the body it decoded from those bytes, not on the
//     Command's Body: what was authenticated is what is done.
//   - A critical Command must carry a signature that verifies under the
//     public key of the party holding the credential the sender's role
//     needs (para 140: the supplier credential for a supplier, the network
//     operator credential for a network operator; for 6.23 the CoS Party's
//     or the losing supplier's, para 141 and 146). Anything else (no
//     signature, a forged one, one by another party, a role with no
//     credential) is refused with A4 (Source Does not have Permission for
//     Command).
//
// A device holds, per credential kind, the User ID of the trusted party
// (DeviceState.Credentials); the public key that goes with it is resolved
// through the fleet's KeyResolver (SetKeyResolver), which stands in for the
// certificate a real device stores with the credential. The gateway's
// resolver reads the users' registered certificates and knows the CoS
// Party's key; a device whose resolver does not know a holder's key accepts
// no critical command from it.
//
// Each refusal is DEVICE_REJECTED, logged in the device's security log
// (COMMAND_REFUSED) and raised as the alert above where Table 5.4 lets the
// device type raise it; the alert's data names the holder of the credential
// the device directs its alerts to (para 140).

// Alert codes of Table 5.4 a device raises when it refuses a Command.
const (
	alertAuthFailure  = "A2"
	alertNotRecipient = "A3"
	// alertNoPermission (A4) is with the other alert codes in device.go.
)

// KeyResolver returns the public key of the party with a User ID: the key
// of the certificate that goes with a credential the device holds. It
// returns ErrNoKey when the party has no usable key (the device refuses
// the Command), and any other error when the key could not be looked up
// (the Command fails as an error of the device, with no refusal or alert:
// a real device holds the keys of its credentials itself).
type KeyResolver func(userID string) (*ecdsa.PublicKey, error)

// ErrNoKey is a KeyResolver's answer for a party with no usable key.
var ErrNoKey = errors.New("devices: the party has no usable key")

// SetKeyResolver sets how the devices find the public key of the party
// holding one of their credentials, to verify the signature of a critical
// Command. Without one, no critical Command is accepted.
func (f *Fleet) SetKeyResolver(r KeyResolver) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = r
}

// SetMACKey sets the DCC's master key, from which each device derives the
// key of the MACs it checks (precommand.DeviceKey). It must be at least 16
// bytes. Without one, every Command is refused.
func (f *Fleet) SetMACKey(master []byte) error {
	if len(master) < 16 {
		return errors.New("devices: a MAC master key of at least 16 bytes is needed")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.master = slices.Clone(master)
	for _, d := range f.devices {
		d.macKey = nil
	}
	return nil
}

// deviceKey is the device's MAC key, derived once per master key; nil when
// the fleet has no master key.
func (c *call) deviceKey() []byte {
	if c.d.macKey == nil && c.f.master != nil {
		c.d.macKey, _ = precommand.DeviceKey(c.f.master, c.d.ID)
	}
	return c.d.macKey
}

// authenticate checks the Command as the device receives it and, when it
// passes, sets c.body to the fields the device acts on.
func (c *call) authenticate(critical bool) error {
	key := c.svc.Key()
	pc := precommand.Command{RequestID: c.cmd.RequestID, Service: key, DeviceID: c.cmd.Device, UserID: c.cmd.Sender, Body: c.cmd.Body}
	// A Command the device cannot read at all is an error, not a refusal:
	// it never gets as far as the security checks.
	want, err := precommand.Encode(c.svc, pc)
	if err != nil {
		return devErr("the command cannot be read: %v", err)
	}
	if len(c.cmd.Authenticated) == 0 {
		return c.refuse(alertAuthFailure, "command %s carries no Message Authentication Code", key)
	}
	m, err := precommand.OpenMAC(c.cmd.Authenticated, c.deviceKey())
	if err != nil {
		return c.refuse(alertAuthFailure, "command %s: the DCC's Message Authentication Code does not verify under the device's key: %v", key, err)
	}
	if !strings.EqualFold(m.DeviceID, c.d.ID) {
		return c.refuse(alertNotRecipient, "command %s is addressed to device %s", key, m.DeviceID)
	}
	if !m.ExecuteAt.IsZero() {
		pc.ExecuteAt = m.ExecuteAt
		if want, err = precommand.Encode(c.svc, pc); err != nil {
			return devErr("the command cannot be read: %v", err)
		}
	}
	if !bytes.Equal(m.PreCommand, want) {
		return c.refuse(alertAuthFailure, "command %s: the authenticated Pre-Command %s", key, difference(m, c.cmd, key))
	}
	if c.body, err = actedOn(c.svc, m); err != nil {
		return c.refuse(alertAuthFailure, "command %s: %v", key, err)
	}
	if critical {
		return c.checkSignature(m)
	}
	return nil
}

// difference says how an authenticated Pre-Command differs from the
// Command it came with.
func difference(m *precommand.Message, cmd Command, key string) string {
	switch {
	case m.Service != key:
		return fmt.Sprintf("is for service %s", m.Service)
	case !strings.EqualFold(m.UserID, cmd.Sender):
		return fmt.Sprintf("is from %s, not %s", m.UserID, cmd.Sender)
	case m.RequestID != cmd.RequestID:
		return fmt.Sprintf("is request %s, not %s", m.RequestID, cmd.RequestID)
	}
	return "carries another body"
}

// actedOn is the body the device acts on: the authenticated fields by the
// spec's names, as the handlers read them (body.go). A field written unset
// (an optional field at its zero value) is left out, so it takes the
// device's default as a field the request left out does.
func actedOn(svc *spec.Service, m *precommand.Message) (map[string]any, error) {
	body, err := m.Body(svc)
	if err != nil {
		return nil, err
	}
	for i, f := range svc.Fields {
		if m.Fields[i].Type == precommand.Unset {
			delete(body, f.Name)
		}
	}
	return body, nil
}

// signerRules name, for the services that differ from the rule of para 140
// (the sender's own credential), the credentials whose holder may sign.
// 6.23: the CoS Party signs (para 146), or under the enduring arrangements
// the losing supplier, who holds the supplier credential.
var signerRules = map[string][]string{
	"6.23": {CredCoSParty, CredSupplier},
}

// signerKinds are the credentials whose holder may sign a critical command
// of the sender's role (para 140-141, footnote 13): none for a role that
// is neither a supplier nor a network operator.
func (c *call) signerKinds() []string {
	kind := c.roleKind()
	if kind != CredSupplier && kind != CredNetworkOperator {
		return nil
	}
	if rule, ok := signerRules[c.svc.Key()]; ok && kind == CredSupplier {
		return rule
	}
	if kind == CredSupplier {
		// Every Registered Supplier holds a credential (para 140): the
		// import supplier's and, where there is an export MPAN, the export
		// supplier's.
		return []string{CredSupplier, CredExportSupplier}
	}
	return []string{kind}
}

// checkSignature accepts a critical command only if its signature verifies
// under the key of the holder of one of the credentials its sender's role
// allows.
func (c *call) checkSignature(m *precommand.Message) error {
	key := c.svc.Key()
	kinds := c.signerKinds()
	if len(kinds) == 0 {
		return c.refuse(alertNoPermission, "critical command %s from role %q: the device holds no credential for that role", key, c.cmd.SenderRole)
	}
	if m.Signature == nil {
		return c.refuse(alertNoPermission, "critical command %s is not signed", key)
	}
	for _, k := range kinds {
		holder := c.d.Credentials[k]
		if holder == "" || c.f.keys == nil {
			continue
		}
		pub, err := c.f.keys(holder)
		if err != nil && !errors.Is(err, ErrNoKey) {
			return devErr("critical command %s: the key of the holder %q of the %s credential could not be read: %v", key, holder, k, err)
		}
		if err == nil && precommand.VerifySignature(m.PreCommand, m.Signature, pub) {
			c.d.logSecurity(c.now(), "CRITICAL_COMMAND", fmt.Sprintf("%s from %s accepted, signed by %s (%s credential)", key, c.cmd.Sender, holder, k))
			return nil
		}
	}
	var held []string
	for _, k := range kinds {
		if c.d.Credentials[k] != "" || k == kinds[0] {
			held = append(held, fmt.Sprintf("%s %q", k, c.d.Credentials[k]))
		}
	}
	return c.refuse(alertNoPermission, "critical command %s: the signature does not verify under the key of the holder of the %s credential", key, strings.Join(held, " or the "))
}

// alertHolder is the party the device directs a refusal alert to (para
// 140): the holder of the credential of the sender's role, else the
// Registered Supplier's.
func (c *call) alertHolder() string {
	if k := c.roleKind(); k == CredSupplier || k == CredNetworkOperator {
		if h := c.d.Credentials[k]; h != "" {
			return h
		}
	}
	return c.d.Credentials[CredSupplier]
}

// refuse logs a refused command in the security log, raises alert (A2, A3
// or A4 of Table 5.4) and returns the rejection.
func (c *call) refuse(alert, format string, args ...any) error {
	detail := fmt.Sprintf(format, args...)
	c.d.logSecurity(c.now(), "COMMAND_REFUSED", alert+": "+detail)
	data := map[string]any{
		"command": c.svc.Key(), "request_id": c.cmd.RequestID, "sender": c.cmd.Sender, "reason": detail,
	}
	if h := c.alertHolder(); h != "" {
		data["credential_holder"] = h
	}
	c.t.raise(c.d, c.d.Type, alert, c.now(), data)
	return rejected("%s", detail)
}
