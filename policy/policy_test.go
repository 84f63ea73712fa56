package policy

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/dccgate/dccgate/spec"
)

// TestRego runs every test_ rule of policy/rego/*_test.rego with the spec
// as data.spec.
func TestRego(t *testing.T) {
	ctx := t.Context()
	mods := map[string]*ast.Module{}
	err := fs.WalkDir(embedded, "rego", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(embedded, p)
		if err != nil {
			return err
		}
		m, err := ast.ParseModuleWithOpts("policy/"+p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return err
		}
		mods["policy/"+p] = m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	store := inmem.NewFromObject(map[string]any{"spec": spec.MustDefault().Data()})
	txn := storage.NewTransactionOrDie(ctx, store)
	defer store.Abort(ctx, txn)
	ch, err := tester.NewRunner().SetStore(store).SetModules(mods).RaiseBuiltinErrors(true).RunTests(ctx, txn)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Fail || r.Error != nil {
			t.Errorf("%s: %s.%s failed (error: %v)", r.Location, r.Package, r.Name, r.Error)
		}
	}
	if n < 30 {
		t.Errorf("ran %d Rego tests, expected at least 30", n)
	}
}

func TestCompileTables(t *testing.T) {
	p, err := Compile(t.Context(), spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	s := spec.MustDefault()
	if len(p.Tables().Services) != len(s.Services) {
		t.Fatalf("tables have %d rows, spec %d", len(p.Tables().Services), len(s.Services))
	}
	row := p.Tables().Services["6.23"]
	if row.Registration != "execution_date" || !row.Critical {
		t.Fatalf("6.23 row: %+v", row)
	}
	if got := p.Tables().Services["7.1"].Registration; got != "skip" {
		t.Fatalf("7.1 registration rule %q, want skip (footnote 13)", got)
	}
	if got := p.Tables().Services["8.2"].Registration; got != "skip" {
		t.Fatalf("8.2 registration rule %q, want skip (para 139)", got)
	}
	if got := p.Tables().Services["4.1"].Registration; got != "check" {
		t.Fatalf("4.1 registration rule %q, want check", got)
	}
	if !p.Tables().Services["8.7/type2"].Type2 || p.Tables().Services["4.1"].Type2 {
		t.Fatal("note 405 not applied")
	}
	if len(p.Tables().Checks) < 16 {
		t.Fatalf("checks: %+v", p.Tables().Checks)
	}
}

func TestBadPolicyIsRefusedWithPosition(t *testing.T) {
	tests := []struct {
		note string
		src  string
		want string
	}{
		{"syntax", "package dccgate.gateway\n\ntables := {\n", "gateway.rego:4:"},
		{"unsafe var", "package dccgate.gateway\n\ntables := x if { y := 1 }\n", "gateway.rego:3:"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			fsys := fstest.MapFS{"gateway.rego": {Data: []byte(tc.src)}}
			_, err := Compile(t.Context(), spec.MustDefault(), WithModules(fsys, "edited"))
			if err == nil {
				t.Fatal("bad policy compiled")
			}
			if !strings.Contains(err.Error(), "edited/"+tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
			if !errors.Is(err, &Error{Code: "rego_compile_error"}) && !strings.Contains(err.Error(), "rego_compile_error") {
				t.Fatalf("error has no rego_compile_error code: %v", err)
			}
		})
	}
}

func TestCELRules(t *testing.T) {
	r, err := CompileRules(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	rules := r.Fields["2.2"]
	if len(rules) != 2 {
		t.Fatalf("2.2 fields: %d", len(rules))
	}
	tests := []struct {
		note  string
		field int
		value any
		ok    bool
	}{
		{"utrn 20 digits", 0, "73100000000000000001", true},
		{"utrn short", 0, "7310", false},
		{"amount positive", 1, int64(2000), true},
		{"amount zero: the UTRN's", 1, int64(0), true},
		{"amount negative", 1, int64(-1), false},
		{"amount wrong type", 1, "2000", false},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ok, _ := Passes(rules[tc.field].Program, &ValueActivation{Value: tc.value})
			if ok != tc.ok {
				t.Fatalf("got %v, want %v", ok, tc.ok)
			}
		})
	}
}
