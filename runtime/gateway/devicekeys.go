package gateway

import (
	"context"
	"crypto/ecdsa"
	"errors"

	"github.com/dccgate/dccgate/devices"
	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// The keys the emulated devices authenticate Commands with (package
// devices, auth.go; para 132, 140-141):
//
//   - the DCC's MAC master key (Gateway.macKey, made in New like the CoS
//     Party's key): each device's MAC key is derived from it
//     (precommand.DeviceKey), and the gateway adds the MAC to every Command
//     it sends (seal);
//   - the public keys of the parties whose credentials devices hold,
//     resolved by deviceKey: a user's registered certificate, and the CoS
//     Party's own key.

// seal makes the Command the DCC sends a device for r: the Signed
// Pre-Command of a critical request (as SubmitSigned verified it, or as the
// CoS Party signed it), or the Pre-Command of a non-critical one, followed
// by the DCC's MAC under the device's key. exact is r's body as
// precommand.ParseBody gives it (nil if it did not parse), parsed once for
// the Command and its Pre-Command.
func (g *Gateway) seal(svc *spec.Service, r store.Request, exact map[string]any) ([]byte, error) {
	msg := r.Signed
	if !svc.Critical {
		var err error
		if exact == nil { // the body did not parse: PreCommand says why
			msg, err = g.PreCommand(r)
		} else {
			msg, err = preCommand(svc, r, exact)
		}
		if err != nil {
			return nil, err
		}
	} else if len(msg) == 0 {
		return nil, errors.New("gateway: a critical request with no Signed Pre-Command")
	}
	key, err := precommand.DeviceKey(g.macKey, r.DeviceID)
	if err != nil {
		return nil, err
	}
	return precommand.AddMAC(msg, key)
}

// deviceKey is the devices' KeyResolver: the public key that goes with a
// credential holder's User ID. The CoS Party's is its own key; a user's is
// the key of its registered certificate (none when revoked or unregistered,
// so no critical Command of that user is accepted).
//
// A failure to read the user (the store failing) is an error, not "no
// key": the device does not refuse a Command, nor raise a security alert
// against its sender, because the emulation could not read a key.
func (g *Gateway) deviceKey(userID string) (*ecdsa.PublicKey, error) {
	if userID == g.sp().DCCIDs.CoSParty {
		return &g.cosKey.PublicKey, nil
	}
	u, err := g.user(context.Background(), userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, devices.ErrNoKey
	}
	if err != nil {
		return nil, err
	}
	if u.CertPEM == "" || u.CertPEM == RevokedMarker {
		return nil, devices.ErrNoKey
	}
	cert, err := parseRegistered(u.CertPEM)
	if err != nil {
		return nil, devices.ErrNoKey
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, devices.ErrNoKey
	}
	return pub, nil
}
