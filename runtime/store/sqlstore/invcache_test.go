package sqlstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"iter"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestInventoryWritersDropTheCache reads this package's source: every
// method whose SQL writes the devices or registrations table must call
// writeInventory, or the inventory cache could keep what the write changed.
// A helper run inside another's transaction (it takes a *sql.Tx) passes
// the duty to each of its callers.
func TestInventoryWritersDropTheCache(t *testing.T) {
	writes := regexp.MustCompile(`(?i)(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(devices|registrations)\b|"(devices|registrations)"`) // quoted: Reset's list
	type fn struct {
		pos         token.Position
		inTx, drops bool
		writes      bool
		calls       map[string]bool
	}
	fns := map[string]*fn{}
	for d, pos := range packageFuncs(t) {
		info := &fn{pos: pos, calls: map[string]bool{}}
		for _, p := range d.Type.Params.List {
			if se, ok := p.Type.(*ast.StarExpr); ok {
				if sel, ok := se.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Tx" {
					info.inTx = true
				}
			}
		}
		ast.Inspect(d.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind == token.STRING && writes.MatchString(n.Value) {
					info.writes = true
				}
			case *ast.SelectorExpr:
				if n.Sel.Name == "writeInventory" {
					info.drops = true
				}
				info.calls[n.Sel.Name] = true
			}
			return true
		})
		fns[d.Name.Name] = info
	}
	found := 0
	for name, f := range fns {
		if !f.writes {
			continue
		}
		found++
		if !f.inTx {
			if !f.drops {
				t.Errorf("%s: %s writes the inventory and does not call writeInventory", f.pos, name)
			}
			continue
		}
		callers := 0
		for caller, g := range fns {
			if g.calls[name] {
				callers++
				if !g.drops {
					t.Errorf("%s: %s runs %s, which writes the inventory, and does not call writeInventory", g.pos, caller, name)
				}
			}
		}
		if callers == 0 {
			t.Errorf("%s: %s writes the inventory; no caller found to check", f.pos, name)
		}
	}
	if found < 8 {
		t.Fatalf("found %d writers of the inventory: the check no longer sees them", found)
	}
}

// TestPickInEffect: the record in effect at a time is the latest from
// before or at it, per MPxN, in the order asked, each MPxN once.
func TestPickInEffect(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := func(m string, h int, sup string) store.Registration {
		return store.Registration{MPxN: m, EffectiveFrom: t0.Add(time.Duration(h) * time.Hour), ImportSupplier: sup}
	}
	hist := map[string][]store.Registration{
		"a": {rec("a", 0, "A0"), rec("a", 2, "A2"), rec("a", 5, "A5")},
		"b": {rec("b", 3, "B3")},
		"c": {},
	}
	for _, tc := range []struct {
		at    int
		mpxns []string
		want  []string
	}{
		{0, []string{"a", "b"}, []string{"A0"}},
		{2, []string{"b", "a", "a"}, []string{"A2"}},
		{4, []string{"b", "c", "a", "x"}, []string{"B3", "A2"}},
		{9, []string{"a", "b"}, []string{"A5", "B3"}},
		{-1, []string{"a"}, nil},
	} {
		var got []string
		for _, r := range pickInEffect(tc.mpxns, hist, t0.Add(time.Duration(tc.at)*time.Hour)) {
			got = append(got, r.ImportSupplier)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("at %d %v: %v, want %v", tc.at, tc.mpxns, got, tc.want)
		}
	}
}

// packageFuncs yields every function with a body in this package's
// non-test source, with its position, for the tests that read the source.
func packageFuncs(t *testing.T) iter.Seq2[*ast.FuncDecl, token.Position] {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, f)
	}
	return func(yield func(*ast.FuncDecl, token.Position) bool) {
		for _, f := range parsed {
			for _, decl := range f.Decls {
				if d, ok := decl.(*ast.FuncDecl); ok && d.Body != nil && !yield(d, fset.Position(d.Pos())) {
					return
				}
			}
		}
	}
}

// fakeChanges is Changes in memory.
type fakeChanges struct{ tok uint64 }

func (f *fakeChanges) Token() (uint64, error) { return f.tok, nil }
func (f *fakeChanges) Begin() error           { f.tok = (f.tok+2)&^1 | 1; return nil }
func (f *fakeChanges) Bump() error            { f.tok = (f.tok + 2) &^ 1; return nil }

// TestOverlappingInventoryWrites: the token stays marked (odd) until the
// last of this store's writes under way ends, and moves at each end.
func TestOverlappingInventoryWrites(t *testing.T) {
	ch := &fakeChanges{}
	s := &Store{inv: &invCache{changes: ch}}
	done1 := s.writeInventory()
	done2 := s.writeInventory()
	before := ch.tok
	done1()
	if ch.tok&1 == 0 || ch.tok == before {
		t.Fatalf("one of two writes ended: token %d (was %d), want a new odd one", ch.tok, before)
	}
	done2()
	if ch.tok&1 != 0 {
		t.Fatalf("both writes ended: token %d still marked", ch.tok)
	}
}

// TestCompact: a cached device keeps every field, its strings in one
// allocation.
func TestCompact(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, d := range []store.Device{
		{ID: "00-DB-00-00-00-08-E0-1F", Type: "ESME", Status: "commissioned", MPxN: "1900000000012", CHF: "00-DB-00-00-00-08-E0-10", Meter: "", Credentials: "00-00-00-00-00-1A-00-1F", UpdatedAt: at},
		{ID: "00-DB-00-00-00-08-E0-11", Type: "IHD", Status: "pending", Meter: "00-DB-00-00-00-08-E0-1F"},
		{},
	} {
		// Strings of their own, as the driver gives them.
		in := d
		for _, s := range []*string{&in.ID, &in.Type, &in.Status, &in.MPxN, &in.CHF, &in.Meter, &in.Credentials} {
			*s = strings.Clone(*s)
		}
		if got := compact(in); got != d {
			t.Errorf("compact(%+v) = %+v", d, got)
		}
		if d.ID != "" {
			if n := testing.AllocsPerRun(10, func() { compact(in) }); n != 1 {
				t.Errorf("compact(%s): %v allocations, want 1", d.ID, n)
			}
		}
	}
}
