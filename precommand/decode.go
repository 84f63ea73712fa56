package precommand

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/dccgate/dccgate/spec"
)

// Message is a decoded Pre-Command, Signed Pre-Command or Command.
type Message struct {
	Version byte
	// DeviceID is the target Device and UserID the sender, as upper-case
	// EUI-64s.
	DeviceID string
	UserID   string
	// ExecuteAt is zero for "on receipt", else a whole second in UTC.
	ExecuteAt time.Time
	RequestID string
	Service   string
	// Fields are the body's fields in the spec's order; an optional field
	// left at its zero value has Type Unset.
	Fields []Value
	// PreCommand is the Pre-Command itself: the bytes a signature covers.
	PreCommand []byte
	// Signature is the user's signature, nil when there is none.
	Signature []byte
	// Authenticated is the bytes the MAC covers (the Pre-Command and any
	// signature trailer) and MAC the MAC; both nil when there is no MAC.
	Authenticated []byte
	MAC           []byte

	device, sender [8]byte
}

// Value is one field of a body.
type Value struct {
	Type   Type
	Str    string
	Int    int64
	Bool   bool
	Double float64
	List   []string
	Time   time.Time
}

// ErrMalformed is wrapped by the errors Decode returns.
var ErrMalformed = errors.New("precommand: malformed")

// decoder reads b from off.
type decoder struct {
	b   []byte
	off int
}

func (d *decoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
}

// uvarint reads a minimally encoded unsigned varint.
func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		return 0, d.fail("bad varint")
	}
	if n > 1 && d.b[d.off+n-1] == 0 {
		return 0, d.fail("varint not minimally encoded")
	}
	d.off += n
	return v, nil
}

// varint reads a minimally encoded zigzag varint.
func (d *decoder) varint() (int64, error) {
	u, err := d.uvarint()
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.off {
		return nil, d.fail("%d bytes wanted, %d left", n, len(d.b)-d.off)
	}
	out := d.b[d.off : d.off+n]
	d.off += n
	return out, nil
}

func (d *decoder) str(max int) (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(max) {
		return "", d.fail("string of %d bytes, more than %d", n, max)
	}
	b, err := d.take(int(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", d.fail("string is not UTF-8")
	}
	return string(b), nil
}

// Decode reads a Pre-Command, a Signed Pre-Command or a Command. It needs no
// spec: each field says its type. It accepts only what Encode writes (one
// encoding per meaning) and never panics.
func Decode(b []byte) (*Message, error) {
	d := &decoder{b: b}
	if len(b) < HeaderLen {
		return nil, d.fail("%d bytes, shorter than the %d-byte header", len(b), HeaderLen)
	}
	if string(b[:4]) != Magic {
		return nil, d.fail("no %q magic", Magic)
	}
	m := &Message{Version: b[4]}
	if m.Version != Version {
		d.off = 4
		return nil, d.fail("version %d, this reader knows %d", m.Version, Version)
	}
	copy(m.device[:], b[5:13])
	copy(m.sender[:], b[13:21])
	m.DeviceID, m.UserID = formatEUI64(m.device), formatEUI64(m.sender)
	at := int64(binary.BigEndian.Uint64(b[21:29]))
	if at < 0 || at > maxUnix {
		d.off = 21
		return nil, d.fail("execution time %d out of range", at)
	}
	if at > 0 {
		m.ExecuteAt = time.Unix(at, 0).UTC()
	}
	d.off = HeaderLen
	var err error
	if m.RequestID, err = d.str(MaxIDLen); err != nil {
		return nil, err
	}
	if m.Service, err = d.str(MaxIDLen); err != nil {
		return nil, err
	}
	if m.RequestID == "" || m.Service == "" {
		return nil, d.fail("empty request ID or service key")
	}
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > MaxFields {
		return nil, d.fail("%d fields, more than %d", n, MaxFields)
	}
	m.Fields = make([]Value, n)
	for i := range m.Fields {
		if m.Fields[i], err = d.value(); err != nil {
			return nil, err
		}
	}
	m.PreCommand = b[:d.off:d.off]
	if d.off < len(b) && b[d.off] == TagSignature {
		d.off++
		n, err := d.uvarint()
		if err != nil {
			return nil, err
		}
		if n == 0 || n > MaxSigLen {
			return nil, d.fail("signature of %d bytes", n)
		}
		sig, err := d.take(int(n))
		if err != nil {
			return nil, err
		}
		m.Signature = sig[:len(sig):len(sig)]
	}
	if d.off < len(b) && b[d.off] == TagMAC {
		m.Authenticated = b[:d.off:d.off]
		d.off++
		mac, err := d.take(MACLen)
		if err != nil {
			return nil, err
		}
		m.MAC = mac[:MACLen:MACLen]
	}
	if d.off != len(b) {
		return nil, d.fail("%d bytes after the message", len(b)-d.off)
	}
	return m, nil
}

func (d *decoder) value() (Value, error) {
	tag, err := d.take(1)
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: Type(tag[0])}
	switch v.Type {
	case Unset:
	case String:
		if v.Str, err = d.str(MaxStringLen); err != nil {
			return v, err
		}
	case Int64:
		if v.Int, err = d.varint(); err != nil {
			return v, err
		}
	case Bool:
		c, err := d.take(1)
		if err != nil {
			return v, err
		}
		if c[0] > 1 {
			return v, d.fail("bool byte 0x%02x", c[0])
		}
		v.Bool = c[0] == 1
	case Double:
		c, err := d.take(8)
		if err != nil {
			return v, err
		}
		v.Double = math.Float64frombits(binary.BigEndian.Uint64(c))
		if math.IsNaN(v.Double) || math.IsInf(v.Double, 0) {
			return v, d.fail("double is not finite")
		}
	case Strings:
		n, err := d.uvarint()
		if err != nil {
			return v, err
		}
		// Each entry takes at least one byte.
		if n > MaxListLen || n > uint64(len(d.b)-d.off) {
			return v, d.fail("list of %d entries", n)
		}
		v.List = make([]string, n)
		for i := range v.List {
			if v.List[i], err = d.str(MaxStringLen); err != nil {
				return v, err
			}
		}
	case Timestamp:
		s, err := d.varint()
		if err != nil {
			return v, err
		}
		ns, err := d.uvarint()
		if err != nil {
			return v, err
		}
		if s < minUnix || s > maxUnix || ns >= 1e9 {
			return v, d.fail("time %d.%09d out of range", s, ns)
		}
		v.Time = time.Unix(s, int64(ns)).UTC()
		if v.Time.IsZero() {
			return v, d.fail("the zero time is written as unset")
		}
	default:
		d.off--
		return v, d.fail("unknown field type 0x%02x", byte(v.Type))
	}
	return v, nil
}

// Body names the fields of m by the spec row svc and returns them as the
// devices take them (string, int64, bool, float64, []any of strings,
// timestamps as RFC 3339 strings); an unset optional field takes its zero
// value. The service, the number of fields and each type must match svc.
func (m *Message) Body(svc *spec.Service) (map[string]any, error) {
	if svc == nil || svc.Key() != m.Service {
		return nil, fmt.Errorf("precommand: message is for service %q", m.Service)
	}
	if len(m.Fields) != len(svc.Fields) {
		return nil, fmt.Errorf("precommand: %d fields, service %s has %d", len(m.Fields), m.Service, len(svc.Fields))
	}
	out := make(map[string]any, len(m.Fields))
	for i, f := range svc.Fields {
		want, _ := TypeOf(f.Type)
		v := m.Fields[i]
		if v.Type == Unset {
			if f.Required {
				return nil, fmt.Errorf("precommand: required field %s is unset", f.Name)
			}
			v = Value{Type: want}
		} else if v.Type != want {
			return nil, fmt.Errorf("precommand: field %s is %s, the spec says %s", f.Name, v.Type, f.Type)
		}
		switch want {
		case String:
			out[f.Name] = v.Str
		case Int64:
			out[f.Name] = v.Int
		case Bool:
			out[f.Name] = v.Bool
		case Double:
			out[f.Name] = v.Double
		case Strings:
			l := make([]any, len(v.List))
			for j, s := range v.List {
				l[j] = s
			}
			out[f.Name] = l
		case Timestamp:
			if v.Time.IsZero() {
				out[f.Name] = ""
			} else {
				out[f.Name] = v.Time.Format(time.RFC3339Nano)
			}
		}
	}
	return out, nil
}
