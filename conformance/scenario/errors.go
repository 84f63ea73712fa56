package scenario

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem of a scenario file, at a line and key.
type Error struct {
	File   string
	Line   int
	Column int
	// Key is the path of the offending key, e.g. steps[2].request.service;
	// list indices count from 0.
	Key     string
	Message string
	// Err is the error behind Message, if any (a file that cannot be
	// read): errors.Is and As see it.
	Err error
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Error formats "FILE:LINE:COL: KEY: MESSAGE".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ErrorList is every problem found, sorted by file, line and column. Load
// and Parse return one (as error) rather than stopping at the first, so an
// author fixes a file in one round.
type ErrorList []*Error

// Error joins the errors one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, for errors.Is and As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Files counts the files the list names: the invalid files of a run.
func (l ErrorList) Files() int {
	files := map[string]bool{}
	for _, e := range l {
		files[e.File] = true
	}
	return len(files)
}

// Sort orders the list by file, line, column, key and message.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Message < b.Message
	})
}

// err returns the list as an error, nil when it is empty: a nil ErrorList
// in an error interface would not compare equal to nil.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
