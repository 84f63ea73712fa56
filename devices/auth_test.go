package devices

import (
	"crypto/ecdsa"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/precommand"
	"github.com/dccgate/dccgate/spec"
)

// enable is a 7.1 Enable Supply from the ESME's supplier, unsealed.
func enable() Command {
	return Command{Service: "7.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", Critical: true,
		RequestID: users["EIS"] + ":" + esme + ":70", Body: map[string]any{}}
}

// signWith signs the Pre-Command of cmd with key, whoever holds it.
func signWith(t *testing.T, cmd Command, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	pc, err := preCommand(&cmd)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := precommand.Sign(pc, key)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// refusal checks r is DEVICE_REJECTED with detail, logged in the device's
// security log under the alert code, and that the alerts raised are want.
func (e *env) refusal(r Response, device, alert, detail string, want ...string) {
	e.t.Helper()
	if r.OK || r.Reason != ReasonRejected {
		e.t.Fatalf("got %+v, want %s", r, ReasonRejected)
	}
	if !strings.Contains(r.Detail, detail) {
		e.t.Fatalf("detail %q, want it to say %q", r.Detail, detail)
	}
	log := e.state(device).SecurityLog
	if !slices.ContainsFunc(log, func(l LogEntry) bool {
		return l.Code == "COMMAND_REFUSED" && strings.HasPrefix(l.Detail, alert+": ")
	}) {
		e.t.Fatalf("no COMMAND_REFUSED %s in the security log: %v", alert, log)
	}
	e.expectAlertsFrom(device, want...)
}

// TestRefusedCommands: every way a Command can fail to be authenticated
// by the device is DEVICE_REJECTED, logged, and alerted (Table 5.4 A2, A3,
// A4), and the device does nothing.
func TestRefusedCommands(t *testing.T) {
	forger := newKey()
	cases := []struct {
		name   string
		cmd    func(t *testing.T) Command
		alert  string
		detail string
	}{
		{"forged signature: a key no one registered", func(t *testing.T) Command {
			return macked(enable(), signWith(t, enable(), forger), esme)
		}, alertNoPermission, "does not verify under the key of the holder"},
		{"signature altered", func(t *testing.T) Command {
			pc, sig, err := precommand.SplitSigned(signWith(t, enable(), registered[users["EIS"]]))
			if err != nil {
				t.Fatal(err)
			}
			sig = slices.Clone(sig)
			sig[len(sig)-1] ^= 1
			signed, err := precommand.AppendSignature(pc, sig)
			if err != nil {
				t.Fatal(err)
			}
			return macked(enable(), signed, esme)
		}, alertNoPermission, "does not verify"},
		{"signed by another registered supplier", func(t *testing.T) Command {
			return seal(enable(), users["GIS"])
		}, alertNoPermission, `the supplier "` + users["EIS"] + `" credential`},
		{"signed by the CoS Party, which may sign only 6.23", func(t *testing.T) Command {
			return seal(enable(), cosParty)
		}, alertNoPermission, "does not verify"},
		{"signed by the network operator for a supplier's command", func(t *testing.T) Command {
			return seal(enable(), users["ENO"])
		}, alertNoPermission, "does not verify"},
		{"not signed", func(t *testing.T) Command {
			return seal(enable(), "")
		}, alertNoPermission, "is not signed"},
		{"signed Pre-Command for another device", func(t *testing.T) Command {
			other := enable()
			other.Device = ppmid // trusts the same supplier
			return macked(enable(), signWith(t, other, registered[users["EIS"]]), esme)
		}, alertNotRecipient, "addressed to device " + ppmid},
		{"another device's Command (its MAC)", func(t *testing.T) Command {
			return macked(enable(), signWith(t, enable(), registered[users["EIS"]]), gsme)
		}, alertAuthFailure, "does not verify under the device's key"},
		{"signed Pre-Command with another body", func(t *testing.T) Command {
			cmd := enable()
			cmd.Service = "6.22"
			cmd.Body = map[string]any{"alert_code": alertTamper, "action": "ignore"}
			signed := signWith(t, cmd, registered[users["EIS"]])
			cmd.Body["action"] = "log"
			return macked(cmd, signed, esme)
		}, alertAuthFailure, "carries another body"},
		{"signed Pre-Command of another service", func(t *testing.T) Command {
			other := enable()
			other.Service = "7.2"
			return macked(enable(), signWith(t, other, registered[users["EIS"]]), esme)
		}, alertAuthFailure, "is for service 7.2"},
		{"signed Pre-Command of another request", func(t *testing.T) Command {
			other := enable()
			other.RequestID += "1"
			return macked(enable(), signWith(t, other, registered[users["EIS"]]), esme)
		}, alertAuthFailure, "is request " + users["EIS"] + ":" + esme + ":701"},
		{"signed Pre-Command, no MAC", func(t *testing.T) Command {
			cmd := enable()
			cmd.Authenticated = signWith(t, enable(), registered[users["EIS"]])
			return cmd
		}, alertAuthFailure, "no MAC"},
		{"nothing authenticated", func(t *testing.T) Command {
			return enable()
		}, alertAuthFailure, "carries no Message Authentication Code"},
		{"MAC altered", func(t *testing.T) Command {
			cmd := seal(enable(), users["EIS"])
			cmd.Authenticated[len(cmd.Authenticated)-1] ^= 0x80
			return cmd
		}, alertAuthFailure, "does not verify under the device's key"},
		{"MAC under another master key", func(t *testing.T) Command {
			cmd := enable()
			pc, _ := preCommand(&cmd)
			signed, _ := precommand.Sign(pc, registered[users["EIS"]])
			dk, _ := precommand.DeviceKey([]byte("another DCC's master key, 32 b."), esme)
			cmd.Authenticated, _ = precommand.AddMAC(signed, dk)
			return cmd
		}, alertAuthFailure, "does not verify under the device's key"},
		{"non-critical: no MAC", func(t *testing.T) Command {
			return Command{Service: "4.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", RequestID: "x", Body: map[string]any{"register": "total"}}
		}, alertAuthFailure, "carries no Message Authentication Code"},
		{"non-critical: MAC'd Pre-Command of another sender", func(t *testing.T) Command {
			cmd := Command{Service: "4.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{"register": "total"}}
			other := cmd
			other.Sender = users["OU"]
			pc, _ := preCommand(&other)
			cmd.RequestID = other.RequestID
			return macked(cmd, pc, esme)
		}, alertAuthFailure, "is from " + users["OU"]},
		{"non-critical: another body", func(t *testing.T) Command {
			cmd := Command{Service: "4.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{"register": "total"}}
			sealed := seal(cmd, "")
			sealed.Body = map[string]any{"register": "import"}
			return sealed
		}, alertAuthFailure, "carries another body"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.mustRun("7.2", esme, nil) // supply off, so 7.1 would show
			e.rec.take("")
			before := e.state(esme)
			r := e.f.Execute(tc.cmd(t))
			e.refusal(r, esme, tc.alert, tc.detail, tc.alert)
			after := e.state(esme)
			if after.Meter.Supply != before.Meter.Supply || len(after.EventBehaviour) != len(before.EventBehaviour) {
				t.Fatalf("the device acted on a refused command: supply %s, behaviour %v", after.Meter.Supply, after.EventBehaviour)
			}
		})
	}
}

// TestRefusalAlertData: the alert names the command, the request and the
// holder of the credential, to whom the device directs it (para 140).
func TestRefusalAlertData(t *testing.T) {
	e := newEnv(t)
	var got []Alert
	e.f.OnAlert(func(a Alert) { got = append(got, a) })
	e.f.Execute(seal(enable(), users["GIS"]))
	if len(got) != 1 {
		t.Fatalf("alerts %v", got)
	}
	a := got[0]
	if a.Code != alertNoPermission || a.Device != esme || a.Data["credential_holder"] != users["EIS"] ||
		a.Data["command"] != "7.1" || a.Data["request_id"] != enable().RequestID || a.Data["sender"] != users["EIS"] {
		t.Fatalf("alert %+v", a)
	}
	if a.Data["name"] != "Source Does not have Permission for Command" {
		t.Fatalf("alert name %v", a.Data["name"])
	}
}

// TestRefusalWithoutKeys: a fleet with no master key refuses every Command
// (A2); one with no key resolver accepts no critical Command (A4), but
// still runs non-critical ones.
func TestRefusalWithoutKeys(t *testing.T) {
	e := newEnv(t)
	bare := NewFleet(e.clk, e.f.Spec())
	bare.OnAlert(e.rec.add)
	if err := bare.Add(esme, TypeESME, DeviceOptions{Credentials: map[string]string{CredSupplier: users["EIS"]}}); err != nil {
		t.Fatal(err)
	}
	r := bare.Execute(seal(Command{Service: "4.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{"register": "total"}}, ""))
	if r.OK || r.Reason != ReasonRejected || !strings.Contains(r.Detail, "Message Authentication Code does not verify") {
		t.Fatalf("no master key: %+v", r)
	}
	e.expectAlerts(alertAuthFailure)
	if err := bare.SetMACKey([]byte("short")); err == nil {
		t.Fatal("a 5-byte master key was taken")
	}
	if err := bare.SetMACKey(testMaster); err != nil {
		t.Fatal(err)
	}
	if r := bare.Execute(seal(Command{Service: "4.1", Device: esme, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{"register": "total"}}, "")); !r.OK {
		t.Fatalf("with the master key: %+v", r)
	}
	r = bare.Execute(seal(enable(), users["EIS"]))
	if r.OK || r.Reason != ReasonRejected {
		t.Fatalf("no key resolver: %+v", r)
	}
	e.expectAlerts(alertNoPermission)
	bare.SetKeyResolver(resolve)
	if r := bare.Execute(seal(enable(), users["EIS"])); !r.OK {
		t.Fatalf("with the resolver: %+v", r)
	}
}

// TestRefusedByAHub: Table 5.4 lists meters only as issuers of A2-A4; a hub
// refuses and logs, raising nothing.
func TestRefusedByAHub(t *testing.T) {
	e := newEnv(t)
	cmd := seal(Command{Service: "8.9", Device: chf1, Sender: users["EIS"], SenderRole: "EIS", Body: map[string]any{}}, "")
	cmd.Authenticated[len(cmd.Authenticated)-1] ^= 1
	e.refusal(e.f.Execute(cmd), chf1, alertAuthFailure, "does not verify")
}

// TestSignedForLater: the execution time is part of what was signed; the
// device takes it from the Pre-Command.
func TestSignedForLater(t *testing.T) {
	e := newEnv(t)
	e.mustRun("7.2", esme, nil)
	cmd := enable()
	ref, variant, _ := cut(cmd.Service)
	svc := spec.MustDefault().Service(ref, variant)
	pc, err := precommand.Encode(svc, precommand.Command{RequestID: cmd.RequestID, DeviceID: esme, UserID: cmd.Sender, ExecuteAt: start.Add(time.Hour), Body: cmd.Body})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := precommand.Sign(pc, registered[users["EIS"]])
	if err != nil {
		t.Fatal(err)
	}
	if r := e.f.Execute(macked(cmd, signed, esme)); !r.OK {
		t.Fatalf("%+v", r)
	}
	if s := e.state(esme).Meter.Supply; s != SupplyArmed && s != SupplyEnabled {
		t.Fatalf("supply %s", s)
	}
}

// TestTrustMovesWithTheCredential: after a 6.23 signed by the CoS Party,
// the meter verifies critical commands with the gaining supplier's key and
// no longer with the losing supplier's.
func TestTrustMovesWithTheCredential(t *testing.T) {
	e := newEnv(t)
	e.mustRun("7.2", esme, nil)
	cos := seal(Command{Service: "6.23", Device: esme, Sender: gainingSupplier, SenderRole: "EIS", Critical: true,
		Body: map[string]any{"certificate": "GAINING"}}, cosParty)
	if r := e.f.Execute(cos); !r.OK {
		t.Fatalf("6.23: %+v", r)
	}
	e.rec.take("")
	losing := enable()
	e.refusal(e.f.Execute(seal(losing, users["EIS"])), esme, alertNoPermission, `the supplier "`+gainingSupplier+`" credential`, alertNoPermission)
	gaining := enable()
	gaining.Sender, gaining.RequestID = gainingSupplier, gainingSupplier+":"+esme+":1"
	if r := e.f.Execute(seal(gaining, gainingSupplier)); !r.OK {
		t.Fatalf("gaining supplier's 7.1: %+v", r)
	}
}

// TestSameMeaningAnyRepresentation: the device compares meanings in the
// encoding, so the gateway may hand it the body as JSON decoded it (a
// json.Number, a float64) while the Pre-Command was made from int64s; the
// device acts on the value authenticated.
func TestSameMeaningAnyRepresentation(t *testing.T) {
	e := newEnv(t)
	before := e.state(esme).Meter.CreditPence
	for i, amount := range []any{json.Number("150"), float64(150)} {
		sealed := seal(Command{Service: "2.2", Device: esme, Sender: users["EIS"], SenderRole: "EIS",
			Body: map[string]any{"utrn": utrn(i), "amount_pence": int64(150)}}, "")
		sealed.Body = map[string]any{"utrn": utrn(i), "amount_pence": amount}
		if r := e.f.Execute(sealed); !r.OK {
			t.Fatalf("amount as %T: %+v", amount, r)
		}
	}
	if got := e.state(esme).Meter.CreditPence; got != before+300 {
		t.Fatalf("credit %v, want %v", got, before+300)
	}
}
