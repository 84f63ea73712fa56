package store_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// TestRegistrationNamed: every field the spec registers a role in names
// the record's User ID of that field, so a field added to the spec and not
// to the record fails here rather than leaving its role never registered.
func TestRegistrationNamed(t *testing.T) {
	rg := store.Registration{ImportSupplier: "import", ExportSupplier: "export", NetworkOperator: "operator"}
	want := map[string]string{"import_supplier": "import", "export_supplier": "export", "network_operator": "operator"}
	seen := 0
	for _, role := range spec.MustDefault().Roles {
		if role.Registration == nil {
			continue
		}
		seen++
		if got := rg.Named(role.Registration.Field); got != want[role.Registration.Field] || got == "" {
			t.Errorf("role %s: Named(%q) = %q, want %q", role.Code, role.Registration.Field, got, want[role.Registration.Field])
		}
	}
	if seen == 0 {
		t.Fatal("no role of the spec is registered in a field")
	}
	if got := rg.Named("postcode"); got != "" {
		t.Errorf(`Named("postcode") = %q, want ""`, got)
	}
}
