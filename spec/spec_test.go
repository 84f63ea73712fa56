package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDefaultLoads(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.Services); got != 87 {
		t.Errorf("services: got %d rows, want 87 (Table 5.1: 78 incl. A1, A2; Table 5.2: 9)", got)
	}
	if got := len(s.Roles); got != 7 {
		t.Errorf("roles: got %d, want 7", got)
	}
	if got := len(s.Alerts); got != 35 {
		t.Errorf("alerts: got %d, want 35", got)
	}
	if len(s.Hash) != 64 {
		t.Errorf("hash %q", s.Hash)
	}
}

// copySpec writes the embedded spec to a temporary directory and applies
// edits (file -> old -> new).
func copySpec(t *testing.T, edits ...[3]string) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		p := filepath.Join(dir, e[0])
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), e[1]) {
			t.Fatalf("edit: %q not in %s", e[1], e[0])
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), e[1], e[2], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBrokenSpecIsRefusedWithPosition(t *testing.T) {
	row41 := `{ref: "4.1", name: "Read Instantaneous Import Registers"`
	tests := []struct {
		note string
		edit [3]string
		want string // regexp over the error text
	}{
		{"unknown role", [3]string{"services.cue", `roles: ["EIS", "GIS", "ENO", "GNO"], targets: _meters, fields: [
		{name: "register"`, `roles: ["EIS", "GIS", "ENO", "DNO"], targets: _meters, fields: [
		{name: "register"`}, `services.cue:\d+:\d+: .*unknown role code "DNO"`},
		{"duplicate row", [3]string{"services.cue", row41, `{ref: "4.3", name: "Read Instantaneous Import Registers"`}, `services.cue:\d+:\d+: services\[\d+\]: duplicate row 4.3`},
		{"no category", [3]string{"services.cue", `description: "Read the current tariff settings (including price, time of use matrix and time of use blocks) that are in use on a specified meter, in addition to the payment mode status.", table: "5.1", critical: false, future_dated: null, on_demand: "30s"`, `description: "x", table: "5.1", critical: false, future_dated: null, on_demand: null`}, `services.cue:\d+:\d+: services\[\d+\]: service 4.11 has no available category`},
		{"scheduled not in note 404", [3]string{"services.cue", `services: ["4.8", "4.10", "4.12", "4.15", "4.16", "4.17"]`, `services: ["4.8", "4.10", "4.12", "4.15", "4.16"]`}, `services.cue:\d+:\d+: services\[\d+\].scheduled: service 4.17 is marked scheduled but is not listed in note 404`},
		{"negative duration", [3]string{"services.cue", `{ref: "2.2", name: "Top Up Device", description: "Add prepayment credit to a specified meter.", table: "5.1", critical: false, future_dated: null, on_demand: "30s"`, `{ref: "2.2", name: "Top Up Device", description: "Add prepayment credit to a specified meter.", table: "5.1", critical: false, future_dated: null, on_demand: "-30s"`}, `services.cue:\d+:\d+: .*on_demand`},
		{"unparseable duration", [3]string{"services.cue", `{ref: "2.2", name: "Top Up Device", description: "Add prepayment credit to a specified meter.", table: "5.1", critical: false, future_dated: null, on_demand: "30s"`, `{ref: "2.2", name: "Top Up Device", description: "Add prepayment credit to a specified meter.", table: "5.1", critical: false, future_dated: null, on_demand: "30 secs"`}, `services.cue:\d+:\d+: .*on_demand`},
		{"syntax error", [3]string{"roles.cue", `roles: [string]: #Role`, `roles: [string]: #Role {`}, `roles.cue:\d+:\d+: `},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			dir := copySpec(t, tc.edit)
			_, err := LoadDir(dir)
			if err == nil {
				t.Fatal("broken spec loaded")
			}
			var es ErrorSet
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not an ErrorSet: %v", err, err)
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Fatalf("error does not match %q:\n%v", tc.want, err)
			}
		})
	}
}

func TestEditedCopyLoads(t *testing.T) {
	dir := copySpec(t, [3]string{"services.cue", `roles: ["EIS", "GIS", "ENO", "GNO"], targets: _meters, fields: [
		{name: "register"`, `roles: ["EIS", "GIS", "ENO"], targets: _meters, fields: [
		{name: "register"`})
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Service("4.1", "").HasRole("GNO") {
		t.Fatal("edit not applied")
	}
	if s.Hash == MustDefault().Hash {
		t.Fatal("hash did not change with the content")
	}
}

// TestExampleFor: a field a request omits takes its example, but 6.15's
// credential is the sender's own kind where the field allows it: a network
// operator's for a network operator (the device refuses any other).
func TestExampleFor(t *testing.T) {
	sp, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	field := func(ref, name string) Field {
		t.Helper()
		for _, f := range sp.Service(ref, "").Fields {
			if f.Name == name {
				return f
			}
		}
		t.Fatalf("%s has no field %s", ref, name)
		return Field{}
	}
	cred, keyUsage := field("6.15", "credential"), field("6.17", "key_usage")
	tests := []struct {
		f    Field
		role string
		want any
	}{
		{cred, "EIS", "supplier"},
		{cred, "GIS", "supplier"},
		{cred, "ENO", "network_operator"},
		{cred, "GNO", "network_operator"},
		{cred, "OU", cred.Example}, // no credential of its kind: the example
		{cred, "", cred.Example},
		{keyUsage, "ENO", keyUsage.Example},
	}
	for _, tc := range tests {
		if got := sp.ExampleFor(tc.f, tc.role); got != tc.want {
			t.Errorf("ExampleFor(%s, %q) = %v, want %v", tc.f.Name, tc.role, got, tc.want)
		}
	}
}

// TestRulePositions: the loaded spec says where each CEL rule is written,
// for the errors of its compilation to name: the position is that of the
// rule's string in its file, or of its field on that line.
func TestRulePositions(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	type rule struct{ path, src string }
	var fields, checks, envelope []rule
	for i, svc := range s.Services {
		for j, f := range svc.Fields {
			if f.Rule != "" {
				fields = append(fields, rule{FieldRulePath(i, j), f.Rule})
			}
		}
		for j, c := range svc.Checks {
			checks = append(checks, rule{CheckPath(i, j), c.Rule})
		}
	}
	for i, e := range s.EnvelopeRules {
		envelope = append(envelope, rule{EnvelopeRulePath(i), e.Rule})
	}
	tests := []struct {
		note  string
		rules []rule
	}{
		{"field rules", fields},
		{"checks", checks},
		{"envelope rules", envelope},
	}
	at := regexp.MustCompile(`^spec/(\w+\.cue):(\d+):(\d+)$`)
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			if len(tc.rules) == 0 {
				t.Fatal("no rules")
			}
			for _, r := range tc.rules {
				pos := s.Pos(r.path)
				m := at.FindStringSubmatch(pos)
				if m == nil {
					t.Errorf("%s: position %q", r.path, pos)
					continue
				}
				if got := sourceAt(t, m[1], m[2], m[3]); !strings.Contains(got, `"`+r.src[:min(len(r.src), 8)]) {
					t.Errorf("%s: %s has %q, not the rule %q", r.path, pos, got, r.src)
				}
			}
		})
	}
	if got := s.Pos("services[0].name"); got != "" {
		t.Errorf("the position of what is not a rule: %q", got)
	}
}

// sourceAt is the text of the embedded file name from line and column on.
func sourceAt(t *testing.T, name, line, col string) string {
	t.Helper()
	b, err := fs.ReadFile(Files(), name)
	if err != nil {
		t.Fatal(err)
	}
	l, c := atoi(t, line), atoi(t, col)
	lines := strings.Split(string(b), "\n")
	if l < 1 || l > len(lines) || c < 1 || c > len(lines[l-1]) {
		t.Fatalf("%s:%d:%d is not in the file", name, l, c)
	}
	return lines[l-1][c-1:]
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
