package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: no input may panic, and every error names the file and a line.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: t\nsteps:\n  - &s {advance: 1h}\n  - *s\n"))
	f.Add([]byte("name: &n [*n]\nsteps: *n\n"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("f.yaml", data)
		if err == nil {
			if sc == nil {
				t.Fatal("no scenario and no error")
			}
			return
		}
		var el ErrorList
		if !errors.As(err, &el) {
			t.Fatalf("err is %T, want ErrorList: %v", err, err)
		}
		for _, e := range el {
			if e.File != "f.yaml" || e.Line < 1 {
				t.Fatalf("error without file and line: %v", e)
			}
		}
	})
}
