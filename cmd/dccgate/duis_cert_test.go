package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/pki"
)

// TestDUISCertCreatesItsDirectory: dccgate duis cert (and keys duis)
// writes into an --out directory that does not exist yet, as keys new
// does, creating it readable by its owner only (it holds a private key);
// the key is the owner's only.
func TestDUISCertCreatesItsDirectory(t *testing.T) {
	caDir := t.TempDir()
	ca, err := pki.NewCA("Z1")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(caDir); err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	tests := []struct {
		note string
		cmd  []string
		out  string
		user string
	}{
		{note: "duis cert into a new directory", cmd: []string{"duis", "cert"}, out: filepath.Join(base, "new"), user: "90-B3-D5-1F-30-01-00-00"},
		{note: "duis cert into new nested directories", cmd: []string{"duis", "cert"}, out: filepath.Join(base, "a", "b", "c"), user: "90-B3-D5-1F-30-02-00-00"},
		{note: "keys duis into a new directory", cmd: []string{"keys", "duis"}, out: filepath.Join(base, "keys"), user: "90-B3-D5-1F-30-03-00-00"},
		{note: "duis cert into an existing directory", cmd: []string{"duis", "cert"}, out: base, user: "90-B3-D5-1F-30-04-00-00"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			_, statErr := os.Stat(tc.out)
			existed := statErr == nil
			code, out, errs := runCmd(t, "", append(tc.cmd, "--user", tc.user, "--role", "02", "--ca-dir", caDir, "--out", tc.out)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errs)
			}
			want := []string{filepath.Join(tc.out, tc.user+"-duis.pem"), filepath.Join(tc.out, tc.user+"-duis-key.pem")}
			if got := strings.Fields(out); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
				t.Fatalf("printed %q, want %q", got, want)
			}
			for _, p := range want {
				if _, err := os.Stat(p); err != nil {
					t.Fatal(err)
				}
			}
			if runtime.GOOS == "windows" {
				return
			}
			checkMode(t, want[1], 0o600)
			if !existed {
				checkMode(t, tc.out, 0o700)
			}
		})
	}
}

// checkMode fails unless path's permission bits are want.
func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", path, got, want)
	}
}
