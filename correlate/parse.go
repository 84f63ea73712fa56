package correlate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/dccgate/dccgate/spec"
)

// Parsed is the developer-friendly form of a Device's response (para
// 159), as Parse writes it in JSON.
type Parsed struct {
	RequestID   string         `json:"request_id"`
	Service     string         `json:"service"`
	ServiceName string         `json:"service_name"`
	Response    map[string]any `json:"response"`
}

// maxDepth bounds the nesting of a response.
const maxDepth = 32

// Parse turns a Device's response to the request requestID of the row
// service ("4.1", "1.1/prepayment") into the JSON the API returns: the
// request ID, the service key and its name from the spec, and the response
// itself. deviceResponse is the Device's answer as a map (as devices
// answer today) or as JSON bytes of an object; nil is an empty answer.
// Values must be JSON values (objects with string keys, arrays, strings,
// finite numbers, booleans, null); a time.Time becomes an RFC 3339 string
// in UTC. Map keys come out sorted, so the same answer is the same bytes.
func Parse(sp *spec.Spec, service, requestID string, deviceResponse any) (json.RawMessage, error) {
	p, err := ParseResponse(sp, service, requestID, deviceResponse)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return b, nil
}

// ParseResponse is Parse before the JSON is written.
func ParseResponse(sp *spec.Spec, service, requestID string, deviceResponse any) (*Parsed, error) {
	if sp == nil {
		return nil, errors.New("parse: no spec")
	}
	svc := sp.ServiceByKey(service)
	if svc == nil {
		return nil, fmt.Errorf("parse: the spec has no service %q", service)
	}
	if requestID == "" {
		return nil, errors.New("parse: no request ID")
	}
	var raw any
	switch x := deviceResponse.(type) {
	case nil:
		raw = map[string]any{}
	case []byte:
		v, err := decodeJSON(x)
		if err != nil {
			return nil, err
		}
		raw = v
	case json.RawMessage:
		v, err := decodeJSON(x)
		if err != nil {
			return nil, err
		}
		raw = v
	default:
		raw = x
	}
	norm, err := normalise(raw, 0, "response")
	if err != nil {
		return nil, fmt.Errorf("parse: %s %s: %w", svc.Key(), requestID, err)
	}
	obj, ok := norm.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse: %s %s: the response is not an object", svc.Key(), requestID)
	}
	return &Parsed{RequestID: requestID, Service: svc.Key(), ServiceName: svc.Name, Response: obj}, nil
}

func decodeJSON(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse: the response is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse: data after the response's JSON")
	}
	if v == nil {
		return map[string]any{}, nil
	}
	return v, nil
}

// normalise copies v into plain JSON values, refusing what JSON cannot
// carry.
func normalise(v any, depth int, path string) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%s: nested deeper than %d", path, maxDepth)
	}
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%s: %v is not a JSON number", path, x)
		}
		return x, nil
	case float32:
		return normalise(float64(x), depth, path)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return x, nil
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano), nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "" {
				return nil, fmt.Errorf("%s: an empty key", path)
			}
			n, err := normalise(e, depth+1, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalise(e, depth+1, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	}
	// Other slices and string-keyed maps, element by element.
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return []any{}, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := normalise(rv.Index(i).Interface(), depth+1, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				m[it.Key().String()] = it.Value().Interface()
			}
			return normalise(m, depth, path)
		}
	}
	return nil, fmt.Errorf("%s: a %T is not a JSON value", path, v)
}
