package sqlstore

import (
	"go/ast"
	"go/token"
	"regexp"
	"testing"
)

// TestDeliveryWritersTellTheTail reads this package's source: a method
// that appends deliveries (through appendDeliveries) must publish them to
// the tail, and one whose SQL deletes or changes deliveries must make it
// forget, or a stream could read from memory what the database no longer
// says.
func TestDeliveryWritersTellTheTail(t *testing.T) {
	changes := regexp.MustCompile(`(?i)(DELETE\s+FROM|UPDATE)\s+deliveries\b|"deliveries"`)
	checked := 0
	for d, pos := range packageFuncs(t) {
		if d.Name.Name == "appendDeliveries" {
			continue
		}
		var appends, deletes bool
		calls := map[string]bool{}
		ast.Inspect(d.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				deletes = deletes || n.Kind == token.STRING && changes.MatchString(n.Value)
			case *ast.SelectorExpr:
				calls[n.Sel.Name] = true
				appends = appends || n.Sel.Name == "appendDeliveries"
			}
			return true
		})
		if appends {
			checked++
			if !calls["publish"] {
				t.Errorf("%s: %s appends deliveries and does not publish them to the tail", pos, d.Name.Name)
			}
		}
		if deletes {
			checked++
			if !calls["forgetTail"] {
				t.Errorf("%s: %s changes deliveries and does not call forgetTail", pos, d.Name.Name)
			}
		}
	}
	if checked < 4 {
		t.Fatalf("found %d writers of deliveries: the check no longer sees them", checked)
	}
}
