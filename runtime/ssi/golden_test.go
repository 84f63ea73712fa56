package ssi_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/ssi"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestGoldenPages compares pages of the SSI, rendered on the demo world
// on the virtual clock, with testdata/*.golden.html (the session's CSRF
// token masked). Regenerate with go test ./runtime/ssi -run TestGoldenPages -update.
func TestGoldenPages(t *testing.T) {
	s := startDemo(t, 0)
	submit(t, s, alpha, engine.Request{DeviceID: esme1, Service: "4.1", Body: map[string]any{"register": "total"}})
	submit(t, s, alpha, engine.Request{DeviceID: "00-DB-00-00-00-00-6A-01", Service: "4.1", Body: map[string]any{"register": "total"}})
	s.SSI.SetServiceDesk(ssi.ServiceDeskContact{Telephone: "0300 123 4567", Email: "servicedesk@dcc.example"})
	b := signedIn(t, s, alpha)
	token := regexp.MustCompile(`name="csrf" value="[0-9a-f]+"`)
	pages := []struct{ name, path string }{
		{"requests", "/ssi/requests"},
		{"inventory-search", "/ssi/inventory?type=CHF"},
		{"coverage", "/ssi/coverage?postcode=sw1h+0et"},
		{"reports", "/ssi/reports"},
		{"desk", "/ssi/desk"},
		{"servicedesk", "/ssi/servicedesk"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			code, page, _ := b.do("GET", p.path, nil)
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			got := token.ReplaceAllString(page, `name="csrf" value="CSRF"`)
			file := filepath.Join("testdata", p.name+".golden.html")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("%s differs from %s (regenerate with -update if intended):\n%s", p.path, file, got)
			}
		})
	}
}
