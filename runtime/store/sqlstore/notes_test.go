package sqlstore

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestNotes(t *testing.T) {
	args := func(users ...string) [][]any {
		var out [][]any
		for _, u := range users {
			out = append(out, []any{u, "alert"})
		}
		return out
	}
	many := make([]string, 400) // 400 IDs of 23 characters: past maxNote
	for i := range many {
		many[i] = fmt.Sprintf("00-00-00-00-00-00-%05d", i)
	}
	for _, tc := range []struct {
		name  string
		adds  [][][]any
		users []string // nil: unnamed
	}{
		{"one append", [][][]any{args("B", "A", "B")}, []string{"A", "B"}},
		{"appends between notes share one", [][][]any{args("B"), args("C", "A")}, []string{"A", "B", "C"}},
		{"too many to name", [][][]any{args(many...)}, nil},
		{"a name with a newline", [][][]any{args("A", "x\ny")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n noted
			if note, ok := n.take(); ok {
				t.Fatalf("take before any add: note %q", note)
			}
			for _, a := range tc.adds {
				n.add(a)
			}
			note, ok := n.take()
			if !ok {
				t.Fatal("take after an add reported nothing added")
			}
			if len(note) > maxNote {
				t.Errorf("note of %d bytes, more than %d", len(note), maxNote)
			}
			got := noteUsers(note)
			if !slices.Equal(got, tc.users) || (got == nil) != (tc.users == nil) {
				t.Errorf("note %q names %q, want %q", note, got, tc.users)
			}
			if again, ok := n.take(); ok {
				t.Errorf("second take %q: the first should have taken every user", again)
			}
		})
	}
}

func TestNoteOrigin(t *testing.T) {
	a, b := newOrigin(), newOrigin()
	if a == b || a == "" || strings.ContainsAny(a, "\n@") {
		t.Fatalf("origins %q and %q: want two different names without newline or @", a, b)
	}
	for _, note := range []string{"", "\nA", "\nA\nB"} {
		origin, got := fromOrigin(withOrigin(a, note))
		if origin != a || got != note {
			t.Errorf("note %q from %q: got %q from %q", note, a, got, origin)
		}
	}
	for _, msg := range []string{"", "\nA\nB"} { // the listener's, an older process's
		if origin, got := fromOrigin(msg); origin != "" || got != msg {
			t.Errorf("%q without an origin: got %q from %q", msg, got, origin)
		}
	}
}
