package mutate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dccgate/dccgate/spec"
)

func TestEdits(t *testing.T) {
	src := "services: [\n\t{ref: \"1.1\", variant: \"a\", name: \"x\", roles: [\"EIS\"], critical: true, f: [{n: \"}\"}]},\n" +
		"\t{ref: \"1.1\", variant: \"b\", name: \"y, z\", // comment\n\t\troles: [\"EIS\", \"GIS\"], critical: false},\n" +
		"\t{ref: \"1.10\", name: \"w\", critical: false},\n]\n"
	tests := []struct {
		note, ref, variant string
		fn                 func(string, int, int) (string, error)
		want               string
	}{
		{"set a list", "1.1", "b", func(s string, o, c int) (string, error) { return setField(s, o, c, "roles", list([]string{"OU"})) }, `roles: ["OU"], critical: false}`},
		{"set a bool", "1.1", "a", func(s string, o, c int) (string, error) { return setField(s, o, c, "critical", "false") }, `roles: ["EIS"], critical: false, f:`},
		{"add a field", "1.10", "", func(s string, o, c int) (string, error) {
			return setField(s, o, c, "statuses", list([]string{"pending"}))
		}, `{ref: "1.10", name: "w", critical: false, statuses: ["pending"]}`},
		{"delete a field", "1.1", "a", func(s string, o, c int) (string, error) { return deleteField(s, o, c, "critical") }, `roles: ["EIS"], f: [{n: "}"}]}`},
		{"after a brace in a string", "1.1", "a", func(s string, o, c int) (string, error) { return setField(s, o, c, "name", `"q"`) }, `name: "q", roles`},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got, err := editRow(src, tc.ref, tc.variant, tc.fn)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got\n%s\nwant it to contain %s", got, tc.want)
			}
			if strings.Count(got, "\n") != strings.Count(src, "\n") {
				t.Errorf("lines changed:\n%s", got)
			}
		})
	}
	if _, err := editRow(src, "9.9", "", nil); err == nil {
		t.Error("a missing row is an error")
	}
	if _, _, err := rowSpan(src, "1.1", ""); err == nil {
		t.Error("1.1 has variants: 1.1 without one is not a row")
	}
}

func TestGenerate(t *testing.T) {
	sp := spec.MustDefault()
	src := Sources{Spec: spec.Files(), Policy: policyFS(t)}
	ms, err := Generate(sp, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 200 {
		t.Errorf("%d mutants; the suite must face at least 200", len(ms))
	}
	kinds := map[string]int{}
	for _, m := range ms {
		kinds[m.Kind]++
		if len(m.Spec)+len(m.Policy) != 1 {
			t.Errorf("%s changes %d files", m.ID, len(m.Spec)+len(m.Policy))
		}
	}
	for _, k := range []string{"drop a role from a row", "add a role to a row", "flip the critical flag", "mark a category N/A", "allow a status", "remove a device type from a row", "policy: change a rule", "drop a request field rule", "loosen a request field rule"} {
		if kinds[k] == 0 {
			t.Errorf("no mutant of kind %q", k)
		}
	}
	all, err := Generate(sp, src, Options{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) <= len(ms) {
		t.Errorf("All gives %d mutants, the default %d", len(all), len(ms))
	}
	t.Logf("%d mutants (%d with All) of %d kinds", len(ms), len(all), len(kinds))
}

// TestSpecMutantsLoad loads one spec mutant of each kind: each must be a
// valid spec that differs from the original.
func TestSpecMutantsLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a spec per kind of mutant")
	}
	sp := spec.MustDefault()
	src := Sources{Spec: spec.Files(), Policy: policyFS(t)}
	ms, err := Generate(sp, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if len(m.Spec) == 0 || seen[m.Kind] {
			continue
		}
		seen[m.Kind] = true
		dir := t.TempDir()
		specDir, _, err := m.Write(src, dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := spec.LoadDir(specDir)
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		if got.Hash == sp.Hash {
			t.Errorf("%s changes nothing", m.ID)
		}
	}
}

// policyFS reads the policy sources from the repository (this package does
// not import the policy).
func policyFS(t *testing.T) fstest.MapFS {
	t.Helper()
	dir := filepath.Join("..", "..", "policy", "rego")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fs := fstest.MapFS{}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".rego") && !strings.HasSuffix(e.Name(), "_test.rego") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			fs[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return fs
}

// TestImpliedBoundsAreNotMutated: a bound that a check and another field's
// rule already impose (6.5 under_voltage < over_voltage <= 500; 6.12
// low_watts < high_watts, both within 0 and 100000) is not loosened, as no
// request reaches the value it would let through; the other bounds are.
func TestImpliedBoundsAreNotMutated(t *testing.T) {
	sp := spec.MustDefault()
	ms, err := Generate(sp, Sources{Spec: spec.Files(), Policy: policyFS(t)}, Options{All: true})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.ID] = true
	}
	for id, want := range map[string]bool{
		"spec/field-rule-loosen/6.5/under_voltage/2": false, // under_voltage <= 500
		"spec/field-rule-loosen/6.12/low_watts/2":    false, // low_watts <= 100000
		"spec/field-rule-loosen/6.12/high_watts/1":   false, // high_watts >= 0
		"spec/field-rule-loosen/6.5/over_voltage/2":  true,  // over_voltage <= 500: nothing above it
		"spec/field-rule-loosen/6.5/under_voltage/1": true,  // under_voltage > 0: nothing below it
		"spec/field-rule-loosen/6.12/low_watts/1":    true,  // low_watts >= 0
	} {
		if ids[id] != want {
			t.Errorf("%s generated: %v, want %v", id, ids[id], want)
		}
	}
}
