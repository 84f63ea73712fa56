package mutate

import (
	"fmt"
	"strconv"
	"strings"
)

// CUE text surgery: enough of CUE's syntax to find a row of services.cue
// and one of its fields, and to rewrite that field, keeping the rest of the
// file byte for byte (so a mutant's diff is one fact).

// rowSpan returns the byte range of the row {ref: "ref", variant: ...} in
// services.cue, from its opening brace to its closing one (inclusive).
func rowSpan(src, ref, variant string) (int, int, error) {
	needle := "{ref: " + strconv.Quote(ref)
	from := 0
	for {
		i := strings.Index(src[from:], needle)
		if i < 0 {
			return 0, 0, fmt.Errorf("row %s/%s not found", ref, variant)
		}
		i += from
		rest := src[i+len(needle):]
		hasVariant := strings.HasPrefix(rest, ", variant: ")
		ok := variant == "" && !hasVariant ||
			variant != "" && strings.HasPrefix(rest, ", variant: "+strconv.Quote(variant))
		if ok {
			end, err := matching(src, i)
			if err != nil {
				return 0, 0, err
			}
			return i, end, nil
		}
		from = i + len(needle)
	}
}

// matching returns the index of the bracket that closes the one at open,
// skipping strings and comments.
func matching(src string, open int) (int, error) {
	depth := 0
	for i := open; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			j, err := stringEnd(src, i)
			if err != nil {
				return 0, err
			}
			i = j
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			}
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced brackets from offset %d", open)
}

// stringEnd returns the index of the quote that closes the string at i.
func stringEnd(src string, i int) (int, error) {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d", i)
}

// field is a key of a struct at its top level, with the span of its value.
type field struct {
	key        string
	keyStart   int // offset of the key
	valueStart int
	valueEnd   int // exclusive
}

// fields lists the top-level fields of the struct src[open:close+1].
func fields(src string, open, close int) ([]field, error) {
	var out []field
	i := open + 1
	for i < close {
		// Skip blanks, commas and comments.
		for i < close {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' {
				i++
				continue
			}
			if c == '/' && i+1 < close && src[i+1] == '/' {
				for i < close && src[i] != '\n' {
					i++
				}
				continue
			}
			break
		}
		if i >= close {
			break
		}
		start := i
		for i < close && (src[i] == '_' || src[i] >= 'a' && src[i] <= 'z' || src[i] >= 'A' && src[i] <= 'Z' || src[i] >= '0' && src[i] <= '9') {
			i++
		}
		key := src[start:i]
		if key == "" || i >= close || src[i] != ':' {
			return nil, fmt.Errorf("unexpected text at offset %d: %.20q", start, src[start:])
		}
		i++
		for i < close && src[i] == ' ' {
			i++
		}
		vs := i
		// The value runs to a comma, newline or the closing brace at this
		// level.
		for i < close {
			c := src[i]
			if c == '"' {
				j, err := stringEnd(src, i)
				if err != nil {
					return nil, err
				}
				i = j + 1
				continue
			}
			if c == '{' || c == '[' || c == '(' {
				j, err := matching(src, i)
				if err != nil {
					return nil, err
				}
				i = j + 1
				continue
			}
			if c == ',' || c == '\n' {
				break
			}
			if c == '/' && i+1 < close && src[i+1] == '/' {
				break
			}
			i++
		}
		ve := i
		for ve > vs && (src[ve-1] == ' ' || src[ve-1] == '\t') {
			ve--
		}
		out = append(out, field{key: key, keyStart: start, valueStart: vs, valueEnd: ve})
	}
	return out, nil
}

// setField sets key of the struct at [open, close] to value, adding the
// field before the closing brace if the struct lacks it; it returns the new
// text.
func setField(src string, open, close int, key, value string) (string, error) {
	fs, err := fields(src, open, close)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if f.key == key {
			return src[:f.valueStart] + value + src[f.valueEnd:], nil
		}
	}
	// Add it after the last field.
	if len(fs) == 0 {
		return src[:open+1] + key + ": " + value + src[open+1:], nil
	}
	last := fs[len(fs)-1]
	return src[:last.valueEnd] + ", " + key + ": " + value + src[last.valueEnd:], nil
}

// deleteField removes key (and its comma) from the struct at [open, close].
func deleteField(src string, open, close int, key string) (string, error) {
	fs, err := fields(src, open, close)
	if err != nil {
		return "", err
	}
	for _, f := range fs {
		if f.key != key {
			continue
		}
		end := f.valueEnd
		if end < len(src) && src[end] == ',' {
			end++
			for end < len(src) && src[end] == ' ' {
				end++
			}
		}
		return src[:f.keyStart] + src[end:], nil
	}
	return "", fmt.Errorf("no field %s", key)
}

// editRow applies fn to the row's span of services.cue.
func editRow(src, ref, variant string, fn func(src string, open, close int) (string, error)) (string, error) {
	open, close, err := rowSpan(src, ref, variant)
	if err != nil {
		return "", err
	}
	return fn(src, open, close)
}

// block returns the span of the struct that follows "name: {" at the top
// level of a file.
func block(src, name string) (int, int, error) {
	needle := "\n" + name + ": {"
	i := strings.Index(src, needle)
	if i < 0 {
		return 0, 0, fmt.Errorf("no %s block", name)
	}
	open := i + len(needle) - 1
	close, err := matching(src, open)
	return open, close, err
}

// list writes strings as a CUE list.
func list(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
