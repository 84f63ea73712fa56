package devices

import (
	"encoding/json"
	"math"
	"time"
)

// Reading request fields, from the body the device authenticated (auth.go).
// Its types follow the spec, but a device must not trust that: a missing or
// ill-typed field is a DEVICE_ERROR, never a panic.

func (c *call) raw(name string) (any, bool) {
	v, ok := c.body[name]
	return v, ok && v != nil
}

func (c *call) str(name string) (string, error) {
	v, ok := c.raw(name)
	if !ok {
		return "", devErr("missing field %s", name)
	}
	s, ok := v.(string)
	if !ok {
		return "", devErr("field %s: want a string, got %T", name, v)
	}
	return s, nil
}

func (c *call) optStr(name, def string) (string, error) {
	if _, ok := c.raw(name); !ok {
		return def, nil
	}
	return c.str(name)
}

// maxExact is the largest integer a float64 holds exactly.
const maxExact = 1 << 53

func (c *call) int(name string) (int64, error) {
	v, ok := c.raw(name)
	if !ok {
		return 0, devErr("missing field %s", name)
	}
	switch n := v.(type) {
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case float64:
		if math.IsNaN(n) || n != math.Trunc(n) || math.Abs(n) > maxExact {
			return 0, devErr("field %s: want an integer, got %v", name, n)
		}
		return int64(n), nil
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, devErr("field %s: want an integer, got %s", name, n)
		}
		return i, nil
	}
	return 0, devErr("field %s: want an integer, got %T", name, v)
}

func (c *call) optInt(name string, def int64) (int64, error) {
	if _, ok := c.raw(name); !ok {
		return def, nil
	}
	return c.int(name)
}

func (c *call) float(name string) (float64, error) {
	v, ok := c.raw(name)
	if !ok {
		return 0, devErr("missing field %s", name)
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int64:
		f = float64(n)
	case int:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, devErr("field %s: want a number, got %s", name, n)
		}
	default:
		return 0, devErr("field %s: want a number, got %T", name, v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, devErr("field %s: want a finite number", name)
	}
	return f, nil
}

func (c *call) optBool(name string, def bool) (bool, error) {
	v, ok := c.raw(name)
	if !ok {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, devErr("field %s: want a bool, got %T", name, v)
	}
	return b, nil
}

func (c *call) time(name string) (time.Time, error) {
	s, err := c.str(name)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, devErr("field %s: want an RFC 3339 time, got %q", name, s)
	}
	return t.UTC(), nil
}

// strs reads an optional list of strings.
func (c *call) strs(name string) ([]string, error) {
	v, ok := c.raw(name)
	if !ok {
		return nil, nil
	}
	switch l := v.(type) {
	case []string:
		return l, nil
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, devErr("field %s[%d]: want a string, got %T", name, i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, devErr("field %s: want a list of strings, got %T", name, v)
}

// rfc formats a time for a response; the zero time is "".
func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func floats(in []float64) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = round3(v)
	}
	return out
}

func strList(in []string) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
