package api

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
	"google.golang.org/protobuf/types/known/structpb"
)

// A delivery's payload is read for every message on a stream. With
// encoding/json it was read twice (the payload, then its answer into a
// map) and the map made a Struct: some 8 us and 84 allocations a message.
// fastPayload reads it in one pass into the Struct, for any payload it is
// sure to read as encoding/json does (payloadFast). For any other it says
// no, and readAlert or readResponse reads the payload the old way
// (decodeAlert, decodeResponse), which stays the reference (FuzzPayload
// holds the two equal).

var payloadParsers fastjson.ParserPool

// payloadField is a string field of a payload: its key and where it goes.
type payloadField struct {
	key string
	dst *string
}

// fastPayload reads raw, a JSON object, into fields and, from the value
// under dataKey, a Struct (nil when that value is not an object, as
// toStruct). ok is false when raw is not what the fast path is sure to
// read as encoding/json would: then nothing it set is to be used.
func fastPayload(raw []byte, fields []payloadField, dataKey string) (data *structpb.Struct, ok bool) {
	if !payloadFast(raw) {
		return nil, false
	}
	p := payloadParsers.Get()
	defer payloadParsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, false
	}
	ok = true
	v.GetObject().Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		if string(k) == dataKey {
			data = nil // the last of duplicate keys wins, as in encoding/json
			if v.Type() == fastjson.TypeObject {
				data, ok = structOf(v.GetObject())
			}
			return
		}
		for _, f := range fields {
			if string(k) == f.key {
				// Anything but a string (null, or a value of another
				// type, which encoding/json skips) leaves it as it was.
				if v.Type() == fastjson.TypeString {
					*f.dst = string(v.GetStringBytes())
				}
				return
			}
			if bytes.EqualFold(k, []byte(f.key)) {
				ok = false // encoding/json matches keys without case too
				return
			}
		}
		if bytes.EqualFold(k, []byte(dataKey)) {
			ok = false // dataKey itself returned above
		}
	})
	if !ok {
		return nil, false
	}
	return data, true
}

// maxFastPayload bounds what the fast path reads: fastjson's validator
// recurses without a limit of depth, and a payload is a few hundred bytes.
const maxFastPayload = 64 << 10

// payloadFast says whether raw is JSON that fastjson reads as encoding/json
// does: valid by RFC 8259 (fastjson's parser alone takes more, NaN among
// it; its validator does not), valid UTF-8 (which encoding/json would
// mend), and without escaped surrogates (which the two read differently
// when one is alone).
func payloadFast(raw []byte) bool {
	if len(raw) > maxFastPayload || !utf8.Valid(raw) || fastjson.ValidateBytes(raw) != nil {
		return false
	}
	for i := bytes.Index(raw, []byte(`\u`)); i >= 0; {
		if i+3 < len(raw) && (raw[i+2] == 'd' || raw[i+2] == 'D') && bytes.IndexByte([]byte("89abcdefABCDEF"), raw[i+3]) >= 0 {
			return false
		}
		j := bytes.Index(raw[i+2:], []byte(`\u`))
		if j < 0 {
			break
		}
		i += 2 + j
	}
	return true
}

// structOf is a parsed JSON object as a Struct; ok is false for a number
// out of float64's range (encoding/json fails the whole object then).
func structOf(o *fastjson.Object) (*structpb.Struct, bool) {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, o.Len())}
	ok := true
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		var val *structpb.Value
		val, ok = valueOf(v)
		s.Fields[string(k)] = val
	})
	return s, ok
}

func valueOf(v *fastjson.Value) (*structpb.Value, bool) {
	switch v.Type() {
	case fastjson.TypeObject:
		s, ok := structOf(v.GetObject())
		return structpb.NewStructValue(s), ok
	case fastjson.TypeArray:
		items := v.GetArray()
		l := &structpb.ListValue{Values: make([]*structpb.Value, len(items))}
		for i, it := range items {
			var ok bool
			if l.Values[i], ok = valueOf(it); !ok {
				return nil, false
			}
		}
		return structpb.NewListValue(l), true
	case fastjson.TypeString:
		return structpb.NewStringValue(string(v.GetStringBytes())), true
	case fastjson.TypeNumber:
		// The number's own text, parsed as encoding/json parses it.
		var buf [32]byte
		f, err := strconv.ParseFloat(string(v.MarshalTo(buf[:0])), 64)
		return structpb.NewNumberValue(f), err == nil
	case fastjson.TypeTrue:
		return structpb.NewBoolValue(true), true
	case fastjson.TypeFalse:
		return structpb.NewBoolValue(false), true
	default:
		return structpb.NewNullValue(), true
	}
}
