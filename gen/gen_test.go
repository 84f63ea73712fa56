package gen

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

var update = flag.Bool("update", false, "rewrite the checked-in generated files")

// TestGeneratedFilesAreUpToDate compares every generator's output with the
// checked-in file (the goldens): a spec edit without `make generate`, or a
// generator change, shows here with the first differing line.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	outs, err := All(spec.MustDefault())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..")
	if *update {
		if err := Write(root, outs); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range outs {
		have, err := os.ReadFile(filepath.Join(root, o.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, o.Content) {
			t.Errorf("%s is not what the generator writes (run make generate): first difference at line %d", o.Path, firstDiff(have, o.Content))
		}
	}
}

func firstDiff(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestGeneratedScheduleRoundTrips checks the generated table against the
// spec it came from, row by row.
func TestGeneratedScheduleRoundTrips(t *testing.T) {
	s := spec.MustDefault()
	if dcc.SpecHash != s.Hash {
		t.Fatalf("spec/dcc was generated from spec %s, the spec is %s: run make generate", dcc.SpecHash[:12], s.Hash[:12])
	}
	if len(dcc.Schedule) != len(s.Services) {
		t.Fatalf("%d rows generated, %d in the spec", len(dcc.Schedule), len(s.Services))
	}
	for i, row := range dcc.Schedule {
		svc := s.Services[i]
		if string(row.Key) != svc.Key() || row.Critical != svc.Critical || row.DeviceService != svc.DeviceService {
			t.Errorf("row %d: %+v vs %s", i, row, svc.Key())
		}
		dur := func(d *spec.Duration) int64 {
			if d == nil {
				return 0
			}
			return int64(d.Std())
		}
		if int64(row.OnDemand) != dur(svc.OnDemand) || int64(row.FutureDated) != dur(svc.FutureDated) || int64(row.Scheduled) != dur(svc.Scheduled) {
			t.Errorf("%s: times differ", svc.Key())
		}
		if len(row.Roles) != len(svc.Roles) {
			t.Errorf("%s: roles differ", svc.Key())
		}
		for j, r := range row.Roles {
			if string(r) != svc.Roles[j] {
				t.Errorf("%s: role %d is %s, spec %s", svc.Key(), j, r, svc.Roles[j])
			}
		}
	}
	for field, key := range dcc.ProtoBodies {
		if s.ServiceByKey(string(key)) == nil {
			t.Errorf("body %s names %s, not in the spec", field, key)
		}
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ in, camel, snake string }{
		{"Read Event Or Security Log", "ReadEventOrSecurityLog", "read_event_or_security_log"},
		{"Update Import Tariff (prepayment)", "UpdateImportTariffPrepayment", "update_import_tariff_prepayment"},
		{"Record Network Data (GAS)", "RecordNetworkDataGAS", "record_network_data_gas"},
	}
	for _, tc := range tests {
		if got := camel(tc.in); got != tc.camel {
			t.Errorf("camel(%q) = %q", tc.in, got)
		}
		if got := snake(tc.in); got != tc.snake {
			t.Errorf("snake(%q) = %q", tc.in, got)
		}
	}
	if n, err := fieldNumber("4.10", 0); err != nil || n != 410 {
		t.Errorf("fieldNumber(4.10) = %d, %v", n, err)
	}
	if n, err := fieldNumber("1.1", 1); err != nil || n != 151 {
		t.Errorf("fieldNumber(1.1, 1) = %d, %v", n, err)
	}
}
