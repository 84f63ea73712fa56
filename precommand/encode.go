package precommand

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dccgate/dccgate/spec"
)

// Magic opens every Pre-Command: ASCII "DCPC".
const Magic = "DCPC"

// Version is the version of the encoding this package writes and reads.
const Version byte = 1

// HeaderLen is the length of the fixed header: magic, version, target
// Device, sender and execution time.
const HeaderLen = 4 + 1 + 8 + 8 + 8

// Trailer tags follow the fields of a Pre-Command, in this order, each at
// most once.
const (
	// TagSignature opens the user's signature: the tag, a uvarint length
	// and the ASN.1 DER ECDSA signature.
	TagSignature byte = 'S'
	// TagMAC opens the DCC's Message Authentication Code: the tag and 32
	// bytes of HMAC-SHA256.
	TagMAC byte = 'M'
)

// MACLen is the length of a MAC (HMAC-SHA256).
const MACLen = 32

// Limits of the encoding; Encode refuses and Decode rejects anything larger.
const (
	MaxIDLen     = 255     // request ID and service key, bytes
	MaxStringLen = 1 << 16 // a string field, bytes
	MaxListLen   = 1024    // entries of a strings field
	MaxFields    = 255     // fields of a body
	MaxSigLen    = 80      // an ECDSA P-256 DER signature is at most 72 bytes
)

// Timestamps must lie within the years 0001 to 9999, as RFC 3339 writes
// them.
const (
	minUnix = -62135596800 // 0001-01-01T00:00:00Z
	maxUnix = 253402300799 // 9999-12-31T23:59:59Z
)

// Type is the one-byte tag that opens each field.
type Type byte

// The field types, one per spec field type, and Unset for an optional field
// that the request leaves at its zero value.
const (
	Unset     Type = 0x00
	String    Type = 0x01 // uvarint length, UTF-8 bytes
	Int64     Type = 0x02 // zigzag varint
	Bool      Type = 0x03 // one byte, 0x00 or 0x01
	Double    Type = 0x04 // 8 bytes, IEEE 754 binary64, big-endian; no NaN or infinity
	Strings   Type = 0x05 // uvarint count, then each as String
	Timestamp Type = 0x06 // zigzag varint unix seconds, uvarint nanoseconds
)

// TypeOf returns the tag of a spec field type ("string", "int64", "bool",
// "double", "strings", "timestamp"), and false for an unknown one.
func TypeOf(specType string) (Type, bool) {
	switch specType {
	case "string":
		return String, true
	case "int64":
		return Int64, true
	case "bool":
		return Bool, true
	case "double":
		return Double, true
	case "strings":
		return Strings, true
	case "timestamp":
		return Timestamp, true
	}
	return Unset, false
}

// String returns the spec's name of the type, or "unset".
func (t Type) String() string {
	switch t {
	case Unset:
		return "unset"
	case String:
		return "string"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	case Double:
		return "double"
	case Strings:
		return "strings"
	case Timestamp:
		return "timestamp"
	}
	return fmt.Sprintf("type(0x%02x)", byte(t))
}

// Command is what the gateway knows of a request when it transforms it.
type Command struct {
	// RequestID is "originatorID:targetID:counter".
	RequestID string
	// Service is the row key ("1.1/prepayment", "7.1"); empty means the
	// key of the service Encode is given.
	Service string
	// DeviceID is the target Device, an EUI-64 ("00-DB-00-00-00-00-E0-01").
	DeviceID string
	// UserID is the sender, an EUI-64.
	UserID string
	// ExecuteAt is when the Device is to act, in whole seconds (a
	// fraction is dropped); zero means on receipt.
	ExecuteAt time.Time
	// Body holds the request's fields by spec name. Values: string; int64
	// (or any Go integer, a whole float64 or a json.Number); bool; float64
	// (or an integer or json.Number); []string or []any of strings;
	// timestamps as RFC 3339 strings or time.Time. A field missing (or nil)
	// takes its zero value if optional and is an error if required.
	Body map[string]any
}

// ErrEncode is wrapped by the errors Encode returns.
var ErrEncode = errors.New("precommand: cannot encode")

func encodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrEncode, fmt.Sprintf(format, args...))
}

// ParseBody decodes a request body stored as a JSON object, keeping numbers
// exact (json.Number) so that int64 fields above 2^53 survive.
func ParseBody(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("precommand: body: %w", err)
	}
	if dec.More() {
		return nil, errors.New("precommand: body: data after the JSON object")
	}
	if body == nil {
		body = map[string]any{}
	}
	return body, nil
}

// Encode is the Transform: it returns the Pre-Command of cmd for the
// service svc, the fields in the order of svc.Fields and typed by it. A
// body field the spec does not name, a missing required field or a value of
// the wrong type is an error.
func Encode(svc *spec.Service, cmd Command) ([]byte, error) {
	m, err := message(svc, cmd)
	if err != nil {
		return nil, err
	}
	return m.append(make([]byte, 0, m.size())), nil
}

// message builds the Message Encode writes.
func message(svc *spec.Service, cmd Command) (*Message, error) {
	if svc == nil {
		return nil, encodeErr("no service")
	}
	key := svc.Key()
	if cmd.Service != "" && cmd.Service != key {
		return nil, encodeErr("command names service %q, the spec row is %q", cmd.Service, key)
	}
	m := &Message{Version: Version, RequestID: cmd.RequestID, Service: key}
	var err error
	if m.device, err = parseEUI64(cmd.DeviceID); err != nil {
		return nil, encodeErr("device: %v", err)
	}
	if m.sender, err = parseEUI64(cmd.UserID); err != nil {
		return nil, encodeErr("user: %v", err)
	}
	m.DeviceID, m.UserID = formatEUI64(m.device), formatEUI64(m.sender)
	if err := checkID("request ID", cmd.RequestID); err != nil {
		return nil, err
	}
	if err := checkID("service key", key); err != nil {
		return nil, err
	}
	if !cmd.ExecuteAt.IsZero() {
		s := cmd.ExecuteAt.Unix()
		if s <= 0 || s > maxUnix {
			return nil, encodeErr("execution time %s is out of range", cmd.ExecuteAt.UTC().Format(time.RFC3339))
		}
		m.ExecuteAt = time.Unix(s, 0).UTC()
	}
	if len(svc.Fields) > MaxFields {
		return nil, encodeErr("service %s has %d fields, more than %d", key, len(svc.Fields), MaxFields)
	}
	known := make(map[string]bool, len(svc.Fields))
	m.Fields = make([]Value, len(svc.Fields))
	for i, f := range svc.Fields {
		known[f.Name] = true
		t, ok := TypeOf(f.Type)
		if !ok {
			return nil, encodeErr("field %s has unknown spec type %q", f.Name, f.Type)
		}
		raw, present := cmd.Body[f.Name]
		if raw == nil {
			present = false
		}
		if !present {
			if f.Required {
				return nil, encodeErr("field %s is required", f.Name)
			}
			continue // Unset
		}
		v, err := typed(t, raw)
		if err != nil {
			return nil, encodeErr("field %s: %v", f.Name, err)
		}
		if v.isZero() {
			if !f.Required {
				continue // an optional field at its zero value is Unset
			}
			if t == Timestamp {
				return nil, encodeErr("field %s is required", f.Name)
			}
		}
		m.Fields[i] = v
	}
	for k := range cmd.Body {
		if !known[k] {
			return nil, encodeErr("field %q is not a field of %s", k, key)
		}
	}
	return m, nil
}

func checkID(what, s string) error {
	switch {
	case s == "":
		return encodeErr("no %s", what)
	case len(s) > MaxIDLen:
		return encodeErr("%s is longer than %d bytes", what, MaxIDLen)
	case !utf8.ValidString(s):
		return encodeErr("%s is not UTF-8", what)
	}
	return nil
}

// typed converts a body value to a Value of type t.
func typed(t Type, raw any) (Value, error) {
	v := Value{Type: t}
	switch t {
	case String:
		s, ok := raw.(string)
		if !ok {
			return v, fmt.Errorf("want a string, have %T", raw)
		}
		if err := checkString(s); err != nil {
			return v, err
		}
		v.Str = s
	case Int64:
		n, err := toInt64(raw)
		if err != nil {
			return v, err
		}
		v.Int = n
	case Bool:
		b, ok := raw.(bool)
		if !ok {
			return v, fmt.Errorf("want a bool, have %T", raw)
		}
		v.Bool = b
	case Double:
		f, err := toFloat64(raw)
		if err != nil {
			return v, err
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return v, errors.New("not a finite number")
		}
		v.Double = f
	case Strings:
		var list []string
		switch l := raw.(type) {
		case []string:
			list = l
		case []any:
			list = make([]string, len(l))
			for i, x := range l {
				s, ok := x.(string)
				if !ok {
					return v, fmt.Errorf("entry %d: want a string, have %T", i, x)
				}
				list[i] = s
			}
		default:
			return v, fmt.Errorf("want a list of strings, have %T", raw)
		}
		if len(list) > MaxListLen {
			return v, fmt.Errorf("%d entries, more than %d", len(list), MaxListLen)
		}
		for i, s := range list {
			if err := checkString(s); err != nil {
				return v, fmt.Errorf("entry %d: %v", i, err)
			}
		}
		v.List = append([]string(nil), list...)
	case Timestamp:
		var tm time.Time
		switch x := raw.(type) {
		case string:
			if x == "" {
				return v, nil // the zero value: unset if optional, refused below if required
			}
			p, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return v, errors.New("not an RFC 3339 time")
			}
			tm = p
		case time.Time:
			tm = x
		default:
			return v, fmt.Errorf("want an RFC 3339 string, have %T", raw)
		}
		if tm.IsZero() {
			return v, nil
		}
		if s := tm.Unix(); s < minUnix || s > maxUnix {
			return v, errors.New("time outside the years 0001 to 9999")
		}
		v.Time = tm.UTC()
	}
	return v, nil
}

func checkString(s string) error {
	if len(s) > MaxStringLen {
		return fmt.Errorf("string of %d bytes, more than %d", len(s), MaxStringLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("string is not UTF-8")
	}
	return nil
}

func toInt64(raw any) (int64, error) {
	switch n := raw.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint:
		if uint64(n) > math.MaxInt64 {
			return 0, errors.New("out of the int64 range")
		}
		return int64(n), nil
	case uint64:
		if n > math.MaxInt64 {
			return 0, errors.New("out of the int64 range")
		}
		return int64(n), nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, errors.New("not a whole number within 2^53")
		}
		return int64(n), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, fmt.Errorf("%s is not a whole number", n)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("want a whole number, have %T", raw)
}

func toFloat64(raw any) (float64, error) {
	switch n := raw.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return 0, fmt.Errorf("%s is not a number", n)
		}
		return f, nil
	}
	i, err := toInt64(raw)
	if err != nil {
		return 0, fmt.Errorf("want a number, have %T", raw)
	}
	return float64(i), nil
}

// isZero reports whether v is its type's zero value (what proto3 cannot
// tell from unset).
func (v Value) isZero() bool {
	switch v.Type {
	case String:
		return v.Str == ""
	case Int64:
		return v.Int == 0
	case Bool:
		return !v.Bool
	case Double:
		return v.Double == 0
	case Strings:
		return len(v.List) == 0
	case Timestamp:
		return v.Time.IsZero()
	}
	return true
}

// size is an upper bound of the encoded length of m without trailers.
func (m *Message) size() int {
	n := HeaderLen + 2*binary.MaxVarintLen64 + len(m.RequestID) + len(m.Service) + binary.MaxVarintLen64
	for _, f := range m.Fields {
		n += 1 + 2*binary.MaxVarintLen64 + len(f.Str) + 8
		for _, s := range f.List {
			n += binary.MaxVarintLen64 + len(s)
		}
	}
	return n
}

// append writes the Pre-Command of m (without trailers) after b.
func (m *Message) append(b []byte) []byte {
	b = append(b, Magic...)
	b = append(b, m.Version)
	b = append(b, m.device[:]...)
	b = append(b, m.sender[:]...)
	var at int64
	if !m.ExecuteAt.IsZero() {
		at = m.ExecuteAt.Unix()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = appendString(b, m.RequestID)
	b = appendString(b, m.Service)
	b = binary.AppendUvarint(b, uint64(len(m.Fields)))
	for _, f := range m.Fields {
		b = append(b, byte(f.Type))
		switch f.Type {
		case String:
			b = appendString(b, f.Str)
		case Int64:
			b = binary.AppendVarint(b, f.Int)
		case Bool:
			if f.Bool {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case Double:
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f.Double))
		case Strings:
			b = binary.AppendUvarint(b, uint64(len(f.List)))
			for _, s := range f.List {
				b = appendString(b, s)
			}
		case Timestamp:
			b = binary.AppendVarint(b, f.Time.Unix())
			b = binary.AppendUvarint(b, uint64(f.Time.Nanosecond()))
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// parseEUI64 reads "00-DB-00-00-00-00-E0-01" (hex digits of either case).
func parseEUI64(s string) ([8]byte, error) {
	var out [8]byte
	if len(s) != 23 {
		return out, fmt.Errorf("%q is not an EUI-64", s)
	}
	for i := range 8 {
		if i > 0 && s[3*i-1] != '-' {
			return out, fmt.Errorf("%q is not an EUI-64", s)
		}
		hi, ok1 := unhex(s[3*i])
		lo, ok2 := unhex(s[3*i+1])
		if !ok1 || !ok2 {
			return out, fmt.Errorf("%q is not an EUI-64", s)
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// formatEUI64 writes 8 bytes as an upper-case EUI-64.
func formatEUI64(b [8]byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 23)
	for i, c := range b {
		if i > 0 {
			out = append(out, '-')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
