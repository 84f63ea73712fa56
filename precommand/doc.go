// Package precommand is the gateway's Transform (para 153-155 of the 2013
// SEC stage 2 consultation): it turns a Service Request into the Pre-Command
// the target Device will act on, in a compact binary encoding documented
// byte by byte in docs/precommand.md, and it carries the security that
// follows (para 132):
//
//   - a Pre-Command (Encode) is returned to the DCC User for signing;
//   - a Signed Pre-Command (Sign, AppendSignature, SplitSigned, Verify) is
//     the Pre-Command followed by the user's ECDSA P-256 / SHA-256
//     signature in a trailer;
//   - a Command is a Pre-Command or a Signed Pre-Command followed by the
//     DCC's Message Authentication Code (AddMAC, CheckMAC): HMAC-SHA256
//     under a key of the target Device (DeviceKey).
//
// The encoding is "device-ready" rather than GBCS: a fixed header (magic,
// version, target Device, sender, execution time), the request ID and the
// service key, then the request's fields in the spec's order, each with a
// one-byte type tag and typed as the spec says. Every meaning has exactly
// one encoding: Decode rejects anything Encode would not have written, so a
// signature covers one meaning only.
//
// The DCC User checks a Pre-Command with package correlate, which is
// written separately and shares no code with this one (para 157).
package precommand
