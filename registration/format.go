package registration

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the version of the file format this package reads and writes
// (docs/registration.md).
const Version = "v1"

// Kinds of file.
const (
	KindFull        = "full"
	KindIncremental = "incremental"
)

// Header is a file's first line: who sent it, what it holds, its place in
// the RDP's sequence.
type Header struct {
	RDP      string    `json:"rdp"`
	Kind     string    `json:"kind"`
	Fuel     string    `json:"fuel"`
	Sequence int64     `json:"sequence"`
	Created  time.Time `json:"created"`
}

// Row is one data row: its line in the file and its values by column name
// (absent columns are empty).
type Row struct {
	Line   int
	Values map[string]string
}

// Get returns the value of a column.
func (r Row) Get(col string) string { return r.Values[col] }

// File is a parsed registration file.
type File struct {
	Format string // csv, jsonl
	Header Header
	Rows   []Row
}

// FormatError says why a file does not conform to the format (para 87):
// the file is rejected whole.
type FormatError struct {
	Line int
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

func formatErr(line int, format string, args ...any) error {
	return &FormatError{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// csvMagic starts a CSV file's header line.
const csvMagic = "#dccgate-registration"

// Parse reads a file in either encoding: JSON lines if its first byte is
// '{', CSV otherwise. columns are the column names the spec allows; a file
// naming another is refused. Any error is a *FormatError.
func Parse(data []byte, columns []string) (*File, error) {
	if !utf8.Valid(data) {
		return nil, formatErr(0, "the file is not UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, formatErr(0, "the file is empty")
	}
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return parseJSONL(data, columns)
	}
	return parseCSV(data, columns)
}

// ReadHeader reads a file's header alone, in either encoding, so that who
// sent a file can be known even when the rest of it does not conform (a
// truncated file). Any error is a *FormatError.
func ReadHeader(data []byte) (Header, error) {
	if !utf8.Valid(data) {
		return Header{}, formatErr(0, "the file is not UTF-8")
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return Header{}, formatErr(0, "the file is empty")
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !bytes.HasPrefix(trimmed, []byte("{")) { // CSV, as Parse reads it
		first, _, _ := bytes.Cut(data, []byte("\n"))
		return parseHeaderLine(string(first))
	}
	first, _, _ := bytes.Cut(trimmed, []byte("\n"))
	var h jsonHeader
	dec := json.NewDecoder(bytes.NewReader(first))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return Header{}, formatErr(1, "header: %v", err)
	}
	if h.Registration != Version {
		return Header{}, formatErr(1, "header registration %q: this gateway reads %q", h.Registration, Version)
	}
	return h.Header, checkHeader(h.Header)
}

// parseHeaderLine reads "#dccgate-registration v1 rdp=... kind=... ...".
func parseHeaderLine(line string) (Header, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 || fields[0] != csvMagic {
		return Header{}, formatErr(1, "the first line must be the header %q", csvMagic+" "+Version+" rdp=ID kind=full|incremental fuel=electricity|gas sequence=N created=RFC3339")
	}
	if fields[1] != Version {
		return Header{}, formatErr(1, "format version %q: this gateway reads %s", fields[1], Version)
	}
	kv := map[string]string{}
	for _, f := range fields[2:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Header{}, formatErr(1, "header field %q is not key=value", f)
		}
		if _, dup := kv[k]; dup {
			return Header{}, formatErr(1, "header field %s given twice", k)
		}
		kv[k] = v
	}
	var h Header
	for k, v := range kv {
		var err error
		switch k {
		case "rdp":
			h.RDP = v
		case "kind":
			h.Kind = v
		case "fuel":
			h.Fuel = v
		case "sequence":
			h.Sequence, err = strconv.ParseInt(v, 10, 64)
		case "created":
			h.Created, err = time.Parse(time.RFC3339Nano, v)
		default:
			return Header{}, formatErr(1, "unknown header field %q", k)
		}
		if err != nil {
			return Header{}, formatErr(1, "header field %s=%q: %v", k, v, err)
		}
	}
	return h, checkHeader(h)
}

func checkHeader(h Header) error {
	switch {
	case h.RDP == "":
		return formatErr(1, "the header names no rdp")
	case h.Kind != KindFull && h.Kind != KindIncremental:
		return formatErr(1, "header kind %q: must be full or incremental", h.Kind)
	case h.Fuel == "":
		return formatErr(1, "the header names no fuel")
	case h.Sequence < 1:
		return formatErr(1, "header sequence %d: must be 1 or more", h.Sequence)
	case h.Created.IsZero():
		return formatErr(1, "the header has no created time")
	}
	return nil
}

// parseTrailer reads "#end rows=N".
func parseTrailer(line string, lineNo, rows int) error {
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] != "#end" || !strings.HasPrefix(fields[1], "rows=") {
		return formatErr(lineNo, "the last line must be the trailer \"#end rows=N\"")
	}
	n, err := strconv.Atoi(strings.TrimPrefix(fields[1], "rows="))
	if err != nil {
		return formatErr(lineNo, "trailer %q: %v", line, err)
	}
	if n != rows {
		return formatErr(lineNo, "the trailer counts %d rows, the file has %d: it is incomplete", n, rows)
	}
	return nil
}

func parseCSV(data []byte, columns []string) (*File, error) {
	// Split off the header and trailer lines; the rest is RFC 4180 CSV.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimRight(text, "\n")
	first, rest, _ := strings.Cut(text, "\n")
	h, err := parseHeaderLine(first)
	if err != nil {
		return nil, err
	}
	i := strings.LastIndex(rest, "\n")
	trailer, body := rest, ""
	if i >= 0 {
		trailer, body = rest[i+1:], rest[:i]
	}
	if rest != "" && !strings.HasPrefix(trailer, "#end") {
		// Cut short: the header was read, the trailer never came.
		return nil, formatErr(2+strings.Count(rest, "\n"), "the trailer \"#end rows=N\" is missing: the header was read (rdp=%s kind=%s fuel=%s sequence=%d) but the last line is not the trailer, so the file is incomplete",
			h.RDP, h.Kind, h.Fuel, h.Sequence)
	}
	r := csv.NewReader(strings.NewReader(body))
	r.ReuseRecord = false
	r.FieldsPerRecord = 0
	names, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, formatErr(2, "the second line must name the columns")
	}
	if err != nil {
		return nil, csvErr(err, 1)
	}
	if err := checkColumns(names, columns, 2); err != nil {
		return nil, err
	}
	f := &File{Format: "csv", Header: h}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr(err, 1)
		}
		line, _ := r.FieldPos(0)
		row := Row{Line: line + 1, Values: make(map[string]string, len(names))}
		for j, v := range rec {
			if v != "" {
				row.Values[names[j]] = v
			}
		}
		f.Rows = append(f.Rows, row)
	}
	trailerLine := 3 + strings.Count(body, "\n")
	if body == "" {
		trailerLine = 2
	}
	if err := parseTrailer(trailer, trailerLine, len(f.Rows)); err != nil {
		return nil, err
	}
	return f, nil
}

// csvErr turns a csv.Reader error into a FormatError with the file's line.
func csvErr(err error, offset int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return formatErr(pe.Line+offset, "%v", pe.Err)
	}
	return formatErr(0, "%v", err)
}

func checkColumns(names, allowed []string, line int) error {
	seen := map[string]bool{}
	for _, n := range names {
		if !slices.Contains(allowed, n) {
			return formatErr(line, "unknown column %q (the columns are %s)", n, strings.Join(allowed, ", "))
		}
		if seen[n] {
			return formatErr(line, "column %q named twice", n)
		}
		seen[n] = true
	}
	return nil
}

// jsonHeader is the first line of a JSON lines file.
type jsonHeader struct {
	Registration string `json:"registration"`
	Header
}

func parseJSONL(data []byte, columns []string) (*File, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	f := &File{Format: "jsonl"}
	line := 0
	ended := false
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if ended {
			return nil, formatErr(line, "data after the trailer")
		}
		if line == 1 {
			var h jsonHeader
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&h); err != nil {
				return nil, formatErr(1, "header: %v", err)
			}
			if h.Registration != Version {
				return nil, formatErr(1, "header registration %q: this gateway reads %q", h.Registration, Version)
			}
			if err := checkHeader(h.Header); err != nil {
				return nil, err
			}
			f.Header = h.Header
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, formatErr(line, "%v", err)
		}
		if end, ok := obj["end"]; ok {
			m, ok := end.(map[string]any)
			n, isNum := m["rows"].(float64)
			if !ok || !isNum || len(obj) != 1 {
				return nil, formatErr(line, "the trailer must be {\"end\":{\"rows\":N}}")
			}
			if int(n) != len(f.Rows) {
				return nil, formatErr(line, "the trailer counts %d rows, the file has %d: it is incomplete", int(n), len(f.Rows))
			}
			ended = true
			continue
		}
		row := Row{Line: line, Values: make(map[string]string, len(obj))}
		for k, v := range obj {
			if !slices.Contains(columns, k) {
				return nil, formatErr(line, "unknown column %q (the columns are %s)", k, strings.Join(columns, ", "))
			}
			switch x := v.(type) {
			case string:
				if x != "" {
					row.Values[k] = x
				}
			case nil:
			default:
				return nil, formatErr(line, "column %s: values are strings, not %T", k, v)
			}
		}
		f.Rows = append(f.Rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, formatErr(line, "%v", err)
	}
	if !ended {
		return nil, formatErr(line, "the trailer {\"end\":{\"rows\":N}} is missing: the header was read (rdp=%s kind=%s fuel=%s sequence=%d) but the last line is not the trailer, so the file is incomplete",
			f.Header.RDP, f.Header.Kind, f.Header.Fuel, f.Header.Sequence)
	}
	return f, nil
}

// Write encodes a file in the format ("csv" or "jsonl") with the columns
// given, in their order.
func Write(w io.Writer, format string, h Header, columns []string, rows []map[string]string) error {
	bw := bufio.NewWriter(w)
	switch format {
	case "csv":
		fmt.Fprintf(bw, "%s %s rdp=%s kind=%s fuel=%s sequence=%d created=%s\n", csvMagic, Version,
			h.RDP, h.Kind, h.Fuel, h.Sequence, h.Created.UTC().Format(time.RFC3339Nano))
		cw := csv.NewWriter(bw)
		if err := cw.Write(columns); err != nil {
			return err
		}
		rec := make([]string, len(columns))
		for _, r := range rows {
			for i, c := range columns {
				rec[i] = r[c]
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		fmt.Fprintf(bw, "#end rows=%d\n", len(rows))
	case "jsonl":
		enc := json.NewEncoder(bw)
		if err := enc.Encode(jsonHeader{Registration: Version, Header: h}); err != nil {
			return err
		}
		for _, r := range rows {
			obj := make(map[string]string, len(columns))
			for _, c := range columns {
				if v := r[c]; v != "" {
					obj[c] = v
				}
			}
			if err := enc.Encode(obj); err != nil {
				return err
			}
		}
		if err := enc.Encode(map[string]any{"end": map[string]int{"rows": len(rows)}}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("registration: unknown format %q (csv, jsonl)", format)
	}
	return bw.Flush()
}
