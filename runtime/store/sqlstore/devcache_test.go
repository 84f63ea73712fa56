package sqlstore

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDevicesWritersDropTheCache reads this package's source: every
// function whose SQL writes the devices table must call dropDevices, or
// the device cache could keep an entry the write changed.
func TestDevicesWritersDropTheCache(t *testing.T) {
	writes := regexp.MustCompile(`(?i)(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+devices\b|"devices"`) // "devices": Reset's list
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
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
			if !ok || fn.Body == nil {
				continue
			}
			writesDevices, drops := false, false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.BasicLit:
					if n.Kind == token.STRING && writes.MatchString(n.Value) {
						writesDevices = true
					}
				case *ast.SelectorExpr:
					if n.Sel.Name == "dropDevices" {
						drops = true
					}
				}
				return true
			})
			if writesDevices {
				found++
				if !drops {
					t.Errorf("%s: %s writes devices and does not call dropDevices", fset.Position(fn.Pos()), fn.Name.Name)
				}
			}
		}
	}
	if found < 5 {
		t.Fatalf("found %d writers of devices: the check no longer sees them", found)
	}
}
