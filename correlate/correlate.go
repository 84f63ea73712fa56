// Package correlate is the DCC User's Parse and Correlate software (para
// 149-160 of the 2013 SEC stage 2 consultation).
//
// Correlate checks, before the user signs, that the Pre-Command the gateway
// returned for a critical Service Request means the same as the request
// (para 150, 155-156). Para 157 asks that it be developed apart from the
// Transform so that one error is not made twice: this package reads the
// encoding of docs/precommand.md with its own decoder and does not import
// package precommand (its tests do, to tamper with real Pre-Commands).
//
// Parse turns a Device's response into the developer-friendly JSON the API
// returns (para 158-160).
package correlate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dccgate/dccgate/spec"
)

// Request is the user's own view of the Service Request it sent.
type Request struct {
	// RequestID is the request's ID, as the envelope gave it or, if the
	// envelope left it empty, as the Acknowledgement returned it.
	RequestID string
	// Service and Variant name the row ("1.1", "prepayment").
	Service string
	Variant string
	// DeviceID is the target Device and UserID the sender (EUI-64s).
	DeviceID string
	UserID   string
	// ExecuteAt is the execution time of a future dated request; zero for
	// on demand.
	ExecuteAt time.Time
	// Body holds the request's fields by spec name (string, any Go integer
	// or json.Number or whole float64 for int64, bool, float64, []string
	// or []any of strings, timestamps as RFC 3339 strings or time.Time). A
	// field left out means its zero value, as over the API (proto3).
	Body map[string]any
}

// Code says what kind of failure an Error is.
type Code string

// The codes of Error.
const (
	// CodeMalformed: the Pre-Command cannot be read as docs/precommand.md
	// describes (truncated, extended, an unknown version or tag...).
	CodeMalformed Code = "pre_command_malformed"
	// CodeMismatch: the Pre-Command reads, and means something other than
	// the request; Mismatches says what.
	CodeMismatch Code = "pre_command_mismatch"
	// CodeRequest: the request itself cannot be correlated (a service the
	// spec does not have, a Device ID that is no EUI-64, a value of the
	// wrong type).
	CodeRequest Code = "request_invalid"
)

// Mismatch is one difference between the request and the Pre-Command.
type Mismatch struct {
	// What names the part: "request_id", "service", "device", "user",
	// "execute_at", "field_count", "body.NAME" or "body[#N]".
	What string
	// Request and PreCommand are what each says, as text.
	Request    string
	PreCommand string
}

// Error is the error Correlate returns.
type Error struct {
	Code       Code
	Message    string
	Mismatches []Mismatch
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("correlate: ")
	b.WriteString(e.Message)
	for i, m := range e.Mismatches {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: request %s, Pre-Command %s", m.What, m.Request, m.PreCommand)
	}
	return b.String()
}

// Is matches another *Error on its code, so that
// errors.Is(err, &correlate.Error{Code: correlate.CodeMismatch}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func requestErr(format string, args ...any) *Error {
	return &Error{Code: CodeRequest, Message: fmt.Sprintf(format, args...)}
}

// Correlate checks that preCommand means the same as request under the
// spec sp: the Device, the sender, the execution time, the request ID, the
// service, and every field of the body in the spec's order, typed as the
// spec says. A field the Pre-Command has and the spec does not, or lacks,
// is a mismatch; so is any byte after the last field (a Pre-Command to sign
// carries no signature or MAC). It returns nil or an *Error listing every
// mismatch.
func Correlate(sp *spec.Spec, request Request, preCommand []byte) error {
	if sp == nil {
		return requestErr("no spec")
	}
	svc := sp.Service(request.Service, request.Variant)
	if svc == nil {
		return requestErr("the spec has no service %s", spec.Key(request.Service, request.Variant))
	}
	if request.RequestID == "" {
		return requestErr("the request has no request ID (take the one the Acknowledgement returned)")
	}
	dev, ok := eui64Bytes(request.DeviceID)
	if !ok {
		return requestErr("device ID %q is not an EUI-64", request.DeviceID)
	}
	usr, ok := eui64Bytes(request.UserID)
	if !ok {
		return requestErr("user ID %q is not an EUI-64", request.UserID)
	}
	want := make([]datum, len(svc.Fields))
	for i, f := range svc.Fields {
		k, ok := kindOfSpecType(f.Type)
		if !ok {
			return requestErr("field %s has a type Correlate does not know, %q", f.Name, f.Type)
		}
		d, err := fromRequest(k, request.Body[f.Name])
		if err != nil {
			return requestErr("field %s: %v", f.Name, err)
		}
		want[i] = d
	}

	pc, perr := read(preCommand)
	if perr != nil {
		return &Error{Code: CodeMalformed, Message: "the Pre-Command cannot be read: " + perr.Error()}
	}

	var ms []Mismatch
	add := func(what, req, pre string) { ms = append(ms, Mismatch{What: what, Request: req, PreCommand: pre}) }
	if pc.requestID != request.RequestID {
		add("request_id", strconv.Quote(request.RequestID), strconv.Quote(pc.requestID))
	}
	if key := svc.Key(); pc.service != key {
		add("service", strconv.Quote(key), strconv.Quote(pc.service))
	}
	if pc.device != dev {
		add("device", showEUI64(dev), showEUI64(pc.device))
	}
	if pc.sender != usr {
		add("user", showEUI64(usr), showEUI64(pc.sender))
	}
	var at int64
	if !request.ExecuteAt.IsZero() {
		at = request.ExecuteAt.Unix()
	}
	if pc.executeAt != at {
		add("execute_at", showWhen(at), showWhen(pc.executeAt))
	}
	if len(pc.fields) != len(svc.Fields) {
		add("field_count", strconv.Itoa(len(svc.Fields)), strconv.Itoa(len(pc.fields)))
	}
	for i, f := range svc.Fields {
		what := "body." + f.Name
		if i >= len(pc.fields) {
			add(what, want[i].show(), "missing")
			continue
		}
		got := pc.fields[i]
		if got.kind == kindUnset {
			if f.Required {
				add(what, want[i].show(), "unset (the field is required)")
				continue
			}
			got = zeroOf(want[i].kind) // an unset optional field is its zero value
		}
		if got.kind != want[i].kind {
			add(what, want[i].kind.String()+" "+want[i].show(), got.kind.String()+" "+got.show())
			continue
		}
		if !got.equal(want[i]) {
			add(what, want[i].show(), got.show())
		}
	}
	for i := len(svc.Fields); i < len(pc.fields); i++ {
		add(fmt.Sprintf("body[#%d]", i+1), "absent (the spec has no such field)", pc.fields[i].kind.String()+" "+pc.fields[i].show())
	}
	known := map[string]bool{}
	for _, f := range svc.Fields {
		known[f.Name] = true
	}
	var unknown []string
	for name := range request.Body {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		add("body."+name, fmt.Sprint(request.Body[name]), "absent (the spec has no such field)")
	}
	if len(ms) > 0 {
		return &Error{Code: CodeMismatch, Message: "the Pre-Command does not mean the request", Mismatches: ms}
	}
	return nil
}

// kind is a field's type as the format tags it.
type kind byte

const (
	kindUnset     kind = 0x00
	kindString    kind = 0x01
	kindInt64     kind = 0x02
	kindBool      kind = 0x03
	kindDouble    kind = 0x04
	kindStrings   kind = 0x05
	kindTimestamp kind = 0x06
)

func kindOfSpecType(t string) (kind, bool) {
	k, ok := map[string]kind{
		"string": kindString, "int64": kindInt64, "bool": kindBool,
		"double": kindDouble, "strings": kindStrings, "timestamp": kindTimestamp,
	}[t]
	return k, ok
}

func (k kind) String() string {
	switch k {
	case kindUnset:
		return "unset"
	case kindString:
		return "string"
	case kindInt64:
		return "int64"
	case kindBool:
		return "bool"
	case kindDouble:
		return "double"
	case kindStrings:
		return "strings"
	case kindTimestamp:
		return "timestamp"
	}
	return "tag " + strconv.Itoa(int(k))
}

// datum is one field's value, from either side.
type datum struct {
	kind kind
	s    string
	n    int64 // int64; unix seconds of a timestamp
	ns   int64 // nanoseconds of a timestamp
	f    float64
	b    bool
	list []string
}

func (d datum) equal(o datum) bool {
	if d.kind != o.kind {
		return false
	}
	switch d.kind {
	case kindString:
		return d.s == o.s
	case kindInt64:
		return d.n == o.n
	case kindBool:
		return d.b == o.b
	case kindDouble:
		return d.f == o.f
	case kindTimestamp:
		return d.n == o.n && d.ns == o.ns
	case kindStrings:
		if len(d.list) != len(o.list) {
			return false
		}
		for i := range d.list {
			if d.list[i] != o.list[i] {
				return false
			}
		}
		return true
	}
	return true
}

func (d datum) show() string {
	switch d.kind {
	case kindString:
		return strconv.Quote(d.s)
	case kindInt64:
		return strconv.FormatInt(d.n, 10)
	case kindBool:
		return strconv.FormatBool(d.b)
	case kindDouble:
		return strconv.FormatFloat(d.f, 'g', -1, 64)
	case kindTimestamp:
		if d.n == zeroTime && d.ns == 0 {
			return "none"
		}
		return time.Unix(d.n, d.ns).UTC().Format(time.RFC3339Nano)
	case kindStrings:
		q := make([]string, len(d.list))
		for i, s := range d.list {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return "unset"
}

// zeroTime is the unix seconds of Go's zero time (0001-01-01T00:00:00Z),
// the zero value of a timestamp.
const zeroTime = -62135596800

// zeroOf is the zero value of kind k.
func zeroOf(k kind) datum {
	d := datum{kind: k}
	if k == kindTimestamp {
		d.n = zeroTime
	}
	return d
}

// fromRequest reads a request value as kind k; nil is the zero value.
func fromRequest(k kind, v any) (datum, error) {
	d := zeroOf(k)
	if v == nil {
		return d, nil
	}
	switch k {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return d, fmt.Errorf("a string is wanted, not %T", v)
		}
		d.s = s
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return d, fmt.Errorf("a bool is wanted, not %T", v)
		}
		d.b = b
	case kindInt64:
		n, ok := wholeNumber(v)
		if !ok {
			return d, fmt.Errorf("a whole number is wanted, not %v (%T)", v, v)
		}
		d.n = n
	case kindDouble:
		f, ok := anyNumber(v)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return d, fmt.Errorf("a finite number is wanted, not %v (%T)", v, v)
		}
		d.f = f
	case kindStrings:
		switch l := v.(type) {
		case []string:
			d.list = l
		case []any:
			d.list = make([]string, 0, len(l))
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return d, fmt.Errorf("a list of strings is wanted, it holds %T", x)
				}
				d.list = append(d.list, s)
			}
		default:
			return d, fmt.Errorf("a list of strings is wanted, not %T", v)
		}
	case kindTimestamp:
		var t time.Time
		switch x := v.(type) {
		case time.Time:
			t = x
		case string:
			if x == "" {
				return d, nil
			}
			p, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return d, fmt.Errorf("%q is not an RFC 3339 time", x)
			}
			t = p
		default:
			return d, fmt.Errorf("an RFC 3339 time is wanted, not %T", v)
		}
		d.n, d.ns = t.Unix(), int64(t.Nanosecond())
	}
	return d, nil
}

func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint:
		return int64(n), uint64(n) <= math.MaxInt64
	case uint64:
		return int64(n), n <= math.MaxInt64
	case float64:
		return int64(n), n == math.Trunc(n) && math.Abs(n) <= 1<<53
	case json.Number:
		if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
			return i, true
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		return int64(f), err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53
	}
	return 0, false
}

func anyNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case json.Number:
		f, err := strconv.ParseFloat(n.String(), 64)
		return f, err == nil
	}
	i, ok := wholeNumber(v)
	return float64(i), ok
}

// eui64Bytes reads "00-DB-00-00-00-00-E0-01" (either case).
func eui64Bytes(s string) ([8]byte, bool) {
	var out [8]byte
	parts := strings.Split(s, "-")
	if len(parts) != 8 {
		return out, false
	}
	for i, p := range parts {
		if len(p) != 2 {
			return out, false
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return out, false
		}
		out[i] = byte(v)
	}
	return out, true
}

func showEUI64(b [8]byte) string {
	parts := make([]string, 8)
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, "-")
}

func showWhen(unix int64) string {
	if unix == 0 {
		return "on receipt (0)"
	}
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}

// preCommand is what read finds in a Pre-Command.
type preCommand struct {
	device, sender [8]byte
	executeAt      int64
	requestID      string
	service        string
	fields         []datum
}

// read decodes a Pre-Command (no trailer) as docs/precommand.md lays it
// out, rejecting any other encoding.
func read(b []byte) (*preCommand, error) {
	r := &reader{buf: b}
	magic := r.bytes(4)
	version := r.bytes(1)
	if r.err != nil {
		return nil, r.err
	}
	if string(magic) != "DCPC" {
		return nil, fmt.Errorf("it does not start with DCPC")
	}
	if version[0] != 1 {
		return nil, fmt.Errorf("version %d, Correlate reads version 1", version[0])
	}
	pc := &preCommand{}
	copy(pc.device[:], r.bytes(8))
	copy(pc.sender[:], r.bytes(8))
	var at uint64
	for _, c := range r.bytes(8) {
		at = at<<8 | uint64(c)
	}
	if r.err != nil {
		return nil, r.err
	}
	if at > 253402300799 {
		return nil, fmt.Errorf("execution time %d is out of range", int64(at))
	}
	pc.executeAt = int64(at)
	pc.requestID = r.text(255)
	pc.service = r.text(255)
	count := r.unsigned()
	if r.err != nil {
		return nil, r.err
	}
	if pc.requestID == "" || pc.service == "" {
		return nil, fmt.Errorf("empty request ID or service key")
	}
	if count > 255 {
		return nil, fmt.Errorf("%d fields, more than 255", count)
	}
	for range count {
		d := r.field()
		if r.err != nil {
			return nil, r.err
		}
		pc.fields = append(pc.fields, d)
	}
	if rest := len(b) - r.pos; rest > 0 {
		what := "bytes"
		switch b[r.pos] {
		case 'S':
			what = "bytes (a signature trailer: a Pre-Command to sign carries none)"
		case 'M':
			what = "bytes (a MAC trailer: a Pre-Command to sign carries none)"
		}
		return nil, fmt.Errorf("%d %s after the last field", rest, what)
	}
	return pc, nil
}

// reader walks a buffer; the first error sticks and makes later reads
// return zero values.
type reader struct {
	buf []byte
	pos int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("byte %d: %s", r.pos, fmt.Sprintf(format, args...))
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if n > len(r.buf)-r.pos {
		r.fail("the message ends %d bytes early", n-(len(r.buf)-r.pos))
		return make([]byte, n)
	}
	out := r.buf[r.pos : r.pos+n]
	r.pos += n
	return out
}

// unsigned reads a LEB128 varint of at most 64 bits, written minimally.
func (r *reader) unsigned() uint64 {
	var v uint64
	for i := 0; ; i++ {
		if r.err != nil {
			return 0
		}
		if i == 10 {
			r.fail("a varint longer than 10 bytes")
			return 0
		}
		c := r.bytes(1)[0]
		if r.err != nil {
			return 0
		}
		if i == 9 && c > 1 {
			r.fail("a varint over 64 bits")
			return 0
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				r.fail("a varint not minimally encoded")
			}
			return v
		}
	}
}

// signed reads a zigzag varint.
func (r *reader) signed() int64 {
	u := r.unsigned()
	if u&1 == 1 {
		return -int64(u>>1) - 1
	}
	return int64(u >> 1)
}

func (r *reader) text(max uint64) string {
	n := r.unsigned()
	if r.err != nil {
		return ""
	}
	if n > max {
		r.fail("a string of %d bytes, more than %d", n, max)
		return ""
	}
	if n > uint64(len(r.buf)-r.pos) {
		r.fail("a string of %d bytes runs past the end", n)
		return ""
	}
	b := r.bytes(int(n))
	if !utf8.Valid(b) {
		r.fail("a string that is not UTF-8")
		return ""
	}
	return string(b)
}

func (r *reader) field() datum {
	tag := r.bytes(1)[0]
	d := datum{kind: kind(tag)}
	switch d.kind {
	case kindUnset:
	case kindString:
		d.s = r.text(1 << 16)
	case kindInt64:
		d.n = r.signed()
	case kindBool:
		switch r.bytes(1)[0] {
		case 0:
		case 1:
			d.b = true
		default:
			r.fail("a bool that is neither 0 nor 1")
		}
	case kindDouble:
		var bits uint64
		for _, c := range r.bytes(8) {
			bits = bits<<8 | uint64(c)
		}
		d.f = math.Float64frombits(bits)
		if math.IsNaN(d.f) || math.IsInf(d.f, 0) {
			r.fail("a double that is not finite")
		}
	case kindStrings:
		n := r.unsigned()
		if n > 1024 || n > uint64(len(r.buf)-r.pos) {
			r.fail("a list of %d strings", n)
			return d
		}
		d.list = make([]string, 0, n)
		for range n {
			d.list = append(d.list, r.text(1<<16))
		}
	case kindTimestamp:
		d.n = r.signed()
		ns := r.unsigned()
		if r.err == nil && (d.n < zeroTime || d.n > 253402300799 || ns > 999999999) {
			r.fail("a time out of range")
		}
		d.ns = int64(ns)
		if r.err == nil && d.n == zeroTime && d.ns == 0 {
			r.fail("the zero time written as a time (it is written unset)")
		}
	default:
		r.fail("an unknown field type 0x%02x", tag)
	}
	return d
}
