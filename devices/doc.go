// Package devices emulates the smart-metering devices the DCC talks to and
// the SMWAN between them and the gateway.
//
// A Fleet holds emulated Communications Hub Functions (CHF), Gas Proxy
// Functions (GPF), electricity and gas meters (ESME, GSME), prepayment
// interfaces (PPMID), HAN connected auxiliary load control switches (HCALCS)
// and Type 2 in-home displays (IHD). Each device keeps the state its Table 5.1
// services touch: registers and profile data that advance with the injected
// clock, tariffs, prepayment credit, supply state, logs, firmware, the
// credentials of the parties it trusts, and so on. Fleet.Execute runs a
// Command on a device and answers as the device would; Fleet.Event injects
// what happens in a home (a power cut, a tamper, a voltage excursion) and
// raises the Table 5.4 Alerts it causes.
//
// Nothing here reads the wall clock or starts a goroutine: consumption is
// computed lazily from the clock time elapsed since a device was last looked
// at, from a per-device deterministic rate, so a virtual clock makes a month
// pass in a millisecond and two runs give the same numbers.
//
// Every Command is authenticated with real cryptography before a device
// acts on it (auth.go): the DCC's Message Authentication Code under the
// device's own key, that the Pre-Command it carries is addressed to the
// device and means the Command, and for a critical Command the ECDSA
// signature of the party holding the credential the sender's role needs
// (para 132, 140-141, 154). A refusal is DEVICE_REJECTED with the device's
// security log entry and Table 5.4 alert A2, A3 or A4. The fleet is given
// the DCC's MAC master key (SetMACKey) and a KeyResolver for the public
// keys of credential holders (SetKeyResolver).
//
// Which device types may raise which alert is read from the spec (Table 5.4,
// spec.Alerts, "issued by"), as are the services a device type answers
// (Table 5.1, spec.Service.Targets), which of them are critical, the role
// kinds that decide which credential must have signed a critical command, and
// the EUI-64 pattern of Device IDs.
//
// SMWAN sits between the gateway and the Fleet: it routes a Command through
// the device's Communications Hub Function, waits a configurable latency on
// the clock, and can lose commands (deterministically, under a seed) or have
// hubs stop answering.
//
// The package knows nothing of the gateway: it imports only spec, clock and
// precommand (the Command encoding, shared with the gateway's Transform).
package devices
