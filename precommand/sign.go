package precommand

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrSignature is returned when a signature does not verify, and
// ErrMAC when a MAC does not.
var (
	ErrSignature = errors.New("precommand: the signature does not verify")
	ErrMAC       = errors.New("precommand: the MAC does not verify")
)

// bare checks that b is a Pre-Command with no trailer.
func bare(b []byte) (*Message, error) {
	m, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if m.Signature != nil || m.MAC != nil {
		return nil, fmt.Errorf("%w: a Pre-Command carries no trailer", ErrMalformed)
	}
	return m, nil
}

// Sign returns the Signed Pre-Command: preCommand followed by the
// signature trailer of key's ECDSA P-256 signature over SHA-256 of
// preCommand (ASN.1 DER), the signature pki.Sign makes. A DCC User should
// check the Pre-Command with package correlate first (or use
// client.SignPreCommand, which does).
func Sign(preCommand []byte, key *ecdsa.PrivateKey) ([]byte, error) {
	if key == nil {
		return nil, errors.New("precommand: no key")
	}
	if _, err := bare(preCommand); err != nil {
		return nil, err
	}
	h := sha256.Sum256(preCommand)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("precommand: sign: %w", err)
	}
	return appendSignature(preCommand, sig), nil
}

// AppendSignature returns the Signed Pre-Command of a Pre-Command and a
// signature sent apart (SubmitSignedPreCommandRequest). It does not verify
// the signature: see Verify.
func AppendSignature(preCommand, signature []byte) ([]byte, error) {
	if _, err := bare(preCommand); err != nil {
		return nil, err
	}
	if len(signature) == 0 || len(signature) > MaxSigLen {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(signature))
	}
	return appendSignature(preCommand, signature), nil
}

func appendSignature(pc, sig []byte) []byte {
	out := make([]byte, 0, len(pc)+1+binary.MaxVarintLen64+len(sig))
	out = append(out, pc...)
	out = append(out, TagSignature)
	out = binary.AppendUvarint(out, uint64(len(sig)))
	return append(out, sig...)
}

// SplitSigned returns the Pre-Command and the signature of a Signed
// Pre-Command. A message with no signature, or with a MAC, is an error.
func SplitSigned(signed []byte) (preCommand, signature []byte, err error) {
	m, err := Decode(signed)
	if err != nil {
		return nil, nil, err
	}
	if m.Signature == nil {
		return nil, nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	if m.MAC != nil {
		return nil, nil, fmt.Errorf("%w: a Signed Pre-Command carries no MAC", ErrMalformed)
	}
	return m.PreCommand, m.Signature, nil
}

// Verify checks the signature of a Signed Pre-Command (or of a Command
// made from one) against pub and returns the Pre-Command it covers.
func Verify(signed []byte, pub *ecdsa.PublicKey) (preCommand []byte, err error) {
	m, err := Decode(signed)
	if err != nil {
		return nil, err
	}
	if m.Signature == nil {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	if !VerifySignature(m.PreCommand, m.Signature, pub) {
		return nil, ErrSignature
	}
	return m.PreCommand, nil
}

// VerifySignature checks an ECDSA P-256 SHA-256 signature (ASN.1 DER) over
// a Pre-Command, as pki.Verify does.
func VerifySignature(preCommand, signature []byte, pub *ecdsa.PublicKey) bool {
	if pub == nil {
		return false
	}
	h := sha256.Sum256(preCommand)
	return ecdsa.VerifyASN1(pub, h[:], signature)
}

// deviceKeyLabel separates the keys DeviceKey derives from any other use
// of the master key.
const deviceKeyLabel = "dccgate precommand device MAC key v1"

// DeviceKey derives the MAC key of a Device from the DCC's master key:
// HMAC-SHA256(master, label || the Device's 8 bytes). The gateway and the
// (emulated) Device each hold it; no two Devices share one.
func DeviceKey(master []byte, deviceID string) ([]byte, error) {
	if len(master) < 16 {
		return nil, errors.New("precommand: a master key of at least 16 bytes is needed")
	}
	dev, err := parseEUI64(deviceID)
	if err != nil {
		return nil, fmt.Errorf("precommand: device: %w", err)
	}
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte(deviceKeyLabel))
	mac.Write(dev[:])
	return mac.Sum(nil), nil
}

// AddMAC makes a Command of a Pre-Command (a non-critical request) or of a
// Signed Pre-Command (para 132): msg followed by the MAC trailer,
// HMAC-SHA256 under the target Device's key over all of msg.
func AddMAC(msg, deviceKey []byte) ([]byte, error) {
	if len(deviceKey) == 0 {
		return nil, errors.New("precommand: no device key")
	}
	m, err := Decode(msg)
	if err != nil {
		return nil, err
	}
	if m.MAC != nil {
		return nil, fmt.Errorf("%w: the message already carries a MAC", ErrMalformed)
	}
	out := make([]byte, 0, len(msg)+1+MACLen)
	out = append(out, msg...)
	out = append(out, TagMAC)
	return append(out, macOf(deviceKey, msg)...), nil
}

// CheckMAC checks the MAC of a Command under the Device's key and returns
// the message it covers (a Pre-Command or a Signed Pre-Command).
func CheckMAC(command, deviceKey []byte) (msg []byte, err error) {
	m, err := OpenMAC(command, deviceKey)
	if err != nil {
		return nil, err
	}
	return m.Authenticated, nil
}

// OpenMAC is CheckMAC giving the Command decoded: the fields, Pre-Command
// and signature of the message the MAC covers (as Decode of it gives
// them), with Authenticated and MAC set. A Device reads its Command once.
func OpenMAC(command, deviceKey []byte) (*Message, error) {
	m, err := Decode(command)
	if err != nil {
		return nil, err
	}
	if m.MAC == nil {
		return nil, fmt.Errorf("%w: no MAC", ErrMalformed)
	}
	if len(deviceKey) == 0 || !hmac.Equal(m.MAC, macOf(deviceKey, m.Authenticated)) {
		return nil, ErrMAC
	}
	return m, nil
}

func macOf(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
