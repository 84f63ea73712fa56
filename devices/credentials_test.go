package devices

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialWritesOwnTheMap reads this package's source: a function
// that writes a device's Credentials (an index assignment, delete,
// maps.Copy) must first call ownCredentials, since devices share equal
// sets of credentials (intern) and a write through a shared map would
// change every device holding it.
func TestCredentialWritesOwnTheMap(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	isCreds := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		return ok && sel.Sel.Name == "Credentials"
	}
	fset := token.NewFileSet()
	writers := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Name.Name == "ownCredentials" {
				continue
			}
			owned := token.NoPos // the first ownCredentials call
			var writes []token.Pos
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					for _, l := range n.Lhs {
						if ix, ok := l.(*ast.IndexExpr); ok && isCreds(ix.X) {
							writes = append(writes, n.Pos())
						}
					}
				case *ast.CallExpr:
					switch f := n.Fun.(type) {
					case *ast.SelectorExpr:
						if f.Sel.Name == "ownCredentials" && owned == token.NoPos {
							owned = n.Pos()
						}
						if x, ok := f.X.(*ast.Ident); ok && x.Name == "maps" && f.Sel.Name != "Clone" && len(n.Args) > 0 && isCreds(n.Args[0]) {
							writes = append(writes, n.Pos())
						}
					case *ast.Ident:
						if f.Name == "delete" && len(n.Args) > 0 && isCreds(n.Args[0]) {
							writes = append(writes, n.Pos())
						}
					}
				}
				return true
			})
			for _, w := range writes {
				writers++
				if owned == token.NoPos || owned > w {
					t.Errorf("%s: %s writes Credentials without calling ownCredentials first", fset.Position(w), fn.Name.Name)
				}
			}
		}
	}
	if writers == 0 {
		t.Fatal("no write of Credentials found: the test no longer sees them")
	}
}

// TestSharedCredentials: devices added with equal credentials share them
// until one changes its own (SetCredential, 6.15); the others keep theirs.
func TestSharedCredentials(t *testing.T) {
	e := newEnv(t)
	// esme, ppmid and hcalcs were added with the same credentials.
	for _, id := range []string{esme, ppmid, hcalcs} {
		if !e.f.devices[id].sharedCreds {
			t.Fatalf("%s does not share its credentials", id)
		}
	}
	want := e.state(hcalcs).Credentials
	steps := []struct {
		name string
		do   func()
		id   string // whose credentials it writes
	}{
		{"SetCredential", func() {
			if err := e.f.SetCredential(esme, CredNetworkOperator, users["GNO"]); err != nil {
				t.Fatal(err)
			}
			if got := e.state(esme).Credentials[CredNetworkOperator]; got != users["GNO"] {
				t.Fatalf("esme's network operator credential is %q", got)
			}
		}, esme},
		{"6.15", func() { e.mustRun("6.15", ppmid, map[string]any{"credential": CredSupplier, "certificate": "NEWCERT"}) }, ppmid},
	}
	for _, s := range steps {
		s.do()
		if e.f.devices[s.id].sharedCreds {
			t.Errorf("%s: %s still shares its credentials after a write", s.name, s.id)
		}
		if got := e.state(hcalcs).Credentials; !equalCreds(got, want) {
			t.Errorf("%s on %s changed hcalcs's credentials: %v, want %v", s.name, s.id, got, want)
		}
	}
}

func equalCreds(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
